"""One writer per dataset: a lock object at the dataset root.

Two runs writing one dataset at once (the same Meltano job started twice, or two
providers' jobs sharing an output_path) could each merge a partition without the other's
rows, or rewrite metadata.json without the other's columns. The lock serialises them:
the second run waits for the first (up to `lock_wait_seconds`), then gives up with a
transient error (exit 75: retry later).

Local folders create `_lock` with O_CREAT|O_EXCL; S3 with a conditional PUT
(If-None-Match: *). Either way exactly one run can create it. A lock whose holder is gone
is taken over: on the same host when its process no longer exists, anywhere when it is
older than `lock_stale_seconds` (a crashed run on another machine).
"""

from __future__ import annotations

import json
import os
import socket
import time
import typing as t
from datetime import UTC, datetime

from finfocus_common.errors import TransientError

if t.TYPE_CHECKING:
    from target_focus.storage import Storage

LOCK_PATH = "_lock"


class DatasetLock:
    def __init__(
        self, storage: Storage, run_id: str, *, wait_seconds: float, stale_seconds: float
    ) -> None:
        self.storage = storage
        self.run_id = run_id
        self.wait_seconds = wait_seconds
        self.stale_seconds = stale_seconds
        self.held = False

    def holder(self) -> dict[str, t.Any] | None:
        data = self.storage.read_bytes(LOCK_PATH)
        if data is None:
            return None
        try:
            holder = json.loads(data)
        except ValueError:
            return {}
        return holder if isinstance(holder, dict) else {}

    def acquire(self) -> None:
        if self.held:
            return
        body = json.dumps(
            {
                "run_id": self.run_id,
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "since": time.time(),
                "since_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        ).encode()
        deadline = time.monotonic() + self.wait_seconds
        while True:
            if self.storage.create_exclusive(LOCK_PATH, body):
                self.held = True
                # The lock is ours: a temporary file left now is a killed writer's.
                self.storage.remove_temporaries()
                return
            holder = self.holder()
            if holder is not None and self._is_stale(holder):
                self.storage.delete(LOCK_PATH)
                continue
            if time.monotonic() >= deadline:
                who = holder or {}
                raise TransientError(
                    f"dataset {self.storage.uri} is being written by another target-focus run "
                    f"({who.get('run_id', '?')} on {who.get('host', '?')}, pid "
                    f"{who.get('pid', '?')}, since {who.get('since_utc', '?')}); "
                    f"waited {self.wait_seconds:g}s, retry later"
                )
            time.sleep(min(1.0, max(0.05, deadline - time.monotonic())))

    def _is_stale(self, holder: dict[str, t.Any]) -> bool:
        since = holder.get("since")
        if not isinstance(since, int | float) or time.time() - since > self.stale_seconds:
            return True
        if holder.get("host") == socket.gethostname():
            pid = holder.get("pid")
            if pid == os.getpid():
                # A run of this process that never finished (an abandoned target object).
                return holder.get("run_id") != self.run_id
            return not _process_exists(pid)
        return False

    def release(self) -> None:
        if self.held:
            holder = self.holder()
            if holder is not None and holder.get("run_id") == self.run_id:
                self.storage.delete(LOCK_PATH)
            self.held = False


def _process_exists(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
