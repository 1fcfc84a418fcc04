"""conf/systemd/: units systemd accepts, with the directives the deployment relies on."""

import configparser
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.servers import ROOT

UNIT = ROOT / "conf" / "systemd" / "irclogger.service"
# Where the unit expects the checkout; the test points it at this one.
DEPLOYED_ROOT = "/srv/irclogger"


def _service() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read_string(UNIT.read_text())
    return parser["Service"]


@pytest.mark.e2e
@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_it_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    unit = tmp_path / "irclogger.service"
    unit.write_text(UNIT.read_text().replace(DEPLOYED_ROOT, str(ROOT)))
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # verify exits 0 even for a directive it ignores; it says so on stderr.
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_it_runs_gunicorn_with_the_project_config() -> None:
    service = _service()
    assert service["ExecStart"] == f"{DEPLOYED_ROOT}/.venv/bin/gunicorn -c conf/gunicorn.py"
    assert service["WorkingDirectory"] == DEPLOYED_ROOT
    assert service["EnvironmentFile"] == "/etc/irclogger/env"
    assert service["Type"] == "notify"


def test_it_reloads_with_sighup_and_restarts_on_failure() -> None:
    service = _service()
    assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert service["Restart"] == "on-failure"


def test_it_waits_longer_than_gunicorns_graceful_timeout() -> None:
    # Read, not executed: conf/gunicorn.py sets process-wide environment on load.
    config = (ROOT / "conf" / "gunicorn.py").read_text()
    found = re.search(r'"GUNICORN_GRACEFUL_TIMEOUT", (\d+)', config)
    assert found is not None
    assert int(_service()["TimeoutStopSec"]) > int(found.group(1))


def test_it_is_hardened() -> None:
    service = _service()
    assert service["User"] != "root"
    assert service["NoNewPrivileges"] == "yes"
    assert service["ProtectSystem"] == "strict"
    assert service["CapabilityBoundingSet"] == ""
    assert int(service["LimitNOFILE"]) >= 12_000  # gunicorn's worker_connections
