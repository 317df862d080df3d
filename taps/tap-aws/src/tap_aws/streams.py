"""tap-aws streams: deliveries (the parent) and the line items of each export kind.

`deliveries` walks the latest delivery of every billing period in range. Each delivery
the state does not already hold is handed to its line-item stream (a child stream, so
its rows are emitted first); then the delivery record is written, with the row count
and payer accounts seen, and the state remembers the period's delivery id. A period
whose manifest still names the same delivery id is skipped; a restated one (new id) is
read again in full. A run that stops half-way through a delivery re-reads it next time:
rows are keyed (delivery_id, source_file, row_number), so re-reading never doubles them.
"""

from __future__ import annotations

import contextlib
import copy
import typing as t
import uuid
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

import singer_sdk.singerlib as singer
from singer_sdk import Stream
from singer_sdk import typing as th
from singer_sdk.helpers._util import utc_now
from singer_sdk.helpers.conform import TypeConformanceLevel

from tap_aws.client import DeliveryInfo, json_type

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    import pyarrow as pa
    from singer_sdk.helpers._batch import BaseBatchFileEncoding, BatchConfig
    from singer_sdk.helpers.types import Context

BASE_PROPERTIES: dict[str, dict[str, t.Any]] = {
    "billing_period": {"type": ["string"], "description": "YYYY-MM of the delivery"},
    "delivery_id": {"type": ["string"], "description": "executionId (Data Exports) or assemblyId"},
    "export_name": {"type": ["string"]},
    "source_file": {"type": ["string"], "description": "S3 key of the data file"},
    "row_number": {"type": ["integer"], "description": "1-based row within source_file"},
}
PAYER_COLUMNS = ("bill_payer_account_id", "bill/PayerAccountId", "BillingAccountId")


def line_item_schema(columns: Iterable[tuple[str, str]]) -> dict[str, t.Any]:
    properties = copy.deepcopy(BASE_PROPERTIES)
    for name, kind in columns:
        properties.setdefault(name, json_type(kind, name))
    return {"type": "object", "properties": properties}


class DeliveriesStream(Stream):
    """One record per delivered billing period, written after the last row of it."""

    name = "deliveries"
    primary_keys: t.ClassVar[list[str]] = ["export_kind", "export_name", "billing_period"]
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE
    schema = th.PropertiesList(
        th.Property("export_kind", th.StringType, required=True, description="cur2, cur or focus"),
        th.Property("export_name", th.StringType, required=True),
        th.Property("billing_period", th.StringType, required=True, description="YYYY-MM"),
        th.Property("delivery_id", th.StringType, required=True),
        th.Property("manifest_key", th.StringType),
        th.Property("files", th.ArrayType(th.StringType)),
        th.Property("row_count", th.IntegerType),
        th.Property("billing_account_ids", th.ArrayType(th.StringType)),
        th.Property("delivered_at", th.DateTimeType, description="when the manifest was written"),
        th.Property("complete", th.BooleanType),
    ).to_dict()

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self.current: DeliveryInfo | None = None
        self.current_record: dict[str, t.Any] = {}

    @property
    def tap(self) -> t.Any:  # the TapAWS, typed loosely to avoid an import cycle
        return self._tap

    def delivered(self) -> dict[str, dict[str, t.Any]]:
        return self.stream_state.setdefault("delivered", {})

    def get_records(self, context: Context | None) -> Iterable[dict[str, t.Any]]:
        for delivery in self.tap.deliveries_in_range():
            child = self.tap.line_item_stream(delivery.export_kind)
            if not (child.selected or child.has_selected_descendents):
                self.logger.info(
                    "Skipping %s %s: stream %s is not selected",
                    delivery.export_name,
                    delivery.billing_period,
                    child.name,
                )
                continue
            done = self.delivered().get(delivery.state_key)
            if done and done.get("delivery_id") == delivery.delivery_id:
                self.logger.info(
                    "%s %s unchanged (delivery %s already read)",
                    delivery.export_name,
                    delivery.billing_period,
                    delivery.delivery_id,
                )
                continue
            self.logger.info(
                "Reading %s %s %s delivery %s (%d files)",
                delivery.export_kind,
                delivery.export_name,
                delivery.billing_period,
                delivery.delivery_id,
                len(delivery.files),
            )
            record = {
                "export_kind": delivery.export_kind,
                "export_name": delivery.export_name,
                "billing_period": delivery.billing_period,
                "delivery_id": delivery.delivery_id,
                "manifest_key": delivery.manifest_key,
                "files": list(delivery.files),
                "row_count": 0,
                "billing_account_ids": [],
                "delivered_at": delivery.delivered_at,
                "complete": True,
            }
            self.current, self.current_record = delivery, record
            yield record  # the SDK syncs the child stream (the rows), then writes this record
            self.delivered()[delivery.state_key] = {
                "delivery_id": delivery.delivery_id,
                "manifest_key": delivery.manifest_key,
                "row_count": record["row_count"],
            }
            self.state_manager.is_flushed = False
            self._write_state_message()
        self.current = None

    def get_batch_config(self, config: t.Mapping) -> BatchConfig | None:
        """Always RECORD messages: a delivery record is the period's completion signal
        and must follow the period's rows (or batches) in the stream, one by one."""
        return None

    def get_child_context(self, record: dict, context: Context | None) -> dict:
        return {
            key: record[key]
            for key in ("export_kind", "export_name", "billing_period", "delivery_id")
        }

    def count_batch(self, batch: pa.RecordBatch) -> None:
        """``count_row`` for a whole Arrow batch: rows, and payer accounts in the order
        they first appear (the first payer column a row has, as ``count_row``)."""
        import pyarrow.compute as pc

        record = self.current_record
        record["row_count"] += batch.num_rows
        columns = [batch.column(name) for name in PAYER_COLUMNS if name in batch.schema.names]
        if not columns:
            return
        payers = columns[0] if len(columns) == 1 else pc.coalesce(*columns)
        for payer in pc.unique(payers.drop_null()).to_pylist():
            if str(payer) not in record["billing_account_ids"]:
                record["billing_account_ids"].append(str(payer))

    def count_row(self, row: dict[str, t.Any]) -> None:
        record = self.current_record
        record["row_count"] += 1
        for column in PAYER_COLUMNS:
            payer = row.get(column)
            if payer is not None:
                if payer not in record["billing_account_ids"]:
                    record["billing_account_ids"].append(str(payer))
                break


class LineItemsStream(Stream):
    """The rows of every delivery of one export kind, columns as the export names them."""

    export_kind: str = ""
    parent_stream_type = DeliveriesStream
    primary_keys: t.ClassVar[list[str]] = ["delivery_id", "source_file", "row_number"]
    state_partitioning_keys: t.ClassVar[list[str]] = []  # state lives in `deliveries`
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE  # values are typed when read
    _deselected: bool | None = None  # any property deselected in the catalog

    @property
    def tap(self) -> t.Any:
        return self._tap

    def _generate_record_messages(
        self, record: dict[str, t.Any]
    ) -> t.Generator[singer.RecordMessage, None, None]:
        """The SDK's, minus its per-record walk of the selection mask when nothing is
        deselected (the walk recurses into every MAP column: a third of the run time)."""
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

    def add_columns(self, columns: Iterable[tuple[str, str]]) -> bool:
        """Widen the schema with new manifest columns; True (and a SCHEMA message) if any."""
        new = [(name, kind) for name, kind in columns if name not in self.schema["properties"]]
        if not new:
            return False
        self.logger.info(
            "%s: new columns %s; emitting a new SCHEMA", self.name, [n for n, _ in new]
        )
        schema = copy.deepcopy(self.schema)
        for name, kind in new:
            schema["properties"][name] = json_type(kind, name)
        self._schema = schema
        # The SDK's stream maps hold their own copy of the schema: register the new one.
        self._tap.mapper.stream_maps.pop(self.name, None)
        self._tap.mapper.register_raw_stream_schema(self.name, schema, self.primary_keys)
        self._stream_maps = None
        if self.selected:
            self._write_schema_message()
        return True

    def get_records(self, context: Context | None) -> Iterable[dict[str, t.Any]]:
        parent: DeliveriesStream = self.tap.streams["deliveries"]
        delivery = parent.current
        if delivery is None or delivery.export_kind != self.export_kind:
            return
        self.add_columns(delivery.columns)
        batch_rows = int(self.config.get("batch_rows", 10_000))
        for key in delivery.files:
            for number, row in enumerate(self.tap.exports.rows(delivery, key, batch_rows), start=1):
                parent.count_row(row)
                row["billing_period"] = delivery.billing_period
                row["delivery_id"] = delivery.delivery_id
                row["export_name"] = delivery.export_name
                row["source_file"] = key
                row["row_number"] = number
                yield row

    def get_batches(
        self, batch_config: BatchConfig, context: Context | None = None
    ) -> Iterable[tuple[BaseBatchFileEncoding, list[str]]]:
        """Parquet batch files built in Arrow from the export's own files (no Python
        object per value); JSONL batches the SDK's way, from the records."""
        if str(batch_config.encoding.format) not in {"parquet", "BatchFileFormat.PARQUET"}:
            yield from super().get_batches(batch_config, context)
            return
        parent: DeliveriesStream = self.tap.streams["deliveries"]
        delivery = parent.current
        if delivery is None or delivery.export_kind != self.export_kind:
            return
        self.add_columns(delivery.columns)
        batch_rows = int(self.config.get("batch_rows", 10_000))
        properties = self.schema["properties"]
        writer = BatchFileWriter(batch_config, f"{self.tap_name}--{self.name}")
        for key in delivery.files:
            for batch in self.tap.exports.arrow_batches(delivery, key, batch_rows, properties):
                parent.count_batch(batch)
                yield from writer.add(batch)
            yield from writer.close()  # a batch file never mixes source files


class BatchFileWriter:
    """Record batches into Parquet batch files of at most ``batch_size`` rows each."""

    def __init__(self, batch_config: BatchConfig, name: str) -> None:
        self.config = batch_config
        self.name = name
        compression = batch_config.encoding.compression
        # Batch files are a hand-off to the next process: no compression unless asked.
        self.compression = "gzip" if str(compression) == "gzip" else "none"
        self.limit = max(1, int(batch_config.batch_size or 10_000))
        self.stack = contextlib.ExitStack()
        self.writer: t.Any = None
        self.url = ""
        self.rows = 0

    def add(self, batch: pa.RecordBatch) -> Iterator[tuple[BaseBatchFileEncoding, list[str]]]:
        import pyarrow.parquet as pq

        start = 0
        while start < batch.num_rows:
            if self.writer is not None and self.writer.schema != batch.schema:
                yield from self.close()
            if self.writer is None:
                storage = self.config.storage
                filename = f"{storage.prefix or ''}{self.name}-{uuid.uuid4()}.parquet"
                if self.compression == "gzip":
                    filename += ".gz"
                self.url = storage.get_url(filename)
                where: t.Any
                if self.url.startswith("file://"):  # local: pyarrow writes the file itself
                    where = Path(url2pathname(urlparse(self.url).path))
                    where.parent.mkdir(parents=True, exist_ok=True)
                else:
                    where = self.stack.enter_context(storage.open(filename, mode="wb"))
                self.writer = self.stack.enter_context(
                    pq.ParquetWriter(where, batch.schema, compression=self.compression)
                )
            take = min(batch.num_rows - start, self.limit - self.rows)
            self.writer.write_batch(batch.slice(start, take))
            self.rows += take
            start += take
            if self.rows >= self.limit:
                yield from self.close()

    def close(self) -> Iterator[tuple[BaseBatchFileEncoding, list[str]]]:
        if self.writer is None:
            return
        self.stack.close()
        self.writer = None
        self.rows = 0
        yield self.config.encoding, [self.url]


class Cur2LineItemsStream(LineItemsStream):
    """CUR 2.0 (Data Exports COST_AND_USAGE_REPORT) rows; MAP columns as JSON objects."""

    name = "cur2_line_items"
    export_kind = "cur2"


class CurLineItemsStream(LineItemsStream):
    """Legacy CUR rows, with the report's own column names (identity/LineItemId, ...)."""

    name = "cur_line_items"
    export_kind = "cur"


class FocusExportRowsStream(LineItemsStream):
    """AWS FOCUS export (Data Exports FOCUS_1_0_AWS) rows, x_ columns included."""

    name = "focus_export_rows"
    export_kind = "focus"


LINE_ITEM_STREAMS: list[type[LineItemsStream]] = [
    Cur2LineItemsStream,
    CurLineItemsStream,
    FocusExportRowsStream,
]
