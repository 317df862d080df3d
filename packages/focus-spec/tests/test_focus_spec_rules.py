"""Each row rule rejects a bad value and accepts a good one."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest
from focus_spec import Violation, get_spec
from focus_spec_testdata import usage_row_1_2, usage_row_1_3

if TYPE_CHECKING:
    from collections.abc import Callable

SPEC = get_spec("1.3")
Row = dict[str, Any]


def found(row: Row, version: str = "1.3") -> set[tuple[str, str]]:
    violations = get_spec(version).validate_row(row)
    for item in violations:  # every message: one line, naming column and rule
        assert isinstance(item, Violation)
        assert "\n" not in item.message
        assert item.message.startswith(f"{item.column} [{item.rule}]: ")
    return {(item.column, item.rule) for item in violations}


def changed(**values: Any) -> Row:
    row = usage_row_1_3()
    row.update(values)
    return row


def without(*names: str) -> Row:
    row = usage_row_1_3()
    for name in names:
        del row[name]
    return row


def test_typical_rows_conform() -> None:
    assert found(usage_row_1_3()) == set()
    assert found(usage_row_1_2(), "1.2") == set()


# (row, exactly the violations expected)
CASES: list[tuple[str, Row, set[tuple[str, str]]]] = [
    # enumerations
    (
        "bad ChargeFrequency",
        changed(ChargeFrequency="Weekly"),
        {("ChargeFrequency", "allowed-values")},
    ),
    (
        "bad PricingCategory",
        changed(PricingCategory="Spot"),
        {("PricingCategory", "allowed-values")},
    ),
    ("ChargeClass casing", changed(ChargeClass="correction"), {("ChargeClass", "allowed-values")}),
    ("good ChargeClass", changed(ChargeClass="Correction"), set()),
    (
        "bad ServiceCategory",
        changed(ServiceCategory="Computing"),
        {("ServiceCategory", "allowed-values"), ("ServiceSubcategory", "service-subcategory")},
    ),
    (
        "bad ServiceSubcategory",
        changed(ServiceSubcategory="VMs"),
        {("ServiceSubcategory", "allowed-values")},
    ),
    ("other subcategory of Compute", changed(ServiceSubcategory="Containers"), set()),
    (
        "subcategory of another category",
        changed(ServiceSubcategory="Object Storage"),
        {("ServiceSubcategory", "service-subcategory")},
    ),
    ("Other (Other)", changed(ServiceCategory="Other", ServiceSubcategory="Other (Other)"), set()),
    # empty strings are never values
    (
        "empty ChargeDescription",
        changed(ChargeDescription=""),
        {("ChargeDescription", "empty-string")},
    ),
    (
        "empty AvailabilityZone",
        changed(AvailabilityZone=""),
        {("AvailabilityZone", "empty-string")},
    ),
    ("empty BilledCost", changed(BilledCost=""), {("BilledCost", "empty-string")}),
    ("empty Tags", changed(Tags=""), {("Tags", "empty-string")}),
    ("empty date", changed(BillingPeriodStart=""), {("BillingPeriodStart", "empty-string")}),
    ("null is fine", changed(AvailabilityZone=None, ChargeDescription=None, Tags=None), set()),
    # decimals: Decimal, int, decimal text; never float
    ("float cost", changed(BilledCost=0.0832), {("BilledCost", "type")}),
    ("float quantity", changed(ConsumedQuantity=1.0), {("ConsumedQuantity", "type")}),
    ("bool", changed(EffectiveCost=True), {("EffectiveCost", "type")}),
    ("NaN", changed(EffectiveCost=Decimal("NaN")), {("EffectiveCost", "decimal-format")}),
    ("infinity", changed(BilledCost=Decimal("Infinity")), {("BilledCost", "decimal-format")}),
    ("exponent text", changed(BilledCost="8.32e-2"), {("BilledCost", "decimal-format")}),
    ("thousands", changed(EffectiveCost="1,000.00"), {("EffectiveCost", "decimal-format")}),
    ("plus sign", changed(EffectiveCost="+1"), {("EffectiveCost", "decimal-format")}),
    ("currency sign", changed(EffectiveCost="$0.08"), {("EffectiveCost", "decimal-format")}),
    ("decimal text", changed(BilledCost="0.0832", EffectiveCost="-12.50"), set()),
    ("int", changed(PricingQuantity=1, ConsumedQuantity=3), set()),
    ("Decimal with exponent", changed(BilledCost=Decimal("8.32E-2")), set()),
    # date/times: UTC only
    (
        "naive datetime",
        changed(ChargePeriodStart=datetime(2025, 1, 1)),
        {("ChargePeriodStart", "datetime-utc")},
    ),
    (
        "+02:00 datetime",
        changed(ChargePeriodEnd=datetime(2025, 1, 1, 3, tzinfo=timezone(timedelta(hours=2)))),
        {("ChargePeriodEnd", "datetime-utc")},
    ),
    (
        "other UTC tzinfo",
        changed(BillingPeriodStart=datetime(2025, 1, 1, tzinfo=timezone(timedelta(0)))),
        set(),
    ),
    ("Z text", changed(ChargePeriodStart="2025-01-01T00:00:00Z"), set()),
    ("+00:00 text", changed(ChargePeriodStart="2025-01-01T00:00:00+00:00"), set()),
    ("fraction text", changed(ChargePeriodStart="2025-01-01T00:00:00.500Z"), set()),
    (
        "text without zone",
        changed(ChargePeriodStart="2025-01-01T00:00:00"),
        {("ChargePeriodStart", "datetime-utc")},
    ),
    (
        "text with space",
        changed(ChargePeriodStart="2025-01-01 00:00:00"),
        {("ChargePeriodStart", "datetime-utc")},
    ),
    (
        "non-UTC text",
        changed(ChargePeriodStart="2025-01-01T02:00:00+02:00"),
        {("ChargePeriodStart", "datetime-utc")},
    ),
    ("not ISO", changed(BillingPeriodEnd="02/01/2025"), {("BillingPeriodEnd", "datetime-format")}),
    (
        "no such month",
        changed(BillingPeriodEnd="2025-13-01T00:00:00Z"),
        {("BillingPeriodEnd", "datetime-format")},
    ),
    ("date object", changed(BillingPeriodStart=date(2025, 1, 1)), {("BillingPeriodStart", "type")}),
    # strings
    ("number as id", changed(BillingAccountId=123456789012), {("BillingAccountId", "type")}),
    # currencies
    (
        "lowercase billing currency",
        changed(BillingCurrency="usd"),
        {("BillingCurrency", "currency-format")},
    ),
    (
        "symbol billing currency",
        changed(BillingCurrency="US$"),
        {("BillingCurrency", "currency-format")},
    ),
    (
        "virtual billing currency",
        changed(BillingCurrency="Credits"),
        {("BillingCurrency", "currency-format")},
    ),
    ("EUR", changed(BillingCurrency="EUR"), set()),
    (
        "lowercase pricing currency",
        changed(PricingCurrency="eur"),
        {("PricingCurrency", "currency-format")},
    ),
    ("virtual pricing currency", changed(PricingCurrency="Token"), set()),
    # JSON: Tags (Key-Value Format)
    (
        "tags as JSON text",
        changed(Tags='{"env": "dev", "cost-center": 42, "flag": true, "x": null}'),
        set(),
    ),
    ("empty tags object", changed(Tags={}), set()),
    ("tags not JSON", changed(Tags="env=dev"), {("Tags", "json-object")}),
    ("tags array", changed(Tags='["env", "dev"]'), {("Tags", "json-object")}),
    ("tags NaN", changed(Tags='{"a": NaN}'), {("Tags", "json-object")}),
    (
        "tags duplicate key",
        changed(Tags='{"env": "dev", "env": "prod"}'),
        {("Tags", "key-value-format")},
    ),
    ("tags nested object", changed(Tags={"env": {"name": "dev"}}), {("Tags", "key-value-format")}),
    ("tags nested array", changed(Tags='{"owners": ["a", "b"]}'), {("Tags", "key-value-format")}),
    ("tags non-string key", changed(Tags={1: "a"}), {("Tags", "key-value-format")}),
    ("tags number", changed(Tags=5), {("Tags", "type")}),
    # JSON: SkuPriceDetails
    (
        "sku property not x_",
        changed(SkuPriceDetails={"Flavor": "m1"}),
        {("SkuPriceDetails", "custom-key-prefix")},
    ),
    (
        "sku property type",
        changed(SkuPriceDetails={"CoreCount": "4"}),
        {("SkuPriceDetails", "property-type")},
    ),
    (
        "sku nested",
        changed(SkuPriceDetails='{"x_Shape": {"a": 1}}'),
        {("SkuPriceDetails", "key-value-format")},
    ),
    ("sku text", changed(SkuPriceDetails='{"MemorySize": 8, "x_Burst": true}'), set()),
    # column names
    ("unknown column", changed(Foo=1), {("Foo", "unknown-column")}),
    ("wrong casing", changed(providerName="AWS"), {("providerName", "unknown-column")}),
    ("custom column", changed(x_Anything={"nested": [1]}), set()),
    # nullability
    ("null BilledCost", changed(BilledCost=None), {("BilledCost", "not-null")}),
    (
        "null ServiceProviderName",
        changed(ServiceProviderName=None),
        {("ServiceProviderName", "not-null")},
    ),
    ("null ChargeFrequency", changed(ChargeFrequency=None), {("ChargeFrequency", "not-null")}),
    (
        "null ServiceSubcategory",
        changed(ServiceSubcategory=None),
        {("ServiceSubcategory", "not-null")},
    ),
    (
        "null BillingAccountType",
        changed(BillingAccountType=None),
        {("BillingAccountType", "not-null")},
    ),
    ("null PricingCurrency", changed(PricingCurrency=None), {("PricingCurrency", "not-null")}),
    ("null HostProviderName", changed(HostProviderName=None), set()),
    ("null ChargeClass", changed(ChargeClass=None), set()),
    ("missing BilledCost", without("BilledCost"), {("BilledCost", "missing-column")}),
    ("missing ChargeClass", without("ChargeClass"), {("ChargeClass", "missing-column")}),
    ("missing conditional", without("Tags", "AvailabilityZone", "InvoiceId", "x_RowKey"), set()),
    # pairs that are null together
    ("unit without quantity", changed(PricingUnit=None), {("PricingUnit", "must-not-be-null")}),
    (
        "consumed unit without quantity",
        changed(ConsumedQuantity=None),
        {("ConsumedQuantity", "must-not-be-null"), ("ConsumedUnit", "must-be-null")},
    ),
    (
        "resource names without id",
        changed(ResourceId=None),
        {("ResourceName", "must-be-null"), ("ResourceType", "must-be-null")},
    ),
    ("resource type missing", changed(ResourceType=None), {("ResourceType", "must-not-be-null")}),
    ("resource without name", changed(ResourceName=None), set()),
    ("region name without id", changed(RegionId=None), {("RegionName", "must-be-null")}),
    ("region id without name", changed(RegionName=None), {("RegionName", "must-not-be-null")}),
    (
        "sub account without id",
        changed(SubAccountId=None),
        {("SubAccountName", "must-be-null"), ("SubAccountType", "must-be-null")},
    ),
    ("no sub account", changed(SubAccountId=None, SubAccountName=None, SubAccountType=None), set()),
    (
        "usage without SKU",
        changed(SkuId=None),
        {("SkuId", "must-not-be-null"), ("SkuMeter", "must-be-null")},
    ),
    # periods
    (
        "empty charge period",
        changed(ChargePeriodEnd=datetime(2025, 1, 1, tzinfo=UTC)),
        {("ChargePeriodEnd", "period-order")},
    ),
    (
        "billing period backwards",
        changed(BillingPeriodEnd="2024-12-01T00:00:00Z"),
        {("BillingPeriodEnd", "period-order")},
    ),
    # Purchase rows are not usage-based
    (
        "usage-based purchase",
        changed(ChargeCategory="Purchase", ConsumedQuantity=None, ConsumedUnit=None),
        {("ChargeFrequency", "charge-frequency")},
    ),
    (
        "one-time purchase",
        changed(
            ChargeCategory="Purchase",
            ChargeFrequency="One-Time",
            ConsumedQuantity=None,
            ConsumedUnit=None,
        ),
        set(),
    ),
    (
        "consumed quantity on a purchase",
        changed(ChargeCategory="Purchase", ChargeFrequency="Recurring"),
        {("ConsumedQuantity", "must-be-null")},
    ),
    # unit prices and costs
    (
        "negative list price",
        changed(ListUnitPrice=Decimal("-0.0832"), ListCost=Decimal("-0.0832")),
        {("ListUnitPrice", "non-negative")},
    ),
    (
        "list cost not price x quantity",
        changed(ListCost=Decimal("0.0900")),
        {("ListCost", "cost-product")},
    ),
    ("list cost rounded up to cents", changed(ListCost=Decimal("0.09")), set()),
    ("list cost rounded down to cents", changed(ListCost=Decimal("0.08")), set()),
    ("list cost two cents off", changed(ListCost=Decimal("0.10")), {("ListCost", "cost-product")}),
    (
        "contracted cost not price x quantity",
        changed(ContractedCost="0.0700"),
        {("ContractedCost", "cost-product")},
    ),
    (
        "cost rounded to its own scale",
        changed(
            ListUnitPrice=Decimal("0.0000166667"),
            ContractedUnitPrice=Decimal("0.0000166667"),
            ContractedCost=Decimal("0.0600001200"),
            PricingQuantity=Decimal("3600"),
            PricingUnit="GB-Seconds",
            ListCost=Decimal("0.06"),
        ),
        set(),
    ),
    (
        "cost off by more than its last digit",
        changed(
            ListUnitPrice=Decimal("0.0000166667"),
            ContractedUnitPrice=Decimal("0.0000166667"),
            ContractedCost=Decimal("0.0600001200"),
            PricingQuantity=Decimal("3600"),
            PricingUnit="GB-Seconds",
            ListCost=Decimal("0.0602"),
        ),
        {("ListCost", "cost-product")},
    ),
]


@pytest.mark.parametrize(
    ("row", "expected"), [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)
def test_rule(row: Row, expected: set[tuple[str, str]]) -> None:
    assert found(row) == expected


def tax_row(**values: Any) -> Row:
    row = changed(
        ChargeCategory="Tax",
        ChargeFrequency="Recurring",
        ChargeDescription="VAT",
        BilledCost=Decimal("0.02"),
        EffectiveCost=Decimal("0.02"),
        ListCost=Decimal("0.02"),
        ContractedCost=Decimal("0.02"),
        PricingCurrencyEffectiveCost=Decimal("0.02"),
        ListUnitPrice=None,
        ContractedUnitPrice=None,
        PricingCurrencyListUnitPrice=None,
        PricingCurrencyContractedUnitPrice=None,
        PricingQuantity=None,
        PricingUnit=None,
        PricingCategory=None,
        SkuId=None,
        SkuMeter=None,
        SkuPriceId=None,
        SkuPriceDetails=None,
        ConsumedQuantity=None,
        ConsumedUnit=None,
    )
    row.update(values)
    return row


def test_tax_rows() -> None:
    assert found(tax_row()) == set()
    assert found(tax_row(), "1.2") - {(name, "unknown-column") for name in NEW_13} == set()
    assert ("PricingCategory", "must-be-null") in found(tax_row(PricingCategory="Standard"))
    bad = found(tax_row(SkuId="SKU1", ListUnitPrice=Decimal("1")))
    assert {("SkuId", "must-be-null"), ("ListUnitPrice", "must-be-null")} <= bad


NEW_13 = (
    "AllocatedMethodDetails",
    "AllocatedMethodId",
    "AllocatedResourceId",
    "AllocatedResourceName",
    "AllocatedTags",
    "ContractApplied",
    "HostProviderName",
    "ServiceProviderName",
)


def commitment_row(**values: Any) -> Row:
    row = changed(
        CommitmentDiscountId="ri-123",
        CommitmentDiscountCategory="Usage",
        CommitmentDiscountType="Reserved Instance",
        CommitmentDiscountName="web fleet",
        CommitmentDiscountStatus="Used",
        CommitmentDiscountQuantity=Decimal("1"),
        CommitmentDiscountUnit="Hours",
        PricingCategory="Committed",
        BilledCost=Decimal("0"),
        EffectiveCost=Decimal("0.05"),
    )
    row.update(values)
    return row


COMMITMENT_CASES: list[tuple[str, Row, set[tuple[str, str]]]] = [
    ("used commitment", commitment_row(), set()),
    (
        "unused commitment",
        commitment_row(
            CommitmentDiscountStatus="Unused",
            ConsumedQuantity=None,
            ConsumedUnit=None,
            ResourceId="ri-123",
        ),
        set(),
    ),
    (
        "consumed quantity on unused row",
        commitment_row(CommitmentDiscountStatus="Unused"),
        {("ConsumedQuantity", "must-be-null")},
    ),
    (
        "status values",
        commitment_row(CommitmentDiscountStatus="Active"),
        {("CommitmentDiscountStatus", "allowed-values")},
    ),
    (
        "category values",
        commitment_row(CommitmentDiscountCategory="Time"),
        {("CommitmentDiscountCategory", "allowed-values")},
    ),
    (
        "status missing",
        commitment_row(CommitmentDiscountStatus=None),
        {("CommitmentDiscountStatus", "must-not-be-null")},
    ),
    (
        "status optional off usage",
        commitment_row(
            ChargeCategory="Credit",
            CommitmentDiscountStatus=None,
            ChargeFrequency="One-Time",
            ConsumedQuantity=None,
            ConsumedUnit=None,
            CommitmentDiscountQuantity=None,
            CommitmentDiscountUnit=None,
        ),
        set(),
    ),
    (
        "category missing",
        commitment_row(CommitmentDiscountCategory=None),
        {("CommitmentDiscountCategory", "must-not-be-null")},
    ),
    (
        "type missing",
        commitment_row(CommitmentDiscountType=None),
        {("CommitmentDiscountType", "must-not-be-null")},
    ),
    ("name may be null", commitment_row(CommitmentDiscountName=None), set()),
    (
        "quantity missing",
        commitment_row(CommitmentDiscountQuantity=None),
        {
            ("CommitmentDiscountQuantity", "must-not-be-null"),
            ("CommitmentDiscountUnit", "must-be-null"),
        },
    ),
    (
        "quantity may be null on corrections",
        commitment_row(
            ChargeClass="Correction", CommitmentDiscountQuantity=None, CommitmentDiscountUnit=None
        ),
        set(),
    ),
    (
        "no commitment id",
        commitment_row(CommitmentDiscountId=None),
        {
            ("CommitmentDiscountCategory", "must-be-null"),
            ("CommitmentDiscountType", "must-be-null"),
            ("CommitmentDiscountName", "must-be-null"),
            ("CommitmentDiscountStatus", "must-be-null"),
            ("CommitmentDiscountQuantity", "must-be-null"),
        },
    ),
    (
        "capacity reservation status without id",
        changed(CapacityReservationStatus="Used"),
        {("CapacityReservationStatus", "must-be-null")},
    ),
    (
        "capacity reservation usage without status",
        changed(CapacityReservationId="cr-1"),
        {("CapacityReservationStatus", "must-not-be-null")},
    ),
    (
        "unused capacity reservation without id",
        changed(CapacityReservationStatus="Unused"),
        {
            ("CapacityReservationId", "must-not-be-null"),
            ("CapacityReservationStatus", "must-be-null"),
        },
    ),
    (
        "capacity reservation",
        changed(CapacityReservationId="cr-1", CapacityReservationStatus="Used"),
        set(),
    ),
    (
        "capacity status values",
        changed(CapacityReservationId="cr-1", CapacityReservationStatus="Busy"),
        {("CapacityReservationStatus", "allowed-values")},
    ),
]


@pytest.mark.parametrize(
    ("row", "expected"),
    [case[1:] for case in COMMITMENT_CASES],
    ids=[case[0] for case in COMMITMENT_CASES],
)
def test_commitment_and_capacity_rules(row: Row, expected: set[tuple[str, str]]) -> None:
    assert found(row) == expected


def split_row(**values: Any) -> Row:
    row = changed(
        AllocatedMethodId="k8s-cpu-memory",
        AllocatedMethodDetails={
            "Elements": [
                {
                    "AllocatedRatio": Decimal("0.25"),
                    "UsageUnit": "vCPU",
                    "UsageQuantity": 1,
                    "x_Node": "n1",
                },
                {"AllocatedRatio": 0.5},
            ]
        },
        AllocatedResourceId="pod/web-1",
        AllocatedResourceName="web-1",
        AllocatedTags={"app": "web"},
    )
    row.update(values)
    return row


CONTRACT = {
    "Elements": [
        {
            "ContractID": "c-1",
            "ContractCommitmentID": "c-1",
            "ContractCommitmentAppliedCost": Decimal("15.00"),
        },
        {
            "ContractID": "c-1",
            "ContractCommitmentID": "cc-2",
            "ContractCommitmentAppliedQuantity": Decimal("0.5"),
            "ContractCommitmentAppliedUnit": "Hours",
            "x_Balance": 10,
        },
    ]
}


def element(**values: Any) -> dict[str, Any]:
    return {"Elements": [values]}


SPLIT_CASES: list[tuple[str, Row, set[tuple[str, str]]]] = [
    ("split allocation", split_row(), set()),
    (
        "split allocation as JSON text",
        split_row(AllocatedMethodDetails='{"Elements": [{"AllocatedRatio": 1}]}'),
        set(),
    ),
    (
        "no elements",
        split_row(AllocatedMethodDetails={"Elements": []}),
        {("AllocatedMethodDetails", "json-structure")},
    ),
    (
        "elements not array",
        split_row(AllocatedMethodDetails={"Elements": {"AllocatedRatio": 1}}),
        {("AllocatedMethodDetails", "json-structure")},
    ),
    (
        "no ratio",
        split_row(AllocatedMethodDetails=element(UsageUnit="vCPU")),
        {("AllocatedMethodDetails", "json-structure")},
    ),
    (
        "quantity without unit",
        split_row(AllocatedMethodDetails=element(AllocatedRatio=1, UsageQuantity=2)),
        {("AllocatedMethodDetails", "json-structure")},
    ),
    (
        "custom key without x_",
        split_row(AllocatedMethodDetails=element(AllocatedRatio=1, Node="n1")),
        {("AllocatedMethodDetails", "custom-key-prefix")},
    ),
    (
        "ratio as text",
        split_row(AllocatedMethodDetails=element(AllocatedRatio="0.5")),
        {("AllocatedMethodDetails", "json-structure")},
    ),
    (
        "nested value",
        split_row(AllocatedMethodDetails=element(AllocatedRatio=1, x_Extra={"a": 1})),
        {("AllocatedMethodDetails", "key-value-format")},
    ),
    (
        "allocated name missing",
        split_row(AllocatedResourceName=None),
        {("AllocatedResourceName", "must-not-be-null")},
    ),
    (
        "allocation columns without method",
        split_row(AllocatedMethodId=None),
        {
            ("AllocatedMethodDetails", "must-be-null"),
            ("AllocatedResourceId", "must-be-null"),
            ("AllocatedTags", "must-be-null"),
        },
    ),
    (
        "unallocated remainder",
        split_row(AllocatedResourceId=None, AllocatedResourceName=None, AllocatedTags=None),
        set(),
    ),
    (
        "allocated tags repeat Tags",
        split_row(AllocatedTags={"env": "prod"}),
        {("AllocatedTags", "allocated-tags")},
    ),
    (
        "allocated tags nested",
        split_row(AllocatedTags={"app": ["web"]}),
        {("AllocatedTags", "key-value-format")},
    ),
    ("contract applied", changed(ContractApplied=CONTRACT), set()),
    (
        "contract ID spelled Id",
        changed(
            ContractApplied=element(
                ContractId="c", ContractCommitmentID="c", ContractCommitmentAppliedCost=1
            )
        ),
        set(),
    ),
    (
        "contract not object",
        changed(ContractApplied='[{"ContractID": "c"}]'),
        {("ContractApplied", "json-object")},
    ),
    (
        "contract no commitment id",
        changed(ContractApplied=element(ContractID="c", ContractCommitmentAppliedCost=1)),
        {("ContractApplied", "json-structure")},
    ),
    (
        "contract nothing applied",
        changed(ContractApplied=element(ContractID="c", ContractCommitmentID="c")),
        {("ContractApplied", "json-structure")},
    ),
    (
        "contract quantity without unit",
        changed(
            ContractApplied=element(
                ContractID="c", ContractCommitmentID="c", ContractCommitmentAppliedQuantity=1
            )
        ),
        {("ContractApplied", "json-structure")},
    ),
    (
        "contract custom key",
        changed(
            ContractApplied=element(
                ContractID="c", ContractCommitmentID="c", ContractCommitmentAppliedCost=1, Balance=1
            )
        ),
        {("ContractApplied", "custom-key-prefix")},
    ),
    (
        "contract cost as text",
        changed(
            ContractApplied=element(
                ContractID="c", ContractCommitmentID="c", ContractCommitmentAppliedCost="1"
            )
        ),
        {("ContractApplied", "property-type")},
    ),
]


@pytest.mark.parametrize(
    ("row", "expected"), [case[1:] for case in SPLIT_CASES], ids=[case[0] for case in SPLIT_CASES]
)
def test_split_allocation_and_contract_rules(row: Row, expected: set[tuple[str, str]]) -> None:
    assert found(row) == expected


class Unprintable:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")


class Weird:
    def __eq__(self, other: object) -> bool:
        raise RuntimeError("no comparisons")

    __hash__ = object.__hash__


@pytest.mark.parametrize(
    "make",
    [
        lambda: {},
        lambda: {1: "a", None: None, ("a",): b"x"},
        lambda: changed(
            BilledCost=Unprintable(), Tags=Unprintable(), ChargePeriodStart=Unprintable()
        ),
        lambda: changed(ChargeCategory=Weird(), ChargeClass=Weird(), ServiceSubcategory=Weird()),
        lambda: changed(Tags=b"{}", SkuPriceDetails=[("a", 1)], BilledCost=object()),
        lambda: changed(
            ContractApplied={"Elements": [1, None]}, AllocatedMethodDetails={"Elements": "x"}
        ),
        lambda: {name: "" for name in SPEC.column_names},
        lambda: {name: 0 for name in SPEC.column_names},
    ],
)
def test_never_raises_on_bad_data(make: Callable[[], Row]) -> None:
    violations = SPEC.validate_row(make())
    assert isinstance(violations, list)
    assert violations
    assert all(isinstance(item, Violation) for item in violations)


def test_violation_is_a_frozen_value() -> None:
    (item,) = SPEC.validate_row(changed(ChargeCategory="Tax!"))[:1]
    assert item == Violation(
        "ChargeCategory",
        "allowed-values",
        "ChargeCategory [allowed-values]: 'Tax!' is not one of"
        " Adjustment, Credit, Purchase, Tax, Usage",
        "'Tax!'",
    )
    with pytest.raises(AttributeError):
        item.rule = "other"  # type: ignore[misc]
    assert str(item) == item.message


def test_value_repr_is_short_and_marks_missing() -> None:
    violations = SPEC.validate_row(
        changed(ChargeDescription=None, Foo="y" * 500) | {"BilledCost": 1.5}
    )
    by_column = {item.column: item for item in violations}
    assert len(by_column["Foo"].value_repr) <= 80
    assert by_column["BilledCost"].value_repr == "1.5"
    missing = SPEC.validate_row(without("EffectiveCost"))
    assert [(item.column, item.value_repr) for item in missing] == [("EffectiveCost", "<missing>")]
