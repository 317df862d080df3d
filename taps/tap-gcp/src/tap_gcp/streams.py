"""tap-gcp streams: the standard, detailed and FOCUS billing tables, read by partition.

Google's billing export is append-only: every export batch appends rows stamped with its
``export_time`` and never changes them. A later re-rating of some usage is a new row with
the same usage identity, a later ``export_time`` and the difference in cost, usage and
credits; the invoice is the sum of all rows (Google's own invoice-total queries sum every
row). So:

- ``row_key`` identifies one exported row: a SHA-256 of the stream, the row's full content
  (every column, ``export_time`` included; nulls and empty arrays dropped so a column
  Google adds later keeps old keys) and, for rows identical in every column, their
  ordinal. Re-reading a row (the lookback, a resumed run) gives the same key: targets
  upsert it, nothing doubles. A later row for the same usage gets a new key: it adds.
- ``usage_key`` is the SHA-256 of the usage identity (billing account, service, SKU,
  project, usage start and end, labels, system labels, tags, location, resource, invoice
  month, cost type, adjustment id, price tier...): every row of one usage — the original
  and its re-ratings — shares it, and their sum is Google's current amount for it.

Incremental by export time. A run reads rows exported in ``[from, until)``: ``from`` is
the bookmark (the latest ``export_time`` read) minus ``lookback_days`` (export batches
can become visible out of order), or ``start_date`` on a first run; ``until`` is the run's
start, or ``end_date``. Every query bounds the partition column (so BigQuery bills only
the partitions read) and the export time, one window of ``window_days`` partitions at a
time; each query logs the partitions it scans. After each window the state records how
far the run got (a crash resumes there); after the last, the bookmark moves.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import typing as t

import singer_sdk.singerlib as singer
from finfocus_common.errors import TransientError
from google.cloud import bigquery
from singer_sdk import Stream
from singer_sdk.helpers._util import utc_now
from singer_sdk.helpers.conform import TypeConformanceLevel

from tap_gcp.client import (
    QueryResult,
    TableInfo,
    canonical_json,
    digest,
    iso_utc,
    json_schema,
    lookup,
    row_parser,
    translate,
)

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from singer_sdk.helpers.types import Context

UTC = dt.UTC
DAY = dt.timedelta(days=1)

#: Fields the tap adds to every record.
KEY_PROPERTIES: dict[str, dict[str, t.Any]] = {
    "row_key": {
        "type": ["string"],
        "description": "SHA-256 of the exported row (stream, every column, ordinal among "
        "identical rows): the same row read again has the same key",
    },
    "usage_key": {
        "type": ["string"],
        "description": "SHA-256 of the usage identity: a usage's original row and its "
        "later re-ratings share it; their sum is the current amount",
    },
}

STANDARD_IDENTITY = (
    "billing_account_id",
    "service.id",
    "sku.id",
    "project.id",
    "usage_start_time",
    "usage_end_time",
    "labels",
    "system_labels",
    "tags",
    "location.location",
    "location.region",
    "location.zone",
    "invoice.month",
    "cost_type",
    "adjustment_info.id",
    "currency",
    "transaction_type",
    "seller_name",
)
DETAILED_IDENTITY = (
    *STANDARD_IDENTITY,
    "resource.name",
    "resource.global_name",
    "price.tier_start_amount",
    "subscription.instance_id",
)
FOCUS_IDENTITY = (
    "BillingAccountId",
    "SubAccountId",
    "x_Project.id",
    "x_ServiceId",
    "SkuId",
    "SkuPriceId",
    "ChargeDescription",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "BillingPeriodStart",
    "ChargeCategory",
    "ChargeClass",
    "x_CostType",
    "Tags",
    "x_Location",
    "RegionId",
    "AvailabilityZone",
    "ResourceId",
    "ResourceName",
    "CommitmentDiscountId",
    "BillingCurrency",
)


def parse_moment(value: str | dt.datetime) -> dt.datetime:
    if isinstance(value, dt.datetime):
        moment = value
    else:
        text = str(value).strip().replace("Z", "+00:00")
        moment = dt.datetime.fromisoformat(
            text if "T" in text or len(text) > 10 else text + "T00:00:00"
        )
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def default_start(now: dt.datetime) -> dt.datetime:
    """The first day of the previous month (what Google's export backfills)."""
    first = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return (first - DAY).replace(day=1)


class BillingExportStream(Stream):
    """One billing export table, its columns as Google names them, plus the two keys."""

    #: The setting that names the table.
    table_setting: str = ""
    #: The export-time column (the replication key).
    export_column: str = "export_time"
    #: Column paths that identify a usage (``usage_key``).
    identity: tuple[str, ...] = STANDARD_IDENTITY

    primary_keys: t.ClassVar[list[str]] = ["row_key"]
    is_sorted = False
    check_sorted = False
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE  # values are typed when read
    _deselected: bool | None = None

    def __init__(self, tap: t.Any, info: TableInfo) -> None:
        self.info = info
        properties = copy.deepcopy(KEY_PROPERTIES)
        properties.update({f.name: json_schema(f) for f in info.fields})
        schema = {"type": "object", "properties": properties, "required": ["row_key"]}
        self._parse = row_parser(info.fields)
        super().__init__(tap=tap, schema=schema, name=self.name)
        self.replication_key = self.export_column

    @property
    def tap(self) -> t.Any:  # the TapGCP, typed loosely to avoid an import cycle
        return self._tap

    @property
    def table_id(self) -> str:
        return self.info.table_id

    # --- the SDK's record path, minus the per-record walk of the selection mask ----

    def _generate_record_messages(
        self, record: dict[str, t.Any]
    ) -> t.Generator[singer.RecordMessage, None, None]:
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

    def _increment_stream_state(
        self, latest_record: dict, *, context: Context | None = None
    ) -> None:
        """The bookmark moves per completed window and run (see get_records), not per row."""

    # --- planning ------------------------------------------------------------------

    def export_range(self, state: dict[str, t.Any]) -> tuple[dt.datetime, dt.datetime]:
        config = self.config
        run_start: dt.datetime = self.tap.run_started_at
        until = run_start
        if config.get("end_date"):
            until = min(until, parse_moment(config["end_date"]))
        start = (
            parse_moment(config["start_date"])
            if config.get("start_date")
            else default_start(run_start)
        )
        bookmark = self._bookmark(state)
        if bookmark:
            lookback = dt.timedelta(days=float(config.get("lookback_days", 3)))
            start = max(start, parse_moment(bookmark) - lookback)
        return start, until

    def _bookmark(self, state: dict[str, t.Any]) -> str | None:
        """The bookmark, unless it was taken on another table (the setting changed)."""
        table = state.get("table")
        if table and table != self.table_id:
            self.logger.warning(
                "%s: the state's bookmark is for %s, not %s: reading from start_date",
                self.name,
                table,
                self.table_id,
            )
            return None
        value = state.get("replication_key_value")
        return str(value) if value else None

    def partition_days(self, since: dt.datetime, until: dt.datetime) -> tuple[dt.date, dt.date]:
        """Partition dates that can hold rows exported in [since, until).

        Google's billing tables are ingestion-time partitioned: a day's partition holds
        what was exported that day, Pacific time, so a UTC export range maps to partitions
        one day either side (``partition_slack_days``). A table partitioned by a usage-time
        column (``ChargePeriodStart``, ``usage_start_time``) holds a row in the partition
        of its usage, and rows exported in the range re-rate usage up to
        ``restatement_days`` older: the window reaches back that far too.
        """
        slack = dt.timedelta(days=int(self.config.get("partition_slack_days", 1)))
        last = (until - dt.timedelta(microseconds=1)).date()
        first = since.date()
        if self.info.partition_column != "_PARTITIONTIME":
            first -= dt.timedelta(days=int(self.config.get("restatement_days", 35)))
        return first - slack, last + slack

    def windows(self, first: dt.date, last: dt.date) -> Iterator[tuple[dt.date, dt.date]]:
        step = max(1, int(self.config.get("window_days", 1)))
        day = first
        while day <= last:
            end = min(last, day + dt.timedelta(days=step - 1))
            yield day, end
            day = end + DAY

    def sql(self, partition_filter: str) -> str:
        columns = ", ".join(f"`{f.name}`" for f in self.info.fields)
        where = [
            f"`{self.export_column}` >= @export_start",
            f"`{self.export_column}` < @export_end",
        ]
        if partition_filter:
            where.insert(0, partition_filter)
        # Identifiers only (validated table id, the table's own column names, quoted);
        # every value is a query parameter.
        return f"SELECT {columns} FROM `{self.table_id}` WHERE {' AND '.join(where)}"  # noqa: S608

    def partition_filter(self, low: dt.date, high: dt.date) -> tuple[str, list[t.Any]]:
        """The predicate (and its parameters) that prunes partitions to [low, high]."""
        column = self.info.partition_column
        if column is None or self.info.is_view:
            return "", []
        if column == "_PARTITIONTIME":
            return "DATE(_PARTITIONTIME) BETWEEN @partition_start AND @partition_end", [
                bigquery.ScalarQueryParameter("partition_start", "DATE", low),
                bigquery.ScalarQueryParameter("partition_end", "DATE", high),
            ]
        if self.info.partition_type == "DATE":
            return f"`{column}` BETWEEN @partition_start AND @partition_end", [
                bigquery.ScalarQueryParameter("partition_start", "DATE", low),
                bigquery.ScalarQueryParameter("partition_end", "DATE", high),
            ]
        start = dt.datetime(low.year, low.month, low.day, tzinfo=UTC)
        end = dt.datetime(high.year, high.month, high.day, tzinfo=UTC) + DAY
        return f"`{column}` >= @partition_start AND `{column}` < @partition_end", [
            bigquery.ScalarQueryParameter("partition_start", "TIMESTAMP", start),
            bigquery.ScalarQueryParameter("partition_end", "TIMESTAMP", end),
        ]

    # --- reading ---------------------------------------------------------------------

    def get_records(self, context: Context | None) -> Iterable[dict[str, t.Any]]:
        state = self.get_context_state(context)
        progress = state.get("progress") or {}
        if progress.get("table") == self.table_id:
            since = parse_moment(progress["export_start"])
            until = parse_moment(progress["export_end"])
            self.logger.info(
                "%s: resuming the run that read %s exported in [%s, %s) after partition %s",
                self.name,
                self.table_id,
                iso_utc(since),
                iso_utc(until),
                progress.get("partitions_done_through"),
            )
        else:
            since, until = self.export_range(state)
            progress = {}
        if since >= until:
            self.logger.info("%s: nothing exported in [%s, %s)", self.name, since, until)
            return
        mark = progress.get("latest_export_time") or self._bookmark(state)
        latest = parse_moment(mark) if mark else None
        if self.info.partition_column is None or self.info.is_view:
            self.logger.warning(
                "%s: %s has no partitions BigQuery can prune from outside (%s); every query "
                "reads the whole table",
                self.name,
                self.table_id,
                "a view" if self.info.is_view else "not partitioned",
            )
            plan: list[tuple[dt.date | None, dt.date | None]] = [(None, None)]
        else:
            first, last = self.partition_days(since, until)
            done = progress.get("partitions_done_through")
            if done:
                first = max(first, dt.date.fromisoformat(done) + DAY)
            plan = list(self.windows(first, last))
        for number, (low, high) in enumerate(plan, start=1):
            result = QueryResult()
            newest = yield from self._read_window(
                low, high, since, until, result, number, len(plan)
            )
            if newest is not None and (latest is None or newest > latest):
                latest = newest
            if high is not None:
                state["progress"] = {
                    "table": self.table_id,
                    "export_start": iso_utc(since),
                    "export_end": iso_utc(until),
                    "partitions_done_through": high.isoformat(),
                    "latest_export_time": iso_utc(latest) if latest else None,
                }
                self._flush_state()
        state.pop("progress", None)
        state["replication_key"] = self.replication_key
        if latest is not None:
            state["replication_key_value"] = iso_utc(latest)
        state["table"] = self.table_id
        self._flush_state()

    def _flush_state(self) -> None:
        self.state_manager.is_flushed = False
        self._write_state_message()

    def _read_window(
        self,
        low: dt.date | None,
        high: dt.date | None,
        since: dt.datetime,
        until: dt.datetime,
        result: QueryResult,
        number: int,
        count: int,
    ) -> t.Generator[dict[str, t.Any], None, dt.datetime | None]:
        predicate: str = ""
        parameters: list[t.Any] = []
        if low is not None and high is not None:
            predicate, parameters = self.partition_filter(low, high)
        parameters = [
            *parameters,
            bigquery.ScalarQueryParameter("export_start", "TIMESTAMP", since),
            bigquery.ScalarQueryParameter("export_end", "TIMESTAMP", until),
        ]
        sql = self.sql(predicate)
        newest: str | None = None
        seen: dict[bytes, int] = {}  # content digest -> rows seen (identical rows are rare)
        name = self.name
        identity = self.identity
        export_column = self.export_column
        rows = self.tap.runner.rows(
            sql, parameters, result, self.config.get("location"), parse=self._parse
        )
        try:
            for record in rows:
                content = canonical_json(record)
                fingerprint = hashlib.sha256(content.encode()).digest()
                ordinal = seen.get(fingerprint, 0) + 1
                seen[fingerprint] = ordinal
                record["row_key"] = digest("gcp", name, content, str(ordinal))
                record["usage_key"] = digest(
                    "gcp-usage",
                    name,
                    canonical_json({path: lookup(record, path) for path in identity}),
                )
                exported = record.get(export_column)
                if exported is not None and (newest is None or _later(exported, newest)):
                    newest = exported
                yield record
        except Exception as exc:
            raise translate(
                exc,
                what=self.table_id,
                setting=self.table_setting,
                principal=self.tap.principal,
                project_id=str(self.config["project_id"]),
            ) from None
        scanned = (
            f"partitions {low.isoformat()}..{high.isoformat()} "
            f"({(high - low).days + 1} days, {self.info.partition_column})"
            if low is not None and high is not None
            else "the whole table (no partition filter possible)"
        )
        self.logger.info(
            "%s: query %d/%d on %s scanned %s, %s in [%s, %s): %d rows, %s bytes processed, job %s",
            name,
            number,
            count,
            self.table_id,
            scanned,
            export_column,
            iso_utc(since),
            iso_utc(until),
            result.rows,
            result.bytes_processed if result.bytes_processed is not None else "?",
            result.job_id,
        )
        if result.replayed_pages:
            self.logger.warning("%s: skipped %d replayed pages", name, result.replayed_pages)
        if result.rows != result.total_rows:
            raise TransientError(
                f"BigQuery job {result.job_id} on {self.table_id} returned {result.rows} of "
                f"{result.total_rows} rows"
            )
        return parse_moment(newest) if newest else None


def _later(one: str, other: str) -> bool:
    """ISO UTC timestamps, with or without fractions: compare their instants."""
    if one[:19] != other[:19]:
        return one[:19] > other[:19]
    return parse_moment(one) > parse_moment(other)


class BillingExportStandardStream(BillingExportStream):
    """Standard usage cost: ``gcp_billing_export_v1_<BILLING_ACCOUNT_ID>``."""

    name = "billing_export"
    table_setting = "billing_table"


class BillingExportResourceStream(BillingExportStream):
    """Detailed usage cost: ``gcp_billing_export_resource_v1_<BILLING_ACCOUNT_ID>``."""

    name = "billing_export_resource"
    table_setting = "resource_billing_table"
    identity = DETAILED_IDENTITY


class FocusExportStream(BillingExportStream):
    """Google's FOCUS export table (or a FOCUS view over the detailed export)."""

    name = "focus_export"
    table_setting = "focus_table"
    export_column = "x_ExportTime"
    identity = FOCUS_IDENTITY


STREAM_TYPES: list[type[BillingExportStream]] = [
    BillingExportStandardStream,
    BillingExportResourceStream,
    FocusExportStream,
]
