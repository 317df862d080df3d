"""mapper-focus: raw provider streams in, one FOCUS stream out (Singer inline mapper).

For each input stream the mapper finds a mapping (built-in per provider, or declared in
`mappings`). Mapped records become FOCUS rows on the `focus_stream` stream, keyed by
x_RowKey; the raw stream itself passes through only with `emit_raw`. Streams without a
mapping pass through or are dropped as `unmapped_streams` says, and the counts are logged
at the end. STATE messages pass through in order, after the rows they cover, so a target
never commits a bookmark ahead of the rows.

A record that cannot be mapped stops the run with one line naming stream, record and
column (`on_invalid: fail`), or goes to the `focus_quarantine` stream with its reason
(`on_invalid: quarantine`), which target-focus writes beside the dataset.
"""

from __future__ import annotations

import collections
import json
import sys
import typing as t

from finfocus_common.errors import ConfigError, PermanentError, run_cli
from focus_spec import DEFAULT_VERSION, SUPPORTED_VERSIONS, get_spec
from singer_sdk import typing as th
from singer_sdk.contrib.msgspec import MsgSpecReader, MsgSpecWriter
from singer_sdk.contrib.msgspec import encoder as singer_encoder
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.helpers._batch import SDKBatchMessage
from singer_sdk.mapper_base import InlineMapper
from singer_sdk.singerlib import (
    ActivateVersionMessage,
    RecordMessage,
    SchemaMessage,
    StateMessage,
)

from mapper_focus.declarative import compile_mapping
from mapper_focus.registry import (
    BatchMapping,
    Mapped,
    StreamMapping,
    builtin_batch_mappings,
    builtin_mappings,
    find_mapping,
)
from mapper_focus.rows import TRACE_COLUMNS, MappingError, RowShaper, row_key

if t.TYPE_CHECKING:
    from collections.abc import Iterable

    from singer_sdk.singerlib import Message

QUARANTINE_STREAM = "focus_quarantine"
DELIVERY_STREAM = "focus_deliveries"
DELIVERY_SCHEMA = {
    "type": "object",
    "properties": {
        "x_RowKey": {"type": ["string"]},
        "provider": {"type": ["string"]},
        "billing_period": {"type": ["string"], "description": "YYYY-MM"},
        "billing_account_ids": {"type": ["array"], "items": {"type": "string"}},
        "delivery_id": {"type": ["string"]},
        "scope": {
            "type": ["string", "null"],
            "description": "the export delivered (<export kind>:<export name>): its rows of "
            "the period are replaced, rows of other exports stay",
        },
        "mode": {
            "type": ["string", "null"],
            "description": "replace (a complete delivery), or merge (rows merged by x_RowKey: "
            "a window that does not cover its whole billing period)",
        },
        "row_count": {"type": ["integer", "null"]},
        "source": {"type": ["string", "null"]},
    },
}
QUARANTINE_SCHEMA = {
    "type": "object",
    "properties": {
        "x_RowKey": {"type": ["string"]},
        "x_SourceStream": {"type": ["string"]},
        "x_SourceRecordId": {"type": ["string", "null"]},
        "column": {"type": ["string", "null"]},
        "reason": {"type": ["string"]},
        "record": {"type": ["string"], "description": "the raw record, as JSON text"},
    },
}

ALL_SPEC_COLUMNS = frozenset(
    name for version in SUPPORTED_VERSIONS for name in get_spec(version).column_names
)


class UnmappableRecordError(PermanentError):
    """A raw record could not be mapped and the user asked to fail on it."""


class BytesReader(MsgSpecReader):
    """msgspec's reader on standard input's bytes (no text decoding of every line first),
    with a tighter dispatch loop than the SDK's (same checks, same counts)."""

    @property
    def default_input(self) -> t.IO[t.Any]:  # type: ignore[override]
        return sys.stdin.buffer

    def process_lines(
        self,
        file_input: t.IO[t.Any] | None,
        callbacks: dict[str, t.Callable[[dict], None]],
    ) -> collections.Counter[str]:
        stats: collections.Counter[str] = collections.Counter()
        decode = self.deserialize_json
        get_callback = callbacks.get
        for line in file_input or self.default_input:
            self._current_message = line
            message = decode(line)
            kind = message.get("type") if type(message) is dict else None
            if kind is None:
                self.assert_line_requires(message, requires={"type"})  # raises, as the SDK
            callback = get_callback(kind)  # type: ignore[arg-type]
            if callback is None:
                self._process_unknown_message(message)
            else:
                callback(message)
            stats[kind] += 1  # type: ignore[index]
        return stats


class Output:
    """Standard output in 64 KiB writes (it may be unbuffered: PYTHONUNBUFFERED, ``-u``).

    Every message goes through one buffer, in order. A STATE message (with the rows before
    it) is written at once, so a target never waits for a bookmark; the rest goes out when
    the buffer fills or the mapper ends.
    """

    LIMIT = 64 * 1024

    def __init__(self) -> None:
        self.pending = bytearray()

    def write(self, data: bytes | bytearray) -> None:
        self.pending += data
        if len(self.pending) >= self.LIMIT:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            sys.stdout.buffer.write(self.pending)
            self.pending.clear()
        sys.stdout.buffer.flush()


OUTPUT = Output()


class BufferedWriter(MsgSpecWriter):
    """msgspec's writer through ``OUTPUT``: no flush (a system call) per message."""

    def write_message(self, message: Message) -> None:
        OUTPUT.write(self.format_message(message))
        if isinstance(message, StateMessage):
            OUTPUT.flush()


class FocusMapper(InlineMapper):
    """Turn raw billing records from finfocus taps into FinOps FOCUS rows."""

    name = "mapper-focus"
    package_name = "finfocus-mapper-focus"
    message_reader_class = BytesReader  # reads JSON numbers as exact Decimal
    message_writer_class = BufferedWriter

    config_jsonschema = th.PropertiesList(
        th.Property(
            "focus_version",
            th.StringType,
            default=DEFAULT_VERSION,
            allowed_values=list(SUPPORTED_VERSIONS),
            description="FOCUS version of the rows emitted",
        ),
        th.Property(
            "focus_stream",
            th.StringType,
            default="focus_cost_and_usage",
            description="Name of the stream (and table) the FOCUS rows go to",
        ),
        th.Property(
            "emit_raw",
            th.BooleanType,
            default=False,
            description="Also pass every raw input stream through, beside the FOCUS stream",
        ),
        th.Property(
            "unmapped_streams",
            th.StringType,
            default="drop",
            allowed_values=["drop", "passthrough"],
            description="What to do with input streams no mapping recognises "
            "(their record counts are logged either way)",
        ),
        th.Property(
            "on_invalid",
            th.StringType,
            default="fail",
            allowed_values=["fail", "quarantine"],
            description="A record that cannot be mapped stops the run (fail) or goes to "
            "the focus_quarantine stream with its reason (quarantine)",
        ),
        th.Property(
            "mappings",
            th.ArrayType(
                th.ObjectType(
                    th.Property("stream", th.StringType, required=True),
                    th.Property("provider", th.StringType),
                    th.Property("record_id", th.StringType),
                    th.Property("required_properties", th.ArrayType(th.StringType)),
                    th.Property("columns", th.ObjectType(additional_properties=True)),
                )
            ),
            default=[],
            description="Declarative mappings for sources without built-in code: per "
            "stream, one expression per FOCUS column",
        ),
        th.Property(
            "batch_config",
            th.ObjectType(
                th.Property(
                    "encoding",
                    th.ObjectType(
                        th.Property("format", th.StringType, allowed_values=["parquet", "jsonl"]),
                        th.Property("compression", th.StringType, allowed_values=["gzip", "none"]),
                    ),
                ),
                th.Property(
                    "storage",
                    th.ObjectType(
                        th.Property("root", th.StringType),
                        th.Property("prefix", th.StringType),
                    ),
                ),
            ),
            description="Where and how FOCUS batch files are written when BATCH messages "
            "come in (the SDK's batch_config). Default: Parquet, beside the input files",
        ),
    ).to_dict()

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self.spec = get_spec(str(self.config.get("focus_version", DEFAULT_VERSION)))
        self.focus_stream = str(self.config.get("focus_stream", "focus_cost_and_usage"))
        self.emit_raw = bool(self.config.get("emit_raw", False))
        self.passthrough_unmapped = self.config.get("unmapped_streams", "drop") == "passthrough"
        self.quarantine = self.config.get("on_invalid", "fail") == "quarantine"
        try:
            declared = [compile_mapping(m) for m in self.config.get("mappings") or []]
        except Exception as exc:
            raise ConfigError(f"invalid config: mappings: {exc}") from None
        # Declared mappings first: a user can override a built-in one for a stream.
        self.mappings: list[StreamMapping] = [*declared, *builtin_mappings()]
        self.active: dict[str, StreamMapping] = {}
        self.passthrough: set[str] = set()
        self.custom_columns: dict[str, dict] = dict(TRACE_COLUMNS)
        self.shape = RowShaper(self.spec, ALL_SPEC_COLUMNS)
        self.raw_properties: dict[str, dict] = {}
        self.batch_mappings: dict[tuple[str, str], BatchMapping] | None = None
        self.quarantine_schema_sent = False
        self.delivery_schema_sent = False
        self.counts: dict[str, collections.Counter[str]] = collections.defaultdict(
            collections.Counter
        )
        self._buffer = bytearray(4096)

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        try:
            return super()._validate_config(raise_errors=raise_errors)
        except ConfigValidationError as exc:
            raise ConfigError("invalid config: " + "; ".join(exc.errors)) from None

    # --- schemas -------------------------------------------------------------------

    def focus_schema_message(self) -> SchemaMessage:
        return SchemaMessage(
            stream=self.focus_stream,
            schema=self.spec.json_schema(custom_columns=self.custom_columns),
            key_properties=["x_RowKey"],
        )

    def map_schema_message(self, message_dict: dict) -> Iterable[Message]:
        stream = message_dict["stream"]
        self.raw_properties[stream] = dict(
            (message_dict.get("schema") or {}).get("properties") or {}
        )
        mapping = find_mapping(self.mappings, stream, message_dict.get("schema") or {})
        if mapping is not None and mapping.control:
            self.active[stream] = mapping
            if not self.delivery_schema_sent:
                self.delivery_schema_sent = True
                yield SchemaMessage(DELIVERY_STREAM, DELIVERY_SCHEMA, ["x_RowKey"])
        elif mapping is not None:
            first = not any(not m.control for m in self.active.values())
            self.active[stream] = mapping
            new_columns = {
                name: schema
                for name, schema in mapping.custom_columns.items()
                if name not in self.custom_columns
            }
            self.custom_columns.update(new_columns)
            if first or new_columns:
                yield self.focus_schema_message()
        else:
            self.active.pop(stream, None)
        raw_out = self.emit_raw or (mapping is None and self.passthrough_unmapped)
        if raw_out:
            self.passthrough.add(stream)
            yield SchemaMessage.from_dict(message_dict)
        else:
            self.passthrough.discard(stream)

    # --- records -------------------------------------------------------------------

    def _process_record_message(self, message_dict: dict) -> None:
        """The hot path: FOCUS rows are encoded straight into RECORD lines (the same JSON
        ``RecordMessage(stream, record).to_dict()`` gives), without a message object each."""
        stream = message_dict["stream"]
        mapping = self.active.get(stream)
        if mapping is None or mapping.control or stream in self.passthrough:
            self._write_messages(self.map_record_message(message_dict))
            return
        counts = self.counts[stream]
        counts["in"] += 1
        try:
            shape, provider = self.shape, mapping.provider
            rows = [
                shape(row, stream, provider) for row in mapping.map_record(message_dict["record"])
            ]
        except MappingError as exc:
            if not self.quarantine:
                raise UnmappableRecordError(f"cannot map to FOCUS: {exc}") from None
            counts["quarantined"] += 1
            self._write_messages(self._quarantine(stream, message_dict["record"], exc))
            return
        counts["mapped"] += 1
        counts["rows"] += len(rows)
        write = OUTPUT.write
        encode, buffer, focus_stream = singer_encoder.encode_into, self._buffer, self.focus_stream
        for row in rows:
            encode({"type": "RECORD", "stream": focus_stream, "record": row}, buffer)
            buffer.extend(b"\n")
            write(buffer)

    def map_record_message(self, message_dict: dict) -> Iterable[Message]:
        stream = message_dict["stream"]
        counts = self.counts[stream]
        counts["in"] += 1
        mapping = self.active.get(stream)
        out: list[Message] = (
            self._map(mapping, stream, message_dict["record"], counts)
            if mapping is not None
            else []
        )
        if stream in self.passthrough:
            counts["passed"] += 1
            out.append(RecordMessage.from_dict(message_dict))
        elif mapping is None:
            counts["dropped"] += 1
        return out

    def _map(
        self,
        mapping: StreamMapping,
        stream: str,
        record: dict,
        counts: collections.Counter[str],
    ) -> list[Message]:
        try:
            if mapping.control:
                rows = list(mapping.map_record(record))
            else:
                shape, provider = self.shape, mapping.provider
                rows = [shape(row, stream, provider) for row in mapping.map_record(record)]
        except MappingError as exc:
            if not self.quarantine:
                raise UnmappableRecordError(f"cannot map to FOCUS: {exc}") from None
            counts["quarantined"] += 1
            return list(self._quarantine(stream, record, exc))
        counts["mapped"] += 1
        counts["rows"] += len(rows)
        out_stream = DELIVERY_STREAM if mapping.control else self.focus_stream
        return [RecordMessage(stream=out_stream, record=row) for row in rows]

    def _quarantine(self, stream: str, record: dict, exc: MappingError) -> Iterable[Message]:
        if not self.quarantine_schema_sent:
            self.quarantine_schema_sent = True
            yield SchemaMessage(QUARANTINE_STREAM, QUARANTINE_SCHEMA, ["x_RowKey"])
        raw = json.dumps(record, default=str, sort_keys=True)
        yield RecordMessage(
            stream=QUARANTINE_STREAM,
            record={
                "x_RowKey": row_key("quarantine", stream, exc.record_id, raw),
                "x_SourceStream": stream,
                "x_SourceRecordId": exc.record_id,
                "column": exc.column,
                "reason": exc.reason,
                "record": raw,
            },
        )

    # --- batches -------------------------------------------------------------------

    def map_batch_message(self, message_dict: dict) -> Iterable[Message]:
        """FOCUS batch files for a raw stream's batch files (see mapper_focus.batches).

        A stream with a vectorised mapping (CUR 2.0) is mapped column-wise with
        pyarrow.compute, the rows it leaves aside through the record mapping; any other
        mapped stream's rows are read and mapped one by one. The FOCUS rows are written to
        new batch files and announced by BATCH messages of the FOCUS stream; rows no batch
        column can hold as target-focus stores them go as RECORD messages, quarantined
        records as usual. A raw stream passes through (its BATCH message) with emit_raw.
        """
        from mapper_focus import batches

        stream = message_dict["stream"]
        encoding = dict(message_dict.get("encoding") or {})
        manifest = [str(url) for url in message_dict.get("manifest") or []]
        counts = self.counts[stream]
        mapping = self.active.get(stream)
        out: list[Message] = []
        if mapping is not None:
            for url in manifest:
                out.extend(self._map_batch_file(mapping, stream, url, encoding, counts))
        else:
            counts["in"] += sum(batches.count_rows(url, encoding) for url in manifest)
        if stream in self.passthrough:
            counts["passed"] += 1
            fields = ("stream", "encoding", "manifest", "version")
            out.append(SDKBatchMessage(**{k: message_dict[k] for k in fields if k in message_dict}))
        elif mapping is None:
            counts["dropped"] += 1
        return out

    def _batch_mapping(self, mapping: StreamMapping) -> BatchMapping | None:
        if self.batch_mappings is None:
            self.batch_mappings = builtin_batch_mappings()
        return self.batch_mappings.get((mapping.provider, mapping.stream))

    def _map_batch_file(
        self,
        mapping: StreamMapping,
        stream: str,
        url: str,
        encoding: dict[str, t.Any],
        counts: collections.Counter[str],
    ) -> list[Message]:
        import pyarrow as pa

        from mapper_focus import batches

        properties = self.raw_properties.get(stream, {})
        vectorised = None if mapping.control else self._batch_mapping(mapping)
        if str(encoding.get("format")) == "parquet":
            table = batches.read_parquet(url, vectorised.reads if vectorised else None)
            size = table.num_rows
            mapped = (
                vectorised.map_table(table)
                if vectorised is not None
                else Mapped({}, pa.array([], pa.int64()), list(range(size)))
            )
            records = []
            if mapped.fallback:
                # The record mapping reads any column of a record: give it all of them.
                full = table if vectorised is None else batches.read_parquet(url)
                records = batches.records_of(full.take(mapped.fallback), properties)
                del full
            del table
        else:
            records = batches.read_jsonl(url, encoding.get("compression"))
            size = len(records)
            mapped = Mapped({}, pa.array([], pa.int64()), list(range(size)))
        counts["in"] += size
        out: list[Message] = []
        if mapping.control:
            for record in records:
                out.extend(self._map(mapping, stream, record, counts))
            return out

        # Rows the vectorised mapping left aside: the record mapping, one by one.
        rows: list[dict] = []
        origins: list[int] = []
        shape, provider = self.shape, mapping.provider
        for position, record in zip(mapped.fallback, records, strict=True):
            try:
                shaped = [shape(row, stream, provider) for row in mapping.map_record(record)]
            except MappingError as exc:
                if not self.quarantine:
                    raise UnmappableRecordError(f"cannot map to FOCUS: {exc}") from None
                counts["quarantined"] += 1
                out.extend(self._quarantine(stream, record, exc))
                continue
            counts["mapped"] += 1
            counts["rows"] += len(shaped)
            rows.extend(shaped)
            origins.extend([position] * len(shaped))
        vector_rows = len(mapped.indices)
        counts["mapped"] += vector_rows
        counts["rows"] += vector_rows

        kinds = batches.focus_kinds(self.spec, self.custom_columns)
        if mapped.columns:
            columns = self.shape.columns(mapped.columns, stream, provider)
        elif rows:
            columns = list(rows[0])
        else:
            return out
        table, refused = batches.focus_table(
            mapped.columns,
            mapped.indices,
            provider,
            rows,
            origins,
            columns,
            kinds,
        )
        if table.num_rows:
            writer = batches.FocusBatchWriter(self.config.get("batch_config"), self.focus_stream)
            written = writer.write(table, kinds, near=url)
            out.append(
                SDKBatchMessage(
                    stream=written["stream"],
                    encoding=written["encoding"],
                    manifest=written["manifest"],
                )
            )
        out.extend(RecordMessage(stream=self.focus_stream, record=rows[i]) for i in refused)
        return out

    # --- state and versions --------------------------------------------------------

    def map_state_message(self, message_dict: dict) -> Iterable[Message]:
        yield StateMessage(value=message_dict["value"])

    def map_activate_version_message(self, message_dict: dict) -> Iterable[Message]:
        # A raw stream's full-table version applies to the raw table only.
        if message_dict["stream"] in self.passthrough:
            yield ActivateVersionMessage.from_dict(message_dict)

    def process_endofpipe(self) -> None:
        OUTPUT.flush()
        for stream, counts in sorted(self.counts.items()):
            self.logger.info(
                "%s: %d records in, %d mapped to %d FOCUS rows, %d quarantined, "
                "%d passed through, %d dropped (no mapping)",
                stream,
                counts["in"],
                counts["mapped"],
                counts["rows"],
                counts["quarantined"],
                counts["passed"],
                counts["dropped"],
            )


def main() -> None:
    """Console entry point: `mapper-focus`."""
    run_cli(FocusMapper.cli, "mapper-focus")


if __name__ == "__main__":
    main()
