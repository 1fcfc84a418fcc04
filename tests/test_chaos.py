"""The chaos suite, small: streams and a writer through every fault the service meets in production.

Real gunicorn with conf/gunicorn.py, a private real PostgreSQL that the test
restarts, 100 clients that reconnect as EventSource does, lines committed at
10/s throughout (bench/chaos.py runs it; ``make chaos`` runs it with 2,000).
Pass or fail is correctness only: every client ends with every line the
database holds, exactly once, in order. How fast they recover is the
benchmark's figure, not an assertion here.
"""

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.chaos import FAULTS, Plan, run

pytestmark = pytest.mark.e2e

CLIENTS = 100
# Faults that end every stream of the service (the clients must reconnect).
DROPPING = {"reload", "restart", "kill-worker"}


@pytest.fixture(scope="module")
def chaos() -> Iterator[dict[str, Any]]:
    # Not pytest's tmp_path: its base directory is closed to the PostgreSQL
    # user that pg_ctl runs as, which the restart needs.
    with tempfile.TemporaryDirectory(prefix="irclogger-chaos-") as workdir:
        yield run(Path(workdir), Plan(CLIENTS, list(FAULTS), lead_seconds=2.0))


def test_every_client_has_every_line_exactly_once_in_order(chaos: dict[str, Any]) -> None:
    load = chaos["loadgen"]
    assert chaos["written"] > 0
    assert chaos["in_order_in_database"]
    assert (load["lost"], load["repeated"], load["out_of_order"]) == (0, 0, 0), (
        load["lost_seqs"],
        load["repeated_seqs"],
        [(f["name"], f["lost_in_window"], f["repeated_in_window"]) for f in chaos["faults"]],
    )
    assert load["deliveries"] == CLIENTS * chaos["written"]
    assert load["gave_up"] == 0


@pytest.mark.parametrize("fault", FAULTS)
def test_every_client_streams_again_after(chaos: dict[str, Any], fault: str) -> None:
    [figures] = [f for f in chaos["faults"] if f["name"] == fault]
    assert figures["settled"], figures
    # Lines were written while the fault was going on, so the exactly-once
    # check above covers the fault's window.
    assert figures["lines_in_window"] > 0
    if fault in DROPPING:
        assert figures["storm"]["dropped"] == CLIENTS
        assert figures["storm"]["not_back"] == 0
    if fault == "pg-terminate-hub":
        assert figures["detail"].startswith("1 ")
