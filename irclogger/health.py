"""What /healthz asks of the parts a process runs, without importing them.

A part that runs in this process (the streams' hub) registers its check when
it starts and removes it when it stops. The health view calls whatever is
registered, so the pages never import the streams (docs/DESIGN.md, "What may
import what"), and a process that runs no hub (manage.py, tests) checks none.
"""

from collections.abc import Callable

# A check answers "ok", or says what is wrong.
Check = Callable[[], str]

_checks: dict[str, Check] = {}


def register(name: str, check: Check) -> None:
    _checks[name] = check


def unregister(name: str) -> None:
    _checks.pop(name, None)


def results() -> dict[str, str]:
    return {name: check() for name, check in _checks.items()}
