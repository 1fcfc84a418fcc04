"""Goals of streams in motion in bench/RESULTS.md: a miss is written with its figure, never met."""

from typing import Any

from bench.report import motion_goals, soak_cycles


def _storm(
    clients: int, back: float | None, lost: int, page_p99: float, lag: float = 0.0
) -> dict[str, Any]:
    def fault(name: str) -> dict[str, Any]:
        return {
            "name": name,
            "settled": back is not None,
            "storm": {
                "dropped": clients,
                "not_back": 0,
                "all_back_after_drop": back,
                "generator_lag_max": lag,
            },
            "pages": {"ok": 40, "p99": page_p99, "failures": {}},
            "lost_in_window": lost,
            "repeated_in_window": 0,
        }

    return {
        "clients": clients,
        "faults": [fault("reload"), fault("restart")],
        "loadgen": {"lost": lost, "repeated": 0, "out_of_order": 0},
    }


def _row(rows: list[str], start: str) -> str:
    [row] = [row for row in rows if row.startswith(f"| {start}")]
    return row


def test_a_storm_that_misses_its_goals_says_so_with_its_figures():
    rows = motion_goals({"reload-storm": _storm(10_000, 14.25, 3, 0.450)})
    assert _row(rows, "reload: all streaming again").endswith(
        "| 14.2 s (N=10,000; 0 not back) | **no** |"
    )
    assert "3 lost, 0 repeated" in _row(rows, "reload: 0 lines")
    assert _row(rows, "reload: 0 lines").endswith("| **no** |")
    assert _row(rows, "restart: page p99").endswith("| 450 ms (40 ok, failed 0) | **no** |")


def test_a_storm_met_at_fewer_streams_than_the_goal_is_not_called_met():
    rows = motion_goals({"reload-storm": _storm(500, 4.0, 0, 0.050)})
    assert _row(rows, "reload: all streaming again").endswith("| 4.0 s (N=500; 0 not back) | – |")
    full = motion_goals({"reload-storm": _storm(10_000, 4.0, 0, 0.050)})
    assert _row(full, "reload: all streaming again").endswith("| yes |")


def test_a_storm_the_load_generator_lagged_behind_says_so_beside_its_time():
    rows = motion_goals({"reload-storm": _storm(10_000, 107.6, 0, 0.5, lag=78.7)})
    row = _row(rows, "reload: all streaming again")
    assert "107.6 s (N=10,000; 0 not back; the load generator was up to 78.7 s behind)" in row
    calm = motion_goals({"reload-storm": _storm(10_000, 7.7, 0, 0.05, lag=0.3)})
    assert "behind" not in _row(calm, "reload: all streaming again")


def test_a_stage_not_run_or_failed_is_written_as_such():
    rows = motion_goals({"connect-storm": {"error": "RuntimeError: no port", "clients": 10_000}})
    assert "failed: RuntimeError: no port" in _row(rows, "10,000 streams opened")
    assert _row(rows, "chaos:").endswith("| not run | – |")


def test_a_soak_whose_streams_never_cycled_meets_nothing():
    samples = [{"seconds": 660.0 * k, "rss_mb": 100.0 + k, "at": k} for k in range(1, 5)]
    soak: dict[str, Any] = {
        "clients": 2_000,
        "plan": {"lifetime_seconds": None},
        "soak": samples,
        "loadgen": {"lost": 0, "repeated": 0, "reconnects": 0},
    }
    assert [cycle["cycle"] for cycle in soak_cycles(soak)] == [1, 2, 3, 4]
    row = _row(motion_goals({"soak": soak}), "soak:")
    assert "+2.0 MB from cycle 2 to cycle 4" in row
    assert "the streams did not end at their lifetime" in row
    assert row.endswith("| – |")
    soak["loadgen"]["reconnects"] = 6_000
    assert _row(motion_goals({"soak": soak}), "soak:").endswith("| yes |")
