"""kill -9 the tap, the mapper or the target mid-run; resume with the state Meltano kept.

The final dataset (or PostgreSQL tables) must equal a clean run's: no x_RowKey (or raw key)
lost or doubled, the same values, and no partial or half-replaced file.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time

import pyarrow.dataset as pads
import pytest
from finfocus_sandbox.faults import Fault
from finfocus_sandbox.stripe import FakeStripe, StripeDataset
from pipeline_testing import CONNECTED, MELTANO, QUIET, ROOT, STRIPE_KEY, Database

RANDOM = random.Random(20261123)
PROCESSES = {
    "tap": ".meltano/extractors/tap-stripe/",
    "mapper": ".meltano/mappers/mapper-focus/",
    "target": ".meltano/loaders/target-focus/",
    "target-postgres": ".meltano/loaders/target-postgres/",
}


def dataset_rows(path) -> dict[str, dict]:
    data = path / "data"
    if not data.exists():
        return {}
    table = pads.dataset(data, format="parquet", partitioning="hive").to_table()
    return {row["x_RowKey"]: row for row in table.to_pylist()}


@pytest.fixture
def stripe_dataset():
    # Big enough that a run lasts well past its first commits.
    return StripeDataset.generate(
        seed=12, days=90, balance_transactions=1200, connected_accounts=CONNECTED
    )


@pytest.fixture
def fake_stripe(stripe_dataset):
    fake = FakeStripe(stripe_dataset, api_keys={STRIPE_KEY})
    fake.faults.add(Fault(kind="slow", path=r"^/v1/", times=None, delay=0.01))
    fake.start()
    yield fake
    fake.stop()


def run_and_kill(
    meltano, args: list[str], victim: str, after: float, env: dict, ready=lambda: True
) -> bool:
    """Start `meltano run`; once `ready()` holds, wait `after` more seconds and kill -9 the
    victim plugin process. True if it was killed mid-run (False: the run ended first)."""
    log = open(os.devnull, "w")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(
        [MELTANO, "run", *args],
        cwd=ROOT,
        env={**os.environ, **QUIET, **meltano.env, **env},
        stdout=log,
        stderr=log,
    )
    deadline = None
    killed = False
    while proc.poll() is None:
        if deadline is None and ready():
            deadline = time.monotonic() + after
        if deadline is not None and time.monotonic() >= deadline:
            for line in subprocess.run(
                ["ps", "-eo", "pid,args"], capture_output=True, text=True, check=True
            ).stdout.splitlines()[1:]:
                pid, _, command = line.strip().partition(" ")
                if PROCESSES[victim] in command:
                    os.kill(int(pid), signal.SIGKILL)
                    killed = True
                    break
            break
        time.sleep(0.05)
    proc.wait(timeout=300)
    log.close()
    if killed:
        assert proc.returncode != 0, "meltano must fail when a plugin is killed"
    return killed


@pytest.mark.parametrize("victim", ["tap", "mapper", "target"])
def test_full_sync_survives_kill_9_of_any_process(meltano, tmp_path, victim, tally):
    clean_env = {
        "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path / 'clean.db'}",
        "TARGET_FOCUS_OUTPUT_PATH": str(tmp_path / "clean"),
    }
    meltano.ok("run", "tap-stripe", "focus", "target-focus", extra_env=clean_env)
    clean = dataset_rows(tmp_path / "clean")
    assert clean

    env = {"TARGET_FOCUS_BATCH_SIZE_ROWS": "150", "TAP_STRIPE_WINDOW_DAYS": "3"}
    out = tmp_path / "focus"
    crashes = 0

    def committed() -> bool:
        return any((out / "data").rglob("part-0.parquet")) if (out / "data").exists() else False

    for attempt in range(3):
        after = RANDOM.uniform(0.0, 1.5)
        killed = run_and_kill(
            meltano, ["tap-stripe", "focus", "target-focus"], victim, after, env, ready=committed
        )
        if killed:
            crashes += 1
            tally["crashes"] += 1
            # A reader never sees a partial file: every data file is whole Parquet.
            for row in dataset_rows(out).values():
                assert row["x_RowKey"]
        else:
            break
        assert attempt < 2 or crashes
    assert crashes, f"the {victim} finished before it could be killed"
    meltano.ok("run", "tap-stripe", "focus", "target-focus", extra_env=env)
    resumed = dataset_rows(out)
    lost = clean.keys() - resumed.keys()
    doubled = resumed.keys() - clean.keys()
    tally["lost"] += len(lost)
    tally["doubled"] += len(doubled)
    assert not lost, f"{len(lost)} rows lost"
    assert not doubled, f"{len(doubled)} rows that a clean run does not have"
    for key, row in clean.items():
        assert resumed[key]["BilledCost"] == row["BilledCost"]
    assert not list((out / "data").rglob(".*.tmp")), "a temporary file was left behind"


@pytest.mark.parametrize("victim", ["tap", "target-postgres"])
def test_extract_only_to_postgres_survives_kill_9(meltano, database, tmp_path, victim, tally):
    env = {"TAP_STRIPE_WINDOW_DAYS": "3", "TARGET_POSTGRES_BATCH_SIZE_ROWS": "100"}
    killed = run_and_kill(
        meltano, ["tap-stripe", "target-postgres"], victim, RANDOM.uniform(3.0, 6.0), env
    )
    tally["crashes"] += int(killed)
    meltano.ok("run", "tap-stripe", "target-postgres", extra_env=env)
    resumed = {
        t: database.query(f"select account_id, id from stripe.{t}")
        for t in ("balance_transactions", "charges", "invoices", "customers")
    }

    clean_db = f"c_{database.name}"
    database.execute(f"create database {clean_db}")
    clean_env = {
        "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path / 'clean.db'}",
        "TARGET_POSTGRES_DATABASE": clean_db,
    }
    meltano.ok("run", "tap-stripe", "target-postgres", extra_env=clean_env)
    clean = Database(database.cluster, clean_db)
    for table, rows in resumed.items():
        expected = clean.query(f"select account_id, id from stripe.{table}")
        tally["doubled"] += len(rows) - len(set(rows))
        tally["lost"] += len(set(expected) - set(rows))
        assert len(rows) == len(set(rows)), f"{table}: doubled rows"
        assert set(rows) == set(expected), table
