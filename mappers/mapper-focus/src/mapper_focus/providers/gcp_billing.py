"""Google Cloud Billing export rows (standard and detailed) as FOCUS rows.

Sources (tap-gcp): `billing_export` (the standard usage cost table) and
`billing_export_resource` (the detailed table: adds `resource` and, before July 2025 only
there, `price`). Records keep BigQuery's shape: nested objects (`service`, `sku`,
`project`, `location`, `usage`, `price`, `invoice`, `adjustment_info`, ...) and arrays
(`labels`, `system_labels`, `tags`, `credits`), money as exact decimals (Decimal or decimal
text), plus the tap's `row_key` (one exported row: read again, the same key) and
`usage_key` (one usage: its original row and the re-ratings Google appends later share
it; their rows add up to the current amount, as Google's invoice sums every row).

Each record becomes one row for the charge itself and one row per credit nested in it, so
per invoice month sum(BilledCost) == sum(cost) + sum(credits.amount), digit for digit.

- cost_type regular -> Usage (Usage-Based); tax -> Tax (Recurring); adjustment and
  rounding_error -> Adjustment (One-Time). ChargeClass "Correction" only when
  adjustment_info says the row corrects a charge (a *_CORRECTION type or a correction /
  negation mode) and its charge period ends before the invoice month starts (in Pacific
  time, Google's invoice clock).
- Credits (rules in `CREDIT_RULES`): committed use discounts (COMMITTED_USAGE_DISCOUNT:
  resource-based, category Usage; COMMITTED_USAGE_DISCOUNT_DOLLAR_BASE and
  FEE_UTILIZATION_OFFSET: spend-based, category Spend) follow FOCUS's commitment-discount
  model: Usage rows with CommitmentDiscountId/Type/Category/Status Used and zero
  quantities, EffectiveCost 0, their amount folded into the EffectiveCost of the charge they
  discount (which then carries the commitment columns too). Sustained use discounts and
  free tier are rate reductions of the usage itself: negative Usage rows (zero quantities)
  beside it. Promotions, spending-based discounts, subscription benefits, reseller margin
  and any other type are Credit rows. Credits of tax and adjustment rows are Credit rows.
- BillingPeriod = invoice.month (UTC calendar month), ChargePeriod = usage start/end,
  BillingAccountId = billing_account_id, SubAccountId/Name = project id/name.
- Prices: PricingQuantity/Unit = usage.amount_in_pricing_units / pricing_unit, in blocks of
  price.pricing_unit_quantity ("1000000 Requests") when Google prices per block;
  ContractedUnitPrice = price.effective_price_default (else effective_price), ListUnitPrice
  = price.list_price; ListCost = cost_at_list; ContractedCost = unit price x quantity,
  exactly. Rows without a price struct (standard export before July 2025) get unit prices
  derived from their own cost and quantity (exact when the quotient terminates).
- x_RowKey = (gcp, stream, row_key, component): component "usage" for the charge and
  "credit:<type>:<credit id or name>:<n>" per credit: never amounts or positions. Every
  row also carries the source's row_key, usage_key and export_time, so a credit row left
  behind by a row restated under its key is found (its export time is older than its
  charge row's).

The reasons, and where Google's own FOCUS view and the FinOps Foundation converter differ,
are in the README (section "Google Cloud").
"""

from __future__ import annotations

import datetime as dt
import typing as t
from dataclasses import dataclass
from decimal import Context, Decimal, Inexact
from functools import lru_cache

from mapper_focus.providers.aws_common import Timestamps, decimal_or_none
from mapper_focus.providers.gcp_data import NOT_REGIONS, focus_unit, region_name, service_category
from mapper_focus.registry import StreamMapping
from mapper_focus.rows import COST_SCALE, MappingError, derived_cost, iso, row_key

if t.TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

PROVIDER = "gcp"
STANDARD_STREAM = "billing_export"
DETAILED_STREAM = "billing_export_resource"

GOOGLE = "Google Cloud"
MARKETPLACE = "Google Cloud Marketplace"
BILLING_ACCOUNT_TYPE = "Billing Account"
SUB_ACCOUNT_TYPE = "Project"
COMMITMENT_TYPE = "Committed Use Discount"

ZERO = Decimal(0)
ONE = Decimal(1)
EMPTY: Mapping[str, t.Any] = {}
HOUR = dt.timedelta(hours=1)

#: cost_type -> (ChargeCategory, ChargeFrequency)
COST_TYPES: dict[str, tuple[str, str]] = {
    "regular": ("Usage", "Usage-Based"),
    "tax": ("Tax", "Recurring"),
    "adjustment": ("Adjustment", "One-Time"),
    "rounding_error": ("Adjustment", "One-Time"),
}
#: adjustment_info values that say the row corrects an earlier charge.
CORRECTION_MODES = frozenset(
    {"PARTIAL_CORRECTION", "COMPLETE_NEGATION", "COMPLETE_NEGATION_WITH_REMONETIZATION"}
)
THIRD_PARTY = frozenset({"THIRD_PARTY_RESELLER", "THIRD_PARTY_AGENCY"})


@dataclass(frozen=True)
class CreditRule:
    """How one credits.type becomes a FOCUS row (when the credit is on a usage row)."""

    category: str  # ChargeCategory of the credit's row
    commitment: str | None = None  # CommitmentDiscountCategory: a commitment discount
    pricing: str | None = None  # PricingCategory of a Usage credit row
    #: a commitment discount of the usage itself (the row it is on is covered usage), as
    #: opposed to FEE_UTILIZATION_OFFSET, which offsets the commitment's own fee
    covers_usage: bool = False


CREDIT = CreditRule("Credit")
CREDIT_RULES: dict[str, CreditRule] = {
    "COMMITTED_USAGE_DISCOUNT": CreditRule("Usage", "Usage", "Committed", covers_usage=True),
    "COMMITTED_USAGE_DISCOUNT_DOLLAR_BASE": CreditRule(
        "Usage", "Spend", "Committed", covers_usage=True
    ),
    "FEE_UTILIZATION_OFFSET": CreditRule("Usage", "Spend", "Committed"),
    "SUSTAINED_USAGE_DISCOUNT": CreditRule("Usage", pricing="Standard"),
    "FREE_TIER": CreditRule("Usage", pricing="Standard"),
    "PROMOTION": CREDIT,
    "DISCOUNT": CREDIT,
    "SUBSCRIPTION_BENEFIT": CREDIT,
    "RESELLER_MARGIN": CREDIT,
}

_STRING = {"type": ["string", "null"]}
_DECIMAL = {"type": ["number", "null"]}
_OBJECT = {"type": ["object", "null"]}

#: Custom columns of every Google Cloud row (billing exports and Google's FOCUS export
#: alike, so one table holds both).
CUSTOM_COLUMNS: dict[str, dict] = {
    "x_GcpSourceRowKey": {**_STRING, "description": "tap-gcp row_key of the source row"},
    "x_GcpUsageKey": {
        **_STRING,
        "description": "tap-gcp usage_key: a usage's original row and its re-ratings share it",
    },
    "x_GcpTable": {**_STRING, "description": "BigQuery table the row was read from"},
    "x_GcpCostType": {**_STRING, "description": "cost_type: regular, tax, adjustment, ..."},
    "x_GcpExportTime": {
        **_STRING,
        "format": "date-time",
        "description": "export_time of the source row: every row of one source row has the "
        "same; a row older than its source's usage row is stale",
    },
    "x_GcpInvoiceMonth": {**_STRING, "description": "invoice.month (YYYYMM)"},
    "x_GcpServiceId": {**_STRING, "description": "service.id"},
    "x_GcpProjectNumber": {**_STRING, "description": "project.number"},
    "x_GcpProjectAncestry": {**_STRING, "description": "project.ancestry_numbers"},
    "x_GcpAncestors": {
        "type": ["array", "null"],
        "description": "project.ancestors: resource_name and display_name, project to root",
    },
    "x_GcpLocation": {**_STRING, "description": "location.location"},
    "x_GcpSystemLabels": {**_OBJECT, "description": "system_labels as an object"},
    "x_GcpTransactionType": {**_STRING, "description": "transaction_type"},
    "x_GcpPublisherType": {**_STRING, "description": "invoice.publisher_type"},
    "x_GcpCurrencyConversionRate": {**_DECIMAL, "description": "currency_conversion_rate"},
    "x_GcpSubscriptionInstanceId": {**_STRING, "description": "subscription.instance_id"},
    "x_GcpConsumptionModelId": {**_STRING, "description": "consumption_model.id"},
    "x_GcpAdjustmentId": {**_STRING, "description": "adjustment_info.id"},
    "x_GcpAdjustmentType": {**_STRING, "description": "adjustment_info.type"},
    "x_GcpAdjustmentMode": {**_STRING, "description": "adjustment_info.mode"},
    "x_GcpCreditType": {**_STRING, "description": "credits.type of a credit's row"},
    "x_GcpCreditId": {**_STRING, "description": "credits.id of a credit's row"},
    "x_GcpCreditName": {**_STRING, "description": "credits.name of a credit's row"},
    "x_GcpCreditFullName": {**_STRING, "description": "credits.full_name of a credit's row"},
    "x_GcpCredits": {
        "type": ["array", "null"],
        "description": "Google's FOCUS export: the credits netted into the row's costs",
    },
    "x_GcpExtra": {
        **_OBJECT,
        "description": "Google's FOCUS export: columns finfocus does not know, as given",
    },
}


# --- shared helpers (also used by the FOCUS export mapping) ------------------------------

_RATIO = Context(prec=40, traps=[])


def quotient(numerator: Decimal, denominator: Decimal) -> Decimal:
    """numerator / denominator: exact when the quotient terminates within 18 decimal
    places, else rounded half-even to 18 (the dataset's scale). Used only for values
    finfocus derives (block quantities, derived unit prices, covered quantities)."""
    _RATIO.clear_flags()
    value = _RATIO.divide(numerator, denominator)
    if _RATIO.flags[Inexact] or value.as_tuple().exponent < -18:  # type: ignore[operator]
        value = value.quantize(COST_SCALE)
    return value


def plain(value: Decimal) -> str:
    """Decimal text without exponent or trailing zeros ("2000000", "0.5")."""
    text = format(value.normalize(), "f")
    return text


def finalize_tags(
    project_labels: object,
    labels: object,
    tags: object,
    system_labels: object,
    where: tuple[str, str | None],
) -> dict[str, t.Any] | None:
    """FOCUS Tags of one row: finalized as FOCUS's tag-inheritance example does, the
    resource's labels over its project's (both are Google's one prefixless user-defined
    scheme); Resource Manager tags under `tags/<namespace>/<key>` (a second user scheme,
    so it needs a prefix); system labels under their own provider-prefixed keys
    (`compute.googleapis.com/machine_spec`). Label keys cannot hold '/' or '.', so the
    schemes cannot collide."""
    out: dict[str, t.Any] = {}
    if project_labels:
        _pairs(project_labels, out, where, "project.labels")
    if labels:
        _pairs(labels, out, where, "labels")
    if tags:
        for entry in _entries(tags, where, "tags"):
            key = _get_any(entry, "key", "Key")
            if key is None or key == "":
                continue
            namespace = _get_any(entry, "namespace", "x_Namespace", "Namespace")
            key = str(key)
            if namespace and namespace != "n/a" and not key.startswith(f"{namespace}/"):
                key = f"{namespace}/{key}"  # the namespaced key, Google's unique tag name
            name = f"tags/{key}"
            out[name] = _tag_value(_get_any(entry, "value", "Value"))
    if system_labels:
        for key, value in system_label_items(system_labels, where):
            out[key if "/" in key else f"system_labels/{key}"] = value
    return out or None


def system_label_items(value: object, where: tuple[str, str | None]) -> list[tuple[str, t.Any]]:
    found: dict[str, t.Any] = {}
    _pairs(value, found, where, "system_labels")
    return list(found.items())


def _get_any(entry: Mapping[str, t.Any], *names: str) -> t.Any:
    for name in names:
        value = entry.get(name)
        if value is not None:
            return value
    return None


def _tag_value(value: object) -> t.Any:
    if value is None or isinstance(value, str | bool):
        return value
    return str(value)


def _entries(value: object, where: tuple[str, str | None], column: str) -> list[Mapping]:
    if isinstance(value, list):
        for entry in value:
            if not isinstance(entry, dict):
                raise MappingError(*where, column, "expected a list of {key, value} objects")
        return value
    raise MappingError(*where, column, "expected a list of {key, value} objects")


def _pairs(
    value: object, out: dict[str, t.Any], where: tuple[str, str | None], column: str
) -> None:
    if isinstance(value, dict):  # already an object
        for key, item in value.items():
            out[str(key)] = _tag_value(item)
        return
    for entry in _entries(value, where, column):
        key = _get_any(entry, "key", "Key")
        if key is not None and key != "":
            out[str(key)] = _tag_value(_get_any(entry, "value", "Value"))


@lru_cache(maxsize=4096)
def resource_type(resource_id: str, service: str | None) -> str:
    """The kind of resource a Google resource name names: `//compute.googleapis.com/
    projects/p/zones/z/instances/i` -> `compute.googleapis.com/instances` (the service
    and the last collection of the path); other ids: the service's name."""
    if resource_id.startswith("//"):
        host, _, path = resource_id[2:].partition("/")
        segments = [s for s in path.split("/") if s]
        if host and len(segments) >= 2:
            collection = segments[-2] if len(segments) % 2 == 0 else segments[-1]
            return f"{host}/{collection}"
        if host:
            return host
    return f"{service or GOOGLE} resource"


class Periods:
    """invoice.month "YYYYMM" -> (UTC month start, FOCUS start text, FOCUS end text, the
    month's start in Pacific time). Google's invoice months are Pacific-time months; FOCUS
    periods are written in UTC, so the billing period is the UTC calendar month of the
    invoice, and corrections are told by the Pacific start."""

    def __init__(self) -> None:
        self.cache: dict[str, tuple[dt.datetime, str, str, dt.datetime]] = {}

    def __call__(
        self, month: object, where: tuple[str, str | None, str]
    ) -> tuple[dt.datetime, str, str, dt.datetime]:
        key = str(month) if month is not None else ""
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        if len(key) != 6 or not key.isdigit() or not 1 <= int(key[4:]) <= 12:
            if month is None or month == "":
                raise MappingError(*where, "required field is missing")
            raise MappingError(*where, f"expected YYYYMM, got {month!r}")
        start = dt.datetime(int(key[:4]), int(key[4:]), 1, tzinfo=dt.UTC)
        end = (start + dt.timedelta(days=32)).replace(day=1)
        result = self.cache[key] = (start, iso(start), iso(end), pacific_month_start(start))
        return result


def pacific_month_start(month: dt.datetime) -> dt.datetime:
    """Midnight of the month's first day in America/Los_Angeles, in UTC. US daylight time
    runs from the second Sunday of March to the first Sunday of November (both at 02:00),
    so the 1st of April to November starts at 07:00 UTC (PDT) and of December to March at
    08:00 UTC (PST); no time zone database is needed."""
    offset = 7 if 4 <= month.month <= 11 else 8
    return month.replace(hour=offset, minute=0, second=0, microsecond=0)


def record_id(record: Mapping[str, t.Any]) -> str | None:
    """A tap-gcp record is named by the tap's row_key."""
    value = record.get("row_key")
    return None if value is None or value == "" else str(value)


@dataclass(frozen=True)
class Credit:
    """One entry of a row's `credits`, parsed."""

    index: int
    type: str
    id: str | None
    name: str | None
    full_name: str | None
    amount: Decimal
    rule: CreditRule


# --- the mapper ----------------------------------------------------------------------------


class BillingExportMapper:
    """Maps one billing export stream (`billing_export` or `billing_export_resource`)."""

    def __init__(self, stream: str) -> None:
        self.stream = stream
        self.timestamps = Timestamps()
        self.periods = Periods()

    def __call__(self, record: Mapping[str, t.Any]) -> Iterator[dict[str, t.Any]]:
        return iter(self.map(record))

    # The hot function: dict lookups and Decimal parsing; names, units, services, months
    # and timestamps come from caches.
    def map(self, record: Mapping[str, t.Any]) -> list[dict[str, t.Any]]:
        stream = self.stream
        get = record.get
        rid = record_id(record)
        if rid is None:
            raise MappingError(stream, None, "row_key", "required field is missing")
        where = (stream, rid)

        def num(value: object, column: str) -> Decimal | None:
            if value is None or value == "":
                return None
            if type(value) is str:
                try:
                    parsed = Decimal(value)
                except ArithmeticError:
                    parsed = None
                if parsed is not None and parsed.is_finite():
                    return parsed
            return decimal_or_none(value, (stream, rid, column))

        def obj(value: object, column: str) -> Mapping[str, t.Any]:
            if value is None:
                return EMPTY
            if isinstance(value, dict):
                return value
            raise MappingError(stream, rid, column, f"expected an object, got {value!r}")

        def text(value: object) -> str | None:
            return None if value is None or value == "" else str(value)

        cached = self.timestamps.cache.get

        def moment(value: object, column: str) -> tuple[dt.datetime, str]:
            hit = cached(value) if type(value) is str else None
            if hit is not None:
                return hit
            return self.timestamps.parse(value, (stream, rid, column))

        # --- identity, accounts, periods
        billing_account = text(get("billing_account_id"))
        if billing_account is None:
            raise MappingError(stream, rid, "billing_account_id", "required field is missing")
        currency = text(get("currency"))
        if currency is None:
            raise MappingError(stream, rid, "currency", "required field is missing")
        currency = currency.upper()
        invoice = obj(get("invoice"), "invoice")
        month = invoice.get("month")
        _, bp_start_text, bp_end_text, invoiced_from = self.periods(
            month, (stream, rid, "invoice.month")
        )
        cost_type_raw = get("cost_type")
        cost_type = "regular" if cost_type_raw in (None, "") else str(cost_type_raw).lower()
        kind = COST_TYPES.get(cost_type)
        if kind is None:
            raise MappingError(stream, rid, "cost_type", f"unknown cost_type {cost_type_raw!r}")
        category, frequency = kind
        start, start_text = moment(get("usage_start_time"), "usage_start_time")
        end, end_text = moment(get("usage_end_time"), "usage_end_time")
        if end <= start:  # an instant (some adjustments): the hour that contains it
            end = start.replace(minute=0, second=0, microsecond=0) + HOUR
            end_text = iso(end)
        cost = num(get("cost"), "cost")
        if cost is None:
            raise MappingError(stream, rid, "cost", "required field is missing")

        adjustment = obj(get("adjustment_info"), "adjustment_info")
        correction = None
        if adjustment:
            adjustment_type = adjustment.get("type") or ""
            if (
                str(adjustment_type).endswith("_CORRECTION")
                or adjustment.get("mode") in CORRECTION_MODES
            ) and end <= invoiced_from:  # it corrects usage of an earlier invoice month
                correction = "Correction"

        # --- service, project, location, resource, entities
        service = obj(get("service"), "service")
        service_name = text(service.get("description")) or GOOGLE
        sku = obj(get("sku"), "sku")
        sku_id = text(sku.get("id"))
        sku_description = text(sku.get("description"))
        project = obj(get("project"), "project")
        project_id = text(project.get("id"))
        location = obj(get("location"), "location")
        region = text(location.get("region")) or text(location.get("location"))
        if region is not None and region.lower() in NOT_REGIONS:
            region = None
        zone = text(location.get("zone"))
        resource = obj(get("resource"), "resource")
        global_name = text(resource.get("global_name"))
        resource_name = text(resource.get("name"))
        resource_id = global_name or resource_name

        seller = text(get("seller_name"))
        transaction_type = text(get("transaction_type"))
        publisher_type = text(invoice.get("publisher_type"))
        # Marketplace: sold by a third party (Google as its reseller or agent). A seller
        # named Google on Google's own transactions is not one.
        marketplace = (
            transaction_type in THIRD_PARTY
            or publisher_type == "PARTNER"
            or (
                seller is not None
                and transaction_type != "GOOGLE"
                and not seller.casefold().startswith("google")
            )
        )
        if marketplace:
            publisher = seller or MARKETPLACE
            host = GOOGLE if (resource_id or zone) else publisher
        else:
            publisher = GOOGLE
            host = GOOGLE
        service_category_pair = service_category(service_name)

        system_labels = get("system_labels")
        system_object = dict(system_label_items(system_labels, where)) if system_labels else None
        tags = finalize_tags(
            project.get("labels"), get("labels"), get("tags"), system_object, where
        )

        subscription = obj(get("subscription"), "subscription")
        subscription_id = text(subscription.get("instance_id"))
        consumption_model = obj(get("consumption_model"), "consumption_model")
        export_time = get("export_time")
        export_text = None if export_time in (None, "") else moment(export_time, "export_time")[1]
        ancestors = project.get("ancestors")

        base: dict[str, t.Any] = {
            "AvailabilityZone": zone,
            "BillingAccountId": billing_account,
            "BillingAccountType": BILLING_ACCOUNT_TYPE,
            "BillingCurrency": currency,
            "BillingPeriodStart": bp_start_text,
            "BillingPeriodEnd": bp_end_text,
            "ChargeClass": correction,
            "ChargePeriodStart": start_text,
            "ChargePeriodEnd": end_text,
            "InvoiceIssuerName": GOOGLE,
            "ProviderName": GOOGLE,
            "PublisherName": publisher,
            "RegionId": region,
            "RegionName": region_name(region) if region else None,
            "ResourceId": resource_id,
            "ResourceName": (resource_name or global_name) if resource_id else None,
            "ResourceType": resource_type(resource_id, service_name) if resource_id else None,
            "ServiceCategory": service_category_pair[0],
            "ServiceName": service_name,
            "ServiceProviderName": publisher,
            "ServiceSubcategory": service_category_pair[1],
            "SubAccountId": project_id,
            "SubAccountName": (text(project.get("name")) or project_id) if project_id else None,
            "SubAccountType": SUB_ACCOUNT_TYPE if project_id else None,
            "Tags": tags,
            "x_SourceStream": stream,
            "x_SourceRecordId": rid,
            "x_GcpSourceRowKey": rid,
            "x_GcpUsageKey": text(get("usage_key")),
            "x_GcpTable": text(get("table")),
            "x_GcpCostType": cost_type,
            "x_GcpExportTime": export_text,
            "x_GcpInvoiceMonth": str(month),
            "x_GcpServiceId": text(service.get("id")),
            "x_GcpProjectNumber": text(project.get("number")),
            "x_GcpProjectAncestry": text(project.get("ancestry_numbers")),
            "x_GcpAncestors": ancestors if isinstance(ancestors, list) and ancestors else None,
            "x_GcpLocation": text(location.get("location")),
            "x_GcpSystemLabels": system_object or None,
            "x_GcpTransactionType": transaction_type,
            "x_GcpPublisherType": publisher_type,
            "x_GcpCurrencyConversionRate": num(
                get("currency_conversion_rate"), "currency_conversion_rate"
            ),
            "x_GcpSubscriptionInstanceId": subscription_id,
            "x_GcpConsumptionModelId": text(consumption_model.get("id")),
            "x_GcpAdjustmentId": text(adjustment.get("id")),
            "x_GcpAdjustmentType": text(adjustment.get("type")),
            "x_GcpAdjustmentMode": text(adjustment.get("mode")),
        }

        # --- credits
        credits: list[Credit] = []
        raw_credits = get("credits")
        if raw_credits:
            if not isinstance(raw_credits, list):
                raise MappingError(stream, rid, "credits", "expected a list of credits")
            usage_parent = category == "Usage"
            for index, entry in enumerate(raw_credits):
                if not isinstance(entry, dict):
                    raise MappingError(stream, rid, f"credits[{index}]", "expected an object")
                amount = num(entry.get("amount"), f"credits[{index}].amount")
                if amount is None:
                    raise MappingError(
                        stream, rid, f"credits[{index}].amount", "required field is missing"
                    )
                credit_type = text(entry.get("type")) or "CREDIT_TYPE_UNSPECIFIED"
                rule = CREDIT_RULES.get(credit_type, CREDIT) if usage_parent else CREDIT
                credits.append(
                    Credit(
                        index,
                        credit_type,
                        text(entry.get("id")),
                        text(entry.get("name")),
                        text(entry.get("full_name")),
                        amount,
                        rule,
                    )
                )
        covering = [c for c in credits if c.rule.covers_usage]
        folded = sum((c.amount for c in credits if c.rule.commitment), ZERO)

        # --- the charge's own row
        row = dict(base)
        row["ChargeCategory"] = category
        row["ChargeFrequency"] = frequency
        row["BilledCost"] = cost
        row["EffectiveCost"] = cost + folded
        row["x_RowKey"] = row_key(PROVIDER, stream, rid, "usage")
        row["x_GcpCreditType"] = row["x_GcpCreditId"] = None
        row["x_GcpCreditName"] = row["x_GcpCreditFullName"] = None
        cost_at_list = num(get("cost_at_list"), "cost_at_list")
        pricing: Pricing | None = None
        if category == "Usage":
            if sku_id is None:
                raise MappingError(stream, rid, "sku.id", "required field is missing")
            pricing = self.price(record, cost, cost_at_list, currency, num, obj, text)
            sku_price_id = sku_id if not pricing.tier else f"{sku_id}/{plain(pricing.tier)}"
            spot = sku_description is not None and (
                "preemptible" in sku_description.lower()
                or sku_description.lower().startswith("spot ")
            )
            if covering or pricing.discounted_model:
                pricing_category = "Committed"
            else:
                pricing_category = "Dynamic" if spot else "Standard"
            row.update(
                {
                    "ChargeDescription": sku_description,
                    "HostProviderName": host,
                    "ListCost": pricing.list_cost,
                    "ContractedCost": pricing.contracted_cost,
                    "ListUnitPrice": pricing.list_price,
                    "ContractedUnitPrice": pricing.contracted_price,
                    "PricingQuantity": pricing.quantity,
                    "PricingUnit": pricing.unit,
                    "PricingCategory": pricing_category,
                    "ConsumedQuantity": pricing.consumed,
                    "ConsumedUnit": pricing.consumed_unit,
                    "SkuId": sku_id,
                    "SkuPriceId": sku_price_id,
                    "SkuMeter": sku_description,
                }
            )
            self._commitment(row, covering, subscription_id, pricing, cost, currency)
        else:
            description = text(adjustment.get("description")) if category == "Adjustment" else None
            row.update(
                {
                    "ChargeDescription": description or sku_description or cost_type,
                    "HostProviderName": None,
                    "ListCost": cost,
                    "ContractedCost": cost,
                    "PricingCategory": None,
                    "PricingQuantity": None,
                    "PricingUnit": None,
                    "ConsumedQuantity": None,
                    "ConsumedUnit": None,
                    # Tax rows carry no SKU (FOCUS); adjustments keep the SKU they concern.
                    "SkuId": sku_id if category != "Tax" else None,
                    "SkuPriceId": None,
                    "SkuMeter": sku_description if sku_id and category != "Tax" else None,
                }
            )
            self._commitment(row, [], None, None, cost, currency)
        rows = [row]

        # --- one row per credit
        seen: dict[tuple[str, str], int] = {}
        for credit in credits:
            identity = credit.id or credit.name or ""
            occurrence = seen.get((credit.type, identity), 0)
            seen[(credit.type, identity)] = occurrence + 1
            rows.append(
                self._credit_row(
                    base, row, credit, occurrence, rid, subscription_id, currency, host
                )
            )
        return rows

    def _credit_row(
        self,
        base: Mapping[str, t.Any],
        parent: Mapping[str, t.Any],
        credit: Credit,
        occurrence: int,
        rid: str,
        subscription_id: str | None,
        currency: str,
        host: str,
    ) -> dict[str, t.Any]:
        rule = credit.rule
        out = dict(base)
        out["ChargeDescription"] = credit.full_name or credit.name or credit.type
        out["BilledCost"] = credit.amount
        out["ListCost"] = ZERO  # the charge it reduces carries the list and contracted cost
        out["ContractedCost"] = ZERO
        out["ChargeFrequency"] = parent["ChargeFrequency"]
        out["x_RowKey"] = row_key(
            PROVIDER,
            self.stream,
            rid,
            f"credit:{credit.type}:{credit.id or credit.name or ''}:{occurrence}",
        )
        out["x_GcpCreditType"] = credit.type
        out["x_GcpCreditId"] = credit.id
        out["x_GcpCreditName"] = credit.name
        out["x_GcpCreditFullName"] = credit.full_name
        if rule.category == "Usage":
            # A reduction of the usage itself: same SKU and prices, nothing consumed or
            # priced twice (quantities 0), so grouped with its charge it nets the cost.
            out["ChargeCategory"] = "Usage"
            out["EffectiveCost"] = ZERO if rule.commitment else credit.amount
            out["HostProviderName"] = host
            out["PricingCategory"] = rule.pricing
            out["PricingQuantity"] = ZERO
            out["ConsumedQuantity"] = ZERO
            for column in (
                "PricingUnit",
                "ConsumedUnit",
                "ListUnitPrice",
                "ContractedUnitPrice",
                "SkuId",
                "SkuPriceId",
                "SkuMeter",
            ):
                out[column] = parent[column]
            if rule.commitment:
                unit = currency if rule.commitment == "Spend" else parent["PricingUnit"]
                out.update(
                    {
                        "CommitmentDiscountId": subscription_id or credit.id or credit.name,
                        "CommitmentDiscountName": credit.full_name or credit.name,
                        "CommitmentDiscountType": COMMITMENT_TYPE,
                        "CommitmentDiscountCategory": rule.commitment,
                        "CommitmentDiscountStatus": "Used",
                        "CommitmentDiscountQuantity": ZERO,
                        "CommitmentDiscountUnit": unit,
                    }
                )
            else:
                self._commitment(out, [], None, None, ZERO, currency)
        else:
            out["ChargeCategory"] = "Credit"
            out["EffectiveCost"] = credit.amount
            out["HostProviderName"] = None
            out["PricingCategory"] = None
            out["PricingQuantity"] = out["PricingUnit"] = None
            out["ConsumedQuantity"] = out["ConsumedUnit"] = None
            out["SkuId"] = parent["SkuId"]
            out["SkuPriceId"] = None
            out["SkuMeter"] = parent["SkuMeter"]
            self._commitment(out, [], None, None, ZERO, currency)
        return out

    @staticmethod
    def _commitment(
        row: dict[str, t.Any],
        covering: list[Credit],
        subscription_id: str | None,
        pricing: Pricing | None,
        cost: Decimal,
        currency: str,
    ) -> None:
        """Commitment columns of a charge: set when committed use discounts cover it."""
        if not covering or pricing is None:
            row.update(NO_COMMITMENT)
            return
        first = covering[0]
        commitment = first.rule.commitment
        covered = -sum((c.amount for c in covering), ZERO)  # credits are negative
        if commitment == "Spend":
            quantity, unit = covered, currency
        else:
            quantity, unit = pricing.quantity, pricing.unit
            if cost and covered != cost:  # partly covered: the covered share of the usage
                quantity = quotient(pricing.quantity * covered, cost)
        row.update(
            {
                "CommitmentDiscountId": subscription_id or first.id or first.name,
                "CommitmentDiscountName": first.full_name or first.name,
                "CommitmentDiscountType": COMMITMENT_TYPE,
                "CommitmentDiscountCategory": commitment,
                "CommitmentDiscountStatus": "Used",
                "CommitmentDiscountQuantity": quantity,
                "CommitmentDiscountUnit": unit,
            }
        )

    @staticmethod
    def price(
        record: Mapping[str, t.Any],
        cost: Decimal,
        cost_at_list: Decimal | None,
        currency: str,
        num: t.Callable[[object, str], Decimal | None],
        obj: t.Callable[[object, str], Mapping[str, t.Any]],
        text: t.Callable[[object], str | None],
    ) -> Pricing:
        """Quantities, unit prices and the costs derived from them, for a usage row."""
        usage = obj(record.get("usage"), "usage")
        price = obj(record.get("price"), "price")
        amount = num(usage.get("amount"), "usage.amount")
        unit = text(usage.get("unit"))
        quantity = num(usage.get("amount_in_pricing_units"), "usage.amount_in_pricing_units")
        pricing_unit = text(usage.get("pricing_unit"))
        if quantity is None:
            quantity, pricing_unit = amount, unit
        applicable = num(price.get("effective_price"), "price.effective_price")
        effective = num(price.get("effective_price_default"), "price.effective_price_default")
        # A consumption model that prices the usage below the default model is a
        # commitment's price (the spend-based CUD model of 2025): the usage is committed.
        discounted_model = (
            effective is not None
            and applicable is not None
            and applicable != effective
            and bool(text(obj(record.get("consumption_model"), "consumption_model").get("id")))
        )
        if effective is None:
            effective = applicable
        listed = num(price.get("list_price"), "price.list_price")
        block = num(price.get("pricing_unit_quantity"), "price.pricing_unit_quantity")
        tier = num(price.get("tier_start_amount"), "price.tier_start_amount")
        price_unit = text(price.get("unit"))
        same_unit = (
            price_unit is None
            or pricing_unit is None
            or price_unit.strip().lower() == pricing_unit.strip().lower()
        )
        list_cost: Decimal | None = cost_at_list
        if quantity is not None and effective is not None and same_unit:
            base_unit = focus_unit(pricing_unit or price_unit) or "Units"
            price_now = effective if applicable is None else applicable
            if block is not None and _priced_per_block(block, quantity, price_now, cost):
                quantity = quotient(quantity, block)
                unit_text = f"{plain(block)} {base_unit}"
            else:
                unit_text = base_unit
            contracted = effective
            if listed is not None:
                list_price = listed
            elif cost_at_list is not None and quantity:
                list_price = quotient(cost_at_list, quantity)
            else:
                list_price = effective
        elif quantity is not None and quantity and _same_sign(cost, quantity, cost_at_list):
            # No usable price (the standard export before July 2025): Google's own cost
            # and list cost per unit.
            unit_text = focus_unit(pricing_unit) or "Units"
            contracted = quotient(cost, quantity)
            list_price = contracted if cost_at_list is None else quotient(cost_at_list, quantity)
        elif quantity is not None and not quantity and not cost and not cost_at_list:
            unit_text = focus_unit(pricing_unit) or "Units"
            contracted = list_price = ZERO
        else:
            # No quantity to price: priced in the billing currency, as FOCUS's own examples
            # price commitment fees (quantity = the amount, unit price 1).
            quantity, unit_text, contracted, list_price = cost, currency, ONE, ONE
            list_cost = cost
        if list_cost is None:
            list_cost = derived_cost(list_price, quantity)
        if amount is None:
            consumed, consumed_unit = quantity, unit_text
        else:
            consumed, consumed_unit = amount, focus_unit(unit) or unit_text
        return Pricing(
            quantity=quantity,
            unit=unit_text,
            list_price=list_price,
            contracted_price=contracted,
            list_cost=list_cost,
            contracted_cost=derived_cost(contracted, quantity),
            consumed=consumed,
            consumed_unit=consumed_unit,
            tier=tier,
            discounted_model=discounted_model,
        )


NO_COMMITMENT: dict[str, t.Any] = {
    "CommitmentDiscountId": None,
    "CommitmentDiscountName": None,
    "CommitmentDiscountType": None,
    "CommitmentDiscountCategory": None,
    "CommitmentDiscountStatus": None,
    "CommitmentDiscountQuantity": None,
    "CommitmentDiscountUnit": None,
}


def _priced_per_block(block: Decimal, quantity: Decimal, price: Decimal, cost: Decimal) -> bool:
    """Whether price.pricing_unit_quantity is the block Google quotes the price for
    (0.40 per 1000000 requests, as in its pricing export) rather than the row's quantity.
    Google documents the field ambiguously and its FOCUS view maps it to PricingQuantity,
    so the row decides: a block when price x quantity / block is at least as close to the
    row's cost as price x quantity."""
    if block <= 0 or block == ONE:
        return False
    per_block = price * quantity / block
    return abs(per_block - cost) <= abs(price * quantity - cost)


def _same_sign(cost: Decimal, quantity: Decimal, cost_at_list: Decimal | None) -> bool:
    """Whether unit prices derived from these are non-negative (FOCUS requires it)."""
    if (cost < 0 < quantity) or (quantity < 0 < cost):
        return False
    if cost_at_list is None:
        return True
    return not ((cost_at_list < 0 < quantity) or (quantity < 0 < cost_at_list))


@dataclass(frozen=True)
class Pricing:
    """The priced side of a usage row."""

    quantity: Decimal
    unit: str
    list_price: Decimal
    contracted_price: Decimal
    list_cost: Decimal
    contracted_cost: Decimal
    consumed: Decimal
    consumed_unit: str
    tier: Decimal | None
    discounted_model: bool


#: tap-gcp's fields plus the columns every billing export row has.
REQUIRED = frozenset(
    {"row_key", "billing_account_id", "cost", "currency", "invoice", "usage_start_time"}
)

_STANDARD = BillingExportMapper(STANDARD_STREAM)
_DETAILED = BillingExportMapper(DETAILED_STREAM)


def map_standard(record: Mapping[str, t.Any]) -> Iterator[dict[str, t.Any]]:
    """FOCUS rows of one standard usage cost row (the charge and one row per credit)."""
    return _STANDARD(record)


def map_detailed(record: Mapping[str, t.Any]) -> Iterator[dict[str, t.Any]]:
    """FOCUS rows of one detailed usage cost row (the charge and one row per credit)."""
    return _DETAILED(record)


MAPPINGS = (
    StreamMapping(
        provider=PROVIDER,
        stream=STANDARD_STREAM,
        required_properties=REQUIRED,
        map_record=map_standard,
        record_id=record_id,
        custom_columns=CUSTOM_COLUMNS,
    ),
    StreamMapping(
        provider=PROVIDER,
        stream=DETAILED_STREAM,
        required_properties=REQUIRED,
        map_record=map_detailed,
        record_id=record_id,
        custom_columns=CUSTOM_COLUMNS,
    ),
)
