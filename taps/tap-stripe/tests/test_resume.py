"""kill -9 at random points, resume from the last emitted STATE: nothing lost or doubled."""

from __future__ import annotations

import collections
import datetime as dt
import json
import os
import signal
import subprocess
import time

import pytest
from tap_stripe_testing import STREAM_KINDS, TAP, expected_ids, run_tap

MUTABLE = set(STREAM_KINDS) - {"balance_transactions", "events"}


def _run_until_killed(config: dict, tmp_path, kill_after_states: int) -> tuple[list[dict], dict]:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    proc = subprocess.Popen(
        [*TAP, "--config", str(path)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    messages: list[dict] = []
    states = 0
    assert proc.stdout is not None
    for line in proc.stdout:
        message = json.loads(line)
        messages.append(message)
        if message["type"] == "STATE":
            states += 1
            if states == kill_after_states:
                os.kill(proc.pid, signal.SIGKILL)
                break
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the tap finished before it could be killed"
    last_state = next(m["value"] for m in reversed(messages) if m["type"] == "STATE")
    return messages, last_state


@pytest.mark.reliability
@pytest.mark.parametrize("kill_after_states", [2, 40, 150, 300])
def test_killed_tap_resumes_without_loss_or_doubles(config, dataset, tmp_path, kill_after_states):
    config = {**config, "window_days": 7}
    before, state = _run_until_killed(config, tmp_path, kill_after_states)
    after = run_tap(config, tmp_path, state=state)
    assert after.returncode == 0, after.stderr[-3000:]

    for stream in STREAM_KINDS:
        first = [
            (m["record"]["account_id"], m["record"]["id"], m["record"]["created"])
            for m in before
            if m["type"] == "RECORD" and m["stream"] == stream
        ]
        second = [(r["account_id"], r["id"], r["created"]) for r in after.records(stream)]
        # Upserted by key, as every target does: nothing lost.
        landed = {(a, i) for a, i, _ in first} | {(a, i) for a, i, _ in second}
        if stream != "events":
            assert landed == expected_ids(dataset, stream), stream
        # What may be read again: the window in flight at the kill (created at or after
        # the bookmark); for mutable objects, those changed since (their events); and
        # everything when the bookmark is older than Stripe's 30 days of events.
        bookmarks = {
            p["context"]["account_id"]: dt.datetime.fromisoformat(p["replication_key_value"])
            for p in state["bookmarks"].get(stream, {}).get("partitions", [])
            if p.get("replication_key_value")
        }
        twice = collections.Counter((a, i) for a, i, _ in first) & collections.Counter(
            (a, i) for a, i, _ in second
        )
        created = {(a, i): c for a, i, c in first}
        horizon = time.time() - 30 * 86400
        for account, obj_id in twice:
            mark = bookmarks.get(account)
            assert mark is not None, f"{stream}: {obj_id} re-read though no bookmark was lost"
            if created[(account, obj_id)] >= mark.timestamp():
                continue
            if stream in MUTABLE and mark.timestamp() < horizon:
                assert "older than the 30 days Stripe keeps events" in after.stderr
                continue
            changed = [
                e
                for e in dataset.objects("event", account)
                if e["data"]["object"].get("id") == obj_id and e["created"] >= mark.timestamp()
            ]
            assert stream in MUTABLE, (stream, obj_id, "re-read without reason")
            assert changed, (stream, obj_id, "re-read without reason")
