"""``manage.py importlogs --network N --channel '#c' [--format F] [--tz Area/City] PATHS…``

A path may be a folder: the files under it are imported in sorted order.
The format is detected from each file's lines, whatever its name. The
exit status is 1 when any file was skipped (unknown format, unreadable, a
date it needs is nowhere in its path) or gave not one line; the summary
lists those files and why.

The network (by slug or name) and the channel (by IRC name) are created
when missing, so a first import needs no admin visit. A created channel is
not joined by the bot (``bot_enabled=False``: importing history should not
start live logging) and is public unless ``--private``.
"""

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q, QuerySet
from django.utils.text import slugify

from irclogger.importers import FORMATS, ImportSummary, import_files
from irclogger.models import Channel, Network
from irclogger.params import parse_zone


class Command(BaseCommand):
    help = f"Import existing IRC client logs and stores ({', '.join(FORMATS)})."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--network", required=True, help="network slug or name")
        parser.add_argument("--channel", required=True, help="IRC channel name, e.g. '#python'")
        parser.add_argument(
            "--format", choices=sorted(FORMATS), help="skip detection: every file is this format"
        )
        parser.add_argument(
            "--tz",
            help="time zone of the logs' local times, e.g. Europe/Berlin (default: the channel's)",
        )
        parser.add_argument(
            "--private", action="store_true", help="make the channel private if it is created"
        )
        parser.add_argument(
            "files", nargs="+", help="log files (plain or gzipped) or folders of them"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        tz = None
        if options["tz"] is not None:
            try:
                tz = parse_zone(options["tz"])
            except ValueError as exc:
                raise CommandError(f"--tz {options['tz']!r} is not a known time zone") from exc
        network = self._network(options["network"])
        channel = self._channel(network, options["channel"], private=options["private"])
        summary = import_files(
            options["files"],
            channel,
            fmt=options["format"],
            tz=channel.tz if tz is None else tz,
            report=self.stderr.write,
            progress=sys.stderr.isatty(),
        )
        self.stdout.write(_summary_text(summary))
        if summary.failed:
            listed = "\n".join(f"  {path}: {why}" for path, why in summary.failed)
            raise CommandError(f"{len(summary.failed)} file(s) skipped or empty:\n{listed}")

    def _network(self, name: str) -> Network:
        network = Network.objects.filter(Q(slug=name) | Q(name=name)).first()
        if network is None:
            slug = _free_slug(Network.objects.all(), name)
            network = Network.objects.create(name=name, slug=slug)
            self.stdout.write(f"Created network {network.name} ({network.slug}).")
        return network

    def _channel(self, network: Network, name: str, *, private: bool) -> Channel:
        channel = Channel.objects.filter(network=network, name=name).first()
        if channel is None:
            taken = Channel.objects.filter(network=network)
            channel = Channel.objects.create(
                network=network,
                name=name,
                slug=_free_slug(taken, name.lstrip("#&!+")),
                is_public=not private,
                bot_enabled=False,
            )
            self.stdout.write(f"Created channel {channel.name} ({channel.slug}).")
        return channel


def _free_slug(taken: QuerySet[Any], name: str) -> str:
    """A slug for ``name`` that no row of ``taken`` has yet: ``python``, ``python-2``, …"""
    base = slugify(name)[:40] or "channel"
    slug, number = base, 1
    while taken.filter(slug=slug).exists():
        number += 1
        slug = f"{base}-{number}"
    return slug


def _summary_text(summary: ImportSummary) -> str:
    rate = summary.lines / summary.seconds if summary.seconds else 0.0
    return (
        f"Imported {summary.imported} lines, skipped {summary.duplicates} duplicates"
        f"{f' ({summary.moved} moved to the new time zone)' if summary.moved else ''}, "
        f"{summary.unparsable} unparsable, from {summary.files} file(s) "
        f"in {summary.seconds:.1f} s ({rate:,.0f} lines/s)."
    )
