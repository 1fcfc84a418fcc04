"""How a log line looks, wherever it appears: day pages, ranges, search, the live stream.

This is the one template of a line. It is Python rather than a Django
template because a day page renders it ten thousand times: the template
engine took over a second for that, these format strings take tens of
milliseconds.
"""

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from html import escape
from typing import Protocol

from django.utils.safestring import SafeString, mark_safe

from irclogger.formatting import escape_text, nick_colour_class, render_irc
from irclogger.kinds import PRESENCE_KINDS, LineKind


class Line(Protocol):
    """What the template reads of a line: a Line model instance or a ShownLine row."""

    @property
    def id(self) -> int: ...
    @property
    def timestamp(self) -> dt.datetime: ...
    @property
    def kind(self) -> str: ...
    @property
    def nick(self) -> str: ...
    @property
    def target(self) -> str: ...
    @property
    def text(self) -> str: ...


def line_fields(line: Line) -> dict[str, object]:
    """A line's stored fields, JSON-ready: the .json export and the stream share them."""
    return {
        "id": line.id,
        "timestamp": line.timestamp.isoformat(),
        "kind": line.kind,
        "nick": line.nick,
        "target": line.target,
        "text": line.text,
    }


_WHO = '<span class="who {nick_class}">{before}{nick}{after}</span> <span class="msg">{html}</span>'
_ACTOR = '<span class="{nick_class}">{nick}</span>'

# The body of each kind; {reason} is " (text)" when there is a text.
_BODIES: dict[str, str] = {
    LineKind.MESSAGE: _WHO.replace("{before}", "&lt;").replace("{after}", "&gt;"),
    LineKind.ACTION: _WHO.replace("{before}", "* ").replace("{after}", ""),
    LineKind.NOTICE: _WHO.replace("{before}", "-").replace("{after}", "-"),
    LineKind.JOIN: '<span class="ev">→ ' + _ACTOR + " joined{host}</span>",
    LineKind.PART: '<span class="ev">← ' + _ACTOR + " left{reason}</span>",
    LineKind.QUIT: '<span class="ev">← ' + _ACTOR + " quit{reason}</span>",
    LineKind.NICK: '<span class="ev">↔ ' + _ACTOR + " is now known as {target}</span>",
    LineKind.TOPIC: '<span class="ev">✎ '
    + _ACTOR
    + ' changed the topic to: <span class="msg">{html}</span></span>',
    LineKind.KICK: '<span class="ev">⨯ ' + _ACTOR + " kicked {target}{reason}</span>",
    LineKind.MODE: '<span class="ev">⚙ ' + _ACTOR + " sets mode {plain}</span>",
    LineKind.SYSTEM: '<span class="ev sys">— {html}</span>',
}


def _kinds_showing(*fields: str) -> frozenset[str]:
    return frozenset(kind for kind, body in _BODIES.items() if any(f in body for f in fields))


# What each body shows, so a line pays only for the fields its body uses.
_SHOWS_HTML = _kinds_showing("{html}", "{reason}")
_SHOWS_PLAIN = _kinds_showing("{plain}", "{host}")
_SHOWS_TARGET = _kinds_showing("{target}")


def render_line(
    line: Line,
    tz: dt.tzinfo = dt.UTC,
    *,
    highlight: int | None = None,
    show_date: bool = False,
    body_html: str | None = None,
    href: str | None = None,
    day_base: str = "",
    bots: frozenset[str] = frozenset(),
) -> str:
    """One ``<li>`` for a line.

    ``body_html`` replaces the text (search snippets); ``href`` is where the
    time links to (the permalink, off the line's own page); else, with
    ``day_base`` (the channel's path), the time links to the line on its
    dated day page, a link that still works tomorrow. ``bots`` are the
    channel's bot nicks, marked so a reader may hide them.
    """
    local = line.timestamp.astimezone(tz)
    clock = local.strftime("%Y-%m-%d %H:%M:%S" if show_date else "%H:%M:%S")
    kind = line.kind if line.kind in _BODIES else LineKind.SYSTEM
    # Only what this kind's body shows is rendered: a day page renders ten
    # thousand lines, joins among them.
    if body_html is not None:
        html = body_html
    else:
        html = render_irc(line.text) if kind in _SHOWS_HTML else ""
    plain = _isolated(escape_text(line.text)) if kind in _SHOWS_PLAIN and line.text else ""
    html = _isolated(html)
    body = _BODIES[kind].format(
        nick_class=nick_colour_class(line.nick),
        nick=_isolated(escape_text(line.nick)),
        target=_isolated(escape_text(line.target)) if kind in _SHOWS_TARGET else "",
        html=html,
        plain=plain,
        host=f' <span class="host">({plain})</span>' if plain else "",
        reason=f" ({html})" if line.text else "",
    )
    hl = " hl" if line.id == highlight else ""
    bot = " bot" if bots and line.nick.lower() in bots else ""
    if href:
        link = escape(href)
    elif day_base:
        link = f"{day_base}{local:%Y-%m-%d}/#L{line.id}"
    else:
        link = f"#L{line.id}"
    return (
        f'<li id="L{line.id}" class="line k-{line.kind}{hl}{bot}" data-id="{line.id}">'
        f'<a class="ts" href="{link}" title="{line.timestamp.isoformat()}">{clock}</a> '
        f"{body}</li>"
    )


def _isolated(html: str) -> str:
    """Text from IRC in its own bidi isolate: an override or a right-to-left run
    inside it cannot reorder the nick, the time or the next line around it."""
    return f"<bdi>{html}</bdi>" if html else ""


def render_log(
    lines: Iterable[Line],
    tz: dt.tzinfo,
    *,
    hide_presence: bool = False,
    highlight: int | None = None,
    show_date: bool = False,
    day_base: str = "",
    separate_days: bool = False,
    bots: frozenset[str] = frozenset(),
) -> SafeString:
    """The lines of a page, runs of joins/parts/quits folded into one summary.

    ``separate_days`` starts each day with a heading (ranges); the other
    keywords are render_line's.
    """
    out: list[str] = []
    run: list[Line] = []
    day: dt.date | None = None

    def one(line: Line) -> str:
        return render_line(
            line, tz, highlight=highlight, show_date=show_date, day_base=day_base, bots=bots
        )

    for line in lines:
        if separate_days:
            line_day = line.timestamp.astimezone(tz).date()
            if line_day != day:
                _flush_run(out, run, one, highlight)
                run = []
                day = line_day
                out.append(day_separator(line_day, day_base))
        if line.kind in PRESENCE_KINDS:
            if not hide_presence:
                run.append(line)
            continue
        _flush_run(out, run, one, highlight)
        run = []
        out.append(one(line))
    _flush_run(out, run, one, highlight)
    return mark_safe("\n".join(out))  # noqa: S308  (every piece is escaped above)


def day_separator(day: dt.date, day_base: str) -> str:
    """The heading that starts a day inside a range (and, live, at midnight)."""
    label = f"{day:%A, %Y-%m-%d}"
    inner = f'<a href="{day_base}{day:%Y-%m-%d}/">{label}</a>' if day_base else label
    return f'<li class="day-sep" data-day="{day:%Y-%m-%d}"><h2>{inner}</h2></li>'


def _flush_run(
    out: list[str], run: list[Line], one: Callable[[Line], str], highlight: int | None
) -> None:
    if len(run) == 1:
        out.append(one(run[0]))
    elif run:
        opened = " open" if any(line.id == highlight for line in run) else ""
        inner = "".join(one(line) for line in run)
        out.append(
            f'<li class="presence-run"><details{opened}><summary>{presence_summary(run)}'
            f"</summary><ol>{inner}</ol></details></li>"
        )


def presence_summary(run: Sequence[Line]) -> str:
    """E.g. "3 joined, 1 quit" for a folded run."""
    counts: dict[str, int] = {}
    for line in run:
        counts[line.kind] = counts.get(line.kind, 0) + 1
    words: dict[str, str] = {
        LineKind.JOIN: "joined",
        LineKind.PART: "left",
        LineKind.QUIT: "quit",
        LineKind.NICK: "renamed",
    }
    return ", ".join(f"{count} {words[kind]}" for kind, count in counts.items())
