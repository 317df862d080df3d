"""BigQuery table schemas of Google Cloud Billing's exports, as the fake serves them.

Field names, nesting, types and modes follow Google's published schema of the standard
usage cost table (``gcp_billing_export_v1_<BILLING_ACCOUNT_ID>``), the detailed usage cost
table (``gcp_billing_export_resource_v1_<BILLING_ACCOUNT_ID>``: the standard fields plus
``resource``, ``price`` and ``subscription``) and the FOCUS columns of Google's FOCUS
BigQuery view (FOCUS 1.0 plus ``x_`` columns). Money in the standard and detailed tables
is ``FLOAT`` (FLOAT64), as in Google's export; the detailed ``price`` record is
``NUMERIC``; FOCUS amounts are ``NUMERIC`` (Google's view casts the FLOAT64 costs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Field:
    """One BigQuery schema field (the REST API's TableFieldSchema)."""

    name: str
    type: str
    mode: str = "NULLABLE"
    fields: tuple[Field, ...] = field(default=())

    def to_api(self) -> dict[str, Any]:
        body: dict[str, Any] = {"name": self.name, "type": self.type, "mode": self.mode}
        if self.fields:
            body["fields"] = [f.to_api() for f in self.fields]
        return body

    @property
    def repeated(self) -> bool:
        return self.mode == "REPEATED"


def _s(name: str) -> Field:
    return Field(name, "STRING")


def _record(name: str, *fields: Field, mode: str = "NULLABLE") -> Field:
    return Field(name, "RECORD", mode, tuple(fields))


KEY_VALUE = (_s("key"), _s("value"))

STANDARD: tuple[Field, ...] = (
    _s("billing_account_id"),
    _record("service", _s("id"), _s("description")),
    _record("sku", _s("id"), _s("description")),
    Field("usage_start_time", "TIMESTAMP"),
    Field("usage_end_time", "TIMESTAMP"),
    _record(
        "project",
        _s("id"),
        _s("number"),
        _s("name"),
        _record("labels", *KEY_VALUE, mode="REPEATED"),
        _s("ancestry_numbers"),
        _record("ancestors", _s("resource_name"), _s("display_name"), mode="REPEATED"),
    ),
    _record("labels", *KEY_VALUE, mode="REPEATED"),
    _record("system_labels", *KEY_VALUE, mode="REPEATED"),
    _record("location", _s("location"), _s("country"), _s("region"), _s("zone")),
    _record(
        "tags",
        _s("key"),
        _s("value"),
        Field("inherited", "BOOLEAN"),
        _s("namespace"),
        mode="REPEATED",
    ),
    _s("transaction_type"),
    _s("seller_name"),
    Field("export_time", "TIMESTAMP"),
    Field("cost", "FLOAT"),
    _s("currency"),
    Field("currency_conversion_rate", "FLOAT"),
    _record(
        "usage",
        Field("amount", "FLOAT"),
        _s("unit"),
        Field("amount_in_pricing_units", "FLOAT"),
        _s("pricing_unit"),
    ),
    _record(
        "credits",
        _s("name"),
        Field("amount", "FLOAT"),
        _s("full_name"),
        _s("id"),
        _s("type"),
        mode="REPEATED",
    ),
    _record("invoice", _s("month"), _s("publisher_type")),
    _s("cost_type"),
    _record("adjustment_info", _s("id"), _s("description"), _s("mode"), _s("type")),
    Field("cost_at_list", "FLOAT"),
)

DETAILED: tuple[Field, ...] = (
    *STANDARD[:10],  # through `location`
    _record("resource", _s("name"), _s("global_name")),
    *STANDARD[10:],
    _record(
        "price",
        Field("effective_price", "NUMERIC"),
        Field("tier_start_amount", "NUMERIC"),
        _s("unit"),
        Field("pricing_unit_quantity", "NUMERIC"),
    ),
    _record("subscription", _s("instance_id")),
)

FOCUS: tuple[Field, ...] = (
    _s("AvailabilityZone"),
    Field("BilledCost", "NUMERIC"),
    _s("BillingAccountId"),
    _s("BillingCurrency"),
    Field("BillingPeriodStart", "TIMESTAMP"),
    Field("BillingPeriodEnd", "TIMESTAMP"),
    _s("ChargeCategory"),
    _s("ChargeClass"),
    _s("ChargeDescription"),
    Field("ChargePeriodStart", "TIMESTAMP"),
    Field("ChargePeriodEnd", "TIMESTAMP"),
    _s("CommitmentDiscountCategory"),
    _s("CommitmentDiscountId"),
    _s("CommitmentDiscountName"),
    Field("ConsumedQuantity", "NUMERIC"),
    _s("ConsumedUnit"),
    Field("ContractedCost", "NUMERIC"),
    Field("ContractedUnitPrice", "NUMERIC"),
    Field("EffectiveCost", "NUMERIC"),
    Field("ListCost", "NUMERIC"),
    Field("ListUnitPrice", "NUMERIC"),
    _s("PricingCategory"),
    Field("PricingQuantity", "NUMERIC"),
    _s("PricingUnit"),
    _s("ProviderName"),
    _s("PublisherName"),
    _s("RegionId"),
    _s("RegionName"),
    _s("ResourceId"),
    _s("ResourceName"),
    _s("ResourceType"),
    _s("ServiceCategory"),
    _s("ServiceName"),
    _s("SkuId"),
    _s("SkuPriceId"),
    _s("SubAccountId"),
    _record(
        "Tags",
        _s("key"),
        _s("value"),
        _s("x_type"),
        Field("x_inherited", "BOOLEAN"),
        _s("x_namespace"),
        mode="REPEATED",
    ),
    _record(
        "x_Credits",
        _s("Name"),
        Field("Amount", "NUMERIC"),
        _s("FullName"),
        _s("Id"),
        _s("Type"),
        mode="REPEATED",
    ),
    _s("x_CostType"),
    Field("x_CurrencyConversionRate", "NUMERIC"),
    Field("x_ExportTime", "TIMESTAMP"),
    _s("x_Location"),
    _record(
        "x_Project",
        _s("id"),
        _s("number"),
        _s("name"),
        _s("ancestry_numbers"),
        _record("ancestors", _s("resource_name"), _s("display_name"), mode="REPEATED"),
    ),
    _s("x_ServiceId"),
)

SCHEMAS: dict[str, tuple[Field, ...]] = {
    "standard": STANDARD,
    "resource": DETAILED,
    "focus": FOCUS,
}

#: The export-time column of each table kind (the cursor an incremental reader uses).
EXPORT_TIME_COLUMN = {"standard": "export_time", "resource": "export_time", "focus": "x_ExportTime"}


def find(fields: tuple[Field, ...], name: str) -> Field | None:
    for item in fields:
        if item.name == name:
            return item
    return None
