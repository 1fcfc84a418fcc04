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
    with pytest.raises(
        CommandError, match=r"1 file\(s\) skipped or empty:\n.*notes.txt: not in a known"
    ):
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


# A ZNC tree as a project published it: YYYY/MM/#chan_YYYYMMDD.log.txt.
ZNC_DAYS = {
    "2024/02/#python_20240229.log.txt": b"[23:59:58] <alice> leap day\n",
    "2024/03/#python_20240301.log.txt": b"[00:00:01] <bob> march\n[00:00:02] * bob waves\n",
}


def _znc_tree(root: Path) -> Path:
    for name, data in ZNC_DAYS.items():
        path = root / "logs" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root / "logs"


def _stored(channel: Channel) -> list[tuple[str, str, str]]:
    return [
        (line.timestamp.isoformat(), line.nick, line.text)
        for line in channel.lines.order_by("timestamp", "id")
    ]


@pytest.mark.parametrize("fmt", [[], ["--format=znc"]], ids=["detected", "format-znc"])
def test_it_imports_a_folder_of_log_txt_day_files_with_dates_from_the_path(
    public_channel: Channel, tmp_path: Path, fmt: list[str]
) -> None:
    out, err = run("--network=libera", "--channel=#python", *fmt, str(_znc_tree(tmp_path)))
    assert _stored(public_channel) == [
        ("2024-02-29T23:59:58+00:00", "alice", "leap day"),
        ("2024-03-01T00:00:01+00:00", "bob", "march"),
        ("2024-03-01T00:00:02+00:00", "bob", "waves"),
    ]
    assert "Imported 3 lines, skipped 0 duplicates, 0 unparsable, from 2 file(s)" in out
    assert err == ""


def _exit_status(*args: str) -> tuple[int, str]:
    """The exit status ``manage.py importlogs ARGS`` ends with, and what it prints on stderr.

    ``manage.py`` exits with a CommandError's ``returncode`` after printing it.
    """
    err = StringIO()
    try:
        call_command("importlogs", *args, stdout=StringIO(), stderr=err)
    except CommandError as exc:
        return exc.returncode, f"{err.getvalue()}{exc}"
    return 0, err.getvalue()


def test_it_lists_the_skipped_files_of_a_folder_and_why_and_exits_1(
    public_channel: Channel, tmp_path: Path
) -> None:
    root = _znc_tree(tmp_path)
    (root / "README").write_bytes(b"These are the logs of #python.\n")
    (root / "2024/03/empty.log").write_bytes(b"")
    undated = root / "undated.log"
    undated.write_bytes(b"[12:00:00] <carol> when was this?\n")
    status, err = _exit_status("--network=libera", "--channel=#python", str(root))
    assert status == 1
    assert "3 file(s) skipped or empty:" in err
    assert f"{root / 'README'}: not in a known log format" in err
    assert f"{undated}: a ZNC log: its lines carry no date, and its path has none" in err
    assert f"{root / '2024/03/empty.log'}: empty" in err
    assert len(_stored(public_channel)) == 3  # the readable files imported all the same


def test_it_exits_1_when_a_file_yields_no_line_in_the_format_asked_for(
    public_channel: Channel, tmp_path: Path
) -> None:
    root = _znc_tree(tmp_path)
    status, err = _exit_status("--network=libera", "--channel=#python", "--format=irssi", str(root))
    assert status == 1
    assert "2 file(s) skipped or empty:" in err
    assert "#python_20240301.log.txt: not one line read as irssi (2 unparsable)" in err
    assert public_channel.lines.count() == 0


def test_it_exits_0_when_every_file_imported(public_channel: Channel, tmp_path: Path) -> None:
    root = _znc_tree(tmp_path)
    assert _exit_status("--network=libera", "--channel=#python", str(root))[0] == 0
    # A second run adds nothing and is no failure either.
    assert _exit_status("--network=libera", "--channel=#python", str(root))[0] == 0
    assert public_channel.lines.count() == 3


def test_the_channels_zone_is_the_default_and_a_corrected_zone_moves_lines_in_place(
    public_channel: Channel, log_file: Path
) -> None:
    public_channel.timezone = "Europe/Berlin"
    public_channel.save()
    run("--network=libera", "--channel=#python", "--tz=UTC", str(log_file))
    assert _stored(public_channel)[0][0] == "2024-03-10T11:00:00+00:00"
    out, _ = run("--network=libera", "--channel=#python", str(log_file))
    assert "Imported 0 lines, skipped 2 duplicates (2 moved to the new time zone)" in out
    assert [t for t, *_ in _stored(public_channel)] == [
        "2024-03-10T10:00:00+00:00",
        "2024-03-10T10:01:00+00:00",
    ]
    assert public_channel.lines.count() == 2
