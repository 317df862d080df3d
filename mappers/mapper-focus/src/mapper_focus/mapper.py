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
import typing as t

from finfocus_common.errors import ConfigError, PermanentError, run_cli
from focus_spec import DEFAULT_VERSION, SUPPORTED_VERSIONS, get_spec
from singer_sdk import typing as th
from singer_sdk.contrib.msgspec import MsgSpecReader, MsgSpecWriter
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.mapper_base import InlineMapper
from singer_sdk.singerlib import (
    ActivateVersionMessage,
    RecordMessage,
    SchemaMessage,
    StateMessage,
)

from mapper_focus.declarative import compile_mapping
from mapper_focus.registry import StreamMapping, builtin_mappings, find_mapping
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


class FocusMapper(InlineMapper):
    """Turn raw billing records from finfocus taps into FinOps FOCUS rows."""

    name = "mapper-focus"
    package_name = "finfocus-mapper-focus"
    message_reader_class = MsgSpecReader  # reads JSON numbers as exact Decimal
    message_writer_class = MsgSpecWriter

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
        self.quarantine_schema_sent = False
        self.delivery_schema_sent = False
        self.counts: dict[str, collections.Counter[str]] = collections.defaultdict(
            collections.Counter
        )

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

    def map_record_message(self, message_dict: dict) -> Iterable[Message]:
        stream = message_dict["stream"]
        record = message_dict["record"]
        counts = self.counts[stream]
        counts["in"] += 1
        mapping = self.active.get(stream)
        if mapping is not None:
            yield from self._map(mapping, stream, record, counts)
        if stream in self.passthrough:
            counts["passed"] += 1
            yield RecordMessage.from_dict(message_dict)
        elif mapping is None:
            counts["dropped"] += 1

    def _map(
        self,
        mapping: StreamMapping,
        stream: str,
        record: dict,
        counts: collections.Counter[str],
    ) -> Iterable[Message]:
        try:
            if mapping.control:
                rows = list(mapping.map_record(record))
            else:
                rows = [
                    self.shape(row, stream, mapping.provider) for row in mapping.map_record(record)
                ]
        except MappingError as exc:
            if not self.quarantine:
                raise UnmappableRecordError(f"cannot map to FOCUS: {exc}") from None
            counts["quarantined"] += 1
            yield from self._quarantine(stream, record, exc)
            return
        counts["mapped"] += 1
        counts["rows"] += len(rows)
        out_stream = DELIVERY_STREAM if mapping.control else self.focus_stream
        for row in rows:
            yield RecordMessage(stream=out_stream, record=row)

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

    # --- state and versions --------------------------------------------------------

    def map_state_message(self, message_dict: dict) -> Iterable[Message]:
        yield StateMessage(value=message_dict["value"])

    def map_activate_version_message(self, message_dict: dict) -> Iterable[Message]:
        # A raw stream's full-table version applies to the raw table only.
        if message_dict["stream"] in self.passthrough:
            yield ActivateVersionMessage.from_dict(message_dict)

    def process_endofpipe(self) -> None:
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
