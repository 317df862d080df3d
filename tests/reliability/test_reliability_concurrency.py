"""Two runs of the same Meltano job at once cannot corrupt state or data.

Meltano refuses a second run of a job that is already running (its system database
tracks running jobs); target-focus's dataset lock serialises any two writers of one
dataset. Either way the dataset ends equal to a clean run's and the state is usable.
"""

from __future__ import annotations

import json
import os
import subprocess

import pyarrow.dataset as pads
import pytest
from pipeline_testing import MELTANO, QUIET, ROOT


def _rows(path) -> dict[str, dict]:
    table = pads.dataset(path / "data", format="parquet", partitioning="hive").to_table()
    return {r["x_RowKey"]: r for r in table.to_pylist()}


@pytest.mark.plugins("tap-stripe", "mapper-focus", "target-focus")
def test_the_same_job_started_twice_at_once(meltano, tmp_path, tally):
    clean_env = {
        "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path / 'clean.db'}",
        "TARGET_FOCUS_OUTPUT_PATH": str(tmp_path / "clean"),
    }
    meltano.ok("run", "tap-stripe", "focus", "target-focus", extra_env=clean_env)
    clean = _rows(tmp_path / "clean")

    # The project's system database exists before the two runs, as it does for a user:
    # two processes creating a fresh one at the same instant race in Meltano's migrations.
    meltano.ok("state", "list")
    env = {**os.environ, **QUIET, **meltano.env, "TARGET_FOCUS_LOCK_WAIT_SECONDS": "300"}
    logs = [open(tmp_path / f"run{i}.log", "w") for i in range(2)]  # noqa: SIM115
    runs = [
        subprocess.Popen(
            [MELTANO, "run", "tap-stripe", "focus", "target-focus"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=log,
        )
        for log in logs
    ]
    codes = [run.wait(timeout=600) for run in runs]
    for log in logs:
        log.close()
    tally["concurrent_runs"] += 2
    texts = [(tmp_path / f"run{i}.log").read_text() for i in range(2)]
    assert 0 in codes, texts[0][-2000:] + texts[1][-2000:]
    for code, text in zip(codes, texts, strict=True):
        if code != 0:  # refused, not half-done
            assert "already running" in text or "being written by another" in text, text[-2000:]

    resumed = _rows(tmp_path / "focus")
    lost, doubled = clean.keys() - resumed.keys(), resumed.keys() - clean.keys()
    tally["lost"] += len(lost)
    tally["doubled"] += len(doubled)
    assert not lost
    assert not doubled
    assert all(resumed[k]["BilledCost"] == clean[k]["BilledCost"] for k in clean)
    assert not (tmp_path / "focus" / "_lock").exists()

    state = meltano.run("state", "get", "dev:tap-stripe-to-target-focus")
    assert state.returncode == 0
    assert json.loads(state.stdout)["singer_state"]["bookmarks"]["balance_transactions"]
    # And the next run is an ordinary incremental one.
    meltano.ok("run", "tap-stripe", "focus", "target-focus")
    assert _rows(tmp_path / "focus").keys() == clean.keys()
