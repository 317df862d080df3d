"""tap-aws: settings, the deliveries in range, and the stream list."""

from __future__ import annotations

import datetime as dt
import functools
import typing as t

from finfocus_common.errors import run_cli
from finfocus_common.tap import FinfocusTap
from singer_sdk import typing as th
from singer_sdk.contrib.msgspec import MsgSpecWriter

from tap_aws.client import DeliveryInfo, S3Exports
from tap_aws.cost_explorer import CostExplorerStream
from tap_aws.streams import LINE_ITEM_STREAMS, DeliveriesStream, LineItemsStream, line_item_schema

if t.TYPE_CHECKING:
    from singer_sdk import Stream

EXPORT_KINDS = ("auto", "cur2", "cur", "focus")
SECRETS = ("aws_access_key_id", "aws_secret_access_key", "aws_session_token")


def parse_moment(value: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def month_of(moment: dt.datetime) -> str:
    return f"{moment.year:04d}-{moment.month:02d}"


class TapAWS(FinfocusTap):
    """Singer tap for AWS billing exports in S3 (and, optionally, Cost Explorer)."""

    name = "tap-aws"
    package_name = "finfocus-tap-aws"
    message_writer_class = MsgSpecWriter  # faster, and Decimal-exact

    config_jsonschema = th.PropertiesList(
        th.Property(
            "bucket",
            th.StringType,
            required=True,
            description="S3 bucket the exports are delivered to",
        ),
        th.Property(
            "prefix",
            th.StringType,
            default="",
            description="S3 prefix the exports were given (the part before <export-name>/)",
        ),
        th.Property(
            "export_name",
            th.StringType,
            description="Read this export (or legacy report) only. "
            "Default: every export under prefix",
        ),
        th.Property(
            "export_kind",
            th.StringType,
            default="auto",
            allowed_values=list(EXPORT_KINDS),
            description="auto (detect from each manifest), cur2, cur (legacy) or focus",
        ),
        th.Property(
            "region", th.StringType, default="us-east-1", description="AWS region of the bucket"
        ),
        th.Property(
            "endpoint_url",
            th.StringType,
            description="S3-compatible endpoint instead of AWS's (tests, MinIO, proxies)",
        ),
        th.Property(
            "aws_access_key_id",
            th.StringType,
            secret=True,
            description="Default: the standard AWS credential chain",
        ),
        th.Property("aws_secret_access_key", th.StringType, secret=True),
        th.Property("aws_session_token", th.StringType, secret=True),
        th.Property(
            "start_date",
            th.DateTimeType,
            description="Read billing periods from the one containing this date. "
            "Default: every period delivered",
        ),
        th.Property(
            "end_date",
            th.DateTimeType,
            description="Exclusive: read billing periods that start before this date",
        ),
        th.Property(
            "cost_explorer",
            th.BooleanType,
            default=False,
            description="Also read Cost Explorer GetCostAndUsage (daily, by service and account)",
        ),
        th.Property(
            "ce_endpoint_url", th.StringType, description="Cost Explorer endpoint override"
        ),
        th.Property(
            "cost_explorer_days",
            th.IntegerType,
            default=30,
            description="Days of Cost Explorer data on a first run (Cost Explorer keeps 13 months)",
        ),
        th.Property(
            "batch_rows", th.IntegerType, default=10_000, description="Rows per Parquet read batch"
        ),
        th.Property(
            "max_attempts",
            th.IntegerType,
            default=8,
            description="Attempts per AWS request (throttling, 5xx, timeouts)",
        ),
        th.Property(
            "request_timeout", th.NumberType, default=60, description="Seconds per AWS request"
        ),
    ).to_dict()

    secret_settings = SECRETS
    url_settings = ("endpoint_url", "ce_endpoint_url")
    positive_settings = ("batch_rows", "max_attempts", "request_timeout", "cost_explorer_days")
    non_negative_settings = ()

    def config_problems(self) -> t.Iterator[str]:
        config = self.config
        if bool(config.get("aws_access_key_id")) != bool(config.get("aws_secret_access_key")):
            yield "aws_access_key_id and aws_secret_access_key go together"
        if config.get("export_kind", "auto") not in EXPORT_KINDS:
            yield f"export_kind must be one of {', '.join(EXPORT_KINDS)}"

    # --- what to read ----------------------------------------------------------------

    @functools.cached_property
    def exports(self) -> S3Exports:
        return S3Exports(dict(self.config))

    @functools.cached_property
    def all_deliveries(self) -> list[DeliveryInfo]:
        return self.exports.deliveries()

    def deliveries_in_range(self) -> list[DeliveryInfo]:
        """Listed afresh at sync time, so a delivery that lands after discovery is read too."""
        first = (
            month_of(parse_moment(self.config["start_date"]))
            if self.config.get("start_date")
            else ""
        )
        end = parse_moment(self.config["end_date"]) if self.config.get("end_date") else None
        chosen = []
        for delivery in self.exports.deliveries():
            if delivery.billing_period < first:
                continue
            year, month = (int(p) for p in delivery.billing_period.split("-"))
            if end is not None and dt.datetime(year, month, 1, tzinfo=dt.UTC) >= end:
                continue
            chosen.append(delivery)
        return chosen

    def line_item_stream(self, export_kind: str) -> LineItemsStream:
        for stream in self.streams.values():
            if isinstance(stream, LineItemsStream) and stream.export_kind == export_kind:
                return stream
        raise KeyError(export_kind)

    def discover_streams(self) -> list[Stream]:
        streams: list[Stream] = [DeliveriesStream(tap=self)]
        for stream_class in LINE_ITEM_STREAMS:
            columns = [
                column
                for delivery in self.all_deliveries
                if delivery.export_kind == stream_class.export_kind
                for column in delivery.columns
            ]
            streams.append(stream_class(tap=self, schema=line_item_schema(columns)))
        if self.config.get("cost_explorer"):
            streams.append(CostExplorerStream(tap=self))
        return streams


def main() -> None:
    """Console entry point: `tap-aws`."""
    run_cli(TapAWS.cli, "tap-aws")


if __name__ == "__main__":
    main()
