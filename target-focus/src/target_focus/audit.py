"""What a run did: the audit record (one JSON object per run) and the quarantine file."""

from __future__ import annotations

import dataclasses
import os
import tempfile
import typing as t
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import msgspec

from target_focus.storage import copy_into

if t.TYPE_CHECKING:
    import io

    from target_focus.dataset import Merged, PartitionKey
    from target_focus.storage import Storage

AUDIT_FOLDER = "_audit"
QUARANTINE_FOLDER = "quarantine"

_ENCODER = msgspec.json.Encoder(decimal_format="number", enc_hook=str)
_DECODER = msgspec.json.Decoder(float_hook=Decimal)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclasses.dataclass
class PartitionAudit:
    """One partition this run wrote; several commits of one run add up."""

    path: str
    provider: str
    billing_account_id: str
    billing_period: str
    action: str  # "created" or "replaced"
    rows_before: int  # in the file before this run's first commit to it
    rows_after: int  # in the file after this run's last commit to it
    rows_written: int = 0  # rows of this run written to it
    rows_replaced: int = 0  # rows of the file replaced by a new version of the same key
    commits: int = 0


class RunAudit:
    """Counts and partitions of one run; becomes ``_audit/<UTC start>-<run_id>.json``."""

    def __init__(
        self,
        *,
        run_id: str,
        generator: str,
        focus_version: str,
        file_format: str,
        on_invalid: str,
        output_path: str,
    ) -> None:
        self.run_id = run_id
        self.started_at = datetime.now(UTC)
        self.generator = generator
        self.focus_version = focus_version
        self.file_format = file_format
        self.on_invalid = on_invalid
        self.output_path = output_path
        self.rows_in = 0
        self.rows_written = 0
        self.rows_quarantined = 0
        self.rows_superseded = 0
        self.rows_rejected = 0
        self.mapper_quarantined = 0
        self.providers: set[str] = set()
        self.focus_streams: dict[str, int] = {}
        self.ignored_streams: dict[str, int] = {}
        self.partitions: dict[str, PartitionAudit] = {}
        self.quarantine_file: str | None = None
        self.deliveries: list[dict[str, t.Any]] = []  # periods replaced by a new delivery
        self.deliveries_pending: list[str] = []  # staged, not completed by the end
        self.status: str | None = None

    @property
    def finished(self) -> bool:
        return self.status is not None

    @property
    def relpath(self) -> str:
        stamp = self.started_at.strftime("%Y%m%dT%H%M%S.%fZ")  # sorts in start order
        return f"{AUDIT_FOLDER}/{stamp}-{self.run_id}.json"

    def partition_committed(
        self, key: PartitionKey, relpath: str, merged: Merged, rows_written: int
    ) -> None:
        entry = self.partitions.get(relpath)
        if entry is None:
            entry = self.partitions[relpath] = PartitionAudit(
                path=relpath,
                provider=key.provider,
                billing_account_id=key.billing_account_id,
                billing_period=key.billing_period,
                action="replaced" if merged.rows_before else "created",
                rows_before=merged.rows_before,
                rows_after=merged.rows_after,
            )
        entry.rows_after = merged.rows_after
        entry.rows_written += rows_written
        entry.rows_replaced += merged.rows_replaced
        entry.commits += 1
        self.rows_written += rows_written

    def delivery_promoted(
        self,
        key: PartitionKey,
        relpath: str,
        delivery_id: str,
        before: int,
        after: int,
        *,
        scope: str | None = None,
        mode: str | None = None,
    ) -> None:
        entry: dict[str, t.Any] = {
            "path": relpath,
            "provider": key.provider,
            "billing_account_id": key.billing_account_id,
            "billing_period": key.billing_period,
            "delivery_id": delivery_id,
            "rows_before": before,
            "rows_after": after,
        }
        if scope is not None:
            entry["scope"] = scope  # the export whose rows were replaced
        if mode is not None:
            entry["mode"] = mode
        self.deliveries.append(entry)

    def record(self, status: str, error: str | None = None) -> dict[str, t.Any]:
        finished = datetime.now(UTC)
        partitions = [dataclasses.asdict(self.partitions[p]) for p in sorted(self.partitions)]
        return {
            "run_id": self.run_id,
            "status": status,
            "error": error,
            "started_at": iso(self.started_at),
            "finished_at": iso(finished),
            "duration_seconds": round((finished - self.started_at).total_seconds(), 3),
            "data_generator": self.generator,
            "meltano_run_id": os.environ.get("MELTANO_RUN_ID"),
            "output_path": self.output_path,
            "focus_version": self.focus_version,
            "format": self.file_format,
            "on_invalid": self.on_invalid,
            "providers": sorted(self.providers),
            "billing_periods": sorted({p["billing_period"] for p in partitions}),
            "rows": {
                "in": self.rows_in,
                "written": self.rows_written,
                "quarantined": self.rows_quarantined,
                "superseded_in_run": self.rows_superseded,
                "rejected": self.rows_rejected,
                "pending": self.rows_pending,
                "mapper_quarantined": self.mapper_quarantined,
            },
            "partitions": partitions,
            "partitions_created": sum(p["action"] == "created" for p in partitions),
            "partitions_replaced": sum(p["action"] == "replaced" for p in partitions),
            "focus_streams": dict(sorted(self.focus_streams.items())),
            "ignored_streams": dict(sorted(self.ignored_streams.items())),
            "quarantine_file": self.quarantine_file,
            "deliveries_replaced": self.deliveries,
            "deliveries_pending": self.deliveries_pending,
        }

    @property
    def rows_pending(self) -> int:
        """Valid rows received but not committed (non-zero only when a run fails)."""
        return (
            self.rows_in
            - self.rows_written
            - self.rows_quarantined
            - self.rows_superseded
            - self.rows_rejected
        )

    def summary(self, status: str, where: str) -> str:
        ignored = ", ".join(
            f"{name}={count}" for name, count in sorted(self.ignored_streams.items())
        )
        created = sum(p.action == "created" for p in self.partitions.values())
        unfinished = ""
        if self.rows_rejected or self.rows_pending:
            unfinished = (
                f", {self.rows_rejected} rejected, {self.rows_pending} not committed "
                "(they will be re-delivered from the last STATE)"
            )
        return (
            f"target-focus run {self.run_id} {status}: {self.rows_in} FOCUS rows in, "
            f"{self.rows_written} written, {self.rows_quarantined} quarantined, "
            f"{self.rows_superseded} superseded by a later row with the same x_RowKey"
            f"{unfinished}; "
            f"{self.mapper_quarantined} quarantined by the mapper; "
            f"{len(self.partitions)} partitions ({created} created, "
            f"{len(self.partitions) - created} replaced); "
            f"ignored streams: {ignored or 'none'}; audit: {where}"
        )

    def write(self, storage: Storage, status: str, error: str | None = None) -> str:
        """Write the audit record once; returns where it went."""
        self.status = status
        record = self.record(status, error)
        storage.write_bytes(self.relpath, msgspec.json.format(_ENCODER.encode(record), indent=2))
        return storage.describe(self.relpath)


class QuarantineLog:
    """Rows that were not written, with their reasons: ``quarantine/<run_id>.jsonl``.

    Lines are spooled to a local temporary file and the whole file is published
    atomically at every commit (object stores cannot append), so memory stays flat.
    """

    def __init__(self, storage: Storage, run_id: str) -> None:
        self.storage = storage
        self.relpath = f"{QUARANTINE_FOLDER}/{run_id}.jsonl"
        self.count = 0
        self._spool: io.BufferedWriter | None = None
        self._spool_path: Path | None = None
        self._dirty = False

    def add(self, entry: dict[str, t.Any]) -> None:
        if self._spool is None:
            descriptor, name = tempfile.mkstemp(prefix="target-focus-quarantine-", suffix=".jsonl")
            self._spool_path = Path(name)
            self._spool = open(descriptor, "wb")  # noqa: SIM115 - closed in close()
        self._spool.write(_ENCODER.encode(entry) + b"\n")
        self.count += 1
        self._dirty = True

    def publish(self) -> str | None:
        """Make every line added so far visible at the quarantine path (if any were added)."""
        if self._spool is None or self._spool_path is None:
            return None
        if self._dirty:
            self._spool.flush()
            self.storage.write_atomic(self.relpath, copy_into(self._spool_path))
            self._dirty = False
        return self.relpath

    def close(self) -> None:
        if self._spool is not None:
            self._spool.close()
            self._spool = None
        if self._spool_path is not None:
            self._spool_path.unlink(missing_ok=True)


def parse_json_text(text: t.Any) -> t.Any:
    """A mapper's ``record`` JSON text as an object (numbers exact); other values as given."""
    if not isinstance(text, str):
        return text
    try:
        return _DECODER.decode(text)
    except msgspec.DecodeError:
        return text
