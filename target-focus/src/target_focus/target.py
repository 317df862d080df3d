"""target-focus: a Singer target that writes validated FinOps FOCUS datasets.

Config and sink selection live here; sinks.py validates, stages and commits rows;
dataset.py knows the files; storage.py knows where they go (local folder or S3).
"""

from __future__ import annotations

import logging
import typing as t
import uuid

from finfocus_common.errors import ConfigError, PermanentError, describe, run_cli
from focus_spec import DEFAULT_VERSION, SUPPORTED_VERSIONS, FocusSpec, get_spec
from singer_sdk import typing as th
from singer_sdk.contrib.msgspec import MsgSpecReader
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.helpers.capabilities import PluginCapabilities
from singer_sdk.target_base import Target

from target_focus.audit import QuarantineLog, RunAudit
from target_focus.dataset import COMPRESSIONS, FORMATS, ROW_KEY, Dataset
from target_focus.lock import DatasetLock
from target_focus.sinks import (
    DEFAULT_BATCH_ROWS,
    DeliverySink,
    FocusSink,
    IgnoredSink,
    QuarantineSink,
)
from target_focus.storage import Storage, open_storage

if t.TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from singer_sdk.sinks import Sink

DEFAULT_FOCUS_STREAM = "focus_cost_and_usage"
QUARANTINE_STREAM = "focus_quarantine"
DELIVERY_STREAM = "focus_deliveries"

logger = logging.getLogger("target-focus")


class Run:
    """One run of the target: the dataset it writes, its audit record and quarantine file."""

    def __init__(self, config: Mapping[str, t.Any], generator: str) -> None:
        output_path = str(config.get("output_path") or "")
        if not output_path:
            raise PermanentError("invalid config: output_path is required")
        self.run_id = uuid.uuid4().hex
        self.spec: FocusSpec = get_spec(str(config.get("focus_version") or DEFAULT_VERSION))
        self.file_format = str(config.get("format") or "parquet")
        self.on_invalid = str(config.get("on_invalid") or "fail")
        self.storage: Storage = open_storage(
            output_path,
            s3_endpoint_url=config.get("s3_endpoint_url"),
            s3_region=config.get("s3_region"),
        )
        self.dataset = Dataset(
            self.storage,
            self.spec,
            file_format=self.file_format,
            compression=str(config.get("parquet_compression") or "zstd"),
            generator=generator,
            run_id=self.run_id,
        )
        self.audit = RunAudit(
            run_id=self.run_id,
            generator=generator,
            focus_version=self.spec.version,
            file_format=self.file_format,
            on_invalid=self.on_invalid,
            output_path=self.storage.uri,
        )
        self.lock = DatasetLock(
            self.storage,
            self.run_id,
            wait_seconds=float(config.get("lock_wait_seconds", 600)),
            stale_seconds=float(config.get("lock_stale_seconds", 6 * 3600)),
        )
        self.dataset.before_write = self.lock.acquire
        self.quarantine = QuarantineLog(self.storage, self.run_id)
        self._warned: set[str] = set()
        # (partition, delivery) staged this run and not yet completed by a delivery record
        self.pending_deliveries: set[tuple[t.Any, str | None]] = set()

    def ignore_stream(self, stream: str, log: logging.Logger) -> None:
        self.audit.ignored_streams.setdefault(stream, 0)
        if stream not in self._warned:
            self._warned.add(stream)
            log.warning(
                "Stream '%s' is not a FOCUS stream (it needs key_properties [\"x_RowKey\"] "
                "and a BilledCost column): its records are not written, only counted in the "
                "audit record",
                stream,
            )

    def publish_quarantine(self) -> None:
        self.audit.quarantine_file = self.quarantine.publish()

    def finish(self, status: str, error: str | None = None) -> None:
        """Write the audit record (once) and log the one-line summary."""
        if self.audit.finished:
            return
        try:
            self.publish_quarantine()
            if self.pending_deliveries:
                pending = sorted(f"{k.folder} delivery {d}" for k, d in self.pending_deliveries)
                self.audit.deliveries_pending = pending
                logger.warning(
                    "%d staged deliveries were not completed in this run (their periods keep "
                    "the previous data until a delivery record arrives): %s",
                    len(pending),
                    "; ".join(pending[:5]),
                )
            if status == "succeeded":
                self.dataset.write_metadata()  # updated every run
        except Exception as exc:
            status, error = "failed", describe(exc)
            raise
        finally:
            self.lock.release()
            where = self.audit.write(self.storage, status, error)
            self.quarantine.close()
            summary = self.audit.summary(status, where)
            if status == "succeeded":
                logger.info(summary)
            else:
                logger.error(summary)

    def fail(self, exc: BaseException) -> None:
        """Record a failed run; never hides the original error."""
        try:
            self.finish("failed", describe(exc))
        except Exception as audit_error:
            logger.warning("could not write the audit record of the failed run: %s", audit_error)


class TargetFocus(Target):
    """Write validated FinOps FOCUS datasets (Parquet or CSV) to a folder or S3."""

    name = "target-focus"
    package_name = "finfocus-target-focus"
    default_sink_class = IgnoredSink
    message_reader_class = MsgSpecReader  # JSON numbers become exact Decimal, never float

    # No FLATTENING (it would split the JSON columns) and no VALIDATE_RECORDS (FOCUS rules
    # replace the JSON-schema validation).
    capabilities: t.ClassVar = [
        PluginCapabilities.ABOUT,
        PluginCapabilities.STREAM_MAPS,
        PluginCapabilities.STRUCTURED_LOGGING,
        PluginCapabilities.BATCH,  # FOCUS rows in Parquet (or JSONL) batch files
    ]

    config_jsonschema = th.PropertiesList(
        th.Property(
            "output_path",
            th.StringType,
            required=True,
            title="Output path",
            description="Dataset root: a local folder or s3://bucket/prefix",
        ),
        th.Property(
            "format",
            th.StringType,
            default="parquet",
            allowed_values=list(FORMATS),
            description="File format of the data files",
        ),
        th.Property(
            "focus_version",
            th.StringType,
            default=DEFAULT_VERSION,
            allowed_values=list(SUPPORTED_VERSIONS),
            description="FOCUS version of the dataset (must match mapper-focus)",
        ),
        th.Property(
            "on_invalid",
            th.StringType,
            default="fail",
            allowed_values=["fail", "quarantine"],
            description="A row that breaks a FOCUS rule stops the run (fail) or goes to "
            "quarantine/<run_id>.jsonl with its reasons (quarantine)",
        ),
        th.Property(
            "s3_endpoint_url",
            th.StringType,
            description="S3 endpoint for S3-compatible stores (MinIO, Ceph, moto); default: AWS",
        ),
        th.Property(
            "s3_region",
            th.StringType,
            description="S3 region; default: the AWS configuration (AWS_REGION, profile)",
        ),
        th.Property(
            "parquet_compression",
            th.StringType,
            default="zstd",
            allowed_values=list(COMPRESSIONS),
            description="Compression codec of Parquet files",
        ),
        th.Property(
            "batch_size_rows",
            th.IntegerType,
            default=DEFAULT_BATCH_ROWS,
            description="Rows per commit: touched partitions are rewritten (and STATE "
            "emitted) at most every this many rows, every 5 minutes and at the end",
        ),
        th.Property(
            "lock_wait_seconds",
            th.NumberType,
            default=600,
            description="How long to wait for another run writing the same dataset before "
            "giving up with exit 75 (retry later)",
        ),
        th.Property(
            "lock_stale_seconds",
            th.NumberType,
            default=6 * 3600,
            description="Age after which a lock whose holder cannot be checked (another "
            "host) is taken over",
        ),
        th.Property(
            "load_method",
            th.StringType,
            default="upsert",
            allowed_values=["upsert"],
            description="Always upsert: rows replace the partition's rows with the same x_RowKey",
        ),
        th.Property(
            "add_record_metadata",
            th.BooleanType,
            default=False,
            allowed_values=[False],
            description="Not supported (FOCUS datasets take x_ custom columns only)",
        ),
    ).to_dict()

    _current: t.ClassVar[TargetFocus | None] = None

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        # One sink drains at a time: sinks share partitions and the quarantine file.
        self.max_parallelism = 1
        self._stream_kinds: dict[str, type[Sink]] = {}
        self.run = Run(self.config, f"finfocus target-focus {self.plugin_version}")
        self._full_drain = False
        TargetFocus._current = self

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        try:
            return super()._validate_config(raise_errors=raise_errors)
        except ConfigValidationError as exc:
            raise ConfigError("invalid config: " + "; ".join(exc.errors)) from None

    def drain_one(self, sink: Sink) -> None:  # type: ignore[misc]  # final in the SDK
        """Every drain commits every sink, then emits the latest STATE.

        The SDK drains a full sink alone and emits STATE only on a full drain (end of input,
        every 5 minutes). A full drain instead means each commit is followed by the STATE it
        covers, so a crashed run resumes from its last commit, not from its start; the
        STATE still never covers an uncommitted row (it was received before them all).
        """
        if self._full_drain:
            super().drain_one(sink)
        else:
            self.drain_all()

    def drain_all(self, *, is_endofpipe: bool = False) -> None:  # type: ignore[misc]
        outer, self._full_drain = self._full_drain, True
        try:
            super().drain_all(is_endofpipe=is_endofpipe)
        finally:
            self._full_drain = outer

    def get_sink(
        self,
        stream_name: str,
        *,
        record: dict | None = None,
        schema: dict | None = None,
        key_properties: Sequence[str] | None = None,
    ) -> Sink:
        if schema is not None:
            self._stream_kinds[stream_name] = self.sink_class_for(
                stream_name, schema, key_properties
            )
            if self.sink_exists(stream_name):
                # The SDK replaces a sink whose schema changed and drains the old one
                # later. Commit the old one's rows now, so a row re-sent after the
                # change still wins over its earlier version.
                self.drain_one(super().get_sink(stream_name))
        return super().get_sink(
            stream_name, record=record, schema=schema, key_properties=key_properties
        )

    def get_sink_class(self, stream_name: str) -> type[Sink]:
        return self._stream_kinds.get(stream_name, IgnoredSink)

    @staticmethod
    def sink_class_for(
        stream_name: str, schema: Mapping[str, t.Any], key_properties: Sequence[str] | None
    ) -> type[Sink]:
        """FOCUS stream, the mapper's quarantine stream, or a stream to count and ignore."""
        properties = schema.get("properties") or {}
        if stream_name == QUARANTINE_STREAM:
            return QuarantineSink
        if stream_name == DELIVERY_STREAM:
            return DeliverySink
        if list(key_properties or []) == [ROW_KEY] and "BilledCost" in properties:
            return FocusSink
        if stream_name == DEFAULT_FOCUS_STREAM:
            raise PermanentError(
                f"stream {stream_name} is not a FOCUS stream: it needs "
                f'key_properties ["{ROW_KEY}"] and a BilledCost column'
            )
        return IgnoredSink

    def process_endofpipe(self) -> None:
        super().process_endofpipe()  # final drain: commit everything, then STATE
        self.run.finish("succeeded")

    @classmethod
    def invoke(cls, **kwargs: t.Any) -> None:
        try:
            super().invoke(**kwargs)
        except Exception as exc:
            if cls._current is not None:
                cls._current.run.fail(exc)
            raise

    def _handle_termination(self, signum: int, frame: t.Any) -> None:  # pragma: no cover
        try:
            super()._handle_termination(signum, frame)  # drains, then exits 0
        except SystemExit:
            self.run.finish("interrupted", f"terminated by signal {signum}")
            raise
        except Exception as exc:
            self.run.fail(exc)
            raise


def main() -> None:
    """Console entry point: ``target-focus``."""
    run_cli(TargetFocus.cli, "target-focus")


if __name__ == "__main__":
    main()
