"""Real IRC clients writing real logs: Debian's irssi and WeeChat, driven headless.

Each runs with its own home in the test's tmp_path, connects to the test's
ngircd, joins one channel and logs it; the test then speaks in the channel
through a RawClient and reads the log the client wrote. irssi needs a
terminal: it gets a pseudo-terminal, and its commands are typed into it.
"""

import os
import pty
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from tests.ircserver import IrcServer, RawClient, wait_until
from tests.servers import stop_process

IRSSI = "/usr/bin/irssi"
WEECHAT = "/usr/bin/weechat-headless"

_IRSSI_CONFIG = """\
servers = ( {{ address = "127.0.0.1"; chatnet = "test"; port = "{port}";
  autoconnect = "yes"; use_tls = "no"; }} );
chatnets = {{ test = {{ type = "IRC"; }}; }};
settings = {{
  core = {{ real_name = "{nick}"; user_name = "{nick}"; nick = "{nick}"; }};
  "fe-common/core" = {{
    autolog = "yes";
    autolog_colors = "{colors}";
    autolog_path = "{logs}/$0.log";
  }};
}};
"""


@contextmanager
def irssi(
    tmp_path: Path, server: IrcServer, channel: str, watcher: RawClient, *, colors: bool
) -> Iterator[Path]:
    """irssi in ``channel`` as ``irssi``; yields its log's path, complete once this exits.

    ``watcher`` (a RawClient already in the channel) sees irssi join, so
    nothing is said before irssi logs it.
    """
    home, logs = tmp_path / "irssi-home", tmp_path / "irssi-logs"
    home.mkdir()
    config = _IRSSI_CONFIG.format(
        port=server.port, nick="irssi", colors="yes" if colors else "no", logs=logs
    )
    (home / "config").write_text(config)
    primary, secondary = pty.openpty()
    process = subprocess.Popen(
        [IRSSI, "--home", str(home)],
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        env={**os.environ, "TERM": "xterm", "COLUMNS": "200", "LINES": "50"},
    )
    os.close(secondary)
    # irssi blocks once its screen fills the terminal's buffer: read it away.
    reader = threading.Thread(target=_drain, args=(primary,), daemon=True)
    reader.start()
    try:
        # Typed once irssi is connected: before that, /join is not sent.
        wait_until(lambda: 'User "irssi!' in server.log(), 30, "irssi connected")
        os.write(primary, f"/join {channel}\r".encode())
        watcher.wait_for(b":irssi!")
        yield logs / f"{channel}.log"
        os.write(primary, b"/quit bye\r")
        process.wait(15)
    finally:
        stop_process(process)
        with suppress(OSError):
            os.close(primary)
        reader.join(5)


@contextmanager
def weechat(tmp_path: Path, port: int, channel: str, watcher: RawClient) -> Iterator[Path]:
    """WeeChat in ``channel`` as ``weechat``; yields its log's path, complete once this exits."""
    home = tmp_path / "weechat-home"
    home.mkdir()
    commands = ";".join(
        (
            f"/server add test 127.0.0.1/{port} -notls -nicks=weechat -username=weechat",
            f"/set irc.server.test.autojoin {channel}",
            "/set logger.file.flush_delay 0",
            f"/set logger.file.path {home}/logs",
            "/connect test",
        )
    )
    log = (tmp_path / "weechat.out").open("wb")
    process = subprocess.Popen(
        [WEECHAT, "--dir", str(home), "--run-command", commands],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
    )
    log.close()
    try:
        watcher.wait_for(b":weechat!", timeout=30)
        yield home / "logs" / f"irc.test.{channel}.weechatlog"
    finally:
        # SIGTERM is WeeChat's /quit: the logger writes and closes its files.
        stop_process(process)


def _drain(primary: int) -> None:
    with suppress(OSError):  # the terminal is gone once irssi exits
        while os.read(primary, 65536):
            pass


def away_from_a_minute_boundary() -> None:
    """Wait while the next seconds would cross a minute: two clients stamping the same
    event must agree on its minute."""
    seconds = time.time() % 60
    if seconds > 50:
        time.sleep(61 - seconds)


def synced(user: RawClient, client: str) -> None:
    """Return once ``client`` has read everything sent before: it answers a CTCP VERSION
    only after the lines ahead of it."""
    user.send(f"PRIVMSG {client} :\x01VERSION\x01".encode())
    user.wait_for(f":{client}!".encode() + b"~" + client.encode() + b"@127.0.0.1 NOTICE")
