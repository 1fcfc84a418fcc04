"""``make bench``: irclogger's streams against the alternatives, on this machine.

    python -m bench.run            # N = 100, 1,000, 5,000, 10,000; 1,000,000 lines
    python -m bench.run --quick    # N = 100, 1,000; 50,000 lines; under 3 minutes

Starts everything it needs on loopback (its own database on the embedded
PostgreSQL, each service, the load generator), stops it all, and writes
bench/RESULTS.md (and bench/out/results.json).
"""

import argparse
import os
import time


def main() -> None:
    args = arguments()
    started = time.monotonic()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "irclogger.settings")
    from bench import db

    url = db.database_url()
    # The settings read DATABASE_URL: this process and every service it
    # starts use the bench database.
    os.environ["DATABASE_URL"] = url
    import django

    django.setup()
    from bench import suite

    suite.main(args, url, started)


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="irclogger's benchmark")
    parser.add_argument("--quick", action="store_true", help="N ≤ 1,000, under 3 minutes")
    parser.add_argument("--sizes", type=lambda text: [int(n) for n in text.split(",")])
    parser.add_argument("--only", type=lambda text: text.split(","), help="targets to run")
    parser.add_argument("--lines", type=int, help="lines to import (search, big day page)")
    parser.add_argument("--no-profile", action="store_true")
    return parser.parse_args()


if __name__ == "__main__":
    main()
