"""The `deliveries` control mapping and the x_DeliveryScope its rows carry.

A tap's `deliveries` record says "this export's delivery of a billing period is complete";
target-focus then replaces the rows of that export (x_DeliveryScope) in the provider's
partitions of the period. Rows and records must name the scope alike, or a delivery would
replace nothing (or the wrong rows).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mapper_focus.providers.deliveries import map_delivery
from mapper_focus.registry import builtin_mappings, find_mapping
from mapper_focus.rows import MappingError

FIXTURES = Path(__file__).parent / "fixtures"


def fixture_input(provider: str, name: str) -> dict:
    return json.loads((FIXTURES / provider / f"{name}.json").read_text())["input"]


def mapped_rows(stream: str, record: dict) -> list[dict]:
    schema = {"properties": {key: {} for key in record}}
    mapping = find_mapping(builtin_mappings(), stream, schema)
    assert mapping is not None
    return list(mapping.map_record(record))


def delivery(kind: str, name: str, **fields: object) -> dict:
    record = {
        "export_kind": kind,
        "export_name": name,
        "billing_period": "2026-01",
        "delivery_id": "d-1",
        "manifest_key": "exports/m.json",
        "files": [],
        "row_count": 3,
        "billing_account_ids": ["111111111111"],
        "delivered_at": "2026-01-05T00:00:00Z",
        "complete": True,
    }
    record.update(fields)
    return record


@pytest.mark.parametrize(
    ("kind", "provider"),
    [
        ("cur2", "aws"),
        ("cur", "aws"),
        ("focus", "aws"),
        ("azure_actual", "azure"),
        ("azure_amortized", "azure"),
        ("azure_focus", "azure"),
    ],
)
def test_each_export_kind_is_its_providers_bill(kind, provider):
    (control,) = map_delivery(delivery(kind, "daily"))
    assert control["provider"] == provider
    assert control["scope"] == f"{kind}:daily"
    assert control["mode"] == "replace"
    assert control["billing_account_ids"] == ["111111111111"]
    assert control["delivery_id"] == "d-1"


def test_an_incomplete_delivery_is_merged_not_replaced():
    """A Cost Details window cut by start_date or end_date does not hold its whole month."""
    (control,) = map_delivery(delivery("azure_actual", "cost_details:/x", complete=False))
    assert control["mode"] == "merge"


@pytest.mark.parametrize(
    ("fields", "column"),
    [
        ({"export_kind": "gcp_standard"}, "export_kind"),
        ({"export_kind": None}, "export_kind"),
        ({"export_name": ""}, "export_name"),
        ({"billing_account_ids": "111111111111"}, "billing_account_ids"),
    ],
)
def test_unknown_or_incomplete_records_are_refused(fields, column):
    with pytest.raises(MappingError) as failure:
        list(map_delivery(delivery("cur2", "daily", **fields)))
    assert failure.value.column == column


@pytest.mark.parametrize(
    ("stream", "provider", "fixture", "kind", "name"),
    [
        ("cur2_line_items", "aws", "on_demand_usage", "cur2", None),
        ("focus_export_rows", "aws", "focus_export_usage", "focus", None),
        ("export_rows", "azure", "focus_1_0_usage", "azure_focus", None),
        (
            "cost_details",
            "azure",
            "on_demand_usage_ea",
            "azure_amortized",
            "cost_details:/providers/Microsoft.Billing/billingAccounts/8611537",
        ),
    ],
)
def test_rows_carry_the_scope_their_delivery_record_replaces(stream, provider, fixture, kind, name):
    record = fixture_input(provider, fixture)
    rows = mapped_rows(stream, record)
    assert rows
    (control,) = map_delivery(delivery(kind, name or record["export_name"]))
    assert {row["x_DeliveryScope"] for row in rows} == {control["scope"]}
    assert {row["x_DeliveryId"] for row in rows} == {record["delivery_id"]}


def test_the_deliveries_stream_needs_tap_fields():
    """Another tap's `deliveries` stream without an export kind and name is not taken."""
    mappings = builtin_mappings()
    tap = {"properties": {key: {} for key in delivery("cur2", "x")}}
    assert find_mapping(mappings, "deliveries", tap) is not None
    other = {"properties": {k: {} for k in ("delivery_id", "billing_period", "status")}}
    assert find_mapping(mappings, "deliveries", other) is None
