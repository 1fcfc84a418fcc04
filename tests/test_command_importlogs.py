"""manage.py importlogs: channels found or created, the summary, refusals, options."""

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from irclogger.models import Channel, Line, Network

LOG = b"--- Log opened Sun Mar 10 09:00:00 2024\n11:00 <alice> hi\n11:01 <bob> hello\n"


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("importlogs", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def log_file(tmp_path: Path) -> Path:
    path = tmp_path / "python.log"
    path.write_bytes(LOG)
    return path


def test_it_imports_into_an_existing_channel_and_sums_up(
    public_channel: Channel, log_file: Path
) -> None:
    out, err = run("--network", "libera", "--channel", "#python", str(log_file))
    assert Line.objects.filter(channel=public_channel, imported=True).count() == 2
    assert "Imported 2 lines, skipped 0 duplicates, 0 unparsable, from 1 file(s)" in out
    assert err == ""
    again, _ = run("--network", "Libera.Chat", "--channel", "#python", str(log_file))
    assert "Imported 0 lines, skipped 2 duplicates" in again


def test_it_creates_a_missing_network_and_channel_not_joined_by_the_bot(
    db: None, log_file: Path
) -> None:
    out, _ = run("--network", "OFTC", "--channel", "#Debian-Devel", str(log_file))
    channel = Channel.objects.get(name="#Debian-Devel")
    assert (channel.network.slug, channel.slug) == ("oftc", "debian-devel")
    assert channel.is_public and not channel.bot_enabled
    assert channel.lines.count() == 2
    assert "Created network OFTC" in out and "Created channel #Debian-Devel" in out


def test_it_creates_a_private_channel_with_a_free_slug(
    public_channel: Channel, log_file: Path
) -> None:
    run("--network", "libera", "--channel", "#Python", "--private", str(log_file))
    channel = Channel.objects.get(name="#Python")
    assert channel.slug == "python-2"
    assert not channel.is_public


def test_it_refuses_an_unknown_file_after_importing_the_others(
    public_channel: Channel, log_file: Path, tmp_path: Path
) -> None:
    unknown = tmp_path / "notes.txt"
    unknown.write_bytes(b"nothing to see\n")
    out = StringIO()
    with pytest.raises(CommandError, match=r"1 file\(s\) refused:\n.*notes.txt: not in a known"):
        call_command(
            "importlogs",
            "--network=libera",
            "--channel=#python",
            str(unknown),
            str(log_file),
            stdout=out,
            stderr=StringIO(),
        )
    assert "Imported 2 lines" in out.getvalue()
    assert public_channel.lines.count() == 2


def test_it_reports_malformed_lines_on_stderr(public_channel: Channel, tmp_path: Path) -> None:
    path = tmp_path / "broken.log"
    path.write_bytes(LOG + b"what is this\n")
    out, err = run("--network", "libera", "--channel", "#python", str(path))
    assert f"{path}:4: unparsable line" in err
    assert "1 unparsable" in out


def test_it_converts_times_with_tz_and_honours_format(
    public_channel: Channel, tmp_path: Path
) -> None:
    path = tmp_path / "anything.log"
    path.write_bytes(b"[Jul 1 2024 12:00:00] <a> summer in Berlin\n")
    run(
        "--network=libera",
        "--channel=#python",
        "--format=energymech",
        "--tz=Europe/Berlin",
        str(path),
    )
    line = public_channel.lines.get()
    assert line.timestamp.isoformat() == "2024-07-01T10:00:00+00:00"


def test_it_refuses_an_unknown_time_zone(public_channel: Channel, log_file: Path) -> None:
    with pytest.raises(CommandError, match="not a known time zone"):
        run("--network=libera", "--channel=#python", "--tz=Mars/Olympus", str(log_file))
    assert not Network.objects.exclude(slug="libera").exists()
