"""Delivery control: "this billing period's delivery is complete, replace the old one".

File-based sources re-deliver whole billing periods (AWS rewrites a month's export several
times a day until it closes). Their rows carry `x_DeliveryId`; after the last row of a
delivery the tap emits a `deliveries` record. This mapping turns that record into a
`focus_deliveries` control message, on which target-focus swaps the period's partitions for
the new delivery's rows in one step, so nothing stale or doubled remains and no
half-replaced period is ever visible.
"""

from __future__ import annotations

import typing as t

from mapper_focus.registry import StreamMapping
from mapper_focus.rows import MappingError, require, row_key

if t.TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

STREAM = "deliveries"
#: tap-aws export kinds, all of them the AWS bill.
AWS_EXPORT_KINDS = frozenset({"cur2", "cur", "focus"})


def map_aws_delivery(record: Mapping[str, t.Any]) -> Iterator[dict[str, t.Any]]:
    delivery_id = str(require(record, "delivery_id", STREAM, None))
    period = str(require(record, "billing_period", STREAM, delivery_id))
    kind = record.get("export_kind")
    if kind not in AWS_EXPORT_KINDS:
        raise MappingError(STREAM, delivery_id, "export_kind", f"unknown export kind {kind!r}")
    accounts = record.get("billing_account_ids")
    if not isinstance(accounts, list):
        raise MappingError(STREAM, delivery_id, "billing_account_ids", "expected a list")
    if record.get("complete") is False:
        return  # an incomplete delivery replaces nothing
    yield {
        "x_RowKey": row_key("delivery", "aws", period, delivery_id),
        "provider": "aws",
        "billing_period": period,
        "billing_account_ids": [str(a) for a in accounts],
        "delivery_id": delivery_id,
        "row_count": record.get("row_count"),
        "source": record.get("manifest_key"),
    }


MAPPINGS = (
    StreamMapping(
        provider="aws",
        stream=STREAM,
        required_properties=frozenset(
            {"export_kind", "billing_period", "delivery_id", "billing_account_ids"}
        ),
        map_record=map_aws_delivery,
        record_id=lambda record: record.get("delivery_id"),
        control=True,
    ),
)
