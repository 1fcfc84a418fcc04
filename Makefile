# irclogger: the index of every command. `make run` and `make test` are all a
# newcomer needs; both set up the virtualenv and the database themselves.
# A target's `## ` comment is its line in `make help`: new targets list themselves.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)

.PHONY: help setup db run superuser test test-fast lint format migrations-check nginxconf bench bench-quick chaos soak stop-db clean

help: ## list every target (this list)
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## /\1\t/' | \
		awk -F'\t' '{ printf "make %-18s %s\n", $$1, $$2 }'

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	rm -f $(VENV)/.installed-*
	touch $@

setup: $(STAMP) ## the virtualenv in .venv, with requirements-dev.txt installed

db: setup ## migrate the database and load the demo logs
	$(PY) manage.py migrate --noinput
	$(PY) manage.py demo

run: db ## start irclogger on http://127.0.0.1:8000/ with demo logs
	@echo "irclogger on http://127.0.0.1:8000/  (admin: make superuser)"
	$(VENV)/bin/gunicorn -c conf/gunicorn.py

superuser: setup ## create an admin login
	$(PY) manage.py createsuperuser

test: setup ## run the whole test suite (unit + end-to-end)
	$(PY) -m pytest

test-fast: setup ## the tests that start no external process
	$(PY) -m pytest -m "not e2e"

lint: setup ## ruff check, ruff format --check, mypy, import-linter
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .
	$(VENV)/bin/lint-imports --no-logo

format: setup ## fix what ruff can fix, and format
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

migrations-check: setup ## fail when a model change has no migration
	$(PY) manage.py makemigrations --check --dry-run

# Render conf/nginx/ into $(NGINX_OUT); pass options, e.g.
# make nginxconf NGINXCONF_ARGS="--server-name logs.example.org --cert … --key …"
NGINX_OUT ?= var/nginx
nginxconf: setup ## render conf/nginx/ into var/nginx (README, Deploy)
	$(PY) manage.py nginxconf --out $(NGINX_OUT) $(NGINXCONF_ARGS)

bench: setup ## the benchmark; results in bench/RESULTS.md (BENCH_ARGS=--no-soak: all but the soak)
	$(PY) -m bench.run $(BENCH_ARGS)

bench-quick: setup ## a shorter benchmark run
	$(PY) -m bench.run --quick

chaos: setup ## the benchmark's chaos stage alone: 2,000 streams through every fault
	$(PY) -m bench.run --only chaos

# SOAK_LIFETIME (seconds) shortens the streams' maximum lifetime.
SOAK_MINUTES ?= 60
soak: setup ## the benchmark's soak alone (SOAK_MINUTES=60, SOAK_LIFETIME=seconds)
	$(PY) -m bench.run --only soak --soak-minutes $(SOAK_MINUTES) \
		$(if $(SOAK_LIFETIME),--lifetime-seconds $(SOAK_LIFETIME))

stop-db: setup ## stop the embedded PostgreSQL
	$(PY) -c "from irclogger import devdb; devdb.stop()"

clean: stop-db ## stop the database, remove var/ and the collected static files
	rm -rf var staticfiles
