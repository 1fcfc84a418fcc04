import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from irclogger.demo import load_demo
from irclogger.models import Line


class Command(BaseCommand):
    help = "Load generated demo logs (only into an empty database unless --force)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=7)
        parser.add_argument("--lines-per-day", type=int, default=400)
        parser.add_argument("--force", action="store_true", help="load even if lines exist")

    def handle(self, *args: Any, **options: Any) -> None:
        if Line.objects.exists() and not options["force"]:
            self.stdout.write("The database already has lines; demo not loaded.")
            return
        started = dt.datetime.now()
        count = load_demo(days=options["days"], lines_per_day=options["lines_per_day"])
        seconds = (dt.datetime.now() - started).total_seconds()
        self.stdout.write(f"Loaded {count} demo lines in {seconds:.1f} s.")
