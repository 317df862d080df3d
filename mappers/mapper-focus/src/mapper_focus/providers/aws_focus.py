"""AWS's own FOCUS 1.0 export ("FOCUS 1.0 with AWS columns") normalised to FOCUS 1.2/1.3.

Source (tap-aws): `focus_export_rows`, the export's FOCUS 1.0 columns and AWS's x_ columns
(x_CostCategories, x_Discounts, x_Operation, x_ServiceCode, x_UsageType), plus the tap
fields. AWS already did the FOCUS mapping; this module brings the rows up to the configured
version (the mapper's RowShaper then keeps that version's columns):

- columns new since 1.0 that the row can answer: BillingAccountType, SubAccountType,
  ServiceSubcategory (from the AWS service table by x_ServiceCode, under AWS's own
  ServiceCategory), SkuMeter (= x_UsageType, as AWS's own FOCUS 1.2 export does),
  ServiceProviderName and HostProviderName (1.3);
- values 1.0 allowed that 1.2/1.3 do not: a Purchase with ChargeFrequency "Usage-Based"
  becomes "Recurring"; 1.0-preview PricingCategory spellings become the allowed values;
  a ServiceCategory outside the allowed list becomes "Other"; empty text becomes null;
- the conformance gaps AWS documents for this export ("FOCUS 1.0 with AWS columns
  conformance gaps": ListUnitPrice, ContractedUnitPrice, PricingUnit, SkuId, SkuPriceId,
  InvoiceIssuerName and PublisherName may be null; ConsumedQuantity is the quantity
  charged for), filled only from what the row itself says exactly (`_price`,
  `_entities`); money columns are never changed, and what cannot be filled honestly
  fails the record with a MappingError naming the column;
- AWS's x_ columns keep their data under finfocus' AWS names (x_AwsUsageType, ...), the
  same columns the CUR mappings write, so CUR and FOCUS-export rows share one table.

Columns 1.2 added that a 1.0 row cannot answer (CommitmentDiscountQuantity/Unit,
CapacityReservation*, SkuPriceDetails, PricingCurrency*, InvoiceId) stay absent: FOCUS
lets a dataset leave Conditional columns out, and a null in them would break their rules.
The rules and the reasons are in the README (section "AWS", "AWS's FOCUS 1.0 export").
"""

from __future__ import annotations

import datetime as dt
import json
import typing as t
from decimal import Context, Decimal, DivisionByZero, Inexact, InvalidOperation

from focus_spec import SUPPORTED_VERSIONS, get_spec

from mapper_focus.providers.aws_common import (
    AWS,
    BILLING_ACCOUNT_TYPE,
    CUSTOM_COLUMNS,
    ONE,
    SUB_ACCOUNT_TYPE,
    Timestamps,
    decimal_or_none,
    focus_unit,
    is_aws_entity,
    iso_exact,
    record_id,
)
from mapper_focus.providers.aws_cur import RI, SP, TAP_REQUIRED, classify_resource
from mapper_focus.providers.aws_services import AWS_SERVICES
from mapper_focus.registry import StreamMapping
from mapper_focus.rows import MappingError, delivery_scope, row_key

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
#: Unit price -> the cost it prices (ListCost = ListUnitPrice x PricingQuantity, ...).
PRICE_COSTS = (("ListUnitPrice", "ListCost"), ("ContractedUnitPrice", "ContractedCost"))
COMMITMENT_COLUMNS = (
    "CommitmentDiscountCategory",
    "CommitmentDiscountName",
    "CommitmentDiscountStatus",
    "CommitmentDiscountType",
)
#: Columns FOCUS wants null on Tax rows.
TAX_NULL_COLUMNS = (
    "ListUnitPrice",
    "ContractedUnitPrice",
    "PricingQuantity",
    "PricingUnit",
    "PricingCategory",
    "SkuId",
    "SkuPriceId",
)
HOSTLESS = frozenset({"Tax", "Credit", "Adjustment", "Purchase"})
GAP = "AWS leaves it empty on some rows (a documented gap of its FOCUS 1.0 export)"
HOUR = dt.timedelta(hours=1)
#: Decimal places of the datasets finfocus writes (Parquet decimal128(38, 18)).
MAX_PLACES = 18
_QUOTIENT = Context(prec=60, traps=[Inexact, InvalidOperation, DivisionByZero])
_PRODUCT = Context(prec=200)


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
        moments: dict[str, dt.datetime] = {}
        for column, value in record.items():
            if column in SPEC_COLUMNS:
                if value == "":
                    value = None
                elif value is not None:
                    if column in DECIMAL_COLUMNS:
                        value = decimal_or_none(value, (STREAM, rid, column))
                    elif column in DATETIME_COLUMNS:
                        moments[column], value = parse(value, (STREAM, rid, column))
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

        _charge_period(row, rid, moments)
        _entities(row, rid)
        _commitment(row, rid)
        charge = row.get("ChargeCategory")
        if charge != "Usage":
            _nulls(row, rid, charge)
        if charge in ("Usage", "Purchase"):
            _price(row, rid)
        for unit in ("PricingUnit", "ConsumedUnit"):
            if row.get(unit):
                row[unit] = focus_unit(row[unit])

        if row.get("SkuMeter") is None and row.get("SkuId") is not None:
            row["SkuMeter"] = row.get("x_AwsUsageType")
        # 1.2 requires a ResourceType with every ResourceId (AWS's 1.0 export has none).
        if row.get("ResourceId") and not row.get("ResourceType"):
            row["ResourceType"] = classify_resource(
                str(row["ResourceId"]), None, str(row.get("ServiceName") or AWS)
            )

        # FOCUS 1.3 entities: AWS's 1.0 rows name the seller of a Marketplace offer in
        # PublisherName (ProviderName stays AWS).
        provider = row["ProviderName"]
        publisher = row.get("PublisherName")
        if publisher and not is_aws_entity(publisher):
            service_provider = publisher
            host = AWS if row.get("ResourceId") else publisher
        else:
            service_provider = provider
            host = AWS
        if row.get("ChargeCategory") in HOSTLESS:
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
        row["x_DeliveryScope"] = delivery_scope("focus", record.get("export_name"))
        return row


def _charge_period(row: dict[str, t.Any], rid: str | None, moments: dict[str, dt.datetime]) -> None:
    """A charge stamped at one instant (AWS stamps upfront purchases so) gets the hour that
    contains it: FOCUS periods are [start, end), so start = end would be empty."""
    start, end = moments.get("ChargePeriodStart"), moments.get("ChargePeriodEnd")
    if start is None or end is None or start < end:
        return
    if end < start:
        raise MappingError(STREAM, rid, "ChargePeriodEnd", "is before ChargePeriodStart")
    row["ChargePeriodEnd"] = iso_exact(start.replace(minute=0, second=0, microsecond=0) + HOUR)


def _entities(row: dict[str, t.Any], rid: str | None) -> None:
    """ProviderName, InvoiceIssuerName and PublisherName, which FOCUS requires on every row.

    The export is AWS's bill: ProviderName is AWS on every row (also for Marketplace offers,
    whose seller is the PublisherName). InvoiceIssuerName is named like ProviderName, as the
    CUR mappings do (FOCUS 1.2 reads ProviderName != InvoiceIssuerName as "paid to a third
    party"); AWS's legal entity stays in x_AwsInvoicingEntity. A null issuer (documented
    gap) is AWS: every charge of an AWS bill is invoiced by an AWS entity. A null publisher
    (documented gap) is AWS only when the service is one of AWS's own; otherwise it may be a
    Marketplace seller, which the row does not name.
    """
    provider = row.get("ProviderName")
    if provider is None:
        provider = row["ProviderName"] = AWS
    issuer = row.get("InvoiceIssuerName")
    row["x_AwsInvoicingEntity"] = issuer
    if issuer is None or is_aws_entity(issuer):
        row["InvoiceIssuerName"] = provider if is_aws_entity(provider) else AWS
    if row.get("PublisherName") is None:
        code = row.get("x_AwsServiceCode")
        name = row.get("ServiceName") or ""
        if code in AWS_SERVICES or name.startswith(("Amazon", "AWS")):
            row["PublisherName"] = provider
        else:
            raise MappingError(
                STREAM,
                rid,
                "PublisherName",
                f"{GAP}, and service {code or name or '<none>'!r} is not one of AWS's own, so "
                "the publisher (possibly a Marketplace seller) is unknown",
            )


def _commitment(row: dict[str, t.Any], rid: str | None) -> None:
    """Commitment columns consistent with CommitmentDiscountId (FOCUS 1.2 ties them)."""
    commitment = row.get("CommitmentDiscountId")
    if commitment is None:
        for column in COMMITMENT_COLUMNS:
            if row.get(column) is not None:
                raise MappingError(STREAM, rid, column, "set on a row without CommitmentDiscountId")
        return
    if row.get("CommitmentDiscountType") is None or row.get("CommitmentDiscountCategory") is None:
        arn = str(commitment)
        kind = (
            SP if ":savingsplans:" in arn else RI if ("reserved" in arn or ":ri:" in arn) else None
        )
        if kind is None:
            column = (
                "CommitmentDiscountType"
                if row.get("CommitmentDiscountType") is None
                else "CommitmentDiscountCategory"
            )
            raise MappingError(
                STREAM,
                rid,
                column,
                f"empty, and {arn!r} is neither a Savings Plan nor a reservation",
            )
        row["CommitmentDiscountType"] = row.get("CommitmentDiscountType") or kind[0]
        row["CommitmentDiscountCategory"] = row.get("CommitmentDiscountCategory") or kind[1]
    if row.get("ChargeCategory") == "Purchase" and row.get("EffectiveCost"):
        # FOCUS: a purchase that covers future charges has EffectiveCost 0; the amount
        # belongs to the usage it covers and to an "Unused" usage row, which this row
        # cannot describe (it has no unused quantity). Moving it would change the row's
        # EffectiveCost, so the row is refused rather than guessed.
        raise MappingError(
            STREAM,
            rid,
            "EffectiveCost",
            f"{row['EffectiveCost']} on a commitment purchase, which FOCUS requires to be 0 "
            "(the unused part belongs on a Usage row with CommitmentDiscountStatus Unused)",
        )
    if row.get("ChargeCategory") == "Usage" and row.get("CommitmentDiscountStatus") is None:
        # Usage that consumed something used the commitment; an unused commitment consumes
        # nothing, and a row without consumption cannot say which it is.
        if row.get("ConsumedQuantity"):
            row["CommitmentDiscountStatus"] = "Used"
        else:
            raise MappingError(
                STREAM,
                rid,
                "CommitmentDiscountStatus",
                "empty on commitment usage without ConsumedQuantity: used or unused is unknown",
            )


def _price(row: dict[str, t.Any], rid: str | None) -> None:
    """Quantities, units, unit prices, SKU and pricing category of a Usage or Purchase row.

    FOCUS 1.2 wants them on every such row that is not a correction; AWS documents that
    some may be empty. They are filled only from the row itself, exactly:

    - PricingQuantity/Unit and ConsumedQuantity/Unit are one measure in this export (AWS:
      "ConsumedQuantity will contain the amount of usage you were charged for"), so a
      missing one is the other when the units (or quantities) agree;
    - a Purchase without a pricing unit (AWS leaves it empty on upfront and commitment
      fees) is a purchase of an amount in the billing currency: PricingQuantity =
      ContractedCost, PricingUnit = BillingCurrency, ContractedUnitPrice 1, ListUnitPrice
      ListCost / ContractedCost (1 when they are equal), as FOCUS's commitment purchase
      examples and the CUR mapping price them;
    - a missing unit price is cost / PricingQuantity when that quotient is exact (so
      price x quantity = cost holds digit for digit) and fits the dataset's 18 places;
    - a unit price AWS gives must price its cost (the product rounded to the cost's
      decimals, the spec package's rule); a negative one is refused (FOCUS forbids it);
    - SkuId = x_UsageType when empty (as the CUR mapping does), SkuPriceId = SkuId when
      empty (the spec lets them be equal when there is no separate price id);
    - PricingCategory, when empty: Committed for commitment usage, Dynamic for Spot usage,
      else Standard.

    ListCost, ContractedCost, BilledCost and EffectiveCost are never changed.
    """
    correction = row.get("ChargeClass") == "Correction"
    usage = row.get("ChargeCategory") == "Usage"
    quantity, unit = row.get("PricingQuantity"), row.get("PricingUnit")
    consumed, consumed_unit = row.get("ConsumedQuantity"), row.get("ConsumedUnit")

    if quantity is None and consumed is not None and unit in (None, consumed_unit):
        quantity, unit = consumed, consumed_unit
    elif unit is None and consumed_unit is not None and quantity == consumed:
        unit = consumed_unit
    if usage and row.get("CommitmentDiscountStatus") != "Unused" and not correction:
        if consumed is None and quantity is not None and consumed_unit in (None, unit):
            consumed, consumed_unit = quantity, unit
        elif consumed_unit is None and consumed is not None and consumed == quantity:
            consumed_unit = unit

    prices: dict[str, Decimal | None] = {price: row.get(price) for price, _ in PRICE_COSTS}
    if not usage and (quantity is None or unit is None):
        amount = row.get("ContractedCost")
        if amount is None:
            raise MappingError(STREAM, rid, "ContractedCost", "required field is missing")
        currency = row.get("BillingCurrency")
        if currency is None:
            raise MappingError(STREAM, rid, "BillingCurrency", "required field is missing")
        quantity, unit = amount, currency
        same = row.get("ListCost") == amount
        prices = {"ContractedUnitPrice": ONE, "ListUnitPrice": ONE if same else None}
    if not correction:
        if quantity is None:
            raise MappingError(
                STREAM, rid, "PricingQuantity", "empty, and no ConsumedQuantity to take it from"
            )
        if unit is None:
            raise MappingError(
                STREAM, rid, "PricingUnit", f"{GAP}, and no ConsumedUnit of the same quantity"
            )
        if usage and consumed is not None and consumed_unit is None:
            raise MappingError(STREAM, rid, "ConsumedUnit", "empty, and no unit to take it from")

    for price_column, cost_column in PRICE_COSTS:
        price = prices[price_column]
        cost = row.get(cost_column)
        if price is None:
            if quantity is not None and cost is not None:
                price = exact_unit_price(cost, quantity)
            if price is None and not correction:
                raise MappingError(
                    STREAM,
                    rid,
                    price_column,
                    f"{GAP}, and {cost_column} / PricingQuantity ({cost} / {quantity}) is not "
                    f"an exact non-negative decimal of at most {MAX_PLACES} places",
                )
        elif price < 0:
            raise MappingError(STREAM, rid, price_column, f"negative unit price {price}")
        elif quantity is not None and cost is not None and not prices_cost(price, quantity, cost):
            raise MappingError(
                STREAM,
                rid,
                cost_column,
                f"{cost} is not {price_column} x PricingQuantity ({price} x {quantity})",
            )
        prices[price_column] = price
    row.update(prices)
    row["PricingQuantity"], row["PricingUnit"] = quantity, unit
    if usage:
        row["ConsumedQuantity"], row["ConsumedUnit"] = consumed, consumed_unit

    priced = prices["ListUnitPrice"] is not None and prices["ContractedUnitPrice"] is not None
    if not correction or priced:
        if row.get("SkuId") is None:
            row["SkuId"] = row.get("x_AwsUsageType")
            if row["SkuId"] is None and not correction:
                raise MappingError(STREAM, rid, "SkuId", f"{GAP}, and x_UsageType is empty too")
        if row.get("SkuPriceId") is None:
            row["SkuPriceId"] = row.get("SkuId")
    elif row.get("SkuPriceId") is not None:
        # FOCUS 1.3: a SKU price id needs its unit prices, also on corrections.
        missing = next(p for p, _ in PRICE_COSTS if prices[p] is None)
        raise MappingError(STREAM, rid, missing, f"{GAP}, and it cannot be derived exactly")

    if row.get("PricingCategory") is None and not correction:
        if usage and row.get("CommitmentDiscountId") is not None:
            row["PricingCategory"] = "Committed"
        elif usage and "SpotUsage" in (row.get("x_AwsUsageType") or ""):
            row["PricingCategory"] = "Dynamic"
        else:
            row["PricingCategory"] = "Standard"


def _nulls(row: dict[str, t.Any], rid: str | None, charge: object) -> None:
    """FOCUS: only Usage consumes, and a Tax row has no price, quantity or SKU. AWS's
    export keeps these rules (they are not among its documented gaps); a row that breaks
    them cannot be repaired without dropping data, so it is refused."""
    columns: tuple[str, ...] = ("ConsumedQuantity", "ConsumedUnit")
    if charge == "Tax":
        columns += TAX_NULL_COLUMNS
    for column in columns:
        if row.get(column) is not None:
            raise MappingError(
                STREAM, rid, column, f"set on a {charge} row, where FOCUS wants null"
            )


def exact_unit_price(cost: Decimal, quantity: Decimal) -> Decimal | None:
    """cost / quantity when that is an exact, non-negative decimal of at most 18 places
    (so unit price x quantity = cost digit for digit), else None."""
    if not quantity:
        return None
    try:
        price = _QUOTIENT.divide(cost, quantity)
    except ArithmeticError:  # Inexact: the quotient does not terminate within 60 digits
        return None
    if price < 0:
        return None
    if not price:
        return Decimal(0)
    exponent = price.as_tuple().exponent
    assert isinstance(exponent, int)
    if exponent < -MAX_PLACES:
        price = price.normalize()
        exponent = price.as_tuple().exponent
        assert isinstance(exponent, int)
        if exponent < -MAX_PLACES:
            return None
    return price


def prices_cost(price: Decimal, quantity: Decimal, cost: Decimal) -> bool:
    """Whether cost is price x quantity, exactly or rounded to the cost's own decimals
    (less than one unit of its last place apart): the spec package's cost-product rule."""
    product = _PRODUCT.multiply(price, quantity)
    if product == cost:
        return True
    exponent = cost.as_tuple().exponent
    assert isinstance(exponent, int)
    return abs(_PRODUCT.subtract(product, cost)) < Decimal(1).scaleb(exponent)


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
