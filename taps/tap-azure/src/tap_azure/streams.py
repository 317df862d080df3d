"""tap-azure streams: deliveries (the parent), cost_details and export_rows (its children).

`deliveries` walks a plan: every cost-details window (one calendar month, per metric) and
every export run (the newest of each export and billing month) the state does not already
hold. For each, the SDK first syncs the children (the one that owns the item reads its
rows), then writes the `deliveries` record, after the last row, with the row count and
the billing accounts seen; then the state remembers it. A run that stops half-way through a
window or a run reads it again next time; rows are keyed (delivery_id, blob, row_number), so
a re-read of the same delivery never doubles them.
"""

from __future__ import annotations

import copy
import datetime as dt
import typing as t
from dataclasses import dataclass

import singer_sdk.singerlib as singer
from singer_sdk import Stream
from singer_sdk import typing as th
from singer_sdk.helpers._util import utc_now
from singer_sdk.helpers.conform import TypeConformanceLevel

from tap_azure.client import METRIC_NAMES
from tap_azure.columns import (
    AGREEMENT_COLUMNS,
    BILLING_ACCOUNT_COLUMNS,
    DECIMAL_COLUMNS,
    FOCUS_COLUMNS,
    TAG_COLUMNS,
)
from tap_azure.rows import TagStats, read_rows
from tap_azure.storage import ExportRunInfo

if t.TYPE_CHECKING:
    from collections.abc import Iterable

    from singer_sdk.helpers.types import Context

STRING: dict[str, t.Any] = {"type": ["string", "null"]}


@dataclass(frozen=True)
class CostDetailsWindow:
    """One Cost Details request: a scope, a metric and dates [start, end) in one month."""

    scope: str
    metric: str  # actual | amortized
    start: dt.date
    end: dt.date  # exclusive
    complete: bool  # the window covers its whole billing month (to date)

    @property
    def billing_period(self) -> str:
        return f"{self.start.year:04d}-{self.start.month:02d}"

    @property
    def export_kind(self) -> str:
        return f"azure_{self.metric}"

    @property
    def export_name(self) -> str:
        return f"cost_details:{self.scope}"

    @property
    def state_key(self) -> str:
        return f"{self.scope}|{self.metric}"


def column_schema(name: str) -> dict[str, t.Any]:
    lower = name.lower()
    if lower in DECIMAL_COLUMNS:
        return {"type": ["number", "null"]}
    if lower in TAG_COLUMNS:
        return {"type": ["object", "string", "null"], "additionalProperties": True}
    return dict(STRING)


def rows_schema(base: dict[str, dict[str, t.Any]], columns: Iterable[str]) -> dict[str, t.Any]:
    properties = copy.deepcopy(base)
    for name in columns:
        properties.setdefault(name, column_schema(name))
    return {"type": "object", "properties": properties}


class DeliveriesStream(Stream):
    """One record per cost-details month or export run, written after its last row."""

    name = "deliveries"
    primary_keys: t.ClassVar[list[str]] = ["export_kind", "export_name", "billing_period"]
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE
    schema = th.PropertiesList(
        th.Property(
            "export_kind",
            th.StringType,
            required=True,
            description="azure_actual, azure_amortized or azure_focus",
        ),
        th.Property(
            "export_name",
            th.StringType,
            required=True,
            description="the export's name, or cost_details:<scope> for the Cost Details API",
        ),
        th.Property("billing_period", th.StringType, required=True, description="YYYY-MM"),
        th.Property(
            "delivery_id",
            th.StringType,
            required=True,
            description="the export run's runId, or the cost details report's id",
        ),
        th.Property("manifest_key", th.StringType),
        th.Property("files", th.ArrayType(th.StringType)),
        th.Property("row_count", th.IntegerType),
        th.Property("billing_account_ids", th.ArrayType(th.StringType)),
        th.Property("delivered_at", th.DateTimeType, description="when Azure produced the data"),
        th.Property("complete", th.BooleanType),
    ).to_dict()

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self.current: CostDetailsWindow | ExportRunInfo | None = None
        self.current_record: dict[str, t.Any] = {}

    @property
    def tap(self) -> t.Any:  # the TapAzure, typed loosely to avoid an import cycle
        return self._tap

    def delivered(self) -> dict[str, dict[str, t.Any]]:
        return t.cast("dict[str, dict[str, t.Any]]", self.stream_state.setdefault("delivered", {}))

    def cost_details_state(self) -> dict[str, dict[str, t.Any]]:
        return t.cast(
            "dict[str, dict[str, t.Any]]", self.stream_state.setdefault("cost_details", {})
        )

    def get_records(self, context: Context | None) -> Iterable[dict[str, t.Any]]:
        for item in self.tap.plan(self.stream_state):
            if isinstance(item, ExportRunInfo):
                done = self.delivered().get(item.state_key)
                if done and done.get("delivery_id") == item.run_id:
                    self.logger.info(
                        "%s %s unchanged (run %s already read)",
                        item.export_name,
                        item.billing_period,
                        item.run_id,
                    )
                    continue
                self.logger.info(
                    "Reading export %s (%s) %s run %s (%d files)",
                    item.export_name,
                    item.export_type,
                    item.billing_period,
                    item.run_id,
                    len(item.files),
                )
                record = self._record(
                    item.export_kind,
                    item.export_name,
                    item.billing_period,
                    item.run_id,
                    item.manifest_blob,
                    list(item.files),
                    item.delivered_at,
                    complete=True,
                )
            else:
                self.logger.info(
                    "Reading cost details %s %s..%s of %s",
                    METRIC_NAMES[item.metric],
                    item.start,
                    item.end,
                    item.scope,
                )
                record = self._record(
                    item.export_kind,
                    item.export_name,
                    item.billing_period,
                    "",
                    "",
                    [],
                    None,
                    complete=item.complete,
                )
            self.current, self.current_record = item, record
            yield record  # the SDK syncs the children (the rows), then writes this record
            if isinstance(item, ExportRunInfo):
                self.delivered()[item.state_key] = {
                    "delivery_id": item.run_id,
                    "manifest_key": item.manifest_blob,
                    "row_count": record["row_count"],
                }
            else:
                self.cost_details_state()[item.state_key] = {
                    "read_until": item.end.isoformat(),
                    "report_id": record["delivery_id"],
                    "billing_period": item.billing_period,
                    "row_count": record["row_count"],
                }
            self.state_manager.is_flushed = False
            self._write_state_message()
        self.current = None

    @staticmethod
    def _record(
        kind: str,
        name: str,
        period: str,
        delivery_id: str,
        manifest: str,
        files: list[str],
        delivered_at: str | None,
        *,
        complete: bool,
    ) -> dict[str, t.Any]:
        return {
            "export_kind": kind,
            "export_name": name,
            "billing_period": period,
            "delivery_id": delivery_id,
            "manifest_key": manifest,
            "files": files,
            "row_count": 0,
            "billing_account_ids": [],
            "delivered_at": delivered_at,
            "complete": complete,
        }

    def get_child_context(self, record: dict, context: Context | None) -> dict:
        return {key: record[key] for key in ("export_kind", "export_name", "billing_period")}

    def count_row(self, row: dict[str, t.Any]) -> None:
        record = self.current_record
        record["row_count"] += 1
        for column in BILLING_ACCOUNT_COLUMNS:
            account = row.get(column)
            if account is not None:
                if account not in record["billing_account_ids"]:
                    record["billing_account_ids"].append(str(account))
                break


class AzureRowsStream(Stream):
    """Rows of Microsoft's cost files, columns as Microsoft names them, values exact."""

    parent_stream_type = DeliveriesStream
    primary_keys: t.ClassVar[list[str]] = ["delivery_id", "blob", "row_number"]
    state_partitioning_keys: t.ClassVar[list[str]] = []  # state lives in `deliveries`
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE  # values are typed when read
    base_properties: t.ClassVar[dict[str, dict[str, t.Any]]] = {}
    _deselected: bool | None = None

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._seen_columns: set[str] = set()
        self.tag_stats = TagStats()

    @property
    def tap(self) -> t.Any:
        return self._tap

    @property
    def parent(self) -> DeliveriesStream:
        return t.cast("DeliveriesStream", self.tap.streams["deliveries"])

    def _generate_record_messages(
        self, record: dict[str, t.Any]
    ) -> t.Generator[singer.RecordMessage, None, None]:
        """The SDK's, minus its per-record walk of the selection mask when nothing is
        deselected (the walk recurses into every Tags object)."""
        if self._deselected is None:
            self._deselected = any(selected is False for selected in self.mask.values())
        if self._deselected:
            yield from super()._generate_record_messages(record)
            return
        for stream_map in self.stream_maps:
            mapped = stream_map.transform(record)
            if mapped is not None:
                yield singer.RecordMessage(
                    stream=stream_map.stream_alias,
                    record=mapped,
                    version=self._stream_version,
                    time_extracted=utc_now(),
                )

    def add_columns(self, header: list[str]) -> None:
        """Make the schema follow a file's header: add new columns (a new SCHEMA message),
        drop declared columns the data spells differently (EA `Tags` vs MCA `tags`)."""
        properties = self.schema["properties"]
        spelled = {name.lower(): name for name in header}
        new = [name for name in header if name not in properties]
        drop = [
            name
            for name in properties
            if name not in self.base_properties
            and name not in self._seen_columns
            and spelled.get(name.lower(), name) != name
        ]
        self._seen_columns.update(header)
        if not new and not drop:
            return
        if new:
            self.logger.info("%s: columns %s join the schema", self.name, new)
        schema = copy.deepcopy(self.schema)
        for name in drop:
            schema["properties"].pop(name, None)
        for name in new:
            schema["properties"][name] = column_schema(name)
        self._schema = schema
        # The SDK's stream maps hold their own copy of the schema: register the new one.
        self._tap.mapper.stream_maps.pop(self.name, None)
        self._tap.mapper.register_raw_stream_schema(self.name, schema, self.primary_keys)
        self._stream_maps = None
        if self.selected:
            self._write_schema_message()

    def log_tags(self) -> None:
        stats = self.tag_stats
        if stats.unparsed:
            self.logger.warning(
                "%s: %d rows had Tags that are not a JSON object; kept as text (first: %s)",
                self.name,
                stats.unparsed,
                stats.example_where,
            )


class CostDetailsStream(AzureRowsStream):
    """Cost Details API rows (EA or MCA cost and usage details columns) with their origin."""

    name = "cost_details"
    base_properties: t.ClassVar[dict[str, dict[str, t.Any]]] = {
        "metric": {"type": ["string"], "description": "actual or amortized"},
        "scope": {"type": ["string"]},
        "window_start": {"type": ["string"], "format": "date"},
        "window_end": {"type": ["string"], "format": "date", "description": "exclusive"},
        "report_id": {"type": ["string"]},
        "delivery_id": {"type": ["string"], "description": "== report_id"},
        "billing_period": {"type": ["string"], "description": "YYYY-MM"},
        "blob": {"type": ["string"], "description": "the report blob's URL, without its SAS"},
        "row_number": {"type": ["integer"], "description": "1-based within the blob"},
    }

    def get_records(self, context: Context | None) -> Iterable[dict[str, t.Any]]:
        parent = self.parent
        item = parent.current
        if not isinstance(item, CostDetailsWindow):
            return
        api = self.tap.cost_details_api
        report = api.generate(item.metric, item.start, item.end - dt.timedelta(days=1))
        record = parent.current_record
        if report is None:
            record["delivery_id"] = f"no-data:{item.metric}:{item.start}:{item.end}"
            record["delivered_at"] = utc_now().strftime("%Y-%m-%dT%H:%M:%SZ")
            return
        blobs = [url.split("?", 1)[0] for url, _ in report.blobs]
        record.update(
            delivery_id=report.id,
            manifest_key=report.operation,
            files=blobs,
            delivered_at=report.completed_at,
        )
        window = {
            "metric": item.metric,
            "scope": item.scope,
            "window_start": item.start.isoformat(),
            "window_end": item.end.isoformat(),
            "report_id": report.id,
            "delivery_id": report.id,
            "billing_period": item.billing_period,
        }
        for (url, size), blob in zip(report.blobs, blobs, strict=True):
            with api.open_blob(url, size) as handle:
                rows = read_rows(handle, blob, stats=self.tag_stats, on_header=self.add_columns)
                for number, row in enumerate(rows, start=1):
                    parent.count_row(row)
                    row.update(window)
                    row["blob"] = blob
                    row["row_number"] = number
                    yield row
        self.log_tags()


class ExportRowsStream(AzureRowsStream):
    """Rows of ActualCost, AmortizedCost and FocusCost exports, newest run per month."""

    name = "export_rows"
    base_properties: t.ClassVar[dict[str, dict[str, t.Any]]] = {
        "export_kind": {
            "type": ["string"],
            "description": "azure_actual, azure_amortized, azure_focus",
        },
        "export_name": {"type": ["string"]},
        "billing_period": {"type": ["string"], "description": "YYYY-MM"},
        "delivery_id": {"type": ["string"], "description": "the run's runId"},
        "blob": {"type": ["string"], "description": "the data file's blob name"},
        "row_number": {"type": ["integer"], "description": "1-based within the blob"},
    }

    def get_records(self, context: Context | None) -> Iterable[dict[str, t.Any]]:
        parent = self.parent
        run = parent.current
        if not isinstance(run, ExportRunInfo):
            return
        exports = self.tap.exports
        origin = {
            "export_kind": run.export_kind,
            "export_name": run.export_name,
            "billing_period": run.billing_period,
            "delivery_id": run.run_id,
        }
        for name in run.files:
            with exports.open(name) as handle:
                rows = read_rows(
                    handle,
                    exports._url(name),
                    gzipped=name.endswith(".gz"),
                    stats=self.tag_stats,
                    on_header=self.add_columns,
                )
                for number, row in enumerate(rows, start=1):
                    parent.count_row(row)
                    row.update(origin)
                    row["blob"] = name
                    row["row_number"] = number
                    yield row
        self.log_tags()


def cost_details_schema(agreement: str) -> dict[str, t.Any]:
    return rows_schema(CostDetailsStream.base_properties, AGREEMENT_COLUMNS[agreement])


def export_rows_schema(agreement: str) -> dict[str, t.Any]:
    """Cost details columns of the agreement and FOCUS columns; where two differ only by
    case (MCA `tags`, FOCUS `Tags`) the FOCUS spelling is declared, the data decides later."""
    focus = {name.lower() for name in FOCUS_COLUMNS}
    own = [name for name in AGREEMENT_COLUMNS[agreement] if name.lower() not in focus]
    return rows_schema(ExportRowsStream.base_properties, (*own, *FOCUS_COLUMNS))


__all__ = [
    "CostDetailsStream",
    "CostDetailsWindow",
    "DeliveriesStream",
    "ExportRowsStream",
    "cost_details_schema",
    "export_rows_schema",
]
