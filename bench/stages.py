"""The benchmark's stages in motion: a connect storm, reload and restart storms, chaos, the soak.

- ``connect-storm``: N streams opened at 2,000/s on an idle service; how
  many connect, the connect times, and whether they then all stream.
- ``reload-storm``: N streams that reconnect as browsers do, lines at 10/s;
  a graceful reload, then (once all stream again) a restart; per storm, the
  seconds from the drop until every client streams again, the lines lost
  or repeated, the pages meanwhile (bench/chaos.py).
- ``chaos``: every fault of bench/chaos.py in turn.
- ``soak``: no fault for an hour (``--soak-minutes``); the streams end at
  their maximum lifetime and reconnect; the worker's memory every 30 s.
"""

import datetime as dt
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import chaos, servers
from bench.chaos import FAULTS, Plan
from bench.scenario import GRACE_SECONDS, Loadgen, forget_published, publish_lines
from irclogger.models import Channel

STAGES = ("connect-storm", "reload-storm", "chaos", "soak")
CONNECT_RATE = 2_000.0
# The storm: a connect that has no response headers by then failed.
CONNECT_TIMEOUT = 15.0
# After the storm, lines for this long: did every stream really open?
AFTER_STORM_SECONDS = 3.0
SOAK_MINUTES = 60.0
# Memory is sampled this often during the soak.
SOAK_SAMPLE_SECONDS = 30.0
# How long a storm of 10,000 may take to settle before the run moves on (and says so).
SETTLE_SECONDS = 180.0


def sizes(quick: bool) -> dict[str, int]:
    """Clients per stage: the issue's figures, or a harness check for --quick."""
    if quick:
        return {"connect-storm": 1_000, "reload-storm": 500, "chaos": 100, "soak": 200}
    return {"connect-storm": 10_000, "reload-storm": 10_000, "chaos": 2_000, "soak": 2_000}


def run_stage(
    name: str, clients: int, url: str, channel: Channel, options: dict[str, Any]
) -> dict[str, Any]:
    """One stage; an exception is a result (with its traceback), not the end of the run."""
    print(f"bench: {name} with {clients:,} streams", flush=True)
    started = time.monotonic()
    runners: dict[str, Callable[[], dict[str, Any]]] = {
        "connect-storm": lambda: connect_storm(url, channel, clients),
        "reload-storm": lambda: _chaos(
            Plan(clients, ["reload", "restart"], pages=True, settle_timeout=SETTLE_SECONDS)
        ),
        "chaos": lambda: _chaos(
            Plan(clients, list(FAULTS), pages=True, settle_timeout=SETTLE_SECONDS)
        ),
        "soak": lambda: _chaos(
            Plan(
                clients,
                [],
                soak_seconds=options.get("soak_minutes", SOAK_MINUTES) * 60,
                sample_seconds=SOAK_SAMPLE_SECONDS,
                lifetime_seconds=options.get("lifetime_seconds"),
                settle_timeout=SETTLE_SECONDS,
                probe=True,
            )
        ),
    }
    try:
        result = runners[name]()
    except Exception as exc:
        result = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
    result["clients"] = clients
    result["started"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    result["stage_seconds"] = time.monotonic() - started
    _say(name, result)
    return result


def connect_storm(url: str, channel: Channel, clients: int) -> dict[str, Any]:
    """``clients`` streams opened at CONNECT_RATE per second, then 3 s of lines."""
    with (
        servers.irclogger(url, "irclogger-bench-storm") as service,
        Loadgen(service, channel, clients, CONNECT_TIMEOUT, (f"--rate={CONNECT_RATE}",)) as load,
    ):
        ready = load.ready()
        load.send("go")
        published = publish_lines(channel, lambda line: None, AFTER_STORM_SECONDS)
        load.send("end")
        time.sleep(GRACE_SECONDS + clients / 5000)
        after = load.stop(published)
    forget_published(channel)
    return {"rate": CONNECT_RATE, "timeout": CONNECT_TIMEOUT, "ready": ready, "after": after}


def _chaos(plan: Plan) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="irclogger-bench-chaos-") as workdir:
        return chaos.run(Path(workdir), plan, log=lambda text: print(f"bench:   {text}"))


def _say(name: str, result: dict[str, Any]) -> None:
    if "error" in result:
        print(f"bench:   {name} failed: {result['error']}", flush=True)
        return
    load = result.get("loadgen") or result.get("after") or {}
    print(
        f"bench:   {name}: lost {load.get('lost', load.get('missed'))}, "
        f"repeated {load.get('repeated', load.get('duplicated'))}, "
        f"{result['stage_seconds']:.0f} s",
        flush=True,
    )
