"""Generated, real-looking logs: the demo of ``make run`` and the benchmark's data.

Deterministic (a seeded RNG), so a screenshot or a benchmark can be made
again. Every line kind appears, with mIRC formatting, colours, URLs and
non-ASCII text.
"""

import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass

from django.db import transaction

from irclogger.bulk import LineRow, copy_lines
from irclogger.kinds import LineKind
from irclogger.models import Channel, Network

NICKS = [
    "alice",
    "bob",
    "carol",
    "dave",
    "erin",
    "frank",
    "grace",
    "heidi",
    "ivan",
    "judy",
    "mallory",
    "niaj",
    "olivia",
    "peggy",
    "rupert",
    "sybil",
    "trent",
    "victor",
    "walter",
    "zoë",
    "José",
    "Łukasz",
    "ミナ",
    "oleg_",
    "sam[away]",
    "{bot}",
    "^kristof^",
]

WORDS = [
    "the",
    "build",
    "is",
    "green",
    "again",
    "after",
    "the",
    "migration",
    "to",
    "postgres",
    "and",
    "gevent",
    "workers",
    "does",
    "anyone",
    "know",
    "why",
    "my",
    "stream",
    "reconnects",
    "every",
    "minute",
    "behind",
    "nginx",
    "proxy_read_timeout",
    "try",
    "setting",
    "the",
    "header",
    "X-Accel-Buffering",
    "no",
    "and",
    "turn",
    "off",
    "gzip",
    "for",
    "event",
    "streams",
    "search",
    "works",
    "with",
    "quoted",
    "phrases",
    "and",
    "minus",
    "to",
    "exclude",
    "words",
    "like",
    "docs",
    "release",
    "deploy",
    "I",
    "pushed",
    "a",
    "fix",
    "for",
    "the",
    "unicode",
    "decoding",
    "error",
    "in",
    "the",
    "importer",
    "yesterday",
    "evening",
    "thanks",
    "that",
    "solved",
    "it",
    "perfectly",
    "the",
    "day",
    "page",
    "renders",
    "ten",
    "thousand",
    "lines",
    "quickly",
    "now",
]

SENTENCES = [
    "has anyone tried the new release? the changelog is at https://example.org/changelog#v2",
    "\x02important:\x02 the meeting moved to 16:00 UTC, agenda at https://wiki.example.org/Meeting",
    "\x0304red\x03, \x0309green\x03, \x0312blue\x03 and \x0308,02yellow on navy\x03 — colours work",
    "\x1ditalic\x1d, \x1funderlined\x1f, \x1estruck\x1e and \x11monospace\x11 text",
    "spoiler: \x0301,01the butler did it\x0f (hover to read)",
    "hex colour test \x04ff8800orange-ish\x04 and back to normal",
    "Größenänderung funktioniert jetzt, danke! Привет всем 👋 日本語も大丈夫",
    "pastebin: https://paste.example.org/raw/abc123 (see line 42)",
    "<script>alert('not from me')</script> should be shown as text, not run",
    "ok, merging the pull request now",
    "lol",
    "\x0313,01reverse\x16video\x16\x0f test from an old client",
]


@dataclass
class DemoChannel:
    network: tuple[str, str]
    name: str
    slug: str
    is_public: bool
    topic: str


DEMO_CHANNELS = [
    DemoChannel(
        ("Libera.Chat", "libera"),
        "#python",
        "python",
        True,
        "Python help \x02·\x02 paste at https://bpa.st \x02·\x02 be nice",
    ),
    DemoChannel(
        ("Libera.Chat", "libera"),
        "#django",
        "django",
        True,
        "Django 5.2 LTS is out: https://www.djangoproject.com/",
    ),
    DemoChannel(
        ("Libera.Chat", "libera"),
        "#irclogger-dev",
        "irclogger-dev",
        False,
        "\x0303private\x03: developers only",
    ),
    DemoChannel(
        ("OFTC", "oftc"), "#debian-next", "debian-next", True, "Debian testing · Ärger? ask here"
    ),
]


def ensure_channels() -> list[Channel]:
    channels = []
    for demo in DEMO_CHANNELS:
        name, slug = demo.network
        network, _ = Network.objects.get_or_create(slug=slug, defaults={"name": name})
        channel, _ = Channel.objects.get_or_create(
            network=network,
            slug=demo.slug,
            defaults={"name": demo.name, "is_public": demo.is_public, "topic": demo.topic},
        )
        channels.append(channel)
    return channels


def generate_rows(
    channel_id: int, start: dt.datetime, end: dt.datetime, count: int, seed: int
) -> Iterator[LineRow]:
    """``count`` lines spread evenly over [start, end), in time order."""
    rng = random.Random(seed)
    span = (end - start) / max(count, 1)
    present: set[str] = set(NICKS[:8])
    for index in range(count):
        when = start + span * index
        kind, nick, target, text = _pick(rng, present)
        yield LineRow(channel_id, when, kind, nick, target, text, False, None)


def _pick(rng: random.Random, present: set[str]) -> tuple[str, str, str, str]:
    roll = rng.random()
    nick = rng.choice(sorted(present)) if present else rng.choice(NICKS)
    if roll < 0.70:
        return LineKind.MESSAGE, nick, "", _message(rng)
    if roll < 0.75:
        return LineKind.ACTION, nick, "", "waves at " + rng.choice(NICKS)
    if roll < 0.77:
        return (
            LineKind.NOTICE,
            "ChanServ",
            "",
            "Welcome! Logs are public: https://logs.example.org/",
        )
    if roll < 0.84:
        joiner = rng.choice(NICKS)
        present.add(joiner)
        return LineKind.JOIN, joiner, "", f"~{joiner.lower()[:8]}@user/{joiner}"
    if roll < 0.89 and len(present) > 3:
        present.discard(nick)
        return (
            rng.choice([LineKind.PART, LineKind.QUIT]),
            nick,
            "",
            rng.choice(["", "Leaving", "Ping timeout: 240 seconds"]),
        )
    if roll < 0.92:
        new = nick.rstrip("_") + "_" if not nick.endswith("_") else nick.rstrip("_")
        present.discard(nick)
        present.add(new)
        return LineKind.NICK, nick, new, ""
    if roll < 0.94:
        return (
            LineKind.TOPIC,
            nick,
            "",
            "Topic of the day: \x02" + " ".join(rng.sample(WORDS, 4)) + "\x02",
        )
    if roll < 0.96:
        victim = rng.choice(NICKS)
        return LineKind.KICK, "ops", victim, "please keep it on topic"
    if roll < 0.98:
        return LineKind.MODE, "ChanServ", "", f"+o {nick}"
    return LineKind.MESSAGE, nick, "", rng.choice(SENTENCES)


def _message(rng: random.Random) -> str:
    if rng.random() < 0.25:
        return rng.choice(SENTENCES)
    return " ".join(rng.choices(WORDS, k=rng.randint(3, 18)))


def load_demo(days: int = 7, lines_per_day: int = 400, now: dt.datetime | None = None) -> int:
    """Fill the demo channels with ``days`` days of logs ending now."""
    now = now or dt.datetime.now(dt.UTC)
    first_day = (now - dt.timedelta(days=days - 1)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    total = 0
    with transaction.atomic():
        for seed, channel in enumerate(ensure_channels()):
            total += copy_lines(
                generate_rows(channel.pk, first_day, now, lines_per_day * days, seed)
            )
            _add_system_lines(channel, first_day)
    return total


def _add_system_lines(channel: Channel, first_day: dt.datetime) -> None:
    gap = first_day + dt.timedelta(days=1, hours=3, minutes=2)
    rows = [
        LineRow(
            channel.pk,
            gap,
            LineKind.SYSTEM,
            "",
            "",
            "Connection to the IRC server lost; lines may be missing until it returns",
            False,
            None,
        ),
        LineRow(
            channel.pk,
            gap + dt.timedelta(minutes=4),
            LineKind.SYSTEM,
            "",
            "",
            "Reconnected to the IRC server",
            False,
            None,
        ),
    ]
    copy_lines(rows)
