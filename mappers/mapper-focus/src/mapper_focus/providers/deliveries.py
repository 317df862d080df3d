"""Delivery control: "this export's delivery of a billing period is complete".

File-based sources re-deliver whole billing periods (AWS rewrites a month's export several
times a day until it closes; Azure re-runs exports and restates Cost Details). Their rows
carry `x_DeliveryId` and `x_DeliveryScope` (the export: "<export kind>:<export name>");
after the last row of a delivery the tap emits a `deliveries` record. This mapping turns
that record into a `focus_deliveries` control message, on which target-focus swaps the
scope's rows in the provider's partitions of the period for the new delivery's rows in one
step per partition, so nothing stale or doubled remains, no half-replaced period is ever
visible, and another export of the same bill (Azure's actual and amortized Cost Details,
an ActualCost and a FocusCost export) is left alone.

A delivery that does not cover its whole billing period (tap field `complete` false: a
Cost Details window cut by start_date or end_date) replaces nothing: its rows are merged
by x_RowKey (mode "merge").
"""

from __future__ import annotations

import typing as t

from mapper_focus.registry import StreamMapping
from mapper_focus.rows import MappingError, delivery_scope, require, row_key

if t.TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

STREAM = "deliveries"
#: tap-aws export kinds, all of them the AWS bill.
AWS_EXPORT_KINDS = frozenset({"cur2", "cur", "focus"})
#: tap-azure export kinds: ActualCost / AmortizedCost exports or Cost Details, FocusCost.
AZURE_EXPORT_KINDS = frozenset({"azure_actual", "azure_amortized", "azure_focus"})
PROVIDERS: dict[str, str] = {
    **dict.fromkeys(AWS_EXPORT_KINDS, "aws"),
    **dict.fromkeys(AZURE_EXPORT_KINDS, "azure"),
}


def map_delivery(record: Mapping[str, t.Any]) -> Iterator[dict[str, t.Any]]:
    delivery_id = str(require(record, "delivery_id", STREAM, None))
    period = str(require(record, "billing_period", STREAM, delivery_id))
    kind = record.get("export_kind")
    provider = PROVIDERS.get(kind) if isinstance(kind, str) else None
    if provider is None:
        raise MappingError(STREAM, delivery_id, "export_kind", f"unknown export kind {kind!r}")
    scope = delivery_scope(kind, record.get("export_name"))
    if scope is None:
        raise MappingError(STREAM, delivery_id, "export_name", "required field is missing")
    accounts = record.get("billing_account_ids")
    if not isinstance(accounts, list):
        raise MappingError(STREAM, delivery_id, "billing_account_ids", "expected a list")
    yield {
        "x_RowKey": row_key("delivery", provider, period, delivery_id),
        "provider": provider,
        "billing_period": period,
        "billing_account_ids": [str(a) for a in accounts],
        "delivery_id": delivery_id,
        "scope": scope,
        "mode": "merge" if record.get("complete") is False else "replace",
        "row_count": record.get("row_count"),
        "source": record.get("manifest_key"),
    }


MAPPINGS = (
    StreamMapping(
        provider=",".join(sorted(set(PROVIDERS.values()))),  # per record: its export kind
        stream=STREAM,
        required_properties=frozenset(
            {"export_kind", "export_name", "billing_period", "delivery_id", "billing_account_ids"}
        ),
        map_record=map_delivery,
        record_id=lambda record: record.get("delivery_id"),
        control=True,
    ),
)
