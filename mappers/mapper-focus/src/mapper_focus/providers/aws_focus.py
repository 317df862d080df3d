"""AWS's own FOCUS 1.0 export ("FOCUS 1.0 with AWS columns") normalised to FOCUS 1.2/1.3.

Source (tap-aws): `focus_export_rows`, the export's FOCUS 1.0 columns and AWS's x_ columns
(x_CostCategories, x_Discounts, x_Operation, x_ServiceCode, x_UsageType), plus the tap
fields. AWS already did the FOCUS mapping; this module only brings the rows up to the
configured version (the mapper's RowShaper then keeps that version's columns):

- columns new since 1.0 that the row can answer: BillingAccountType, SubAccountType,
  ServiceSubcategory (from the AWS service table by x_ServiceCode, under AWS's own
  ServiceCategory), SkuMeter (= x_UsageType, as AWS's own FOCUS 1.2 export does),
  ServiceProviderName and HostProviderName (1.3);
- values 1.0 allowed that 1.2/1.3 do not: a Purchase with ChargeFrequency "Usage-Based"
  becomes "Recurring"; 1.0-preview PricingCategory spellings become the allowed values;
  a ServiceCategory outside the allowed list becomes "Other"; empty text becomes null;
- AWS's x_ columns keep their data under finfocus' AWS names (x_AwsUsageType, ...), the
  same columns the CUR mappings write, so CUR and FOCUS-export rows share one table.

Columns 1.2 added that a 1.0 row cannot answer (CommitmentDiscountQuantity/Unit,
CapacityReservation*, SkuPriceDetails, PricingCurrency*, InvoiceId) stay absent: FOCUS
lets a dataset leave Conditional columns out, and a null in them would break their rules.
"""

from __future__ import annotations

import json
import typing as t
from decimal import Decimal

from focus_spec import SUPPORTED_VERSIONS, get_spec

from mapper_focus.providers.aws_common import (
    AWS,
    BILLING_ACCOUNT_TYPE,
    CUSTOM_COLUMNS,
    SUB_ACCOUNT_TYPE,
    Timestamps,
    decimal_or_none,
    is_aws_entity,
    record_id,
)
from mapper_focus.providers.aws_cur import TAP_REQUIRED, classify_resource
from mapper_focus.providers.aws_services import AWS_SERVICES
from mapper_focus.registry import StreamMapping
from mapper_focus.rows import MappingError, row_key

if t.TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

STREAM = "focus_export_rows"

_SPEC = get_spec("1.3")
SPEC_COLUMNS = frozenset(c for v in SUPPORTED_VERSIONS for c in get_spec(v).column_names)
DECIMAL_COLUMNS = frozenset(c.name for c in _SPEC.columns if c.data_type == "Decimal")
DATETIME_COLUMNS = frozenset(c.name for c in _SPEC.columns if c.data_type == "DateTime")
JSON_COLUMNS = frozenset(c.name for c in _SPEC.columns if c.data_type == "JSON")
CATEGORIES = _SPEC.column("ServiceCategory").allowed_values or frozenset()
SUBCATEGORY_PARENTS = _SPEC.service_subcategory_parents

#: AWS's FOCUS 1.0 x_ columns -> finfocus' AWS custom columns.
AWS_COLUMNS = {
    "x_UsageType": "x_AwsUsageType",
    "x_Operation": "x_AwsOperation",
    "x_ServiceCode": "x_AwsServiceCode",
    "x_CostCategories": "x_AwsCostCategories",
    "x_Discounts": "x_AwsDiscounts",
}
PRICING_CATEGORIES = {
    "On-Demand": "Standard",
    "OnDemand": "Standard",
    "Commitment-Based": "Committed",
    "Commitment Based": "Committed",
    "Spot": "Dynamic",
}


class FocusExportMapper:
    """Maps `focus_export_rows` records (one FOCUS row each)."""

    def __init__(self) -> None:
        self.timestamps = Timestamps()

    def __call__(self, record: Mapping[str, t.Any]) -> Iterator[dict[str, t.Any]]:
        return iter((self.map(record),))

    def map(self, record: Mapping[str, t.Any]) -> dict[str, t.Any]:
        rid = record_id(record)
        parse = self.timestamps.parse
        row: dict[str, t.Any] = {}
        for column, value in record.items():
            if column in SPEC_COLUMNS:
                if value == "":
                    value = None
                elif value is not None:
                    if column in DECIMAL_COLUMNS:
                        value = decimal_or_none(value, (STREAM, rid, column))
                    elif column in DATETIME_COLUMNS:
                        value = parse(value, (STREAM, rid, column))[1]
                    elif column in JSON_COLUMNS:
                        value = _json(value, (STREAM, rid, column))
                row[column] = value
            elif column in AWS_COLUMNS:
                if value == "":
                    value = None
                elif isinstance(value, str) and column in ("x_CostCategories", "x_Discounts"):
                    value = _json(value, (STREAM, rid, column))
                row[AWS_COLUMNS[column]] = value

        payer = row.get("BillingAccountId")
        if payer is None:
            raise MappingError(STREAM, rid, "BillingAccountId", "required field is missing")
        delivery = record.get("delivery_id")
        if delivery is None or delivery == "":
            raise MappingError(STREAM, rid, "delivery_id", "required field is missing")

        row.setdefault("BillingAccountType", BILLING_ACCOUNT_TYPE)
        sub_account = row.get("SubAccountId")
        if sub_account is not None:
            row.setdefault("SubAccountType", SUB_ACCOUNT_TYPE)
            if not row.get("SubAccountName"):
                row["SubAccountName"] = sub_account
            if not row.get("SubAccountType"):
                row["SubAccountType"] = SUB_ACCOUNT_TYPE

        # Values FOCUS 1.0 allowed that later versions do not.
        if row.get("ChargeCategory") == "Purchase" and row.get("ChargeFrequency") == "Usage-Based":
            row["ChargeFrequency"] = "Recurring"
        pricing_category = row.get("PricingCategory")
        if pricing_category in PRICING_CATEGORIES:
            row["PricingCategory"] = PRICING_CATEGORIES[pricing_category]

        category = row.get("ServiceCategory")
        if category not in CATEGORIES:
            category = row["ServiceCategory"] = "Other"
        if not row.get("ServiceSubcategory") or (
            SUBCATEGORY_PARENTS.get(row["ServiceSubcategory"]) != category
        ):
            known = AWS_SERVICES.get(row.get("x_AwsServiceCode") or "")
            if known is not None and known[1] == category:
                row["ServiceSubcategory"] = known[2]
            else:
                row["ServiceSubcategory"] = f"Other ({category})"

        if row.get("SkuMeter") is None and row.get("SkuId") is not None:
            row["SkuMeter"] = row.get("x_AwsUsageType")
        # 1.2 requires a ResourceType with every ResourceId (AWS's 1.0 export has none).
        if row.get("ResourceId") and not row.get("ResourceType"):
            row["ResourceType"] = classify_resource(
                str(row["ResourceId"]), None, str(row.get("ServiceName") or AWS)
            )

        # FOCUS 1.3 entities: AWS's 1.0 rows name the seller of a Marketplace offer in
        # PublisherName (ProviderName stays AWS).
        provider = row.get("ProviderName") or AWS
        publisher = row.get("PublisherName")
        if publisher and not is_aws_entity(publisher):
            service_provider = publisher
            host = AWS if row.get("ResourceId") else publisher
        else:
            service_provider = provider
            host = AWS
        if row.get("ChargeCategory") in ("Tax", "Credit", "Adjustment", "Purchase"):
            host = None
        row.setdefault("ServiceProviderName", service_provider)
        row.setdefault("HostProviderName", host)

        source, number = record.get("source_file"), record.get("row_number")
        row["x_SourceStream"] = STREAM
        row["x_SourceRecordId"] = rid
        row["x_RowKey"] = row_key(
            "aws", STREAM, payer, record.get("billing_period"), source, number, "row"
        )
        row["x_DeliveryId"] = str(delivery)
        return row


def _json(value: object, where: tuple[str, str | None, str]) -> object:
    if isinstance(value, str):
        try:
            value = json.loads(value, parse_float=Decimal)
        except ValueError:
            raise MappingError(*where, "not a JSON object") from None
    if not isinstance(value, dict):
        raise MappingError(*where, "not a JSON object")
    return value


_MAPPER = FocusExportMapper()


def map_focus_export(record: Mapping[str, t.Any]) -> Iterator[dict[str, t.Any]]:
    """The FOCUS row of one AWS FOCUS 1.0 export row, in the shape of FOCUS 1.2/1.3."""
    return _MAPPER(record)


MAPPINGS = (
    StreamMapping(
        provider="aws",
        stream=STREAM,
        required_properties=TAP_REQUIRED,
        map_record=map_focus_export,
        record_id=record_id,
        custom_columns=CUSTOM_COLUMNS,
    ),
)
