"""One writer per dataset: a second run waits, then exits 75; a dead holder's lock is taken."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest
from finfocus_common.errors import TransientError
from target_focus.lock import LOCK_PATH
from target_focus_testdata import data_files, focus_messages, run_target, singer_lines, stripe_row


def write_lock(root, pid: int, since: float | None = None) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / LOCK_PATH).write_text(
        json.dumps(
            {
                "run_id": "holder",
                "host": socket.gethostname(),
                "pid": pid,
                "since": time.time() if since is None else since,
                "since_utc": "then",
            }
        )
    )


def test_a_second_writer_waits_then_exits_75_naming_the_holder(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        write_lock(tmp_path, holder.pid)
        config = {"output_path": str(tmp_path), "lock_wait_seconds": 1}
        (tmp_path / "config.json").write_text(json.dumps(config))
        started = time.monotonic()
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "target_focus.target",
                "--config",
                str(tmp_path / "config.json"),
            ],
            input=singer_lines(focus_messages([stripe_row("k1")])),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 75
        assert time.monotonic() - started >= 1
        last = result.stderr.strip().splitlines()[-1]
        assert last.startswith("target-focus: dataset ")
        assert f"pid {holder.pid}" in last
        assert "retry later" in last
        assert data_files(tmp_path) == []
    finally:
        holder.kill()
        holder.wait()


def test_the_lock_of_a_dead_process_is_taken_over_and_released(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    write_lock(tmp_path, dead.pid)
    run_target(
        {"output_path": str(tmp_path), "lock_wait_seconds": 1}, focus_messages([stripe_row("k1")])
    )
    assert len(data_files(tmp_path)) == 1
    assert not (tmp_path / LOCK_PATH).exists()


def test_the_lock_is_released_when_a_run_fails(tmp_path):
    bad = stripe_row("k1", ChargeCategory="Fees")
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"output_path": str(tmp_path / "out"), "batch_size_rows": 1}))
    # k0 is committed (taking the lock) before the bad row stops the run.
    result = subprocess.run(
        [sys.executable, "-m", "target_focus.target", "--config", str(config)],
        input=singer_lines(focus_messages([stripe_row("k0"), bad])),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert len(data_files(tmp_path / "out")) == 1
    assert not (tmp_path / "out" / LOCK_PATH).exists()
    # An in-process run that raised (no CLI around it) leaves its lock; the next run of
    # the same process takes it over instead of waiting on itself.
    with pytest.raises(Exception, match="ChargeCategory"):
        run_target(
            {"output_path": str(tmp_path / "out"), "batch_size_rows": 1},
            focus_messages([stripe_row("k2"), bad]),
        )
    run_target(
        {"output_path": str(tmp_path / "out"), "lock_wait_seconds": 0.2},
        focus_messages([stripe_row("k3")]),
    )
    (path,) = data_files(tmp_path / "out")
    assert sorted(r["x_RowKey"] for r in pq.read_table(path).to_pylist()) == ["k0", "k2", "k3"]


def test_transient_error_class_is_what_the_lock_raises(tmp_path):
    write_lock(tmp_path, 1, since=time.time())  # pid 1 lives: a live holder
    with pytest.raises(TransientError):
        run_target(
            {"output_path": str(tmp_path), "lock_wait_seconds": 0.2},
            focus_messages([stripe_row("k1")]),
        )
