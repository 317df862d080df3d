"""What the Azure mappings (cost details, Cost Management exports, Microsoft's FOCUS export)
share: names, custom columns, exact decimals, dates, tags, units, services, regions,
resource ids and the per-metric drop accounting. A helper module: it declares no stream.

Everything here is cached per distinct value (a month of cost details repeats the same
few hundred dates, units, services, tag sets and locations millions of times), so the
per-row work stays dict lookups.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import typing as t
from collections import Counter
from decimal import Context, Decimal, Inexact

from mapper_focus.providers.azure_open_data import PRICING_UNITS, SERVICES
from mapper_focus.rows import COST_SCALE, DELIVERY_SCOPE_COLUMN, MappingError, iso

if t.TYPE_CHECKING:
    from collections.abc import Mapping

    Where = tuple[str, str | None, str]

LOG = logging.getLogger("mapper_focus.azure")

#: x_SourceProvider of every Azure row (target-focus partitions by it).
PROVIDER = "azure"
MICROSOFT = "Microsoft"
#: BillingAccountType / SubAccountType, as Microsoft's own conversion and FOCUS export
#: write them: the EA billing account (enrollment) or the MCA billing profile.
EA_ACCOUNT_TYPE = "Billing Account"
MCA_ACCOUNT_TYPE = "Billing Profile"
SUB_ACCOUNT_TYPE = "Subscription"
RESERVATION = "Reservation"
SAVINGS_PLAN = "Savings Plan"
#: CommitmentDiscountType -> CommitmentDiscountCategory.
COMMITMENT_CATEGORY = {RESERVATION: "Usage", SAVINGS_PLAN: "Spend"}
#: Fallback ServiceName when a row names no service at all (MCA rounding adjustments).
GENERIC_SERVICE = "Microsoft Azure"

ZERO = Decimal(0)
ONE = Decimal(1)
DAY = dt.timedelta(days=1)
MAX_PLACES = 18
_DIVIDE = Context(prec=60, traps=[])

_STRING = {"type": ["string", "null"]}
_DECIMAL = {"type": ["number", "null"]}

#: Custom columns of every Azure row (cost details, exports and Microsoft's FOCUS export
#: alike, so one table holds them all).
CUSTOM_COLUMNS: dict[str, dict] = {
    "x_DeliveryId": {
        "type": ["string"],
        "description": "tap-azure delivery the row came from (export run, or cost details "
        "report); target-focus replaces a re-delivered billing period by it",
    },
    **DELIVERY_SCOPE_COLUMN,
    "x_AzureMetric": {
        **_STRING,
        "description": "actual or amortized (cost details, ActualCost/AmortizedCost "
        "exports), focus (Microsoft's FOCUS export)",
    },
    "x_AzureAgreement": {**_STRING, "description": "EA, MCA or MPA (partner)"},
    "x_AzureScope": {**_STRING, "description": "Cost Management scope of the cost details report"},
    "x_AzureChargeType": {**_STRING, "description": "Cost Management ChargeType"},
    "x_AzurePricingModel": {**_STRING, "description": "Cost Management PricingModel"},
    "x_AzurePricingSubcategory": {**_STRING, "description": "FOCUS export x_PricingSubcategory"},
    "x_AzurePublisherType": {**_STRING, "description": "PublisherType / x_PublisherCategory"},
    "x_AzureBillingAccountId": {**_STRING, "description": "the Microsoft billing account"},
    "x_AzureBillingAccountName": {**_STRING, "description": "name of the billing account"},
    "x_AzureBillingProfileId": {**_STRING, "description": "MCA billing profile (EA: enrollment)"},
    "x_AzureBillingProfileName": {**_STRING, "description": "name of the billing profile"},
    "x_AzureInvoiceSectionId": {**_STRING, "description": "MCA invoice section / EA department"},
    "x_AzureInvoiceSectionName": {**_STRING, "description": "its name"},
    "x_AzureAccountId": {**_STRING, "description": "EA enrollment account"},
    "x_AzureAccountName": {**_STRING, "description": "EA enrollment account name"},
    "x_AzureAccountOwnerId": {**_STRING, "description": "EA enrollment account owner"},
    "x_AzureCostCenter": {**_STRING, "description": "CostCenter"},
    "x_AzureResellerName": {**_STRING, "description": "CSP reseller"},
    "x_AzureCustomerName": {**_STRING, "description": "CSP customer tenant"},
    "x_AzureResourceGroup": {**_STRING, "description": "ResourceGroup"},
    "x_AzureResourceType": {**_STRING, "description": "Azure Resource Manager resource type"},
    "x_AzureResourceLocation": {**_STRING, "description": "ResourceLocation as delivered"},
    "x_AzureConsumedService": {**_STRING, "description": "ConsumedService"},
    "x_AzureMeterCategory": {**_STRING, "description": "MeterCategory"},
    "x_AzureMeterSubcategory": {**_STRING, "description": "MeterSubCategory"},
    "x_AzureMeterName": {**_STRING, "description": "MeterName"},
    "x_AzureMeterId": {**_STRING, "description": "MeterId"},
    "x_AzureMeterRegion": {**_STRING, "description": "MeterRegion"},
    "x_AzureServiceFamily": {**_STRING, "description": "ServiceFamily"},
    "x_AzureProductOrderId": {**_STRING, "description": "ProductOrderId"},
    "x_AzureProductOrderName": {**_STRING, "description": "ProductOrderName"},
    "x_AzureOfferId": {**_STRING, "description": "OfferId"},
    "x_AzurePartNumber": {**_STRING, "description": "PartNumber"},
    "x_AzurePlanName": {**_STRING, "description": "Marketplace PlanName"},
    "x_AzureTerm": {**_STRING, "description": "Term of a purchase"},
    "x_AzureUnitOfMeasure": {**_STRING, "description": "UnitOfMeasure, with its block size"},
    "x_AzurePricingBlockSize": {
        **_DECIMAL,
        "description": "units per price block: PricingQuantity = Quantity / block size",
    },
    "x_AzureEffectivePrice": {
        **_DECIMAL,
        "description": "EffectivePrice per price block (MCA: in the pricing currency)",
    },
    "x_AzureExchangeRate": {**_DECIMAL, "description": "pricing -> billing currency rate"},
    "x_AzureCostInPricingCurrency": {**_DECIMAL, "description": "CostInPricingCurrency"},
    "x_AzureAdditionalInfo": {**_STRING, "description": "AdditionalInfo / x_SkuDetails (JSON)"},
    "x_AzureCostAllocationRuleName": {**_STRING, "description": "CostAllocationRuleName"},
}

_PLACEHOLDERS = frozenset({"", "not applicable", "others", "unassigned", "unknown", "n/a", "-2"})
_PLACEHOLDER_LENGTH = 24  # no placeholder is longer, even with spaces around it
_PLACEHOLDER_STARTS = frozenset(" \tnNoOuU-")  # first characters placeholders can have


def is_placeholder(text: str | None) -> bool:
    """Cost Management fills some text columns with placeholders instead of leaving them
    empty ("Not applicable", "Others", "Unassigned", "-2")."""
    if text is None:
        return True
    return len(text) <= _PLACEHOLDER_LENGTH and text.strip().lower() in _PLACEHOLDERS


def clean(text: str | None) -> str | None:
    """The text, or None for a placeholder."""
    if not text:
        return None
    if len(text) > _PLACEHOLDER_LENGTH or text[0] not in _PLACEHOLDER_STARTS:
        return text
    return None if text.strip().lower() in _PLACEHOLDERS else text


def text_or_none(value: object) -> str | None:
    """Text of a raw value; None for null and empty text (dicts become sorted JSON)."""
    if value is None or value == "":
        return None
    if type(value) is str:
        return value
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


# --- exact decimals ---------------------------------------------------------------------


def decimal_or_none(value: object, where: Where) -> Decimal | None:
    """Exact decimal of a raw value (Decimal, int or decimal text); None for null/empty.

    Floats are refused (a binary float is not the number the provider wrote), and so is a
    value with more than 18 decimal places: the dataset stores decimal(38, 18), so it could
    not be kept exactly.
    """
    if value is None or value == "":
        return None
    kind = type(value)
    if kind is str:
        text = t.cast("str", value)
        try:
            number = Decimal(text)
        except ArithmeticError:
            raise MappingError(*where, f"not a number: {value!r}") from None
        if not number.is_finite():
            raise MappingError(*where, f"not a finite number: {value!r}")
        # Plain decimal text of at most 20 characters has at most 18 decimal places.
        if len(text) <= 20 and "E" not in text and "e" not in text:
            return number
    elif kind is Decimal:
        number = t.cast("Decimal", value)
    elif kind is int:
        number = Decimal(t.cast("int", value))
    else:
        raise MappingError(*where, f"expected an exact number, got {value!r}")
    if not number.is_finite():
        raise MappingError(*where, f"not a finite number: {value!r}")
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -MAX_PLACES:
        raise MappingError(
            *where,
            f"{value!r} has more than {MAX_PLACES} decimal places: it cannot be kept exactly",
        )
    return number


def fit(value: Decimal) -> Decimal:
    """A value finfocus computed, at the dataset's scale: rounded half-even to 18 places
    only when it has more (the same rule as rows.derived_cost)."""
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -MAX_PLACES:
        return value.quantize(COST_SCALE)
    return value


def times(a: Decimal, b: Decimal) -> Decimal:
    """a x b for prices finfocus converts (an MCA price times the exchange rate)."""
    return fit(a * b)


# --- dates ------------------------------------------------------------------------------

_US_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})")


class Days:
    """Cost Management dates ("2024-03-05", "03/05/2024", "2024-03-05T00:00:00.0000000Z",
    date/datetime objects) as UTC days, parsed once per distinct value."""

    LIMIT = 20_000

    def __init__(self) -> None:
        self.cache: dict[object, dt.datetime] = {}
        self.text: dict[dt.datetime, str] = {}

    def day(self, value: object, where: Where) -> dt.datetime:
        """Midnight UTC of the day the value names."""
        try:
            hit = self.cache.get(value)
        except TypeError:  # unhashable
            hit = None
        if hit is not None:
            return hit
        moment = _parse_day(value, where)
        if len(self.cache) >= self.LIMIT:
            self.cache.clear()
        if isinstance(value, str | dt.date):
            self.cache[value] = moment
        return moment

    def iso(self, moment: dt.datetime) -> str:
        text = self.text.get(moment)
        if text is None:
            if len(self.text) >= self.LIMIT:
                self.text.clear()
            text = self.text[moment] = iso(moment)
        return text


def _parse_day(value: object, where: Where) -> dt.datetime:
    if isinstance(value, dt.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        moment = moment.astimezone(dt.UTC)
        return moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    if value is None or value == "":
        raise MappingError(*where, "required field is missing")
    if not isinstance(value, str):
        raise MappingError(*where, f"not a date: {value!r}")
    text = value.strip()
    us = _US_DATE.match(text)
    try:
        if us:  # EA CSV files: MM/DD/YYYY
            return dt.datetime(int(us[3]), int(us[1]), int(us[2]), tzinfo=dt.UTC)
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise MappingError(*where, f"not a date: {value!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)  # Cost Management dates are UTC days
    moment = moment.astimezone(dt.UTC)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def month_start(moment: dt.datetime) -> dt.datetime:
    return moment.replace(day=1)


def next_month(moment: dt.datetime) -> dt.datetime:
    return (moment.replace(day=1) + dt.timedelta(days=32)).replace(day=1)


def period_end(start: dt.datetime, end_day: dt.datetime) -> dt.datetime:
    """Exclusive end of a billing period whose end date Cost Management writes inclusive
    (the last day: add one day, as Microsoft's conversion says). An end already on the 1st
    after the start is taken as exclusive (a calendar-month period never ends inclusively
    on a 1st)."""
    if end_day.day == 1 and end_day > start:
        return end_day
    return end_day + DAY


# --- tags and JSON ----------------------------------------------------------------------


class JsonObjects:
    """Tags / AdditionalInfo text as a JSON object, parsed once per distinct text.

    Tags arrive as an object, or as text that is a JSON object, or (a Cost Management
    export defect the FinOps toolkit also repairs) the object's members without the
    surrounding braces: `"env": "prod","team": "web"`. Values that are objects or arrays
    become their JSON text, so the result is FOCUS Key-Value Format.
    """

    LIMIT = 20_000

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix
        self.cache: dict[str, dict[str, t.Any] | None] = {}
        self.texts: dict[str, str] = {}

    def __call__(self, value: object, where: Where) -> dict[str, t.Any] | None:
        if value is None or value == "":
            return None
        if isinstance(value, dict):
            return self._flat(value)
        if not isinstance(value, str):
            raise MappingError(*where, f"expected a JSON object, got {value!r}")
        if value in self.cache:
            cached = self.cache[value]
            return None if cached is None else dict(cached)
        text = value.strip()
        parsed: dict[str, t.Any] | None = None
        if text and text not in ("{}", "null"):
            if not text.startswith("{"):
                text = "{" + text + "}"
            try:
                obj = json.loads(text, parse_float=Decimal)
            except ValueError:
                raise MappingError(*where, f"not a JSON object: {value[:80]!r}") from None
            if not isinstance(obj, dict):
                raise MappingError(*where, f"not a JSON object: {value[:80]!r}")
            parsed = self._flat(obj)
        if len(self.cache) >= self.LIMIT:
            self.cache.clear()
        self.cache[value] = parsed
        return None if parsed is None else dict(parsed)

    def canonical(self, value: object, where: Where) -> str | None:
        """The object as sorted JSON text, for keys: the same tags however delivered (with
        or without braces, in any order) give the same text. Cached per distinct text."""
        if value is None or value == "":
            return None
        if isinstance(value, str):
            hit = self.texts.get(value)
            if hit is not None:
                return hit or None
        parsed = self(value, where)
        text = "" if parsed is None else json.dumps(parsed, sort_keys=True, default=str)
        if isinstance(value, str):
            if len(self.texts) >= self.LIMIT:
                self.texts.clear()
            self.texts[value] = text
        return text or None

    def _flat(self, obj: Mapping[str, t.Any]) -> dict[str, t.Any] | None:
        out: dict[str, t.Any] = {}
        prefix = self.prefix
        for key, item in obj.items():
            name = f"{prefix}{key}" if prefix and not str(key).startswith("x_") else str(key)
            if isinstance(item, dict | list):
                out[name] = json.dumps(item, sort_keys=True, default=str)
            elif isinstance(item, float):
                out[name] = Decimal(repr(item))
            else:
                out[name] = item
        return out or None


# --- units ------------------------------------------------------------------------------

_UNITS_FOLDED = {unit.strip().casefold(): value for unit, value in PRICING_UNITS.items()}
_LEADING_COUNT = re.compile(r"^\s*(\d+)\s*(.*?)\s*$")


class Unit(t.NamedTuple):
    """A Cost Management UnitOfMeasure read with the toolkit's pricing units table."""

    block: Decimal  # PricingBlockSize
    name: str  # DistinctUnits: PricingUnit and ConsumedUnit
    power: int | None  # block == 10**power, when it is a power of ten

    def per_block(self, quantity: Decimal) -> Decimal:
        """Quantity / block size (PricingQuantity): exact when it terminates (every block
        size of the form 2^a 5^b), else, and when it needs more than 18 places, rounded
        half-even to 18 places (a computed value, as rows.derived_cost)."""
        if self.power is not None:
            return fit(quantity.scaleb(-self.power)) if self.power else quantity
        _DIVIDE.clear_flags()
        result = _DIVIDE.divide(quantity, self.block)
        if _DIVIDE.flags[Inexact]:
            return result.quantize(COST_SCALE)
        return fit(result)


_UNIT_CACHE: dict[str | None, Unit] = {}


def unit_of(unit_of_measure: str | None) -> Unit:
    """PricingUnit and block size of a UnitOfMeasure: the toolkit's PricingUnits table
    ("10 Hours" -> 10 x Hours), exactly, then ignoring case and spaces; a unit the table
    lacks is read as "<count> <unit>" ("150 Widgets" -> 150 x Widgets), else block 1."""
    hit = _UNIT_CACHE.get(unit_of_measure)
    if hit is not None:
        return hit
    text = unit_of_measure or ""
    found = PRICING_UNITS.get(text) or _UNITS_FOLDED.get(text.strip().casefold())
    if found is not None:
        block, name = Decimal(found[0]), found[1]
    else:
        match = _LEADING_COUNT.match(text)
        if match and int(match[1]) > 0:
            block, name = Decimal(int(match[1])), match[2] or "Units"
        else:
            block, name = ONE, text.strip() or "Units"
    digits = str(int(block))
    power = len(digits) - 1 if digits.rstrip("0") == "1" else None
    unit = Unit(block, name, power)
    if len(_UNIT_CACHE) < 10_000:
        _UNIT_CACHE[unit_of_measure] = unit
    return unit


# --- services ---------------------------------------------------------------------------

Service = tuple[str, str, str]


def _unambiguous(pairs: t.Iterable[tuple[str, Service]]) -> dict[str, Service]:
    seen: dict[str, set[Service]] = {}
    for key, value in pairs:
        if key:
            seen.setdefault(key, set()).add(value)
    return {key: next(iter(values)) for key, values in seen.items() if len(values) == 1}


_BY_TYPE = _unambiguous((rt, value[:3]) for (_, rt), value in SERVICES.items())
_BY_CONSUMED = _unambiguous((cs, value[:3]) for (cs, _), value in SERVICES.items())
_BY_NAME = _unambiguous((value[0].lower(), value[:3]) for value in SERVICES.values())
_SERVICE_CACHE: dict[tuple[str, str, str], Service | None] = {}


def known_service(
    consumed_service: str | None, resource_type: str | None, meter_category: str | None
) -> Service | None:
    """(ServiceName, ServiceCategory, ServiceSubcategory) from the toolkit's Services table:
    by (ConsumedService, ResourceType) as Microsoft's conversion says, then by the resource
    type (or its parent type) alone, by MeterCategory naming a service, by ConsumedService
    alone; None when nothing matches. Ambiguous partial keys are never used."""
    key = (consumed_service or "", resource_type or "", meter_category or "")
    if key in _SERVICE_CACHE:
        return _SERVICE_CACHE[key]
    cs, rt, mc = (part.strip().lower() for part in key)
    hit: Service | None = None
    full = SERVICES.get((cs, rt)) or SERVICES.get(("", rt))
    if full is not None:
        hit = full[:3]
    parent = rt
    while hit is None and parent:
        hit = _BY_TYPE.get(parent)
        parent = parent.rpartition("/")[0] if parent.count("/") > 1 else ""
    if hit is None and mc:
        hit = _BY_NAME.get(mc)
    if hit is None and cs:
        hit = _BY_CONSUMED.get(cs)
    if len(_SERVICE_CACHE) < 50_000:
        _SERVICE_CACHE[key] = hit
    return hit


def service_named(name: str) -> Service | None:
    """A service of the table by its ServiceName (Microsoft's FOCUS export rows)."""
    return _BY_NAME.get(name.strip().lower())


# --- regions ----------------------------------------------------------------------------

#: Azure public regions: RegionId -> RegionName (Microsoft's display names).
REGION_NAMES = {
    "eastus": "East US",
    "eastus2": "East US 2",
    "westus": "West US",
    "westus2": "West US 2",
    "westus3": "West US 3",
    "centralus": "Central US",
    "northcentralus": "North Central US",
    "southcentralus": "South Central US",
    "westcentralus": "West Central US",
    "canadacentral": "Canada Central",
    "canadaeast": "Canada East",
    "brazilsouth": "Brazil South",
    "brazilsoutheast": "Brazil Southeast",
    "mexicocentral": "Mexico Central",
    "northeurope": "North Europe",
    "westeurope": "West Europe",
    "uksouth": "UK South",
    "ukwest": "UK West",
    "francecentral": "France Central",
    "francesouth": "France South",
    "germanywestcentral": "Germany West Central",
    "germanynorth": "Germany North",
    "switzerlandnorth": "Switzerland North",
    "switzerlandwest": "Switzerland West",
    "norwayeast": "Norway East",
    "norwaywest": "Norway West",
    "swedencentral": "Sweden Central",
    "polandcentral": "Poland Central",
    "italynorth": "Italy North",
    "spaincentral": "Spain Central",
    "eastasia": "East Asia",
    "southeastasia": "Southeast Asia",
    "japaneast": "Japan East",
    "japanwest": "Japan West",
    "koreacentral": "Korea Central",
    "koreasouth": "Korea South",
    "australiaeast": "Australia East",
    "australiasoutheast": "Australia Southeast",
    "australiacentral": "Australia Central",
    "australiacentral2": "Australia Central 2",
    "centralindia": "Central India",
    "southindia": "South India",
    "westindia": "West India",
    "uaenorth": "UAE North",
    "uaecentral": "UAE Central",
    "southafricanorth": "South Africa North",
    "southafricawest": "South Africa West",
    "qatarcentral": "Qatar Central",
    "israelcentral": "Israel Central",
    "newzealandnorth": "New Zealand North",
}
#: Older EA location spellings ("US East", "EU West", "uswest") -> RegionId.
_LEGACY_REGIONS = {
    "useast": "eastus",
    "useast2": "eastus2",
    "uswest": "westus",
    "uswest2": "westus2",
    "uswest3": "westus3",
    "uscentral": "centralus",
    "usnorthcentral": "northcentralus",
    "ussouthcentral": "southcentralus",
    "uswestcentral": "westcentralus",
    "euwest": "westeurope",
    "eunorth": "northeurope",
    "apeast": "eastasia",
    "apsoutheast": "southeastasia",
    "jaeast": "japaneast",
    "jawest": "japanwest",
    "brsouth": "brazilsouth",
    "aueast": "australiaeast",
    "ausoutheast": "australiasoutheast",
    "incentral": "centralindia",
    "insouth": "southindia",
    "inwest": "westindia",
    "cacentral": "canadacentral",
    "caeast": "canadaeast",
    "krcentral": "koreacentral",
    "krsouth": "koreasouth",
    "frcentral": "francecentral",
    "frsouth": "francesouth",
}
_NO_REGION = frozenset(
    {"", "global", "unknown", "unassigned", "allregions", "all", "notapplicable", "others", "-2"}
)
_REGION_CACHE: dict[str, tuple[str | None, str | None]] = {}


def region_of(location: str | None) -> tuple[str | None, str | None]:
    """(RegionId, RegionName) of a ResourceLocation: the id is the name lower-cased without
    spaces (Microsoft's rule), older EA spellings mapped to today's ids; the name is
    Microsoft's display name of a known region, else the location as delivered. Global
    and placeholder locations are no region (null)."""
    if location is None:
        return None, None
    hit = _REGION_CACHE.get(location)
    if hit is not None:
        return hit
    compact = location.strip().lower().replace(" ", "")
    if compact in _NO_REGION:
        result: tuple[str | None, str | None] = (None, None)
    else:
        region_id = _LEGACY_REGIONS.get(compact, compact)
        result = (region_id, REGION_NAMES.get(region_id, location.strip()))
    if len(_REGION_CACHE) < 10_000:
        _REGION_CACHE[location] = result
    return result


# --- resource ids -----------------------------------------------------------------------


_ARM_TYPES: dict[str, str | None] = {}


def arm_type(resource_id: str | None) -> str | None:
    """Azure Resource Manager type of a resource id, lower-cased:
    `/subscriptions/s/resourceGroups/g/providers/Microsoft.Sql/servers/a/databases/b` ->
    `microsoft.sql/servers/databases`; None when the id names no provider resource."""
    if not resource_id:
        return None
    if resource_id in _ARM_TYPES:
        return _ARM_TYPES[resource_id]
    lowered = resource_id.lower()
    index = lowered.rfind("/providers/")
    found = None
    if index >= 0:
        parts = [p for p in lowered[index + len("/providers/") :].split("/") if p]
        if len(parts) >= 2:
            found = "/".join([parts[0], *parts[1::2]])
    if len(_ARM_TYPES) >= 50_000:
        _ARM_TYPES.clear()
    _ARM_TYPES[resource_id] = found
    return found


def last_segment(resource_id: str) -> str:
    return resource_id.rstrip("/").rpartition("/")[2] or resource_id


def commitment_type_of(benefit_id: str | None) -> str | None:
    """Reservation or Savings Plan from a benefit id path (Microsoft's conversion:
    /microsoft.capacity/ -> Reservation, /microsoft.billingbenefits/ -> Savings Plan)."""
    if not benefit_id:
        return None
    lowered = benefit_id.lower()
    if "/microsoft.capacity/" in lowered:
        return RESERVATION
    if "/microsoft.billingbenefits/" in lowered:
        return SAVINGS_PLAN
    return None


# --- drops: rows deliberately not emitted -------------------------------------------------


class Drops:
    """Records of one metric mapped to no rows because the other metric carries them.

    Counted per (stream, metric, reason) and logged once per kind when it first happens,
    so the drop is never silent; `counts` is what a caller (or the mapper's end-of-run
    summary) reads.
    """

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str, str]] = Counter()

    def add(self, stream: str, metric: str, reason: str) -> None:
        key = (stream, metric, reason)
        if key not in self.counts:
            LOG.info(
                "%s: %s-metric rows that are %s are not mapped (counted): %s",
                stream,
                metric,
                reason,
                DROP_REASONS.get(reason, ""),
            )
        self.counts[key] += 1

    def total(self) -> int:
        return sum(self.counts.values())


DROP_REASONS = {
    "not a commitment purchase or refund": "Microsoft's conversion takes them from the "
    "amortized metric, which carries the same charge",
    "a commitment purchase or refund": "Microsoft's conversion takes them from the actual "
    "metric (amortized data spreads them over the usage and Unused rows)",
}

#: One counter for the whole process, shared by every Azure stream.
DROPS = Drops()


def drop_counts() -> dict[tuple[str, str, str], int]:
    """Rows deliberately not emitted so far: (stream, metric, reason) -> records."""
    return dict(DROPS.counts)


#: tap-azure export kinds -> the metric of their rows.
EXPORT_KINDS = {
    "azure_actual": "actual",
    "azure_amortized": "amortized",
    "azure_focus": "focus",
}


def export_metric(record: Mapping[str, t.Any], stream: str, record_id: str | None) -> str:
    """actual, amortized or focus, from an export row's export_kind."""
    kind = record.get("export_kind")
    metric = EXPORT_KINDS.get(kind.strip().lower()) if isinstance(kind, str) else None
    if metric is None:
        raise MappingError(stream, record_id, "export_kind", f"unknown export kind {kind!r}")
    return metric


MAPPINGS: tuple[()] = ()  # a helper module: no stream of its own
