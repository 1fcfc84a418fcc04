"""Pages while PostgreSQL is away: 503 with Retry-After, not a 500.

Real gunicorn (conf/gunicorn.py) against a throwaway PostgreSQL the test
stops and starts again, as a restart or failover would.
"""

from pathlib import Path

import pytest

from tests.nginx import get
from tests.servers import gunicorn
from tests.throwaway_postgres import migrate, throwaway_postgres

pytestmark = pytest.mark.e2e


def test_a_page_is_a_503_with_retry_after_while_postgresql_is_down(tmp_path: Path) -> None:
    with throwaway_postgres(tmp_path) as postgres:
        migrate(postgres)
        with gunicorn(tmp_path, DATABASE_URL=postgres.url) as server:
            up = get(server.port, "/")
            postgres.stop()
            down = get(server.port, "/")
            postgres.start()
            back = get(server.port, "/")
    assert up.status == 200
    assert down.status == 503, down
    assert int(down.headers["Retry-After"]) > 0
    assert back.status == 200


@pytest.mark.parametrize(
    "path",
    [
        "/nowhere/nothing/stream/",  # a stream of a channel this worker never checked
        "/nowhere/nothing/2026-01-01/",
        "/search/?q=anything",
    ],
)
def test_a_request_that_needs_the_database_is_a_503_while_it_is_down(
    tmp_path: Path, path: str
) -> None:
    with throwaway_postgres(tmp_path) as postgres:
        migrate(postgres)
        with gunicorn(tmp_path, DATABASE_URL=postgres.url) as server:
            postgres.stop()
            down = get(server.port, path)
            postgres.start()
    assert down.status == 503, down
    assert int(down.headers["Retry-After"]) > 0
