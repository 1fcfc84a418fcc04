"""irclogger's own .json day export imported by another instance: a round trip."""

from pathlib import Path

from django.test import Client

from irclogger.models import Channel, Network
from tests.conftest import NOON, say
from tests.importing import import_bytes, stored


def test_a_day_export_imports_elsewhere_as_it_was_and_adds_nothing_the_second_time(
    tmp_path: Path, public_channel: Channel
) -> None:
    say(public_channel, "hello \x02there\x02", nick="alice", at=NOON)
    say(public_channel, "", nick="bob", kind="join", at=NOON)
    say(public_channel, "a\ttab, a \\ and a 😀", nick="bob", kind="action", at=NOON)
    say(public_channel, "", nick="bob", kind="nick", target="bobby", at=NOON)
    export = Client().get("/libera/python/2024-03-10.json")
    assert export.status_code == 200
    elsewhere = Channel.objects.create(
        network=Network.objects.create(name="Other", slug="other"), name="#py", slug="py"
    )
    first, reports = import_bytes(tmp_path, "2024-03-10.json", export.content, elsewhere)
    assert (first.imported, first.unparsable, reports) == (4, 0, [])
    assert stored(elsewhere) == stored(public_channel)
    again, _ = import_bytes(tmp_path, "2024-03-10.json", export.content, elsewhere)
    assert (again.imported, again.duplicates) == (0, 4)


def test_a_json_document_that_is_no_export_is_refused(
    tmp_path: Path, public_channel: Channel
) -> None:
    summary, _ = import_bytes(
        tmp_path, "x.json", b'{"lines": "not a list"}', public_channel, fmt="irclogger-json"
    )
    assert summary.refused[0][1] == 'not an irclogger export: no "lines" list'


def test_a_broken_record_is_reported_and_the_others_imported(
    tmp_path: Path, public_channel: Channel
) -> None:
    document = (
        b'{"lines": [{"timestamp": "2024-03-10T12:00:00+00:00", "kind": "message",'
        b' "nick": "a", "target": "", "text": "ok"}, {"timestamp": "yesterday"}]}'
    )
    summary, reports = import_bytes(tmp_path, "x.json", document, public_channel)
    assert (summary.imported, summary.unparsable) == (1, 1)
    assert reports[0].endswith(
        "record 2: unparsable (not a line of an irclogger export: "
        "ValueError(\"Invalid isoformat string: 'yesterday'\"))"
    )
