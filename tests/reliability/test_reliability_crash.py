"""kill -9 the tap, the mapper or the target mid-run; resume with the state Meltano kept.

The final dataset (or PostgreSQL tables) must equal a clean run's: no x_RowKey (or raw key)
lost or doubled, the same values, and no partial or half-replaced file.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pyarrow.dataset as pads
import pytest
from azure.storage.blob import BlobServiceClient
from finfocus_sandbox.azure import AzureDataset, write_export_run
from finfocus_sandbox.faults import Fault
from finfocus_sandbox.stripe import FakeStripe, StripeDataset
from pipeline_testing import CONNECTED, MELTANO, QUIET, ROOT, STRIPE_KEY, Database
from providers import PROVIDERS, canary, tap_env

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


@pytest.mark.plugins("tap-stripe", "mapper-focus", "target-focus")
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


@pytest.mark.plugins("tap-stripe")
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


# --- tap-azure and tap-gcp: kill -9 the tap of `tap | mapper-focus | target-focus` ---------
#
# The plugins are chained as Meltano chains them, without Meltano: the state a resumed run
# starts from is the last STATE the target wrote (what Meltano would have kept). The tap is
# killed right after its k-th STATE message reached the mapper, k random, while it still
# has work to do; the resumed run must leave the dataset equal to a clean run's.

BIN = Path(sys.executable).parent


@dataclass
class Piped:
    tap_code: int | None
    target_code: int
    tap_states: int
    killed: bool
    state: dict | None  # the last state the target wrote


def piped_run(
    tap: str,
    config: dict,
    out: Path,
    work: Path,
    *,
    state: dict | None = None,
    kill_after: int | None = None,
) -> Piped:
    """`tap | mapper-focus | target-focus`; kill -9 the tap after its `kill_after`th STATE."""
    tag = uuid.uuid4().hex[:8]
    tap_config, target_config = work / f"tap-{tag}.json", work / f"target-{tag}.json"
    tap_config.write_text(json.dumps(config))
    target_config.write_text(json.dumps({"output_path": str(out)}))
    command = [str(BIN / tap), "--config", str(tap_config)]
    if state is not None:
        state_file = work / f"state-{tag}.json"
        state_file.write_text(json.dumps(state))
        command += ["--state", str(state_file)]
    logs = [open(work / f"{name}-{tag}.log", "wb") for name in ("tap", "mapper", "target")]  # noqa: SIM115
    env = tap_env(LOGLEVEL="INFO")
    tap_proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=logs[0], env=env)
    mapper = subprocess.Popen(
        [str(BIN / "mapper-focus")], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=logs[1]
    )
    target = subprocess.Popen(
        [str(BIN / "target-focus"), "--config", str(target_config)],
        stdin=mapper.stdout,
        stdout=subprocess.PIPE,
        stderr=logs[2],
    )
    assert mapper.stdout is not None
    assert mapper.stdin is not None
    assert tap_proc.stdout is not None
    mapper.stdout.close()  # the target holds it now
    states, killed = 0, False
    for line in tap_proc.stdout:
        mapper.stdin.write(line)
        if b'"STATE"' in line[:30]:
            states += 1
            if states == kill_after and tap_proc.poll() is None:
                os.kill(tap_proc.pid, signal.SIGKILL)
                killed = True
    mapper.stdin.close()
    tap_code = tap_proc.wait(timeout=300)
    mapper.wait(timeout=300)
    target_out, _ = target.communicate(timeout=300)
    for log in logs:
        log.close()
    # A Singer target writes each state it has committed up to as one JSON line.
    written = [json.loads(line) for line in target_out.splitlines() if line.startswith(b"{")]
    return Piped(tap_code, target.returncode, states, killed, written[-1] if written else state)


def kill_and_resume(tap: str, config: dict, tmp_path: Path, tally) -> None:
    clean = piped_run(tap, config, tmp_path / "clean", tmp_path)
    assert (clean.tap_code, clean.target_code) == (0, 0), _logs(tmp_path)
    expected = dataset_rows(tmp_path / "clean")
    assert expected
    assert clean.tap_states >= 3, f"{tap}: too few states ({clean.tap_states}) to crash between"
    out = tmp_path / "focus"
    kill_after = RANDOM.randint(1, clean.tap_states - 2)
    crashed = piped_run(tap, config, out, tmp_path, kill_after=kill_after)
    assert crashed.killed, f"{tap} finished before its state #{kill_after}"
    assert crashed.tap_code == -signal.SIGKILL
    tally["crashes"] += 1
    assert crashed.target_code == 0, _logs(tmp_path)
    resumed = piped_run(tap, config, out, tmp_path, state=crashed.state)
    assert (resumed.tap_code, resumed.target_code) == (0, 0), _logs(tmp_path)
    got = dataset_rows(out)
    lost, doubled = expected.keys() - got.keys(), got.keys() - expected.keys()
    tally["lost"] += len(lost)
    tally["doubled"] += len(doubled)
    assert not lost, f"{tap}: {len(lost)} rows lost (killed after state #{kill_after})"
    assert not doubled, f"{tap}: {len(doubled)} rows a clean run does not have"
    for key, row in expected.items():
        assert got[key]["BilledCost"] == row["BilledCost"], key
    assert not list((out / "data").rglob(".*.tmp")), "a temporary file was left behind"


def _logs(work: Path) -> str:
    return "\n".join(p.read_text(errors="replace")[-1500:] for p in sorted(work.glob("*.log")))


@pytest.mark.parametrize(
    "provider", [p for p in PROVIDERS if p.name in {"azure", "gcp"}], ids=lambda p: p.name
)
@pytest.mark.plugins("mapper-focus", "target-focus")
def test_tap_killed_mid_run_resumes_without_loss(provider, tmp_path, tally):
    key = canary(provider)
    fake, extra = provider.make(key)
    with fake:
        # Every request a little slow, so the tap still has work when it is killed.
        fake.faults.add(Fault(kind="slow", path=provider.path, times=None, delay=0.05))
        kill_and_resume(provider.tap, provider.config(fake, key, extra), tmp_path, tally)


@pytest.mark.plugins("tap-azure", "mapper-focus", "target-focus")
def test_tap_azure_killed_while_reading_exports_resumes_without_loss(azurite, tmp_path, tally):
    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    name = f"crash-{uuid.uuid4().hex[:10]}"
    container = service.create_container(name)
    try:
        dataset = AzureDataset.generate(seed=36, days=70, subscriptions=1)
        for period in dataset.months()[-3:]:
            for export_type in ("FocusCost", "ActualCost"):
                write_export_run(
                    container, dataset, export_type.lower(), export_type, period, rows_per_file=150
                )
        config = {
            "storage_connection_string": azurite.connection_string,
            "container": name,
            "prefix": "exports",
            "max_retries": 2,
            "request_timeout": 10,
        }
        kill_and_resume("tap-azure", config, tmp_path, tally)
    finally:
        container.delete_container()
