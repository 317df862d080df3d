"""Column sets of the three AWS billing layouts, and how their names relate.

Legacy CUR names its columns `<category>/<Name>` (identity/LineItemId, lineItem/UnblendedCost,
resourceTags/user:Team) and types them in its manifest as String, OptionalString,
BigDecimal, OptionalBigDecimal, DateTime or Interval. CUR 2.0 (Data Exports table
COST_AND_USAGE_REPORT) uses the same columns in snake case, produced by the rule AWS
applies (an underscore before every capital, so reservation/ReservationARN becomes
reservation_reservation_a_r_n), types costs and quantities as double, rates as string,
usage and billing-period bounds as timestamp, and folds sparse groups (product attributes,
resource tags, cost categories, discounts) into MAP columns. The AWS FOCUS 1.0 export
(table FOCUS_1_0_AWS) has the FOCUS 1.0 columns plus x_CostCategories, x_Discounts,
x_Operation, x_ServiceCode and x_UsageType.
"""

from __future__ import annotations

import re

# --- legacy CUR: (column, manifest type) in the order a report lists them -----------------

LEGACY_COLUMNS: list[tuple[str, str]] = [
    ("identity/LineItemId", "String"),
    ("identity/TimeInterval", "Interval"),
    ("bill/InvoiceId", "String"),
    ("bill/InvoicingEntity", "String"),
    ("bill/BillingEntity", "String"),
    ("bill/BillType", "String"),
    ("bill/PayerAccountId", "String"),
    ("bill/BillingPeriodStartDate", "DateTime"),
    ("bill/BillingPeriodEndDate", "DateTime"),
    ("lineItem/UsageAccountId", "String"),
    ("lineItem/LineItemType", "String"),
    ("lineItem/UsageStartDate", "DateTime"),
    ("lineItem/UsageEndDate", "DateTime"),
    ("lineItem/ProductCode", "String"),
    ("lineItem/UsageType", "String"),
    ("lineItem/Operation", "String"),
    ("lineItem/AvailabilityZone", "String"),
    ("lineItem/ResourceId", "String"),
    ("lineItem/UsageAmount", "OptionalBigDecimal"),
    ("lineItem/NormalizationFactor", "OptionalBigDecimal"),
    ("lineItem/NormalizedUsageAmount", "OptionalBigDecimal"),
    ("lineItem/CurrencyCode", "String"),
    ("lineItem/UnblendedRate", "OptionalBigDecimal"),
    ("lineItem/UnblendedCost", "BigDecimal"),
    ("lineItem/BlendedRate", "OptionalBigDecimal"),
    ("lineItem/BlendedCost", "BigDecimal"),
    ("lineItem/LineItemDescription", "String"),
    ("lineItem/TaxType", "String"),
    ("lineItem/LegalEntity", "String"),
    ("lineItem/NetUnblendedRate", "OptionalBigDecimal"),
    ("lineItem/NetUnblendedCost", "OptionalBigDecimal"),
    ("product/ProductName", "String"),
    ("product/instanceFamily", "String"),
    ("product/instanceType", "String"),
    ("product/location", "String"),
    ("product/locationType", "String"),
    ("product/memory", "String"),
    ("product/operatingSystem", "String"),
    ("product/operation", "String"),
    ("product/productFamily", "String"),
    ("product/regionCode", "String"),
    ("product/servicecode", "String"),
    ("product/sku", "String"),
    ("product/tenancy", "String"),
    ("product/usagetype", "String"),
    ("product/vcpu", "String"),
    ("pricing/LeaseContractLength", "String"),
    ("pricing/OfferingClass", "String"),
    ("pricing/PurchaseOption", "String"),
    ("pricing/RateCode", "String"),
    ("pricing/RateId", "String"),
    ("pricing/currency", "String"),
    ("pricing/publicOnDemandCost", "BigDecimal"),
    ("pricing/publicOnDemandRate", "BigDecimal"),
    ("pricing/term", "String"),
    ("pricing/unit", "String"),
    ("reservation/AmortizedUpfrontCostForUsage", "BigDecimal"),
    ("reservation/AmortizedUpfrontFeeForBillingPeriod", "BigDecimal"),
    ("reservation/EffectiveCost", "BigDecimal"),
    ("reservation/EndTime", "OptionalString"),
    ("reservation/ModificationStatus", "OptionalString"),
    ("reservation/NumberOfReservations", "OptionalString"),
    ("reservation/RecurringFeeForUsage", "BigDecimal"),
    ("reservation/ReservationARN", "OptionalString"),
    ("reservation/StartTime", "OptionalString"),
    ("reservation/SubscriptionId", "String"),
    ("reservation/UnitsPerReservation", "OptionalString"),
    ("reservation/UnusedAmortizedUpfrontFeeForBillingPeriod", "BigDecimal"),
    ("reservation/UnusedQuantity", "BigDecimal"),
    ("reservation/UnusedRecurringFee", "BigDecimal"),
    ("reservation/UpfrontValue", "BigDecimal"),
    ("savingsPlan/TotalCommitmentToDate", "OptionalBigDecimal"),
    ("savingsPlan/SavingsPlanARN", "OptionalString"),
    ("savingsPlan/SavingsPlanRate", "OptionalBigDecimal"),
    ("savingsPlan/UsedCommitment", "OptionalBigDecimal"),
    ("savingsPlan/SavingsPlanEffectiveCost", "OptionalBigDecimal"),
    ("savingsPlan/AmortizedUpfrontCommitmentForBillingPeriod", "OptionalBigDecimal"),
    ("savingsPlan/RecurringCommitmentForBillingPeriod", "OptionalBigDecimal"),
    ("savingsPlan/StartTime", "OptionalString"),
    ("savingsPlan/EndTime", "OptionalString"),
    ("savingsPlan/OfferingType", "OptionalString"),
    ("savingsPlan/PaymentOption", "OptionalString"),
    ("savingsPlan/PurchaseTerm", "OptionalString"),
    ("savingsPlan/Region", "OptionalString"),
    ("savingsPlan/InstanceTypeFamily", "OptionalString"),
    ("discount/BundledDiscount", "OptionalBigDecimal"),
    ("discount/EdpDiscount", "OptionalBigDecimal"),
    ("discount/TotalDiscount", "OptionalBigDecimal"),
    ("costCategory/BusinessUnit", "OptionalString"),
]

# Attributes that CUR 2.0 keeps in its `product` MAP (key -> legacy column).
PRODUCT_MAP_KEYS: dict[str, str] = {
    "product_name": "product/ProductName",
    "memory": "product/memory",
    "operating_system": "product/operatingSystem",
    "tenancy": "product/tenancy",
    "vcpu": "product/vcpu",
}
# Legacy discount columns that CUR 2.0 keeps in its `discount` MAP (key -> legacy column).
DISCOUNT_MAP_KEYS: dict[str, str] = {"edp_discount": "discount/EdpDiscount"}
# Cost categories: CUR 2.0 `cost_category` MAP key -> legacy column.
COST_CATEGORY_KEYS: dict[str, str] = {"business_unit": "costCategory/BusinessUnit"}

DEFAULT_TAG_KEYS: tuple[str, ...] = (
    "user:Team",
    "user:Environment",
    "user:CostCenter",
    "aws:createdBy",
)

_CAPITAL = re.compile(r"([A-Z])")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def snake(legacy_name: str) -> str:
    """AWS's legacy-to-snake rule: lineItem/UnblendedCost -> line_item_unblended_cost,
    reservation/ReservationARN -> reservation_reservation_a_r_n, user:Team -> user_team."""
    return _NON_ALNUM.sub("_", _CAPITAL.sub(r"_\1", legacy_name).lower()).strip("_")


def _cur2_type(legacy: str, legacy_type: str) -> str:
    if legacy_type == "DateTime":
        return "timestamp"
    if legacy_type in {"BigDecimal", "OptionalBigDecimal"}:
        return (
            "string" if legacy.endswith("Rate") and "/SavingsPlanRate" not in legacy else "double"
        )
    return "string"


# --- CUR 2.0: (column, manifest type) --------------------------------------------------

_FOLDED = (
    set(PRODUCT_MAP_KEYS.values()) | set(DISCOUNT_MAP_KEYS.values()) | {"costCategory/BusinessUnit"}
)
CUR2_COLUMNS: list[tuple[str, str]] = []
for _legacy, _type in LEGACY_COLUMNS:
    if _legacy in _FOLDED:
        continue
    CUR2_COLUMNS.append((snake(_legacy), _cur2_type(_legacy, _type)))
    if _legacy == "bill/PayerAccountId":
        CUR2_COLUMNS.append(("bill_payer_account_name", "string"))
    if _legacy == "lineItem/UsageAccountId":
        CUR2_COLUMNS.append(("line_item_usage_account_name", "string"))
CUR2_COLUMNS += [
    ("product", "map<string,string>"),
    ("discount", "map<string,double>"),
    ("cost_category", "map<string,string>"),
    ("resource_tags", "map<string,string>"),
    # Added to CUR 2.0 later than the rest: a natural case of schema drift.
    ("capacity_reservation_capacity_reservation_arn", "string"),
    ("capacity_reservation_capacity_reservation_status", "string"),
    ("capacity_reservation_capacity_reservation_type", "string"),
]
CUR2_TYPES: dict[str, str] = dict(CUR2_COLUMNS)
CUR2_OF_LEGACY: dict[str, str] = {
    legacy: snake(legacy) for legacy, _ in LEGACY_COLUMNS if legacy not in _FOLDED
}

# --- AWS FOCUS 1.0 export (FOCUS_1_0_AWS): (column, type) --------------------------------

FOCUS_COLUMNS: list[tuple[str, str]] = [
    ("AvailabilityZone", "string"),
    ("BilledCost", "double"),
    ("BillingAccountId", "string"),
    ("BillingAccountName", "string"),
    ("BillingCurrency", "string"),
    ("BillingPeriodEnd", "timestamp"),
    ("BillingPeriodStart", "timestamp"),
    ("ChargeCategory", "string"),
    ("ChargeClass", "string"),
    ("ChargeDescription", "string"),
    ("ChargeFrequency", "string"),
    ("ChargePeriodEnd", "timestamp"),
    ("ChargePeriodStart", "timestamp"),
    ("CommitmentDiscountCategory", "string"),
    ("CommitmentDiscountId", "string"),
    ("CommitmentDiscountName", "string"),
    ("CommitmentDiscountStatus", "string"),
    ("CommitmentDiscountType", "string"),
    ("ConsumedQuantity", "double"),
    ("ConsumedUnit", "string"),
    ("ContractedCost", "double"),
    ("ContractedUnitPrice", "double"),
    ("EffectiveCost", "double"),
    ("InvoiceIssuerName", "string"),
    ("ListCost", "double"),
    ("ListUnitPrice", "double"),
    ("PricingCategory", "string"),
    ("PricingQuantity", "double"),
    ("PricingUnit", "string"),
    ("ProviderName", "string"),
    ("PublisherName", "string"),
    ("RegionId", "string"),
    ("RegionName", "string"),
    ("ResourceId", "string"),
    ("ResourceName", "string"),
    ("ResourceType", "string"),
    ("ServiceCategory", "string"),
    ("ServiceName", "string"),
    ("SkuId", "string"),
    ("SkuPriceId", "string"),
    ("SubAccountId", "string"),
    ("SubAccountName", "string"),
    ("Tags", "map<string,string>"),
    ("x_CostCategories", "map<string,string>"),
    ("x_Discounts", "map<string,double>"),
    ("x_Operation", "string"),
    ("x_ServiceCode", "string"),
    ("x_UsageType", "string"),
]
FOCUS_TYPES: dict[str, str] = dict(FOCUS_COLUMNS)


def legacy_columns(tag_keys: tuple[str, ...]) -> list[tuple[str, str]]:
    """A legacy report's columns: the fixed ones, then one resourceTags/<key> per tag key."""
    return LEGACY_COLUMNS + [(f"resourceTags/{key}", "OptionalString") for key in tag_keys]
