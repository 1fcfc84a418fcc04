"""Importing files into a channel: idempotency, order, streams, refusals, gzip."""

import datetime as dt
import gzip
import select
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg2
import pytest
from django.contrib.auth.models import User
from django.db import connection, connections
from django.db.migrations.executor import MigrationExecutor
from django.db.models import CharField, Value
from django.db.models.functions import Cast, Concat
from django.test import Client

from irclogger.importers import FORMATS, import_files, store
from irclogger.kinds import REDACTED
from irclogger.models import Channel, Line
from irclogger.publish import NOTIFY_CHANNEL, write_lines
from tests.clients import away_from_a_minute_boundary, irssi, synced, weechat
from tests.conftest import NOON, say
from tests.importing import import_bytes, stored
from tests.ircserver import RawClient, ngircd

# 2024-03-10, the day of conftest's NOON.
LOG = (
    b"--- Log opened Sun Mar 10 09:00:00 2024\n"
    b"11:00 <alice> before noon\n"
    b"11:00 <bob> lol\n"
    b"11:00 <bob> lol\n"
    b"13:00 <alice> after noon\n"
)


def test_it_imports_lines_as_history_with_keys(tmp_path: Path, public_channel: Channel) -> None:
    summary, reports = import_bytes(tmp_path, "chan.log", LOG, public_channel)
    assert (summary.imported, summary.duplicates, summary.unparsable) == (4, 0, 0)
    assert reports == []
    lines = Line.objects.filter(channel=public_channel)
    assert all(line.imported and len(line.import_key or "") == 32 for line in lines)


def test_it_adds_nothing_when_a_file_is_imported_again(
    tmp_path: Path, public_channel: Channel
) -> None:
    import_bytes(tmp_path, "chan.log", LOG, public_channel)
    before = stored(public_channel)
    summary, _ = import_bytes(tmp_path, "chan.log", LOG, public_channel)
    assert (summary.imported, summary.duplicates) == (0, 4)
    assert stored(public_channel) == before


def test_it_keeps_genuinely_repeated_lines(tmp_path: Path, public_channel: Channel) -> None:
    import_bytes(tmp_path, "chan.log", LOG, public_channel)
    assert [line[4] for line in stored(public_channel)].count("lol") == 2


def test_it_adds_only_the_new_lines_of_an_overlapping_file(
    tmp_path: Path, public_channel: Channel
) -> None:
    import_bytes(tmp_path, "chan.log", LOG, public_channel)
    longer = LOG + b"11:00 <bob> lol\n13:05 <bob> new\n"
    summary, _ = import_bytes(tmp_path, "longer.log", longer, public_channel)
    assert (summary.imported, summary.duplicates) == (2, 4)
    assert [line[4] for line in stored(public_channel)].count("lol") == 3


def test_it_keeps_the_same_line_in_another_channel(
    tmp_path: Path, public_channel: Channel, private_channel: Channel
) -> None:
    import_bytes(tmp_path, "chan.log", LOG, public_channel)
    summary, _ = import_bytes(tmp_path, "chan.log", LOG, private_channel)
    assert summary.imported == 4


def test_it_keeps_the_file_order_of_lines_with_the_same_time(
    tmp_path: Path, public_channel: Channel
) -> None:
    data = b"--- Log opened Sun Mar 10 09:00:00 2024\n" + b"".join(
        b"10:00 <a> line %d\n" % number for number in range(50)
    )
    import_bytes(tmp_path, "chan.log", data, public_channel)
    assert [line[4] for line in stored(public_channel)] == [f"line {n}" for n in range(50)]


def test_it_never_replays_imported_lines_to_a_stream(
    tmp_path: Path, public_channel: Channel
) -> None:
    live = say(public_channel, "live at noon")
    import_bytes(tmp_path, "chan.log", LOG, public_channel)
    imported_ids = list(Line.objects.filter(imported=True).values_list("id", flat=True))
    assert min(imported_ids) > live.id  # imported later: higher ids, older times
    assert list(Line.objects.after(live.id)) == []
    newer = say(public_channel, "live again")
    assert [line.id for line in Line.objects.after(live.id)] == [newer.id]


def test_it_shows_imported_lines_in_their_day_page_at_their_time(
    tmp_path: Path, public_channel: Channel, client: Client
) -> None:
    live = say(public_channel, "live at noon")
    import_bytes(tmp_path, "chan.log", LOG, public_channel)
    texts = [line[4] for line in stored(public_channel)]
    assert texts == ["before noon", "lol", "lol", "live at noon", "after noon"]
    body = client.get("/libera/python/2024-03-10/").content.decode()
    positions = [body.index(text) for text in ("before noon", "live at noon", "after noon")]
    assert positions == sorted(positions)
    assert f'id="L{live.id}"' in body


def test_it_announces_no_imported_line_to_the_streams(
    transactional_db: None, tmp_path: Path, public_channel: Channel
) -> None:
    params = connections["default"].get_connection_params()
    for key in ("MAX_CONNS", "REUSE_CONNS", "cursor_factory"):
        params.pop(key, None)
    listener = psycopg2.connect(**params)
    listener.autocommit = True
    try:
        with listener.cursor() as cursor:
            cursor.execute(f"LISTEN {NOTIFY_CHANNEL}")
        import_bytes(tmp_path, "chan.log", LOG, public_channel)
        # A live line afterwards proves the listener hears what is announced.
        (live,) = write_lines([Line(channel=public_channel, timestamp=NOON, text="live")])
        payloads = _notifications(listener, until=f"{public_channel.pk}:{live.id}")
    finally:
        listener.close()
    assert payloads == [f"{public_channel.pk}:{live.id}"]
    assert Line.objects.filter(imported=True).count() == 4


def _notifications(conn: "psycopg2.extensions.connection", until: str) -> list[str]:
    payloads: list[str] = []
    deadline = time.monotonic() + 10  # generous: notifications arrive in milliseconds
    while until not in payloads and time.monotonic() < deadline:
        select.select([conn], [], [], 0.5)
        conn.poll()
        payloads += [notify.payload for notify in conn.notifies]
        conn.notifies.clear()
    return payloads


def test_it_reports_a_malformed_line_and_imports_the_rest(
    tmp_path: Path, public_channel: Channel
) -> None:
    data = LOG.replace(b"13:00 <alice>", b"1300 <alice>")
    summary, reports = import_bytes(tmp_path, "chan.log", data, public_channel)
    assert (summary.imported, summary.unparsable) == (3, 1)
    where = f"{tmp_path / 'chan.log'}:5"
    assert reports == [f"{where}: unparsable line (no HH:MM timestamp): '1300 <alice> after noon'"]


def test_it_refuses_a_file_in_no_known_format_and_imports_the_others(
    tmp_path: Path, public_channel: Channel
) -> None:
    unknown = tmp_path / "notes.txt"
    unknown.write_bytes(b"Dear diary,\ntoday nothing happened.\n")
    good = tmp_path / "chan.log"
    good.write_bytes(LOG)
    summary = import_files([unknown, good], public_channel, report=lambda message: None)
    assert summary.imported == 4
    assert summary.refused == [
        (
            str(unknown),
            f"not in a known log format (tried {', '.join(FORMATS)})",
        )
    ]


def test_it_reads_gzipped_files_and_knows_their_lines(
    tmp_path: Path, public_channel: Channel
) -> None:
    summary, _ = import_bytes(tmp_path, "chan.log.gz", gzip.compress(LOG), public_channel)
    assert summary.imported == 4
    again, _ = import_bytes(tmp_path, "chan.log", LOG, public_channel)
    assert (again.imported, again.duplicates) == (0, 4)


def test_it_converts_local_times_with_dst(tmp_path: Path, public_channel: Channel) -> None:
    data = (
        b"--- Log opened Sat Mar 30 12:00:00 2024\n12:00 <a> winter\n"
        b"--- Day changed Sun Mar 31 2024\n12:00 <a> summer\n"
    )
    import_bytes(tmp_path, "chan.log", data, public_channel, tz=ZoneInfo("Europe/Berlin"))
    assert [line[0] for line in stored(public_channel)] == [
        "2024-03-30T11:00:00Z",
        "2024-03-31T10:00:00Z",
    ]


def test_it_imports_more_lines_than_a_batch(
    tmp_path: Path, public_channel: Channel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store, "BATCH_SIZE", 7)
    start = dt.datetime(2024, 3, 10, tzinfo=dt.UTC)
    data = "".join(
        f"{(start + dt.timedelta(seconds=n)):%Y-%m-%dT%H:%M:%S}  <a> line {n}\n" for n in range(30)
    ).encode()
    summary, _ = import_bytes(tmp_path, "#c.log", data, public_channel)
    assert summary.imported == 30
    again, _ = import_bytes(tmp_path, "#c.log", data, public_channel)
    assert (again.imported, again.duplicates) == (0, 30)


def test_batches_start_small_and_shrink_again_before_the_end() -> None:
    # One row a second, so a batch may end after any row.
    rows = [(f"t{n}", f"k{n}", f"row {n}\n") for n in range(300_000)]
    sizes = [batch.size for batch in store.batches(rows, 1, expected=len(rows))]
    assert sum(sizes) == len(rows)
    # The writers start after a small first batch, not after a whole one.
    assert sizes[:3] == [
        store.FIRST_BATCH_SIZE,
        2 * store.FIRST_BATCH_SIZE,
        4 * store.FIRST_BATCH_SIZE,
    ]
    assert max(sizes) == store.BATCH_SIZE
    # Each writer's last batch is small: none ends long after the others.
    assert all(size <= store.LAST_BATCH_SIZE for size in sizes[-store.WRITERS :])
    # Without an estimate, batches stay large to the end.
    unknown = [batch.size for batch in store.batches(rows, 1)]
    assert unknown[-2] == store.BATCH_SIZE


def test_a_batch_never_splits_the_lines_of_one_timestamp() -> None:
    rows = [(f"t{n // 3}", f"k{n}", f"row {n}\n") for n in range(9_000)]
    for batch in store.batches(rows, 1, expected=len(rows)):
        assert batch.size % 3 == 0


def test_it_writes_batches_in_parallel_outside_a_transaction_keeping_time_order(
    transactional_db: None,
    tmp_path: Path,
    public_channel: Channel,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(store, "BATCH_SIZE", 5)
    # Minutes only: runs of lines share a timestamp across batch boundaries.
    data = b"--- Log opened Sun Mar 10 09:00:00 2024\n" + b"".join(
        b"10:%02d <a> line %d\n" % (number // 7, number) for number in range(60)
    )
    summary, _ = import_bytes(tmp_path, "chan.log", data, public_channel)
    assert (summary.imported, summary.duplicates) == (60, 0)
    assert [line[4] for line in stored(public_channel)] == [f"line {n}" for n in range(60)]
    longer = data + b"10:59 <a> one more\n"
    again, _ = import_bytes(tmp_path, "chan.log", longer, public_channel)
    assert (again.imported, again.duplicates) == (1, 60)


def test_it_keeps_what_it_read_of_a_truncated_gzip_file(
    tmp_path: Path, public_channel: Channel
) -> None:
    data = LOG + b"".join(b"14:%02d <a> filler %d\n" % (n % 60, n) for n in range(2000))
    packed = gzip.compress(data)
    summary, _ = import_bytes(tmp_path, "chan.log.gz", packed[: len(packed) - 200], public_channel)
    assert summary.imported > 4
    assert summary.refused[0][0] == str(tmp_path / "chan.log.gz")
    assert "unreadable after line" in summary.refused[0][1]


def test_it_skips_known_lines_in_the_middle_of_a_batch_of_new_ones(
    tmp_path: Path, public_channel: Channel
) -> None:
    import_bytes(tmp_path, "chan.log", LOG, public_channel)
    around = LOG.replace(b"11:00 <alice>", b"10:00 <carol> first\n11:00 <alice>", 1)
    around += b"14:00 <carol> last\n"
    summary, _ = import_bytes(tmp_path, "around.log", around, public_channel)
    assert (summary.imported, summary.duplicates) == (2, 4)
    assert [line[4] for line in stored(public_channel)] == [
        "first",
        "before noon",
        "lol",
        "lol",
        "after noon",
        "last",
    ]


def test_it_stores_tabs_backslashes_and_carriage_returns_as_they_are(
    tmp_path: Path, public_channel: Channel
) -> None:
    data = b"2024-03-10 12:00:00\tback\\slash\ta\ttab, a \\N, a \rCR and a NUL\x00.\n"
    import_bytes(tmp_path, "irc.libera.#c.weechatlog", data, public_channel)
    assert stored(public_channel) == [
        ("2024-03-10T12:00:00Z", "message", "back\\slash", "", "a\ttab, a \\N, a \rCR and a NUL.")
    ]


def _upgrade_from_keys_of_before(channel: Channel) -> None:
    """Back to the schema before migration 0007, the channel's keys as that
    code wrote them (the UTC second, then a hash of the rest: here the id,
    unique as the hash was), then forward again."""
    executor = MigrationExecutor(connection)
    executor.migrate([("irclogger", "0006_channel_bot_nicks")])
    try:
        Line.objects.filter(channel=channel).update(
            import_key=Concat(Cast("timestamp", CharField()), Value("-"), Cast("id", CharField()))
        )
    finally:
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_lines_imported_before_the_zone_free_keys_still_deduplicate_after_the_migration(
    tmp_path: Path, public_channel: Channel
) -> None:
    public_channel.timezone = "Europe/Berlin"
    public_channel.save()
    log = LOG + b"13:01 <back\\slash> a\ttab and a \\N\n"
    import_bytes(tmp_path, "chan.log", log, public_channel, tz=public_channel.tz)
    new_keys = _keys(public_channel)
    _upgrade_from_keys_of_before(public_channel)
    assert _keys(public_channel) == new_keys
    summary, _ = import_bytes(tmp_path, "chan.log", log, public_channel, tz=public_channel.tz)
    assert (summary.imported, summary.duplicates, summary.moved) == (0, 5, 0)


@pytest.mark.django_db(transaction=True)
def test_a_line_the_admin_redacted_does_not_come_back_after_the_migration(
    tmp_path: Path, public_channel: Channel
) -> None:
    import_bytes(tmp_path, "chan.log", LOG, public_channel)
    admin = User.objects.create_user("admin")
    Line.objects.filter(channel=public_channel, text="after noon").update(
        text=REDACTED, redacted_by=admin
    )
    _upgrade_from_keys_of_before(public_channel)
    # The redacted line's key now holds "[redacted]", not what the file says.
    summary, _ = import_bytes(tmp_path, "chan.log", LOG, public_channel)
    assert summary.imported == 0
    assert "after noon" not in [text for *_, text in stored(public_channel)]


def _keys(channel: Channel) -> list[tuple[int, str | None]]:
    return list(Line.objects.filter(channel=channel).order_by("id").values_list("id", "import_key"))


PRIVATE_LOG = (
    b"--- Log opened Sun Mar 10 09:00:00 2024\n"
    b"11:00 -!- Bob [~bob@secret.example] has joined #python\n"
    b"11:01 <bob> my address is 1 Main St\n"
    b"11:02 <alice> [nolog] not for the record\n"
    b"11:03 <alice> for the record\n"
    b"11:04 -!- bob changed the topic of #python to: bob's topic\n"
)


def test_excluded_nicks_and_the_no_log_prefix_apply_to_imported_lines(
    tmp_path: Path, public_channel: Channel
) -> None:
    public_channel.excluded_nicks = "BOB\n"
    public_channel.save()
    import_bytes(tmp_path, "chan.log", PRIVATE_LOG, public_channel)
    assert [row[1:] for row in stored(public_channel)] == [
        ("join", "Bob", "", ""),
        ("message", "bob", "", "[redacted]"),
        ("message", "alice", "", "for the record"),
        ("topic", "bob", "", "[redacted]"),
    ]
    again, _ = import_bytes(tmp_path, "chan.log", PRIVATE_LOG, public_channel)
    assert (again.imported, again.duplicates) == (0, 4)


TOPIC_LOG = (
    b"--- Log opened Sun Mar 10 09:00:00 2024\n"
    b"11:00 -!- alice changed the topic of #python to: older topic\n"
    b"11:30 -!- alice changed the topic of #python to: newest imported topic\n"
)


def test_the_newest_imported_topic_becomes_the_channels_topic(
    tmp_path: Path, public_channel: Channel
) -> None:
    import_bytes(tmp_path, "chan.log", TOPIC_LOG, public_channel)
    public_channel.refresh_from_db()
    assert public_channel.topic == "newest imported topic"


def test_an_imported_topic_older_than_a_live_one_leaves_the_topic_alone(
    tmp_path: Path, public_channel: Channel
) -> None:
    say(public_channel, "live topic", kind="topic", at=NOON)
    public_channel.topic = "live topic"
    public_channel.save()
    import_bytes(tmp_path, "chan.log", TOPIC_LOG, public_channel)
    public_channel.refresh_from_db()
    assert public_channel.topic == "live topic"


@pytest.mark.e2e
def test_the_same_events_logged_by_irssi_and_weechat_are_stored_once(
    tmp_path: Path, public_channel: Channel
) -> None:
    with ngircd(tmp_path) as server:
        alice = RawClient(server.port, "alice")
        alice.join("#chan")
        with (
            irssi(tmp_path, server, "#chan", alice, colors=False) as irssi_log,
            weechat(tmp_path, server.port, "#chan", alice) as weechat_log,
        ):
            away_from_a_minute_boundary()
            bob = RawClient(server.port, "bob")
            bob.join("#chan")
            for line in OVERLAP_SESSION:
                alice.send(line)
            bob.wait_for(b"NICK :alicia")
            bob.close()
            alice.wait_for(b":bob!~bob@127.0.0.1 QUIT")
            synced(alice, "irssi")
            synced(alice, "weechat")
        logs = [irssi_log.read_bytes(), weechat_log.read_bytes()]
    import_bytes(tmp_path, "irssi.log", logs[0], public_channel)
    second, reports = import_bytes(tmp_path, "weechat.log", logs[1], public_channel)
    assert reports == []
    events = [row[1:] for row in stored(public_channel) if row[1] != "system"]
    said = [event for event in events if event[1] in ("alice", "bob")]
    assert said == [
        ("join", "bob", "", "~bob@127.0.0.1"),
        ("message", "alice", "", "hello"),
        ("message", "alice", "", "hello"),
        ("action", "alice", "", "waves"),
        ("topic", "alice", "", "a topic"),
        ("mode", "alice", "", "+v bob"),
        ("nick", "alice", "alicia", ""),
        ("quit", "bob", "", '"bye"'),
    ], events
    # Each client's own notes are its own lines; every event of the channel matched.
    assert second.duplicates >= len(said)


OVERLAP_SESSION = (
    b"PRIVMSG #chan :hello",
    b"PRIVMSG #chan :hello",  # said twice in a minute: kept twice, once per client
    b"PRIVMSG #chan :\x01ACTION waves\x01",
    b"TOPIC #chan :a topic",
    b"MODE #chan +v bob",
    b"NICK alicia",
)


def test_a_mixed_encoding_line_keeps_its_valid_characters_and_its_bytes(
    tmp_path: Path, public_channel: Channel
) -> None:
    mixed = "11:00 <alice> café 😀 ".encode() + b"and \xe9t\xe9"
    log = b"--- Log opened Sun Mar 10 09:00:00 2024\n" + mixed + b"\n11:01 <bob> plain\n"
    import_bytes(tmp_path, "chan.log", log, public_channel)
    lines = list(Line.objects.filter(channel=public_channel).order_by("timestamp"))
    assert [(line.text, line.raw and bytes(line.raw)) for line in lines] == [
        ("café 😀 and été", mixed),
        ("plain", None),
    ]
