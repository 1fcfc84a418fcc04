"""Networks, channels, who may read the private ones, and the log lines."""

import datetime as dt
import functools
import operator
import re
from collections.abc import Iterator
from typing import Any, NamedTuple

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import (
    CombinedSearchQuery,
    SearchQuery,
    SearchQueryField,
    SearchVector,
    SearchVectorField,
)
from django.core.exceptions import ValidationError
from django.db import connections, models
from django.db.models import Count, Func, OuterRef, Q, Subquery, Value
from django.db.models.functions import Cast, TruncDate

# LineKind is defined in kinds.py (rendering reads it without the ORM); the
# bot and the importers import it from here with the models.
from irclogger.formatting import CODE_PATTERN, render_irc
from irclogger.kinds import LineKind as LineKind
from irclogger.params import day_bounds, parse_zone, zone_name

# The text search configuration used by the stored vector and by queries;
# they must match or nothing is found.
SEARCH_CONFIG = "english"


User = AbstractBaseUser | AnonymousUser


class NetworkQuerySet(models.QuerySet["Network"]):
    def logged_by_bot(self) -> "NetworkQuerySet":
        """Networks the bot connects to: enabled, and with a server to reach."""
        return self.filter(bot_enabled=True).exclude(host="")

    def with_visible_channels(self, user: "User") -> "NetworkQuerySet":
        """Networks with a channel the user may see, each with ``visible_channels``
        (by name, each with its ``last_activity``): the index, in two queries."""
        channels = Channel.objects.visible_to(user).with_last_activity().order_by("name")
        return (
            self.filter(channels__in=channels)
            .distinct()
            .prefetch_related(
                models.Prefetch("channels", queryset=channels, to_attr="visible_channels")
            )
        )


class Network(models.Model):
    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=50, unique=True)
    host = models.CharField(max_length=255, blank=True)
    port = models.PositiveIntegerField(default=6697)
    use_tls = models.BooleanField(default=True)
    server_password = models.CharField(max_length=255, blank=True)
    nick = models.CharField(max_length=32, default="irclogger")
    sasl_username = models.CharField(max_length=100, blank=True)
    sasl_password = models.CharField(max_length=255, blank=True)
    bot_enabled = models.BooleanField(default=False)

    objects = NetworkQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


def validate_zone(name: str) -> None:
    try:
        parse_zone(name)
    except ValueError as exc:
        raise ValidationError(str(exc)) from exc


# A web origin as CSP's frame-ancestors takes it: scheme, host, optional port.
_ORIGIN = re.compile(r"https?://(\*\.)?[a-z0-9.-]+(:[0-9]{1,5})?", re.IGNORECASE)


def validate_origins(text: str) -> None:
    for origin in text.split():
        if not _ORIGIN.fullmatch(origin):
            raise ValidationError(
                f"{origin!r} is not an origin: write https://example.org (a scheme and a host)."
            )


class ChannelQuerySet(models.QuerySet["Channel"]):
    def visible_to(self, user: User) -> "ChannelQuerySet":
        """Public channels, plus the private ones the user is a member of.

        Staff see everything. Every page, search, export and stream goes
        through here, so a private channel is hidden in one place.
        """
        if user.is_authenticated and getattr(user, "is_staff", False):
            return self.all()
        if user.is_authenticated:
            return self.filter(Q(is_public=True) | Q(memberships__user=user)).distinct()
        return self.filter(is_public=True)

    def with_last_activity(self) -> "ChannelQuerySet":
        """Each channel with ``last_activity``: the time of its newest line, or None."""
        newest = Line.objects.filter(channel=OuterRef("pk")).order_by("-timestamp", "-id")
        return self.annotate(last_activity=Subquery(newest.values("timestamp")[:1]))


class Channel(models.Model):
    network = models.ForeignKey(Network, on_delete=models.CASCADE, related_name="channels")
    name = models.CharField(max_length=200, help_text="The IRC name, e.g. #python")
    slug = models.SlugField(max_length=100)
    is_public = models.BooleanField(default=True)
    topic = models.TextField(blank=True)
    bot_enabled = models.BooleanField(default=True, help_text="The bot joins and logs it")
    excluded_nicks = models.TextField(
        blank=True, help_text="Nicks whose lines are stored as [redacted], one per line"
    )
    timezone = models.CharField(
        max_length=64,
        default="UTC",
        validators=[validate_zone],
        help_text="IANA name, e.g. Europe/Berlin: the channel's day boundaries and times",
    )
    bot_nicks = models.TextField(
        blank=True, help_text="Nicks of the channel's bots, one per line: readers may hide them"
    )
    embed_origins = models.TextField(
        blank=True,
        help_text="Origins allowed to show the live widget (/embed/) in a frame, one per line, "
        "e.g. https://example.org; none: no site may. Public channels only.",
        validators=[validate_origins],
    )

    objects = ChannelQuerySet.as_manager()

    class Meta:
        ordering = ["network__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["network", "slug"], name="channel_unique_slug"),
            models.UniqueConstraint(fields=["network", "name"], name="channel_unique_name"),
        ]

    def __str__(self) -> str:
        return f"{self.name} on {self.network}"

    @property
    def topic_html(self) -> str:
        """The topic as safe HTML, formatting codes rendered."""
        return render_irc(self.topic)

    @property
    def tz(self) -> dt.tzinfo:
        """The channel's zone; the field's validator keeps it a valid key."""
        return parse_zone(self.timezone)

    @property
    def frame_origins(self) -> list[str]:
        """The origins that may frame the embed page (validated by the field)."""
        return self.embed_origins.split()

    @property
    def bots(self) -> frozenset[str]:
        """The bot nicks, lower case (IRC nicks ignore case), blanks dropped."""
        return frozenset(n.strip().lower() for n in self.bot_nicks.splitlines() if n.strip())


class Membership(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="memberships")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "channel"], name="membership_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.channel}"


# The longest nick (or kick target, or new nick) a line stores: IRC servers
# allow far less, so anything longer did not come from IRC.
NICK_MAX_LENGTH = 64


class ShownLine(NamedTuple):
    """A line as pages, exports and streams show it, without a model instance.

    ``LineQuerySet.rows()`` and the streams' hub make these: a third of the
    cost of model instances on a big day, and all the line template reads.
    """

    # What the line template reads (irclogger.lines.Line),
    id: int
    timestamp: dt.datetime
    kind: str
    nick: str
    target: str
    text: str
    # and the channel, by which the hub finds a line's streams.
    channel_id: int


class LineQuerySet(models.QuerySet["Line"]):
    def visible_to(self, user: User) -> "LineQuerySet":
        return self.filter(channel__in=Channel.objects.visible_to(user))

    def for_day(self, day: dt.date, tz: dt.tzinfo) -> "LineQuerySet":
        """The lines of one calendar day in ``tz`` (DST-aware bounds)."""
        return self.between(*day_bounds(day, day, tz))

    def between(self, start: dt.datetime, end: dt.datetime) -> "LineQuerySet":
        """Lines with start <= timestamp < end, in reading order."""
        return self.filter(timestamp__gte=start, timestamp__lt=end).in_order()

    def in_order(self) -> "LineQuerySet":
        # Imported history gets ids above older live lines, so pages order
        # by time; the id breaks ties between lines of the same second.
        # The stored search vector is large and no page shows it.
        return self.order_by("timestamp", "id").defer("search_vector")

    def after(self, line_id: int) -> "LineQuerySet":
        """Live lines newer than ``line_id``, by id: what a stream replays.

        Imported lines are history, not news: they are never replayed as if
        they had just been said.
        """
        return self.filter(id__gt=line_id, imported=False).order_by("id").defer("search_vector")

    def time_of(self, line_id: int) -> dt.datetime | None:
        """When line ``line_id`` was written, if it is one of these lines."""
        return self.filter(id=line_id).values_list("timestamp", flat=True).first()

    def reading_after(self, at: dt.datetime | None, line_id: int) -> "LineQuerySet":
        """These lines after (``at``, ``line_id``) in reading order (time, then id);
        all of them when ``at`` is None (an unknown line)."""
        if at is None:
            return self
        return self.filter(Q(timestamp__gt=at) | Q(timestamp=at, id__gt=line_id))

    def reading_before(self, at: dt.datetime | None, line_id: int) -> "LineQuerySet":
        """These lines before (``at``, ``line_id``) in reading order; all when ``at`` is None."""
        if at is None:
            return self
        return self.filter(Q(timestamp__lt=at) | Q(timestamp=at, id__lt=line_id))

    def day_counts(self, start: dt.datetime, end: dt.datetime, tz: dt.tzinfo) -> dict[dt.date, int]:
        """Lines per calendar day in ``tz``, for the days in [start, end) that have any."""
        days = (
            self.filter(timestamp__gte=start, timestamp__lt=end)
            .annotate(day=TruncDate("timestamp", tzinfo=tz))
            .order_by()
            .values("day")
            .annotate(lines=Count("id"))
            .values_list("day", "lines")
        )
        return dict(days)

    def active_days(
        self, channel_id: int, first: dt.date, last: dt.date, tz: dt.tzinfo
    ) -> set[dt.date]:
        """The days from ``first`` to ``last`` (in ``tz``) on which the channel has lines."""
        # One probe of the (channel, timestamp) index per day: a DISTINCT over
        # the month would read every line of the month. LIMIT keeps the probe
        # a subquery run per day; an EXISTS let the planner, where statistics
        # said the channel had few lines, compare every day with every line
        # (24 ms for 3,000 lines, against 0.1 ms).
        with connections[self.db].cursor() as cursor:
            cursor.execute(
                """
                SELECT d::date FROM generate_series(%s::date, %s::date, '1 day') AS d
                CROSS JOIN LATERAL (
                    SELECT timestamp FROM irclogger_line
                    WHERE channel_id = %s
                      AND timestamp >= (d::timestamp AT TIME ZONE %s)
                      AND timestamp < ((d + interval '1 day')::timestamp AT TIME ZONE %s)
                    ORDER BY timestamp LIMIT 1) AS first_line
                """,
                [first, last, channel_id, zone_name(tz), zone_name(tz)],
            )
            return {row[0] for row in cursor.fetchall()}

    def nearest_times(
        self, channel_id: int, bounds: tuple[dt.datetime, dt.datetime, dt.datetime, dt.datetime]
    ) -> list[dt.datetime | None]:
        """The channel's last line time before bounds[0], its first at or after
        bounds[1], its last before bounds[2] and its first at or after bounds[3]
        (None where there is none): a day's neighbours and its month's."""
        # One query, one index probe on (channel, timestamp) per bound.
        with connections[self.db].cursor() as cursor:
            cursor.execute(
                """
                SELECT
                  (SELECT max(timestamp) FROM irclogger_line
                   WHERE channel_id = %s AND timestamp < %s),
                  (SELECT min(timestamp) FROM irclogger_line
                   WHERE channel_id = %s AND timestamp >= %s),
                  (SELECT max(timestamp) FROM irclogger_line
                   WHERE channel_id = %s AND timestamp < %s),
                  (SELECT min(timestamp) FROM irclogger_line
                   WHERE channel_id = %s AND timestamp >= %s)
                """,
                [value for bound in bounds for value in (channel_id, bound)],
            )
            row = cursor.fetchone()
        return list(row) if row else [None] * len(bounds)

    def rows(self) -> Iterator[ShownLine]:
        """These lines as ShownLine rows."""
        return (ShownLine(*row) for row in self.values_list(*ShownLine._fields))

    def latest_live_id(self) -> int:
        """The newest live line's id, 0 if none: where a page's stream resumes."""
        newest = self.after(0).order_by("-id").values_list("id", flat=True).first()
        return newest or 0

    def matching(self, pieces: list[tuple[str, str]], channel_ids: list[int]) -> "LineQuerySet":
        """Lines of these channels matching query_pieces, through line_channel_search.

        The channels are part of the text condition, not a second condition
        beside it: the planner, guessing from the whole table, may drop a
        separate channel condition from the index scan and filter the rows
        afterwards, reading every matching line of every channel.
        """
        if not channel_ids:
            return self.none()
        channels = Cast(
            Value(" | ".join(f"'{CHANNEL_LEXEME}{int(pk)}'" for pk in channel_ids)),
            SearchQueryField(),
        )
        query = CombinedSearchQuery(text_query(pieces), "&&", channels, SEARCH_CONFIG)
        return (
            self.filter(channel_id__in=channel_ids)
            .alias(document=ChannelDocument())
            .filter(document=query)
        )

    def search(self, query: str, *, prefix_last: bool = False) -> "LineQuerySet":
        """Web-search syntax ("quoted phrase", or, -not, word*); never a syntax error."""
        pieces = query_pieces(query, prefix_last=prefix_last)
        if not pieces:
            return self.none()
        return self.filter(search_vector=text_query(pieces))


def clean_search_query(query: str) -> str:
    """Make any user text safe to hand to websearch_to_tsquery.

    NUL cannot travel in a PostgreSQL string and other control bytes mean
    nothing in a query; very long queries are cut rather than refused.
    """
    printable = "".join(ch if ch.isprintable() else " " for ch in query)
    return " ".join(printable.split())[:500]


# A word followed by "*": every word that starts with it.
_PREFIX = re.compile(r"(\w+)\*")
# A quoted phrase (perhaps unterminated) or a run of other characters.
_TOKEN = re.compile(r'-?"[^"]*"?|\S+')


def query_pieces(query: str, *, prefix_last: bool = False) -> list[tuple[str, str]]:
    """The query as (websearch_to_tsquery | to_tsquery, text) pieces, ANDed.

    websearch syntax has no prefix match, so each ``word*`` becomes its own
    ``'word':*`` piece (only word characters, so it cannot be a syntax error).
    With ``prefix_last`` the last word is a prefix too: the reader is typing it.
    """
    cleaned = clean_search_query(query)
    tokens = _TOKEN.findall(cleaned)
    if prefix_last and tokens and not query[-1:].isspace() and re.fullmatch(r"\w+", tokens[-1]):
        tokens[-1] += "*"
    rest = [token for token in tokens if not _PREFIX.fullmatch(token)]
    pieces = [("raw", f"'{match.group(1)}':*") for t in tokens if (match := _PREFIX.fullmatch(t))]
    if rest:
        pieces.insert(0, ("websearch", " ".join(rest)))
    return pieces


def text_query(pieces: list[tuple[str, str]]) -> SearchQuery:
    """The tsquery of query_pieces, for filters and headlines."""
    queries = [SearchQuery(text, search_type=kind, config=SEARCH_CONFIG) for kind, text in pieces]
    return functools.reduce(operator.and_, queries)


def text_query_sql(pieces: list[tuple[str, str]]) -> tuple[str, list[str]]:
    """The same tsquery as SQL with parameters, for what the ORM cannot say (numnode)."""
    functions = {"websearch": "websearch_to_tsquery", "raw": "to_tsquery"}
    sql = " && ".join(f"{functions[kind]}(%s::regconfig, %s)" for kind, _ in pieces)
    params = [value for _, text in pieces for value in (SEARCH_CONFIG, text)]
    return f"({sql})", params


def stripped_text() -> Func:
    """The line's text without formatting codes, in SQL (for the index and snippets).

    Without it, colour digits would glue to words: "\\x0304error" would be
    indexed as "04error".
    """
    return Func(
        models.F("text"),
        Value(CODE_PATTERN),
        Value(" "),
        Value("g"),
        function="regexp_replace",
        output_field=models.TextField(),
    )


class NickBase(Func):
    """A nick without the decorations IRC users add when away or reconnecting
    (alice_, alice^, alice|away, alice[m]), in lower case: the SQL function
    irclogger_nick_base (migration 0011), immutable so it can be indexed."""

    function = "irclogger_nick_base"
    output_field = models.TextField()


# A lexeme the text parser never makes (words have no spaces): " 12" is
# "this line is in channel 12".
CHANNEL_LEXEME = " "


class ChannelDocument(Func):
    """The stored search vector plus the line's channel as one more lexeme."""

    output_field = SearchVectorField()

    def __init__(self) -> None:
        super().__init__(models.F("search_vector"), models.F("channel_id"))

    def as_sql(
        self, compiler: Any, connection: Any, *args: Any, **kwargs: Any
    ) -> tuple[str, list[Any]]:
        vector, channel = self.get_source_expressions()
        vector_sql, vector_params = compiler.compile(vector)
        channel_sql, channel_params = compiler.compile(channel)
        sql = (
            f"({vector_sql} || array_to_tsvector(ARRAY['{CHANNEL_LEXEME}' || {channel_sql}::text]))"
        )
        return sql, [*vector_params, *channel_params]


def _search_document() -> Any:
    return SearchVector(stripped_text(), config=SEARCH_CONFIG)


class Line(models.Model):
    # bigint, only grows: it is the SSE event id a browser resumes from.
    id = models.BigAutoField(primary_key=True)
    # No index of its own: the composite indexes below all start with it,
    # and every index costs each of the millions of rows an import writes.
    # No foreign key constraint either: its check runs once per row, about a
    # sixth of what PostgreSQL spends on an imported line. Triggers do the
    # same job once per statement (migration 0003).
    channel = models.ForeignKey(
        Channel,
        on_delete=models.CASCADE,
        related_name="lines",
        db_index=False,
        db_constraint=False,
    )
    timestamp = models.DateTimeField(help_text="UTC")
    kind = models.CharField(max_length=8, choices=LineKind.choices, default=LineKind.MESSAGE)
    nick = models.CharField(max_length=NICK_MAX_LENGTH, blank=True)
    # Who a kick removed, or the new nick of a nick change.
    target = models.CharField(max_length=NICK_MAX_LENGTH, blank=True)
    # Exactly as received: formatting codes kept, rendered on display.
    text = models.TextField(blank=True)
    imported = models.BooleanField(default=False)
    # Per-channel natural key of an imported line, so re-importing a file
    # adds nothing; null for live lines.
    # NULL, not "", so the partial unique constraint skips live lines.
    import_key = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    # Almost always NULL. Django applies SET_NULL itself when a user is
    # deleted, so a database constraint would only add a trigger to every
    # inserted row; a partial index (below) serves that delete.
    redacted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    redacted_at = models.DateTimeField(null=True, blank=True)
    # The line's bytes as received (the IRC line, or the log file's line) when
    # they were not all valid UTF-8: the text read their invalid runs as
    # cp1252, which cannot be told apart from real cp1252 characters.
    raw = models.BinaryField(null=True, blank=True, editable=False)
    search_vector = models.GeneratedField(
        expression=_search_document(), output_field=SearchVectorField(), db_persist=True
    )

    objects = LineQuerySet.as_manager()

    class Meta:
        permissions = [("redact_line", "Can redact the text of lines")]
        indexes = [
            models.Index(fields=["channel", "timestamp", "id"], name="line_channel_time"),
            # What a stream replays and resumes from: live lines only, so
            # an import does not pay for this index.
            models.Index(
                fields=["channel", "id"], name="line_channel_id", condition=Q(imported=False)
            ),
            # The search's nick filter: a nick and its variants (alice_,
            # alice|away, any case) share one base; per channel, by time.
            models.Index("channel", NickBase("nick"), "timestamp", name="line_channel_nick"),
            models.Index(
                fields=["redacted_by"],
                name="line_redacted_by",
                condition=Q(redacted_by__isnull=False),
            ),
            # The text and the channel in one document: search asks for its
            # words AND one of the reader's channels in a single condition
            # (LineQuerySet.matching), so the index never hands over a line
            # of a channel the reader may not see.
            GinIndex(ChannelDocument(), name="line_channel_search"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "import_key"],
                name="line_unique_import_key",
                condition=Q(import_key__isnull=False),
            )
        ]

    def __str__(self) -> str:
        return f"{self.timestamp:%Y-%m-%d %H:%M:%S} {self.kind} <{self.nick}> {self.text[:50]}"


# What statistics count: what people said, not joins, parts or modes.
SAID_KINDS = (LineKind.MESSAGE, LineKind.ACTION, LineKind.NOTICE)


class ChannelActivity(models.Model):
    """Lines said per channel per quarter hour (UTC), kept by triggers on the
    lines (migration 0010). Quarter hours, because every zone's offset is a
    whole number of them: days and hours in any zone are exact sums."""

    # No index of its own: the unique (channel, bucket) one starts with it,
    # and every index costs each row the triggers write (an import writes
    # one per quarter hour of its logs).
    channel = models.ForeignKey(
        Channel, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    bucket = models.DateTimeField()
    lines = models.IntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["channel", "bucket"], name="activity_unique_bucket")
        ]

    def __str__(self) -> str:
        return f"{self.lines} lines in channel {self.channel_id} from {self.bucket:%Y-%m-%d %H:%M}"


class NickActivity(models.Model):
    """Lines said per channel, nick (lower case) and UTC day, with the first
    and last of them; kept by the same triggers."""

    # No index of its own, as ChannelActivity.channel: the indexes below start with it.
    channel = models.ForeignKey(
        Channel, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    nick = models.CharField(max_length=NICK_MAX_LENGTH)
    day = models.DateField()
    lines = models.IntegerField()
    first = models.DateTimeField()
    last = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "nick", "day"], name="nick_activity_unique_day"
            )
        ]
        indexes = [models.Index(fields=["channel", "day"], name="nick_activity_channel_day")]

    def __str__(self) -> str:
        return f"{self.nick}: {self.lines} lines in channel {self.channel_id} on {self.day}"
