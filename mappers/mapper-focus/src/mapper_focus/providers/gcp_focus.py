"""Google's own FOCUS rows (the Cloud Billing FOCUS export, or Google's FOCUS view over
the detailed export) normalised to FOCUS 1.2/1.3.

Source (tap-gcp): `focus_export`, Google's FOCUS 1.0-era columns and its x_ columns
(x_Credits, x_CostType, x_ExportTime, x_Location, x_Project, x_ServiceId, x_Labels,
x_ProjectLabels, x_SystemLabels, x_Tags, x_SubscriptionInstanceId, ...) plus the tap's
`row_key` and `table`. Google already did the mapping, so each record stays one row with
Google's amounts (its BilledCost and EffectiveCost have the row's credits netted in; the
credits stay in x_GcpCredits). This module brings the row to the configured version:

- columns later versions require that Google's rows lack: ChargeFrequency (by category),
  BillingAccountType, SubAccountType, InvoiceIssuerName, ServiceCategory and
  ServiceSubcategory (the Google Cloud service table), ServiceProviderName and
  HostProviderName (1.3), ResourceType, RegionName, Tags (finalized from x_Labels,
  x_ProjectLabels, x_Tags and x_SystemLabels as the billing export mapping does), and the
  commitment columns from x_Credits' committed use discounts;
- values FOCUS 1.2/1.3 do not allow: the view's lower-case enumerations ("usage",
  "correction", "committed"), Tags as an array of {key, value} structs, a billing period
  in Pacific time with an inclusive end (it becomes the invoice month in UTC, [start,
  end)), the view's SubAccountId = billing account (it becomes the project), pricing
  columns on Tax rows, empty text;
- Google's x_ columns keep their data under finfocus' Google names (x_GcpCostType,
  x_GcpExportTime, ...), the columns the billing export mappings write; x_ columns this
  module does not know go, as given, to x_GcpExtra.
"""

from __future__ import annotations

import json
import typing as t
from decimal import ROUND_CEILING, ROUND_FLOOR, Context, Decimal

from focus_spec import get_spec

from mapper_focus.providers.aws_common import Timestamps, decimal_or_none
from mapper_focus.providers.aws_focus import (  # FOCUS column sets by data type
    CATEGORIES,
    DATETIME_COLUMNS,
    DECIMAL_COLUMNS,
    JSON_COLUMNS,
    SPEC_COLUMNS,
    SUBCATEGORY_PARENTS,
)
from mapper_focus.providers.gcp_billing import (
    BILLING_ACCOUNT_TYPE,
    COMMITMENT_TYPE,
    COST_TYPES,
    CREDIT,
    CREDIT_RULES,
    CUSTOM_COLUMNS,
    GOOGLE,
    PROVIDER,
    SUB_ACCOUNT_TYPE,
    ZERO,
    Periods,
    finalize_tags,
    quotient,
    record_id,
    resource_type,
    system_label_items,
)
from mapper_focus.providers.gcp_data import (
    NOT_REGIONS,
    focus_unit,
    region_name,
    service_category,
)
from mapper_focus.registry import StreamMapping
from mapper_focus.rows import MappingError, row_key

if t.TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

STREAM = "focus_export"

_SPEC = get_spec("1.3")
ENUM_COLUMNS: dict[str, dict[str, str]] = {
    c.name: {value.casefold(): value for value in c.allowed_values}
    for c in _SPEC.columns
    if c.allowed_values and c.name not in ("ServiceCategory", "ServiceSubcategory")
}
ENUM_COLUMNS["PricingCategory"].update(
    {"on-demand": "Standard", "ondemand": "Standard", "commitment-based": "Committed"}
)

# What each input column is (decided once per schema).
TAP, TEXT, DECIMAL, DATETIME, JSON_OBJECT, ENUM, TAGS, EXTRA = range(8)
X_TEXT, X_DECIMAL, X_DATETIME, X_CREDITS, X_PROJECT, X_LABELS = range(8, 14)
TAP_FIELDS = frozenset({"row_key", "usage_key", "table"})
#: Google's x_ columns -> (kind, finfocus column)
GOOGLE_COLUMNS: dict[str, tuple[int, str]] = {
    "x_CostType": (X_TEXT, "x_GcpCostType"),
    "x_Location": (X_TEXT, "x_GcpLocation"),
    "x_ServiceId": (X_TEXT, "x_GcpServiceId"),
    "x_SubscriptionInstanceId": (X_TEXT, "x_GcpSubscriptionInstanceId"),
    "x_ConsumptionModelId": (X_TEXT, "x_GcpConsumptionModelId"),
    "x_CurrencyConversionRate": (X_DECIMAL, "x_GcpCurrencyConversionRate"),
    "x_ExportTime": (X_DATETIME, "x_GcpExportTime"),
    "x_Credits": (X_CREDITS, "x_GcpCredits"),
    "x_Project": (X_PROJECT, "x_GcpProjectNumber"),
    "x_Labels": (X_LABELS, "labels"),
    "x_ProjectLabels": (X_LABELS, "project_labels"),
    "x_Tags": (X_LABELS, "tags"),
    "x_SystemLabels": (X_LABELS, "system_labels"),
}
#: Tags entries of Google's view carry their source in x_type.
VIEW_TAG_SOURCES = {
    "label": "labels",
    "project_label": "project_labels",
    "tag": "tags",
    "system_label": "system_labels",
}
PRICE_COLUMNS = (
    "ListUnitPrice",
    "ContractedUnitPrice",
    "PricingQuantity",
    "PricingUnit",
    "PricingCategory",
    "SkuId",
    "SkuPriceId",
    "SkuMeter",
    "SkuPriceDetails",
    "PricingCurrencyListUnitPrice",
    "PricingCurrencyContractedUnitPrice",
)
PRICING_CURRENCY_COLUMNS = (
    "PricingCurrency",
    "PricingCurrencyListUnitPrice",
    "PricingCurrencyContractedUnitPrice",
    "PricingCurrencyEffectiveCost",
)
FREQUENCY = {
    "Usage": "Usage-Based",
    "Purchase": "Recurring",
    "Tax": "Recurring",
    "Credit": "Usage-Based",
    "Adjustment": "One-Time",
}
HOSTLESS = frozenset({"Tax", "Credit", "Adjustment", "Purchase"})


def _kind(column: str) -> int:
    if column in TAP_FIELDS:
        return TAP
    if column in GOOGLE_COLUMNS:
        return GOOGLE_COLUMNS[column][0]
    if column == "Tags":
        return TAGS
    if column in SPEC_COLUMNS:
        if column in DECIMAL_COLUMNS:
            return DECIMAL
        if column in DATETIME_COLUMNS:
            return DATETIME
        if column in JSON_COLUMNS:
            return JSON_OBJECT
        if column in ENUM_COLUMNS:
            return ENUM
        return TEXT
    return EXTRA


class FocusExportMapper:
    """Maps `focus_export` records (one FOCUS row each)."""

    LIMIT = 64

    def __init__(self) -> None:
        self.timestamps = Timestamps()
        self.periods = Periods()
        self.layouts: dict[tuple[str, ...], tuple[tuple[str, int], ...]] = {}

    def __call__(self, record: Mapping[str, t.Any]) -> Iterator[dict[str, t.Any]]:
        return iter((self.map(record),))

    def layout(self, record: Mapping[str, t.Any]) -> tuple[tuple[str, int], ...]:
        keys = tuple(record)
        found = self.layouts.get(keys)
        if found is None:
            if len(self.layouts) >= self.LIMIT:
                self.layouts.clear()
            found = self.layouts[keys] = tuple((key, _kind(key)) for key in keys)
        return found

    def map(self, record: Mapping[str, t.Any]) -> dict[str, t.Any]:
        rid = record_id(record)
        if rid is None:
            raise MappingError(STREAM, None, "row_key", "required field is missing")
        where = (STREAM, rid)
        parse = self.timestamps.parse
        row: dict[str, t.Any] = {}
        extra: dict[str, t.Any] = {}
        tag_sources: dict[str, t.Any] = {}
        view_tags: object = None
        credits: list[dict[str, t.Any]] = []
        project: Mapping[str, t.Any] = {}
        for column, kind in self.layout(record):
            value = record[column]
            if value == "":
                value = None
            if kind == TAP:
                continue
            if kind == TEXT:
                row[column] = value if value is None or isinstance(value, str) else str(value)
            elif kind == DECIMAL:
                row[column] = decimal_or_none(value, (STREAM, rid, column))
            elif kind == DATETIME:
                row[column] = None if value is None else parse(value, (STREAM, rid, column))[1]
            elif kind == ENUM:
                row[column] = _enum(column, value, where)
            elif kind == JSON_OBJECT:
                row[column] = _json_object(value, (STREAM, rid, column))
            elif kind == TAGS:
                view_tags = value
            elif kind == EXTRA:
                if value is not None:
                    extra[column] = value
            else:
                target = GOOGLE_COLUMNS[column][1]
                if kind == X_TEXT:
                    row[target] = None if value is None else str(value)
                elif kind == X_DECIMAL:
                    row[target] = decimal_or_none(value, (STREAM, rid, column))
                elif kind == X_DATETIME:
                    row[target] = None if value is None else parse(value, (STREAM, rid, column))[1]
                elif kind == X_CREDITS:
                    credits = _credits(value, (STREAM, rid, column))
                    row[target] = credits or None
                elif kind == X_PROJECT:
                    if value is not None and not isinstance(value, dict):
                        raise MappingError(STREAM, rid, column, "expected an object")
                    project = value or {}
                elif kind == X_LABELS:
                    tag_sources[target] = value

        account = row.get("BillingAccountId")
        if account is None:
            raise MappingError(STREAM, rid, "BillingAccountId", "required field is missing")
        currency = row.get("BillingCurrency")
        if currency is None:
            raise MappingError(STREAM, rid, "BillingCurrency", "required field is missing")
        row["BillingCurrency"] = currency.upper()

        # Billing period: the invoice month, in UTC. Google's view starts it at Pacific
        # midnight and ends it on the last day (inclusive); both fall in the same UTC month.
        period_start = row.get("BillingPeriodStart")
        if period_start is None:
            raise MappingError(STREAM, rid, "BillingPeriodStart", "required field is missing")
        month_moment = parse(period_start, (STREAM, rid, "BillingPeriodStart"))[0]
        month = f"{month_moment.year:04d}{month_moment.month:02d}"
        _, row["BillingPeriodStart"], row["BillingPeriodEnd"], _ = self.periods(
            month, (STREAM, rid, "BillingPeriodStart")
        )
        row["x_GcpInvoiceMonth"] = month
        for column in ("ChargePeriodStart", "ChargePeriodEnd"):
            if row.get(column) is None:
                raise MappingError(STREAM, rid, column, "required field is missing")

        # Category and frequency.
        category = row.get("ChargeCategory")
        if category is None:
            cost_type = (row.get("x_GcpCostType") or "").lower()
            if cost_type not in COST_TYPES:
                raise MappingError(STREAM, rid, "ChargeCategory", "required field is missing")
            category = row["ChargeCategory"] = COST_TYPES[cost_type][0]
        frequency = row.get("ChargeFrequency")
        if frequency is None or (category == "Purchase" and frequency == "Usage-Based"):
            row["ChargeFrequency"] = FREQUENCY[category]

        # Accounts: the project is the sub account (Google's view writes the billing
        # account there).
        row["BillingAccountType"] = row.get("BillingAccountType") or BILLING_ACCOUNT_TYPE
        project_id = _text(project.get("Id") or project.get("id"))
        if project_id and row.get("SubAccountId") in (None, account):
            row["SubAccountId"] = project_id
            row["SubAccountName"] = _text(project.get("Name") or project.get("name"))
        if row.get("SubAccountId") is not None:
            row["SubAccountName"] = row.get("SubAccountName") or row["SubAccountId"]
            row["SubAccountType"] = row.get("SubAccountType") or SUB_ACCOUNT_TYPE
        if project:
            row["x_GcpProjectNumber"] = _text(project.get("Number") or project.get("number"))
            row["x_GcpProjectAncestry"] = _text(
                project.get("AncestryNumbers") or project.get("ancestry_numbers")
            )
            ancestors = project.get("Ancestors") or project.get("ancestors")
            row["x_GcpAncestors"] = ancestors if isinstance(ancestors, list) and ancestors else None

        # Service, region, resource.
        service_name = row.get("ServiceName") or GOOGLE
        row["ServiceName"] = service_name
        category_pair = service_category(service_name)
        given = row.get("ServiceCategory")
        if category_pair[0] == "Other" and given in CATEGORIES:
            subcategory = row.get("ServiceSubcategory")
            if SUBCATEGORY_PARENTS.get(subcategory or "") != given:
                row["ServiceSubcategory"] = f"Other ({given})"
        else:
            row["ServiceCategory"], row["ServiceSubcategory"] = category_pair
        region = row.get("RegionId")
        if region is not None and region.lower() in NOT_REGIONS:
            region = row["RegionId"] = None
        if region is not None:
            row["RegionName"] = row.get("RegionName") or region_name(region)
        else:
            row["RegionName"] = None
        resource_id = row.get("ResourceId")
        if resource_id is not None and not row.get("ResourceType"):
            row["ResourceType"] = resource_type(resource_id, service_name)

        # Entities: ProviderName Google Cloud; a Marketplace seller in PublisherName is
        # 1.3's ServiceProviderName.
        provider = row.get("ProviderName") or GOOGLE
        row["ProviderName"] = provider
        publisher = row.get("PublisherName") or provider
        row["PublisherName"] = publisher
        row["InvoiceIssuerName"] = row.get("InvoiceIssuerName") or GOOGLE
        seller = None if _is_google(publisher) else publisher
        row["ServiceProviderName"] = row.get("ServiceProviderName") or seller or provider
        if row.get("HostProviderName") is None:
            if category in HOSTLESS:
                row["HostProviderName"] = None
            elif seller and not (resource_id or row.get("AvailabilityZone")):
                row["HostProviderName"] = seller
            else:
                row["HostProviderName"] = GOOGLE

        # Tags: Google's view gives an array of {key, value, x_type, ...}; the export
        # gives x_Labels, x_ProjectLabels, x_Tags and x_SystemLabels.
        if isinstance(view_tags, list):
            for entry in view_tags:
                if not isinstance(entry, dict):
                    raise MappingError(STREAM, rid, "Tags", "expected {key, value} objects")
                source = VIEW_TAG_SOURCES.get(str(entry.get("x_type") or "label"), "labels")
                tag_sources.setdefault(source, []).append(entry)
            view_tags = None
        if view_tags is not None:
            row["Tags"] = _json_object(view_tags, (STREAM, rid, "Tags"))
        else:
            row["Tags"] = finalize_tags(
                tag_sources.get("project_labels"),
                tag_sources.get("labels"),
                tag_sources.get("tags"),
                tag_sources.get("system_labels"),
                where,
            )
        system = tag_sources.get("system_labels")
        row["x_GcpSystemLabels"] = dict(system_label_items(system, where)) if system else None

        # Google's unit descriptions in FOCUS unit format ("hour" -> "Hours").
        for column in ("PricingUnit", "ConsumedUnit", "CommitmentDiscountUnit"):
            if row.get(column) is not None:
                row[column] = focus_unit(row[column])

        # Values FOCUS 1.2/1.3 require to be null.
        if category == "Tax":
            for column in PRICE_COLUMNS:
                row.pop(column, None)
        if category != "Usage":
            row.pop("ConsumedQuantity", None)
            row.pop("ConsumedUnit", None)
        if row.get("PricingCurrency") is None:
            for column in PRICING_CURRENCY_COLUMNS:
                row.pop(column, None)
        if (
            category in ("Usage", "Purchase")
            and row.get("SkuPriceId") is None
            and row.get("SkuId") is not None
            and row.get("ListUnitPrice") is not None
        ):
            row["SkuPriceId"] = row["SkuId"]
        if category == "Usage" and row.get("PricingCategory") is None:
            row["PricingCategory"] = "Standard"
        # Mandatory amounts Google leaves null (its view has no list cost on tax rows): the
        # charge's own amount, as FOCUS has it for charges no price applies to.
        billed = row.get("BilledCost")
        if billed is None:
            raise MappingError(STREAM, rid, "BilledCost", "required field is missing")
        if row.get("ContractedCost") is None:
            row["ContractedCost"] = billed
        if row.get("ListCost") is None:
            row["ListCost"] = row["ContractedCost"]
        if row.get("EffectiveCost") is None:
            row["EffectiveCost"] = billed
        _consistent_prices(row, extra)
        self._commitment(row, credits, category)

        row["x_SourceStream"] = STREAM
        row["x_SourceRecordId"] = rid
        row["x_GcpSourceRowKey"] = rid
        row["x_GcpUsageKey"] = _text(record.get("usage_key"))
        row["x_GcpTable"] = _text(record.get("table"))
        row["x_GcpExtra"] = extra or None
        row["x_RowKey"] = row_key(PROVIDER, STREAM, rid, "row")
        return row

    @staticmethod
    def _commitment(row: dict[str, t.Any], credits: list[dict[str, t.Any]], category: str) -> None:
        """Commitment columns from the row's committed use discount credits (as the billing
        export mapping sets them on covered usage). A commitment id on a row no such credit
        covers (Google's view puts the subscription on the commitment's own fee rows) moves
        to x_GcpSubscriptionInstanceId: FOCUS has no status for a fee row."""
        covering = [c for c in credits if CREDIT_RULES.get(c["type"] or "", CREDIT).covers_usage]
        given_id = row.get("CommitmentDiscountId")
        if category != "Usage" or not covering:
            if given_id is not None and not row.get("x_GcpSubscriptionInstanceId"):
                row["x_GcpSubscriptionInstanceId"] = given_id
            for column in (
                "CommitmentDiscountId",
                "CommitmentDiscountName",
                "CommitmentDiscountType",
                "CommitmentDiscountCategory",
                "CommitmentDiscountStatus",
                "CommitmentDiscountQuantity",
                "CommitmentDiscountUnit",
            ):
                if column in row:
                    row[column] = None
            return
        first = covering[0]
        commitment = CREDIT_RULES[first["type"]].commitment
        covered = -sum((c["amount"] for c in covering), ZERO)
        gross = (row.get("BilledCost") or ZERO) - sum((c["amount"] for c in credits), ZERO)
        quantity = row.get("PricingQuantity")
        if commitment == "Spend" or quantity is None:
            cd_quantity, cd_unit = covered, row["BillingCurrency"]
        else:
            cd_quantity, cd_unit = quantity, row.get("PricingUnit")
            if gross and covered != gross:
                cd_quantity = quotient(quantity * covered, gross)
        row["CommitmentDiscountId"] = (
            given_id or row.get("x_GcpSubscriptionInstanceId") or first["id"] or first["name"]
        )
        row["CommitmentDiscountName"] = (
            row.get("CommitmentDiscountName") or first["full_name"] or first["name"]
        )
        row["CommitmentDiscountType"] = row.get("CommitmentDiscountType") or COMMITMENT_TYPE
        row["CommitmentDiscountCategory"] = row.get("CommitmentDiscountCategory") or commitment
        row["CommitmentDiscountStatus"] = row.get("CommitmentDiscountStatus") or "Used"
        if row.get("CommitmentDiscountQuantity") is None:
            row["CommitmentDiscountQuantity"] = cd_quantity
            row["CommitmentDiscountUnit"] = cd_unit
        row["PricingCategory"] = "Committed"


def _consistent_prices(row: dict[str, t.Any], extra: dict[str, t.Any]) -> None:
    """Google's amounts are the bill; its unit prices are not always their quotient (the
    quantity is rounded, or the view's PricingQuantity is the price's block size). Where
    unit price x PricingQuantity does not round to the cost, the unit price becomes the
    cost per unit (exact when it terminates, else 18 places) and Google's own goes to
    x_GcpExtra: FOCUS requires cost = unit price x quantity."""
    quantity = row.get("PricingQuantity")
    if not quantity:
        return
    for cost_column, price_column in (
        ("ListCost", "ListUnitPrice"),
        ("ContractedCost", "ContractedUnitPrice"),
    ):
        price, cost = row.get(price_column), row.get(cost_column)
        if price is None or cost is None or _rounds_to(price * quantity, cost):
            continue
        derived = quotient(cost, quantity)
        if derived >= 0:
            extra[price_column] = price
            row[price_column] = derived


_WIDE = Context(prec=80)


def _rounds_to(product: Decimal, cost: Decimal) -> bool:
    """Whether the product, rounded either way to the cost's decimal places, is the cost."""
    if product == cost:
        return True
    places = Decimal(1).scaleb(min(cost.as_tuple().exponent, 0))  # type: ignore[arg-type]
    return cost in (
        product.quantize(places, rounding=ROUND_FLOOR, context=_WIDE),
        product.quantize(places, rounding=ROUND_CEILING, context=_WIDE),
    )


def _text(value: object) -> str | None:
    return None if value is None or value == "" else str(value)


def _is_google(name: str) -> bool:
    return name.casefold().startswith("google")


def _enum(column: str, value: object, where: tuple[str, str]) -> str | None:
    if value is None:
        return None
    found = ENUM_COLUMNS[column].get(str(value).strip().casefold())
    if found is None:
        raise MappingError(*where, column, f"not a FOCUS {column} value: {value!r}")
    return found


def _json_object(value: object, where: tuple[str, str | None, str]) -> dict[str, t.Any] | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value, parse_float=Decimal)
        except ValueError:
            raise MappingError(*where, "not a JSON object") from None
    if not isinstance(value, dict):
        raise MappingError(*where, "not a JSON object")
    return value or None


def _credits(value: object, where: tuple[str, str | None, str]) -> list[dict[str, t.Any]]:
    """x_Credits entries with snake_case keys and exact amounts."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise MappingError(*where, "expected a list of credits")
    out = []
    for index, entry in enumerate(value):
        if not isinstance(entry, dict):
            raise MappingError(*where[:2], f"{where[2]}[{index}]", "expected an object")
        amount_key = "Amount" if "Amount" in entry else "amount"
        amount = decimal_or_none(entry.get(amount_key), (*where[:2], f"{where[2]}[{index}].Amount"))
        out.append(
            {
                "type": _text(entry.get("Type") or entry.get("type")),
                "id": _text(entry.get("Id") or entry.get("id")),
                "name": _text(entry.get("Name") or entry.get("name")),
                "full_name": _text(entry.get("FullName") or entry.get("full_name")),
                "amount": ZERO if amount is None else amount,
            }
        )
    return out


_MAPPER = FocusExportMapper()


def map_focus_export(record: Mapping[str, t.Any]) -> Iterator[dict[str, t.Any]]:
    """The FOCUS row of one of Google's FOCUS export rows, in the shape of FOCUS 1.2/1.3."""
    return _MAPPER(record)


#: Google's FOCUS columns plus x_ServiceId, which only Google's FOCUS rows have (another
#: provider's `focus_export` stream is never taken for Google's).
REQUIRED = frozenset({"BilledCost", "BillingAccountId", "ChargePeriodStart", "x_ServiceId"})

MAPPINGS = (
    StreamMapping(
        provider=PROVIDER,
        stream=STREAM,
        required_properties=REQUIRED,
        map_record=map_focus_export,
        record_id=record_id,
        custom_columns=CUSTOM_COLUMNS,
    ),
)
