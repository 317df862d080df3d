"""The reliability suite: faults, crashes, bad input, secrets and concurrency, end to end.

Every test records what it tried in TALLY; the session ends with one summary line:
faults injected, crashes survived, bad inputs tried, and data lost/doubled/leaked
(which must be 0/0/0: the tests fail otherwise).
"""

from __future__ import annotations

import collections

import pytest

TALLY: collections.Counter[str] = collections.Counter()


@pytest.fixture
def tally() -> collections.Counter[str]:
    return TALLY


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/reliability/" in str(item.fspath):
            item.add_marker(pytest.mark.reliability)
            item.add_marker(pytest.mark.integration)


def pytest_terminal_summary(terminalreporter) -> None:
    if not TALLY:
        return
    terminalreporter.write_sep("=", "reliability summary")
    terminalreporter.write_line(
        f"faults injected: {TALLY['faults']}, crashes survived: {TALLY['crashes']}, "
        f"bad inputs tried: {TALLY['bad_inputs']}, secret leak checks: {TALLY['leak_checks']}, "
        f"concurrent runs: {TALLY['concurrent_runs']}; data lost/doubled/leaked: "
        f"{TALLY['lost']}/{TALLY['doubled']}/{TALLY['leaked']}"
    )
