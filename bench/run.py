"""``make bench``: irclogger's streams against the alternatives, on this machine.

    python -m bench.run            # N = 100, 1,000, 5,000, 10,000; 1,000,000 lines;
                                   # the storms, the chaos suite, the hour-long soak
    python -m bench.run --no-soak  # the same without the soak
    python -m bench.run --quick    # N ≤ 1,000; 50,000 lines; small storms; under 5 minutes
    python -m bench.run --only soak --soak-minutes 10   # one stage alone (make soak, make chaos)

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
    from bench import db, servers

    # Before any service starts: gunicorn's listen backlog is capped by it.
    servers.apply_listen_queue()
    servers.compile_app()
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
    parser.add_argument("--quick", action="store_true", help="N ≤ 1,000, under 5 minutes")
    parser.add_argument("--sizes", type=lambda text: [int(n) for n in text.split(",")])
    parser.add_argument(
        "--only",
        type=lambda text: text.split(","),
        help="targets (irclogger, naive, node, nchan) or stages (connect-storm, reload-storm, "
        "chaos, soak) to run; stages alone are added to the last run's results",
    )
    parser.add_argument("--no-soak", action="store_true", help="skip the hour-long soak")
    parser.add_argument("--soak-minutes", type=float, default=60.0)
    parser.add_argument(
        "--lifetime-seconds",
        type=float,
        default=None,
        help="the streams' maximum lifetime in the soak (STREAM_MAX_LIFETIME_SECONDS)",
    )
    parser.add_argument("--lines", type=int, help="lines to import (search, big day page)")
    parser.add_argument("--no-profile", action="store_true")
    return parser.parse_args()


if __name__ == "__main__":
    main()
