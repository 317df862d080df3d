"""The optional `cost_explorer` stream: GetCostAndUsage, daily, by service and linked account.

Amounts are the decimals their strings spell. Cost Explorer marks days whose figures may
still change as Estimated; the state keeps the first such day (`reread_from`), and the
next run starts there, so estimated days are read again until they are final.
"""

from __future__ import annotations

import datetime as dt
import typing as t
from decimal import Decimal, InvalidOperation

from finfocus_common.errors import PermanentError
from singer_sdk import Stream
from singer_sdk import typing as th
from singer_sdk.helpers.conform import TypeConformanceLevel

from tap_aws.client import make_client, translate

if t.TYPE_CHECKING:
    from collections.abc import Iterable

    from singer_sdk.helpers.types import Context

METRICS = {
    "UnblendedCost": "unblended_cost",
    "AmortizedCost": "amortized_cost",
    "NetUnblendedCost": "net_unblended_cost",
    "UsageQuantity": "usage_quantity",
}
RETENTION = dt.timedelta(days=395)  # Cost Explorer answers for the last 13 months


class CostExplorerStream(Stream):
    name = "cost_explorer"
    primary_keys: t.ClassVar[list[str]] = ["date", "linked_account_id", "service"]
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE
    schema = th.PropertiesList(
        th.Property(
            "date", th.DateType, required=True, description="Day (UTC) the amounts are for"
        ),
        th.Property("linked_account_id", th.StringType, required=True),
        th.Property("service", th.StringType, required=True),
        th.Property("unblended_cost", th.NumberType),
        th.Property("amortized_cost", th.NumberType),
        th.Property("net_unblended_cost", th.NumberType),
        th.Property("usage_quantity", th.NumberType),
        th.Property("currency", th.StringType),
        th.Property(
            "estimated", th.BooleanType, description="Cost Explorer may still revise this day"
        ),
    ).to_dict()

    def get_records(self, context: Context | None) -> Iterable[dict[str, t.Any]]:
        today = dt.datetime.now(tz=dt.UTC).date()
        end = today
        if self.config.get("end_date"):
            end = min(end, dt.date.fromisoformat(str(self.config["end_date"])[:10]))
        earliest = today - RETENTION
        days = int(self.config.get("cost_explorer_days", 30))
        start = max(earliest, today - dt.timedelta(days=days))
        if self.config.get("start_date"):
            start = max(earliest, dt.date.fromisoformat(str(self.config["start_date"])[:10]))
        if self.stream_state.get("reread_from"):
            start = max(earliest, dt.date.fromisoformat(self.stream_state["reread_from"]))
        if start >= end:
            return
        client = make_client("ce", {**self.config, "region": "us-east-1"})
        first_estimated: str | None = None
        token: str | None = None
        while True:
            request: dict[str, t.Any] = {
                "TimePeriod": {"Start": start.isoformat(), "End": end.isoformat()},
                "Granularity": "DAILY",
                "Metrics": list(METRICS),
                "GroupBy": [
                    {"Type": "DIMENSION", "Key": "SERVICE"},
                    {"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"},
                ],
            }
            if token:
                request["NextPageToken"] = token
            try:
                page = client.get_cost_and_usage(**request)
            except Exception as exc:
                raise translate(exc, "Cost Explorer GetCostAndUsage") from None
            for result in page.get("ResultsByTime", []):
                day = result["TimePeriod"]["Start"]
                estimated = bool(result.get("Estimated"))
                if estimated and (first_estimated is None or day < first_estimated):
                    first_estimated = day
                for group in result.get("Groups", []):
                    yield self._record(day, estimated, group)
            token = page.get("NextPageToken")
            if not token:
                break
        self.stream_state["reread_from"] = first_estimated or end.isoformat()
        self.state_manager.is_flushed = False

    def _record(self, day: str, estimated: bool, group: dict[str, t.Any]) -> dict[str, t.Any]:
        keys = group.get("Keys") or []
        service, account = ([*keys, "", ""])[:2]
        record: dict[str, t.Any] = {
            "date": day,
            "linked_account_id": account,
            "service": service,
            "estimated": estimated,
            "currency": None,
        }
        for metric, column in METRICS.items():
            value = (group.get("Metrics") or {}).get(metric)
            if not value:
                record[column] = None
                continue
            try:
                record[column] = Decimal(str(value["Amount"]))
            except (InvalidOperation, KeyError):
                raise PermanentError(
                    f"Cost Explorer sent {metric} {value!r} for {service} {account} on {day}"
                ) from None
            if column != "usage_quantity":
                record["currency"] = value.get("Unit")
        return record
