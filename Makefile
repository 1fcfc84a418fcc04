# irclogger: the index of every command. `make run` and `make test` are all a
# newcomer needs; both set up the virtualenv and the database themselves.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)

.PHONY: help setup db run test test-fast lint format bench bench-quick migrations-check clean nginxconf

help:
	@echo "make run        start irclogger on http://127.0.0.1:8000/ with demo logs"
	@echo "make test       run the whole test suite (unit + end-to-end)"
	@echo "make lint       ruff check, ruff format --check, mypy, import-linter"
	@echo "make bench      the benchmark; results in bench/RESULTS.md"
	@echo "make nginxconf  render conf/nginx/ into var/nginx (README, Deploy)"

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	rm -f $(VENV)/.installed-*
	touch $@

setup: $(STAMP)

db: setup
	$(PY) manage.py migrate --noinput
	$(PY) manage.py demo

run: db
	@echo "irclogger on http://127.0.0.1:8000/  (admin: make superuser)"
	$(VENV)/bin/gunicorn -c conf/gunicorn.py

superuser: setup
	$(PY) manage.py createsuperuser

test: setup
	$(PY) -m pytest

test-fast: setup
	$(PY) -m pytest -m "not e2e"

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .
	$(VENV)/bin/lint-imports --no-logo

format: setup
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

migrations-check: setup
	$(PY) manage.py makemigrations --check --dry-run

# Render conf/nginx/ into $(NGINX_OUT); pass options, e.g.
# make nginxconf NGINXCONF_ARGS="--server-name logs.example.org --cert … --key …"
NGINX_OUT ?= var/nginx
nginxconf: setup
	$(PY) manage.py nginxconf --out $(NGINX_OUT) $(NGINXCONF_ARGS)

bench: setup
	$(PY) -m bench.run

bench-quick: setup
	$(PY) -m bench.run --quick

stop-db: setup
	$(PY) -c "from irclogger import devdb; devdb.stop()"

clean: stop-db
	rm -rf var staticfiles
