"""Search over the lines a reader may see: the form, the query, the page of results.

Results are ordered by time (imported history interleaves with live lines)
and paged both ways with keyset cursors on (timestamp, id). The channels a
reader may see are resolved first and handed to the text index scan as
channel ids, so lines of other channels are never visited.
"""

import datetime as dt
import html
import re
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.postgres.search import SearchHeadline
from django.db import connection, transaction
from django.db.models import Func, Q, QuerySet, Value
from django.db.models.fields import TextField

from irclogger.formatting import render_irc
from irclogger.models import (
    NICK_MAX_LENGTH,
    SEARCH_CONFIG,
    Channel,
    Line,
    LineKind,
    LineQuerySet,
    NickBase,
    User,
    query_pieces,
    stripped_text,
    text_query,
    text_query_sql,
)
from irclogger.params import EARLIEST, LATEST, UTC, day_start, in_range, parse_id

# Counting every match of a common word over millions of lines costs more
# than the page; past this the page says "more than".
COUNT_LIMIT = 1000

# Marks around a match in PostgreSQL's headline: private-use code points,
# removed from the line's text before the headline is made, so only
# PostgreSQL can put them there.
HEADLINE_START = "\ue000"
HEADLINE_STOP = "\ue001"

# A query with more matches than COUNT_LIMIT reads this many lines in time
# order before it lets the planner choose: at most a few milliseconds, and a
# page for any query matching one line in 200.
WALK_LINES = 10_000
# Each channel is one more index scan to merge, and one more statement part.
WALK_MAX_CHANNELS = 32

MESSAGE_KINDS = (LineKind.MESSAGE, LineKind.ACTION, LineKind.NOTICE)
PERIODS = {
    "day": dt.timedelta(days=1),
    "week": dt.timedelta(days=7),
    "month": dt.timedelta(days=30),
}
_CURSOR = re.compile(r"([0-9]{1,16})_([0-9]{1,19})")


@dataclass(frozen=True)
class Cursor:
    """A position in a result list: the (timestamp, id) of a line."""

    timestamp: dt.datetime
    id: int

    def __str__(self) -> str:
        delta = self.timestamp - dt.datetime(1970, 1, 1, tzinfo=UTC)
        micros = delta // dt.timedelta(microseconds=1)
        return f"{micros}_{self.id}"

    @classmethod
    def of(cls, line: Line) -> "Cursor":
        return cls(line.timestamp, line.id)


def parse_cursor(raw: str) -> Cursor | None:
    """A cursor from ``<microseconds since 1970>_<line id>``, else None."""
    match = _CURSOR.fullmatch(raw.strip())
    line_id = parse_id(match.group(2)) if match else None
    if match is None or line_id is None:
        return None
    try:
        stamp = dt.datetime(1970, 1, 1, tzinfo=UTC) + dt.timedelta(microseconds=int(match.group(1)))
    except OverflowError:
        return None
    return Cursor(stamp, line_id)


class SearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=500, label="Search")
    # The reader is still typing the last word: match it as a prefix.
    partial = forms.BooleanField(required=False, label="Last word may be unfinished")
    nick = forms.CharField(required=False, max_length=NICK_MAX_LENGTH)
    kinds = forms.ChoiceField(
        required=False,
        choices=[("all", "Everything"), ("messages", "Messages only")],
        label="Lines",
    )
    period = forms.ChoiceField(
        required=False,
        choices=[
            ("", "Any time"),
            ("day", "Last day"),
            ("week", "Last week"),
            ("month", "Last month"),
        ],
        label="When",
    )
    since = forms.DateField(required=False, label="From")
    until = forms.DateField(required=False, label="To")
    order = forms.ChoiceField(
        required=False, choices=[("newest", "Newest first"), ("oldest", "Oldest first")]
    )
    # On global search: "<network slug>/<channel slug>", one of the visible channels.
    channel = forms.CharField(required=False, max_length=160)
    after = forms.CharField(required=False, max_length=40, widget=forms.HiddenInput)
    before = forms.CharField(required=False, max_length=40, widget=forms.HiddenInput)

    def __init__(self, *args: Any, user: User, fixed_channel: Channel | None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fixed_channel = fixed_channel

    def clean_since(self) -> dt.date | None:
        return _bounded(self.cleaned_data.get("since"))

    def clean_until(self) -> dt.date | None:
        return _bounded(self.cleaned_data.get("until"))

    def clean_after(self) -> Cursor | None:
        return _cursor(self.cleaned_data.get("after"))

    def clean_before(self) -> Cursor | None:
        return _cursor(self.cleaned_data.get("before"))

    def clean_channel(self) -> Channel | None:
        if self.fixed_channel is not None:
            return self.fixed_channel
        raw = self.cleaned_data.get("channel") or ""
        if not raw:
            return None
        network, _, slug = raw.partition("/")
        found = (
            Channel.objects.visible_to(self.user)
            .filter(network__slug=network, slug=slug)
            .select_related("network")
            .first()
        )
        if found is None:
            # The same words for a private channel as for a missing one.
            raise forms.ValidationError(f"No channel {raw!r} to search.")
        return found

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            raise forms.ValidationError(
                f"From ({since}) is after To ({until}): no line can match. Swap the dates."
            )
        if data.get("after") and data.get("before"):
            raise forms.ValidationError("Give either after or before, not both.")
        return data

    def is_empty(self) -> bool:
        data = self.cleaned_data
        return not (data.get("q") or data.get("nick"))

    def channel_choices(self) -> list[Channel]:
        """The channels global search offers: those this reader may see."""
        return list(Channel.objects.visible_to(self.user).select_related("network"))


def _bounded(day: dt.date | None) -> dt.date | None:
    if day is not None and not in_range(day):
        raise forms.ValidationError(f"Choose a date between {EARLIEST} and {LATEST}.")
    return day


def _cursor(raw: str | None) -> Cursor | None:
    if not raw:
        return None
    cursor = parse_cursor(raw)
    if cursor is None:
        raise forms.ValidationError("Not a result position; follow the page's own links.")
    return cursor


@dataclass
class Result:
    line: Line
    snippet_html: str
    before: list[Line] = field(default_factory=list)
    after: list[Line] = field(default_factory=list)


@dataclass
class SearchPage:
    results: list[Result]
    count: int
    count_is_capped: bool
    newest_first: bool
    # Cursors for the neighbouring pages in display order; None at an end.
    next_after: Cursor | None
    previous_before: Cursor | None
    explanation: str = ""
    # A query to try instead: the words as prefixes, when a word may be partial.
    prefix_hint: str = ""

    @property
    def lines(self) -> list[Line]:
        return [result.line for result in self.results]


def search_lines(form: SearchForm, user: User) -> SearchPage:
    """One page of matches in time order, with a line of context on each side."""
    data = form.cleaned_data
    newest_first = data.get("order") != "oldest"
    pieces = query_pieces(data.get("q") or "", prefix_last=bool(data.get("partial")))
    explanation = explain(data, pieces)
    if explanation:
        return SearchPage([], 0, False, newest_first, None, None, explanation)
    ids = _channel_ids(user, data.get("channel"))
    lines = _filtered(data, pieces, ids)
    with transaction.atomic(), connection.cursor() as cursor:
        # The planner cannot know that a word is frequent in one channel and
        # absent from another; guessing from the whole table it may choose a
        # sequential scan, which reads the lines of every channel. Without
        # it, every plan starts from an index whose condition names the
        # channels: lines the reader may not see are never read.
        cursor.execute("SET LOCAL enable_seqscan = off")
        matches = list(lines.order_by().values_list("timestamp", "id")[: COUNT_LIMIT + 1])
        count = len(matches)
        if count <= COUNT_LIMIT:
            # Every match is known: the page is cut from them here, and no
            # plan has to guess how many lines a word has.
            page, more = _page_of(matches, data, newest_first)
        else:
            page, more = _walked_page(lines, data, pieces, ids, newest_first)
    headlines = _headlines(page, pieces) if pieces else {}
    results = _with_context(
        [Result(line, snippet_html(line, headlines.get(line.id, ""))) for line in page]
    )
    going_back = data.get("before") is not None
    next_after = Cursor.of(page[-1]) if page and (more or going_back) else None
    previous_before = (
        Cursor.of(page[0]) if page and (data.get("after") or (going_back and more)) else None
    )
    if not page and count and (data.get("after") or going_back):
        explanation = "No more results this way."
    hint = prefix_hint(str(data.get("q") or "")) if count == 0 else ""
    return SearchPage(
        results,
        min(count, COUNT_LIMIT),
        count > COUNT_LIMIT,
        newest_first,
        next_after,
        previous_before,
        explanation,
        hint,
    )


def prefix_hint(query: str) -> str:
    """The query with its bare words as prefixes ("deplo" → "deplo*"), or ""."""
    words = query.split()
    hinted = [f"{w}*" if re.fullmatch(r"\w+", w) else w for w in words]
    return " ".join(hinted) if hinted != words else ""


def _channel_ids(user: User, channel: Channel | None) -> list[int]:
    """The ids of the channels to search, known before any line is read."""
    if channel is not None:
        return [channel.pk]
    return list(Channel.objects.visible_to(user).values_list("id", flat=True))


def _filtered(data: dict[str, Any], pieces: list[tuple[str, str]], ids: list[int]) -> LineQuerySet:
    lines = (
        Line.objects.matching(pieces, ids) if pieces else Line.objects.filter(channel_id__in=ids)
    )
    if data.get("nick"):
        # line_channel_nick: the nick's base, as the index has it.
        lines = lines.alias(nick_base=NickBase("nick")).filter(
            nick_base=NickBase(Value(data["nick"]))
        )
    if data.get("kinds") == "messages":
        lines = lines.filter(kind__in=MESSAGE_KINDS)
    if data.get("period"):
        lines = lines.filter(timestamp__gte=dt.datetime.now(UTC) - PERIODS[data["period"]])
    since, until = data.get("since"), data.get("until")
    if isinstance(since, dt.date):
        lines = lines.filter(timestamp__gte=day_start(since, UTC))
    if isinstance(until, dt.date):
        lines = lines.filter(timestamp__lt=day_start(until + dt.timedelta(days=1), UTC))
    return lines


def _page(lines: LineQuerySet, data: dict[str, Any], newest_first: bool) -> tuple[list[Line], bool]:
    """The lines of this page in display order, and whether more lie beyond it."""
    forward = data.get("before") is None
    descending = _descending(data, newest_first)
    cursor = data.get("after") or data.get("before")
    if cursor is not None:
        lines = lines.filter(_beyond(cursor, descending))
    size = settings.SEARCH_PAGE_SIZE
    found = list(
        lines.select_related("channel__network")
        .defer("search_vector")
        .order_by(*_order(descending))[: size + 1]
    )
    more = len(found) > size
    found = found[:size]
    return (found if forward else found[::-1]), more


def _descending(data: dict[str, Any], newest_first: bool) -> bool:
    # Walking back from ``before`` reads the list the other way, then turns it.
    return newest_first == (data.get("before") is None)


def _order(descending: bool) -> tuple[str, str]:
    return ("-timestamp", "-id") if descending else ("timestamp", "id")


def _beyond(cursor: Cursor, descending: bool) -> Q:
    """The lines past ``cursor`` in the reading direction.

    The bare bound on the timestamp is implied by the rest; it is there so
    that an index scan on (channel, timestamp) starts at the cursor instead
    of reading from the end and filtering.
    """
    stamp, line_id = cursor.timestamp, cursor.id
    if descending:
        past = Q(timestamp__lt=stamp) | Q(timestamp=stamp, id__lt=line_id)
        return Q(timestamp__lte=stamp) & past
    past = Q(timestamp__gt=stamp) | Q(timestamp=stamp, id__gt=line_id)
    return Q(timestamp__gte=stamp) & past


def _walked_page(
    lines: LineQuerySet,
    data: dict[str, Any],
    pieces: list[tuple[str, str]],
    ids: list[int],
    newest_first: bool,
) -> tuple[list[Line], bool]:
    """_page's answer for a query known to have more than COUNT_LIMIT matches.

    The planner guesses a phrase's (or a hyphenated word's: "x-accel" is the
    phrase 'x-accel' <-> 'x' <-> 'accel') frequency as if its words were
    independent: far too rare. It then reads and checks every line the index
    hands over for the words, tens of thousands, to sort them by time. A
    common match is found sooner by reading the lines in time order: the
    newest WALK_LINES before the cursor are read through line_channel_time
    and checked; only when they hold less than a page is the rest of the
    page left to the planner (docs/DESIGN.md, Search).
    """
    if data.get("nick") or not pieces or len(ids) > WALK_MAX_CHANNELS:
        # The nick filter has its own index; many channels, too many walks.
        return _page(lines, data, newest_first)
    descending = _descending(data, newest_first)
    keys, boundary = _walk(data, pieces, ids, descending)
    size = settings.SEARCH_PAGE_SIZE
    if len(keys) <= size and boundary is not None:
        rest = lines.filter(_beyond(boundary, descending)).order_by(*_order(descending))
        keys += list(rest.values_list("timestamp", "id")[: size + 1 - len(keys)])
    chosen = keys[:size] if data.get("before") is None else keys[:size][::-1]
    return _lines_by_key(chosen), len(keys) > size


def _walk(
    data: dict[str, Any], pieces: list[tuple[str, str]], ids: list[int], descending: bool
) -> tuple[list[tuple[dt.datetime, int]], Cursor | None]:
    """The matches among the next WALK_LINES lines in reading order (a page
    and one more at most), and the last line read when they are fewer: None
    when no line is left after it."""
    walk = _in_order(data, ids, descending, "search_vector")
    walk_sql, walk_params = walk.query.sql_with_params()
    # The walk reads only the searched channels' lines: the text alone is checked.
    query_sql, query_params = text_query_sql(pieces)
    direction = "DESC" if descending else "ASC"
    size = settings.SEARCH_PAGE_SIZE
    with connection.cursor() as cursor:
        # Lines come out of the walk in order and the scan stops at the
        # page's last match: a common word reads few of the WALK_LINES.
        cursor.execute(
            f"SELECT timestamp, id FROM ({walk_sql}) walk WHERE search_vector @@ {query_sql}"  # noqa: S608  (SQL the ORM made)
            f" ORDER BY timestamp {direction}, id {direction} LIMIT %s",
            [*walk_params, *query_params, size + 1],
        )
        keys = [(stamp, line_id) for stamp, line_id in cursor.fetchall()]
    if len(keys) > size:
        return keys, None
    last = _in_order(data, ids, descending)[WALK_LINES - 1 :]
    return keys, next((Cursor(stamp, line_id) for stamp, line_id in last), None)


def _in_order(
    data: dict[str, Any], ids: list[int], descending: bool, *more: str
) -> "QuerySet[Line, tuple[Any, ...]]":
    """(timestamp, id, *more) of the first WALK_LINES lines of these
    channels past the cursor, in reading order, whatever their text."""
    cursor = data.get("after") or data.get("before")
    order = _order(descending)
    walks = []
    for channel_id in ids:
        one = _filtered(data, [], [channel_id])
        if cursor is not None:
            one = one.filter(_beyond(cursor, descending))
        # Each channel ordered and cut on its own: one index scan each, which
        # PostgreSQL merges in order (a Merge Append) instead of sorting them all.
        walks.append(one.order_by(*order).values_list("timestamp", "id", *more)[:WALK_LINES])
    if len(walks) == 1:
        return walks[0]
    return walks[0].union(*walks[1:], all=True).order_by(*order)[:WALK_LINES]


def _lines_by_key(keys: list[tuple[dt.datetime, int]]) -> list[Line]:
    """The lines of these (timestamp, id) keys, in their order, with their channels."""
    found = Line.objects.filter(id__in=[line_id for _, line_id in keys])
    by_id = {
        line.id: line for line in found.select_related("channel__network").defer("search_vector")
    }
    return [by_id[line_id] for _, line_id in keys if line_id in by_id]


def _page_of(
    matches: list[tuple[dt.datetime, int]], data: dict[str, Any], newest_first: bool
) -> tuple[list[Line], bool]:
    """_page's answer cut from the (timestamp, id) of every match."""
    after, before = data.get("after"), data.get("before")
    keys = sorted(matches, reverse=newest_first)
    if after is not None:
        point = (after.timestamp, after.id)
        keys = [k for k in keys if (k < point if newest_first else k > point)]
    elif before is not None:
        point = (before.timestamp, before.id)
        keys = [k for k in keys if (k > point if newest_first else k < point)]
    size = settings.SEARCH_PAGE_SIZE
    if before is not None:
        chosen, more = keys[-size:], len(keys) > size
    else:
        chosen, more = keys[:size], len(keys) > size
    return _lines_by_key(chosen), more


def _headlines(page: list[Line], pieces: list[tuple[str, str]]) -> dict[int, str]:
    """PostgreSQL's headline (the words that matched) of each line of the page, by id."""
    if not page:
        return {}
    # A line's own U+E000/U+E001 are removed first: they cannot pose as marks.
    source = Func(
        stripped_text(),
        Value(HEADLINE_START + HEADLINE_STOP),
        Value(""),
        function="translate",
        output_field=TextField(),
    )
    headline = SearchHeadline(
        source,
        text_query(pieces),
        config=SEARCH_CONFIG,
        start_sel=HEADLINE_START,
        stop_sel=HEADLINE_STOP,
        highlight_all=True,
    )
    return dict(
        Line.objects.filter(id__in=[line.id for line in page])
        .annotate(headline=headline)
        .values_list("id", "headline")
    )


def matched_words(headline: str) -> set[str]:
    """The words PostgreSQL marked in a headline."""
    pattern = re.escape(HEADLINE_START) + "(.*?)" + re.escape(HEADLINE_STOP)
    return {word for word in re.findall(pattern, headline) if word.strip()}


_TAG = re.compile(r"(<[^>]*>)")


def snippet_html(line: Line, headline: str) -> str:
    """The line rendered as on its day page, the matched words in <mark>.

    Marks go into text between tags only, never inside a spoiler (text in
    the same colour as its background stays hidden), and the words come from
    PostgreSQL's headline, not from anything the line's text can forge.
    """
    rendered = render_irc(line.text)
    words = matched_words(headline)
    if not words:
        return rendered
    alternatives = "|".join(re.escape(html.escape(w)) for w in sorted(words, key=len, reverse=True))
    word = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")
    out: list[str] = []
    in_spoiler = False
    for piece in _TAG.split(rendered):
        if piece.startswith("<span"):
            in_spoiler = "irc-spoiler" in piece
        elif piece == "</span>":
            in_spoiler = False
        elif piece and not piece.startswith("<") and not in_spoiler:
            piece = word.sub(lambda m: f"<mark>{m.group(0)}</mark>", piece)
        out.append(piece)
    return "".join(out)


def _with_context(results: list[Result]) -> list[Result]:
    """One line before and one after each result, in its channel (one query)."""
    if not results:
        return results
    columns = "id, channel_id, timestamp, kind, nick, target, text"
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT r.id, c.side, c.{columns.replace(", ", ", c.")}
            FROM irclogger_line r
            CROSS JOIN LATERAL (
                (SELECT -1 AS side, {columns} FROM irclogger_line p
                 WHERE p.channel_id = r.channel_id
                   AND (p.timestamp, p.id) < (r.timestamp, r.id)
                 ORDER BY p.timestamp DESC, p.id DESC LIMIT 1)
                UNION ALL
                (SELECT 1 AS side, {columns} FROM irclogger_line n
                 WHERE n.channel_id = r.channel_id
                   AND (n.timestamp, n.id) > (r.timestamp, r.id)
                 ORDER BY n.timestamp, n.id LIMIT 1)
            ) c
            WHERE r.id = ANY(%s)
            """,  # noqa: S608  (only fixed column names are formatted in)
            [[result.line.id for result in results]],
        )
        rows = cursor.fetchall()
    by_id = {result.line.id: result for result in results}
    for result_id, side, *values in rows:
        neighbour = Line(**dict(zip(columns.split(", "), values, strict=True)))
        target = by_id[result_id]
        (target.before if side < 0 else target.after).append(neighbour)
    return results


def explain(data: dict[str, Any], pieces: list[tuple[str, str]]) -> str:
    """Why a query cannot match anything, in words; "" when it can."""
    query = str(data.get("q") or "")
    if not query:
        return ""
    if not pieces:
        return "The query has no words to search for."
    sql, params = text_query_sql(pieces)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT numnode({sql})", params)
        (nodes,) = cursor.fetchone() or (0,)
        if nodes:
            return ""
        cursor.execute(
            "SELECT token FROM ts_debug(%s::regconfig, %s) WHERE lexemes = '{}'",
            [SEARCH_CONFIG, " ".join(text for _, text in pieces)],
        )
        common = sorted({row[0].lower() for row in cursor.fetchall()})
    if common:
        listed = ", ".join(f"“{word}”" for word in common)
        return (
            f"Only very common words ({listed}): they are left out of the index, so no line "
            "can match. Add a rarer word, or put them in a quoted phrase with one."
        )
    return "The query has no words to search for, only punctuation."
