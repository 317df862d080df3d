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


@pytest.fixture(autouse=True)
def _count_plugins(request: pytest.FixtureRequest):
    """Count the tests each plugin went through (a Provider or a plugin name parameter, or
    the `plugins` marker), for the summary's coverage line."""
    yield
    params = getattr(getattr(request.node, "callspec", None), "params", {})
    names = {getattr(value, "tap", value) for value in params.values()}
    marker = request.node.get_closest_marker("plugins")
    names.update(marker.args if marker else ())
    for name in names:
        if isinstance(name, str) and name.startswith(("tap-", "mapper-", "target-")):
            TALLY[f"plugin:{name}"] += 1


@pytest.fixture(scope="session")
def azurite():
    """Azurite (Blob Storage) from tap-azure's npm install, on loopback, for the session."""
    from finfocus_sandbox.azure import Azurite
    from providers import AZURITE_DIR

    with Azurite(AZURITE_DIR) as server:
        yield server


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "plugins(*names): the plugins a reliability test exercises (summary line)"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/reliability/" in str(item.fspath):
            item.add_marker(pytest.mark.reliability)
            item.add_marker(pytest.mark.integration)


def pytest_terminal_summary(terminalreporter) -> None:
    if not TALLY:
        return
    terminalreporter.write_sep("=", "reliability summary")
    plugins = sorted((k.split(":", 1)[1], n) for k, n in TALLY.items() if k.startswith("plugin:"))
    terminalreporter.write_line(
        "tests per plugin: " + ", ".join(f"{name} {count}" for name, count in plugins)
    )
    terminalreporter.write_line(
        f"faults injected: {TALLY['faults']}, crashes survived: {TALLY['crashes']}, "
        f"bad inputs tried: {TALLY['bad_inputs']}, secret leak checks: {TALLY['leak_checks']}, "
        f"concurrent runs: {TALLY['concurrent_runs']}; data lost/doubled/leaked: "
        f"{TALLY['lost']}/{TALLY['doubled']}/{TALLY['leaked']}"
    )
