"""Azure cost details (actual and amortized) as FOCUS rows, following Microsoft's published
conversion of Cost Management data to FOCUS (FinOps toolkit, "Convert Cost Management data
to FOCUS").

Sources (tap-azure): `cost_details`, rows of Cost Details reports with Microsoft's own
column names (EA PascalCase `CostInBillingCurrency`, MCA camelCase `costInBillingCurrency`)
plus the tap fields metric ("actual" | "amortized"), scope, report_id, blob, row_number,
window_start, window_end; and the ActualCost / AmortizedCost rows of `export_rows` (same
columns, tap fields export_kind, export_name, billing_period, delivery_id, source_file,
row_number), which `azure_export` hands to this mapper.

Column names are normalised once per schema (the key set of the records), case-insensitively
and with the older spellings as aliases (`Cost`, `BillingCurrencyCode`, `ResourceGroupName`),
so EA, MCA and partner (MPA) files share one rule set.

**Each charge once.** Microsoft's conversion keeps every amortized row and, of the actual
rows, only the commitment (reservation / savings plan) purchases and refunds. Both metrics
carry the same on-demand usage, Marketplace, tax and adjustment rows, and only the actual
metric carries commitment purchases (the amortized one spreads them over the usage and
UnusedReservation / UnusedSavingsPlan rows). So a record of the *actual* metric that is
not a commitment purchase or refund, and a record of the *amortized* metric that is one,
map deliberately to no rows: each such drop is counted in `azure_common.DROPS` and logged
once per kind. With both metrics loaded, sum(BilledCost) is the actual total and
sum(EffectiveCost) the amortized total, exactly. The rules per ChargeType are in `CHARGES`;
the reasons are in the README (section "Azure").
"""

from __future__ import annotations

import typing as t

from mapper_focus.providers.azure_common import (
    COMMITMENT_CATEGORY,
    CUSTOM_COLUMNS,
    DAY,
    DROPS,
    EA_ACCOUNT_TYPE,
    GENERIC_SERVICE,
    MCA_ACCOUNT_TYPE,
    MICROSOFT,
    PROVIDER,
    RESERVATION,
    SAVINGS_PLAN,
    SUB_ACCOUNT_TYPE,
    ZERO,
    Days,
    JsonObjects,
    arm_type,
    clean,
    commitment_type_of,
    decimal_or_none,
    export_metric,
    is_placeholder,
    known_service,
    last_segment,
    month_start,
    next_month,
    period_end,
    region_of,
    text_or_none,
    times,
    unit_of,
)
from mapper_focus.registry import StreamMapping
from mapper_focus.rows import MappingError, delivery_scope, derived_cost, row_key

if t.TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from decimal import Decimal

STREAM = "cost_details"
MISSING = "\x00absent"  # the raw key of a column this file does not have

# --- column names: normalisation, once per schema ------------------------------------

#: Columns the rules read, by Microsoft's EA name, with the other spellings Cost Management
#: uses for the same column. Matching ignores case, so MCA's camelCase needs no alias.
COLUMNS: dict[str, tuple[str, ...]] = {
    "BillingAccountId": (),
    "BillingAccountName": (),
    "BillingProfileId": (),
    "BillingProfileName": (),
    "BillingPeriodStartDate": (),
    "BillingPeriodEndDate": (),
    "BillingCurrency": ("BillingCurrencyCode", "Currency"),
    "PricingCurrency": ("PricingCurrencyCode",),
    "ExchangeRatePricingToBilling": ("ExchangeRate",),
    "InvoiceId": (),
    "InvoiceSectionId": (),
    "InvoiceSectionName": ("InvoiceSection",),
    "AccountId": (),
    "AccountName": (),
    "AccountOwnerId": (),
    "CostCenter": (),
    "PartnerName": (),
    "PartnerTenantId": (),
    "ResellerName": (),
    "CustomerName": (),
    "CustomerTenantId": (),
    "SubscriptionId": ("SubscriptionGuid",),
    "SubscriptionName": (),
    "ResourceGroup": ("ResourceGroupName",),
    "ResourceId": ("InstanceId",),
    "ResourceName": (),
    "ResourceType": (),
    "ResourceLocation": (),
    "ResourceLocationNormalized": ("Location",),
    "ConsumedService": (),
    "MeterCategory": (),
    "MeterSubCategory": (),
    "MeterName": (),
    "MeterId": (),
    "MeterRegion": (),
    "ServiceFamily": (),
    "ProductName": ("Product",),
    "ProductId": (),
    "ProductOrderId": (),
    "ProductOrderName": (),
    "OfferId": (),
    "PartNumber": (),
    "PlanName": (),
    "Term": (),
    "PublisherType": (),
    "PublisherName": (),
    "Quantity": ("ConsumedQuantity",),
    "UnitOfMeasure": ("Unit",),
    "EffectivePrice": (),
    "UnitPrice": (),
    "PayGPrice": (),
    "CostInBillingCurrency": ("Cost", "PreTaxCost"),
    "CostInPricingCurrency": (),
    "ChargeType": (),
    "PricingModel": (),
    "Frequency": (),
    "BenefitId": (),
    "BenefitName": (),
    "ReservationId": (),
    "ReservationName": (),
    "Tags": (),
    "AdditionalInfo": (),
    "ServiceInfo1": (),
    "ServiceInfo2": (),
    "Date": ("UsageDate",),
    "CostAllocationRuleName": (),
}
_SPELLINGS: dict[str, tuple[str, int]] = {}
for _name, _aliases in COLUMNS.items():
    for _rank, _spelling in enumerate((_name, *_aliases)):
        _SPELLINGS[_spelling.lower()] = (_name, _rank)

#: Columns that identify a cost details row, never values: Microsoft's "fields used to
#: build a unique ID for a single cost record" (Tags among them, canonicalised, and the
#: Date), plus the columns that tell charge kinds apart. CostCenter, InvoiceId and
#: PublisherId are left out on purpose: Cost Management fills or clears them after the fact
#: (MCA's cost center only in open periods, invoice and publisher ids after invoicing),
#: which would give a restated row a new key.
IDENTITY = (
    "ChargeType",
    "PricingModel",
    "Frequency",
    "BillingAccountId",
    "BillingProfileId",
    "InvoiceSectionId",
    "AccountOwnerId",
    "SubscriptionId",
    "ResourceLocation",
    "MeterId",
    "ProductId",
    "PartNumber",
    "OfferId",
    "ProductOrderId",
    "BenefitId",
    "ReservationId",
    "PublisherName",
    "PlanName",
    "AdditionalInfo",
    "ServiceInfo1",
    "ServiceInfo2",
    "UnitOfMeasure",
    "Term",
    "CostAllocationRuleName",
    "CustomerTenantId",
)


#: Custom columns copied as they are: (x_ column, Microsoft column, placeholders -> null).
PASSTHROUGH = (
    ("x_AzurePublisherType", "PublisherType", False),
    ("x_AzureBillingAccountName", "BillingAccountName", False),
    ("x_AzureBillingProfileName", "BillingProfileName", False),
    ("x_AzureInvoiceSectionId", "InvoiceSectionId", True),
    ("x_AzureInvoiceSectionName", "InvoiceSectionName", True),
    ("x_AzureAccountId", "AccountId", True),
    ("x_AzureAccountName", "AccountName", True),
    ("x_AzureAccountOwnerId", "AccountOwnerId", True),
    ("x_AzureCostCenter", "CostCenter", False),
    ("x_AzureResellerName", "ResellerName", False),
    ("x_AzureCustomerName", "CustomerName", False),
    ("x_AzureResourceGroup", "ResourceGroup", True),
    ("x_AzureResourceLocation", "ResourceLocation", False),
    ("x_AzureMeterSubcategory", "MeterSubCategory", True),
    ("x_AzureMeterId", "MeterId", True),
    ("x_AzureMeterRegion", "MeterRegion", False),
    ("x_AzureServiceFamily", "ServiceFamily", False),
    ("x_AzureProductOrderId", "ProductOrderId", False),
    ("x_AzureProductOrderName", "ProductOrderName", False),
    ("x_AzureOfferId", "OfferId", False),
    ("x_AzurePartNumber", "PartNumber", False),
    ("x_AzurePlanName", "PlanName", False),
    ("x_AzureTerm", "Term", False),
    ("x_AzureCostAllocationRuleName", "CostAllocationRuleName", False),
)


class Layout:
    """One file schema: where each column the rules read is (None: absent)."""

    def __init__(self, keys: t.Iterable[str]) -> None:
        found: dict[str, tuple[int, str]] = {}
        for key in keys:
            spelling = _SPELLINGS.get(key.lower())
            if spelling is None:
                continue
            name, rank = spelling
            if name not in found or rank < found[name][0]:
                found[name] = (rank, key)
        self.raw: dict[str, str] = {
            name: found[name][1] if name in found else MISSING for name in COLUMNS
        }
        self.identity = tuple(self.raw[name] for name in IDENTITY)
        self.passthrough = tuple(
            (target, self.raw[name], placeholders) for target, name, placeholders in PASSTHROUGH
        )

    def name(self, column: str) -> str:
        """The column's name in this file (for error messages)."""
        raw = self.raw.get(column, MISSING)
        return column if raw == MISSING else raw


class Layouts:
    """Layouts by the tuple of a record's keys (records of one file share it)."""

    LIMIT = 64

    def __init__(self) -> None:
        self.by_keys: dict[tuple[str, ...], Layout] = {}

    def __call__(self, record: Mapping[str, t.Any]) -> Layout:
        keys = tuple(record)
        layout = self.by_keys.get(keys)
        if layout is None:
            if len(self.by_keys) >= self.LIMIT:
                self.by_keys.clear()
            layout = self.by_keys[keys] = Layout(keys)
        return layout


# --- rules per ChargeType ----------------------------------------------------------------


class Charge(t.NamedTuple):
    """How one Cost Management ChargeType becomes a FOCUS row."""

    category: str  # ChargeCategory
    unused: str | None = None  # commitment type of an Unused row
    refund: bool = False  # a correction of an invoiced purchase


#: Microsoft's conversion: Usage, Purchase, Credit, Tax keep their name; UnusedReservation
#: and UnusedSavingsPlan are Usage (status Unused); Refund is a Purchase with ChargeClass
#: Correction; anything else (RoundingAdjustment, ...) is an Adjustment.
CHARGES: dict[str, Charge] = {
    "usage": Charge("Usage"),
    "unusedreservation": Charge("Usage", unused=RESERVATION),
    "unusedsavingsplan": Charge("Usage", unused=SAVINGS_PLAN),
    "purchase": Charge("Purchase"),
    "refund": Charge("Purchase", refund=True),
    "tax": Charge("Tax"),
    "credit": Charge("Credit"),
    "roundingadjustment": Charge("Adjustment"),
}
OTHER_CHARGE = Charge("Adjustment")
PRICING_MODELS = {
    "ondemand": "ondemand",
    "reservation": "reservation",
    "reservations": "reservation",
    "savingsplan": "savingsplan",
    "savingsplans": "savingsplan",
    "spot": "spot",
}
COMMITMENT_MODELS = {"reservation": RESERVATION, "savingsplan": SAVINGS_PLAN}
FREQUENCIES = {"usagebased": "Usage-Based", "recurring": "Recurring", "onetime": "One-Time"}
METRICS = {
    "actual": "actual",
    "actualcost": "actual",
    "amortized": "amortized",
    "amortizedcost": "amortized",
}
PRICELESS = frozenset({"Tax", "Credit", "Adjustment"})
HOSTLESS = frozenset({"Purchase", "Tax", "Credit", "Adjustment"})
MICROSOFT_NAMES = frozenset({"microsoft", "microsoft corporation", "azure", "microsoft azure"})
THIRD_PARTY_TYPES = frozenset({"marketplace", "aws"})
MARKETPLACE = "Azure Marketplace"
SAAS_TYPE = "microsoft.saas/"
CAPACITY_RESERVATION_TYPE = "microsoft.compute/capacityreservationgroups/capacityreservations"


_KEYS: dict[str, str] = {}


def _key(text: str) -> str:
    """ChargeType / PricingModel / Frequency / metric text, compared without case, spaces
    or hyphens ("On Demand" = "OnDemand"); cached per distinct text."""
    found = _KEYS.get(text)
    if found is None:
        found = text.strip().lower().replace(" ", "").replace("-", "")
        if len(_KEYS) < 1000:
            _KEYS[text] = found
    return found


def _nonzero(*values: Decimal | None) -> Decimal | None:
    for value in values:
        if value:
            return value
    return None


class CostMapper:
    """Maps Cost Management actual / amortized rows (cost details or exports)."""

    def __init__(self, stream: str, *, export: bool) -> None:
        self.stream = stream
        self.export = export
        self.layouts = Layouts()
        self.days = Days()
        self.tags = JsonObjects()
        self.details = JsonObjects(prefix="x_")  # AdditionalInfo -> SkuPriceDetails
        self.info = JsonObjects()  # AdditionalInfo as delivered (commitment ratio, CRs)

    def __call__(self, record: Mapping[str, t.Any]) -> Iterator[dict[str, t.Any]]:
        return iter(self.map(record))

    def record_id(self, record: Mapping[str, t.Any]) -> str | None:
        return export_record_id(record) if self.export else report_record_id(record)

    def metric(self, record: Mapping[str, t.Any], rid: str | None) -> str:
        if self.export:
            return export_metric(record, self.stream, rid)
        value = record.get("metric")
        metric = METRICS.get(_key(value)) if isinstance(value, str) else None
        if metric is None:
            raise MappingError(
                self.stream, rid, "metric", f"expected actual or amortized, got {value!r}"
            )
        return metric

    # The one hot function: plain locals and dict lookups.
    def map(self, record: Mapping[str, t.Any]) -> list[dict[str, t.Any]]:
        stream = self.stream
        layout = self.layouts(record)
        raw = layout.raw
        get = record.get
        rid = self.record_id(record)

        def text(column: str) -> str | None:
            value = get(raw[column])
            if value is None or value == "":
                return None
            return value if type(value) is str else text_or_none(value)

        def dec(column: str) -> Decimal | None:
            key = raw[column]
            value = get(key)
            if value is None or value == "":
                return None
            return decimal_or_none(value, (stream, rid, key))

        def required(column: str) -> str:
            value = text(column)
            if value is None:
                raise MappingError(stream, rid, layout.name(column), "required field is missing")
            return value

        metric = self.metric(record, rid)
        charge_type = required("ChargeType")
        charge = CHARGES.get(_key(charge_type), OTHER_CHARGE)
        category = charge.category
        pricing_model_text = text("PricingModel")
        pricing_model = PRICING_MODELS.get(_key(pricing_model_text or ""), "")
        benefit_id = text("BenefitId") or text("ReservationId")
        if is_placeholder(benefit_id):
            benefit_id = None
        commitment = charge.unused or COMMITMENT_MODELS.get(pricing_model)
        if commitment is None and not pricing_model and category in ("Usage", "Purchase"):
            commitment = commitment_type_of(benefit_id)
        commitment_purchase = category == "Purchase" and commitment is not None

        # --- each charge once: Microsoft's conversion picks the metric per charge kind
        if metric == "actual" and not commitment_purchase:
            DROPS.add(stream, metric, "not a commitment purchase or refund")
            return []
        if metric == "amortized" and commitment_purchase:
            DROPS.add(stream, metric, "a commitment purchase or refund")
            return []

        cost = dec("CostInBillingCurrency")
        if cost is None:
            raise MappingError(
                stream, rid, layout.name("CostInBillingCurrency"), "required field is missing"
            )
        currency = required("BillingCurrency").strip().upper()

        # --- billing account: EA enrollment, or the MCA billing profile (Microsoft)
        account_id = text("BillingAccountId")
        profile_id = text("BillingProfileId")
        partner = text("PartnerName")
        billing_account: str | None
        if profile_id and account_id and profile_id != account_id:
            agreement = "MPA" if partner or text("PartnerTenantId") else "MCA"
            billing_account = profile_id
            billing_account_name = text("BillingProfileName")
            billing_account_type = MCA_ACCOUNT_TYPE
        else:
            agreement = "EA"
            billing_account = account_id or profile_id
            billing_account_name = text("BillingAccountName") or text("BillingProfileName")
            billing_account_type = EA_ACCOUNT_TYPE
            if billing_account is None:
                raise MappingError(
                    stream, rid, layout.name("BillingAccountId"), "required field is missing"
                )

        # --- periods: the charge's day; the billing period with its end made exclusive
        days = self.days
        day = days.day(get(raw["Date"]), (stream, rid, layout.name("Date")))
        charge_start = days.iso(day)
        charge_end_moment = day + DAY
        charge_end = days.iso(charge_end_moment)
        bp_raw = get(raw["BillingPeriodStartDate"])
        if bp_raw is None or bp_raw == "":
            bp_start_moment = month_start(day)
            bp_end_moment = next_month(day)
        else:
            bp_start_moment = days.day(bp_raw, (stream, rid, layout.name("BillingPeriodStartDate")))
            end_raw = get(raw["BillingPeriodEndDate"])
            if end_raw is None or end_raw == "":
                bp_end_moment = next_month(bp_start_moment)
            else:
                end_day = days.day(end_raw, (stream, rid, layout.name("BillingPeriodEndDate")))
                bp_end_moment = period_end(bp_start_moment, end_day)
        correction = "Correction" if charge.refund or charge_end_moment <= bp_start_moment else None

        frequency = FREQUENCIES.get(_key(text("Frequency") or ""))
        if charge.unused:
            frequency = "Usage-Based"
        elif frequency is None:
            frequency = "Usage-Based" if category == "Usage" else "One-Time"
        elif category == "Purchase" and frequency == "Usage-Based":
            frequency = "Recurring"  # a monthly commitment payment (FOCUS: no usage-based purchase)

        # --- money: BilledCost from the actual metric's cost, EffectiveCost the amortized
        unused = charge.unused is not None
        used = commitment is not None and category == "Usage" and not unused
        billed = ZERO if used or unused else cost
        effective = ZERO if commitment_purchase else cost

        # --- prices and quantities, per price block ("10 Hours": block 10 of Hours)
        unit_text = text("UnitOfMeasure")
        unit = unit_of(unit_text)
        quantity = dec("Quantity")
        pricing_currency = (text("PricingCurrency") or currency).strip().upper()
        rate = dec("ExchangeRatePricingToBilling")
        if pricing_currency != currency and rate is None:
            raise MappingError(
                stream,
                rid,
                layout.name("ExchangeRatePricingToBilling"),
                f"prices are in {pricing_currency}, billed in {currency}, and no exchange rate",
            )
        effective_price = dec("EffectivePrice")
        priced = category in ("Usage", "Purchase") and not charge.refund
        pricing_quantity = list_price = contracted_price = pc_list = pc_contracted = None
        if priced:
            if quantity is None:
                raise MappingError(
                    stream, rid, layout.name("Quantity"), "required field is missing"
                )
            pricing_quantity = unit.per_block(quantity)
            if unused:
                list_price = contracted_price = ZERO  # nothing was consumed at these prices
            else:
                unit_price, payg = dec("UnitPrice"), dec("PayGPrice")
                if used:
                    contracted = _nonzero(unit_price, payg, effective_price)
                else:
                    contracted = _nonzero(unit_price, effective_price, payg)
                contracted_price = contracted or ZERO
                list_price = _nonzero(payg, contracted_price) or ZERO
            pc_list, pc_contracted = list_price, contracted_price  # in the pricing currency
            if not unused and rate is not None and rate != 1 and pricing_currency != currency:
                contracted_price = times(contracted_price, rate)
                list_price = times(list_price, rate)
            list_cost = derived_cost(list_price, pricing_quantity)
            contracted_cost = derived_cost(contracted_price, pricing_quantity)
        else:
            list_cost = contracted_cost = cost  # no price list: the charge itself
        consumed = consumed_unit = None
        if category == "Usage" and not unused and _key(charge_type) == "usage":
            consumed, consumed_unit = quantity, unit.name

        if category == "Usage":
            if used or unused:
                pricing_category: str | None = "Committed"
            elif pricing_model == "spot":
                pricing_category = "Dynamic"
            else:
                pricing_category = "Standard"
        elif category == "Purchase":
            pricing_category = "Standard"
        else:
            pricing_category = None

        # --- resource, region, tags
        resource_raw = text("ResourceId")
        if is_placeholder(resource_raw):
            resource_raw = None
        resource_id = resource_type = resource_name = None
        if resource_raw is not None:
            resource_id = resource_raw.lower()
            resource_type = arm_type(resource_raw) or clean(text("ResourceType"))
            resource_name = clean(text("ResourceName")) or last_segment(resource_raw)
            if resource_type is None:
                resource_type = "Resource"

        # --- commitment discount columns
        commitment_id = commitment_name = commitment_category = commitment_status = None
        commitment_quantity: Decimal | None = None
        commitment_unit: str | None = None
        additional = get(raw["AdditionalInfo"])
        if commitment is not None and benefit_id is not None:
            commitment_id = benefit_id.lower()
            commitment_name = clean(text("BenefitName") or text("ReservationName"))
            commitment_category = COMMITMENT_CATEGORY[commitment]
            if category == "Usage":
                commitment_status = "Unused" if unused else "Used"
            if not charge.refund:
                if commitment == SAVINGS_PLAN:
                    # Spend: the amount of commitment the row uses (usage, unused) or buys.
                    commitment_quantity, commitment_unit = cost, currency
                elif category == "Usage":
                    ratio = self._ratio(additional, stream, rid, layout)
                    if ratio is None:
                        commitment_quantity, commitment_unit = quantity, unit.name
                    elif quantity is not None:
                        commitment_quantity = times(quantity, ratio)
                        commitment_unit = f"Normalized {unit.name}"
                else:
                    commitment_quantity, commitment_unit = quantity, unit.name
            if resource_id is None and (category == "Purchase" or unused):
                # The commitment is what is bought / left unused (as the toolkit does).
                resource_id = commitment_id
                resource_name = commitment_name or benefit_id
                resource_type = arm_type(benefit_id) or commitment
        if commitment_quantity is None:
            commitment_unit = None

        region_id, region_name = region_of(
            clean(text("ResourceLocationNormalized")) or text("ResourceLocation")
        )
        tags = self.tags(get(raw["Tags"]), (stream, rid, layout.name("Tags")))

        # --- who: publisher, service provider, host, invoice issuer
        publisher_type = text("PublisherType")
        publisher_raw = clean(text("PublisherName"))
        microsoft_publisher = publisher_raw is None or publisher_raw.lower() in MICROSOFT_NAMES
        third_party = (publisher_type or "").lower() in THIRD_PARTY_TYPES or not (
            microsoft_publisher
        )
        if third_party:
            publisher = MARKETPLACE if microsoft_publisher else t.cast("str", publisher_raw)
            service_provider = publisher
            saas = resource_type is not None and resource_type.startswith(SAAS_TYPE)
            host: str | None = publisher if saas or resource_id is None else MICROSOFT
            if (publisher_type or "").lower() == "aws":
                host = publisher
        else:
            publisher = service_provider = host = MICROSOFT
        if category in HOSTLESS:
            host = None

        consumed_service = text("ConsumedService")
        meter_category = clean(text("MeterCategory"))
        product_name = clean(text("ProductName"))
        service = known_service(consumed_service, resource_type, meter_category)
        if service is None:
            name = meter_category or clean(consumed_service)
            if third_party:
                name = name or publisher
            service = (name or product_name or GENERIC_SERVICE, "Other", "Other (Other)")

        # --- SKU
        meter_name = clean(text("MeterName"))
        sku_id = text("ProductId") or clean(text("MeterId")) or text("PartNumber") or product_name
        if sku_id is None and priced:
            sku_id = commitment_id
        if category == "Tax":
            sku_id = None
        sku_price_id = sku_id if priced else None
        details = None
        if sku_price_id is not None and additional is not None and additional != "":
            details = self.details(additional, (stream, rid, layout.name("AdditionalInfo")))

        capacity_id = capacity_status = None
        if (isinstance(additional, str) and "CapacityReservation" in additional) or (
            isinstance(additional, dict) and "VMCapacityReservationId" in additional
        ):
            info = self.info(additional, (stream, rid, layout.name("AdditionalInfo")))
            capacity_id = clean(text_or_none((info or {}).get("VMCapacityReservationId")))
            if capacity_id is not None:
                capacity_id = capacity_id.lower()
                if category == "Usage":
                    unused_capacity = resource_type == CAPACITY_RESERVATION_TYPE
                    capacity_status = "Unused" if unused_capacity else "Used"

        description = product_name or meter_name or charge_type
        subscription = clean(text("SubscriptionId"))
        if self.export:
            key = row_key(
                PROVIDER,
                stream,
                get("export_name"),
                get("billing_period"),
                export_file(record),
                get("row_number"),
                "row",
            )
        else:
            identity = [
                value if type(value) is str else text_or_none(value) or ""
                for value in map(get, layout.identity)
            ]
            key = row_key(
                PROVIDER,
                stream,
                str(get("scope") or "").lower(),
                metric,
                charge_start,
                resource_id,
                self.tags.canonical(get(raw["Tags"]), (stream, rid, layout.name("Tags"))),
                *identity,
            )

        row: dict[str, t.Any] = {
            "BilledCost": billed,
            "BillingAccountId": billing_account,
            "BillingAccountName": billing_account_name,
            "BillingAccountType": billing_account_type,
            "BillingCurrency": currency,
            "BillingPeriodStart": days.iso(bp_start_moment),
            "BillingPeriodEnd": days.iso(bp_end_moment),
            "CapacityReservationId": capacity_id,
            "CapacityReservationStatus": capacity_status,
            "ChargeCategory": category,
            "ChargeClass": correction,
            "ChargeDescription": description,
            "ChargeFrequency": frequency,
            "ChargePeriodStart": charge_start,
            "ChargePeriodEnd": charge_end,
            "CommitmentDiscountCategory": commitment_category,
            "CommitmentDiscountId": commitment_id,
            "CommitmentDiscountName": commitment_name,
            "CommitmentDiscountQuantity": commitment_quantity,
            "CommitmentDiscountStatus": commitment_status,
            "CommitmentDiscountType": commitment if commitment_id else None,
            "CommitmentDiscountUnit": commitment_unit,
            "ConsumedQuantity": consumed,
            "ConsumedUnit": consumed_unit if consumed is not None else None,
            "ContractedCost": contracted_cost,
            "ContractedUnitPrice": contracted_price,
            "EffectiveCost": effective,
            "HostProviderName": host,
            "InvoiceId": text("InvoiceId"),
            "InvoiceIssuerName": partner or MICROSOFT,
            "ListCost": list_cost,
            "ListUnitPrice": list_price,
            "PricingCategory": pricing_category,
            "PricingCurrency": pricing_currency,
            "PricingQuantity": pricing_quantity,
            "PricingUnit": unit.name if pricing_quantity is not None else None,
            "ProviderName": MICROSOFT,
            "PublisherName": publisher,
            "RegionId": region_id,
            "RegionName": region_name,
            "ResourceId": resource_id,
            "ResourceName": resource_name,
            "ResourceType": resource_type,
            "ServiceCategory": service[1],
            "ServiceName": service[0],
            "ServiceProviderName": service_provider,
            "ServiceSubcategory": service[2],
            "SkuId": sku_id,
            "SkuMeter": (meter_name or clean(text("MeterSubCategory")) or description)
            if sku_id
            else None,
            "SkuPriceDetails": details,
            "SkuPriceId": sku_price_id,
            "SubAccountId": subscription,
            "SubAccountName": (clean(text("SubscriptionName")) or subscription)
            if subscription
            else None,
            "SubAccountType": SUB_ACCOUNT_TYPE if subscription else None,
            "Tags": tags,
            "x_SourceStream": stream,
            "x_SourceRecordId": rid,
            "x_RowKey": key,
            "x_AzureMetric": metric,
            "x_AzureAgreement": agreement,
            "x_AzureScope": None if self.export else text_or_none(get("scope")),
            "x_AzureChargeType": charge_type,
            "x_AzurePricingModel": pricing_model_text,
            "x_AzureBillingAccountId": account_id,
            "x_AzureBillingProfileId": profile_id,
            "x_AzureResourceType": arm_type(resource_raw) if resource_raw else None,
            "x_AzureConsumedService": consumed_service,
            "x_AzureMeterCategory": meter_category,
            "x_AzureMeterName": meter_name,
            "x_AzureUnitOfMeasure": unit_text,
            "x_AzurePricingBlockSize": unit.block,
            "x_AzureEffectivePrice": effective_price,
            "x_AzureExchangeRate": rate,
            "x_AzureAdditionalInfo": text_or_none(additional),
        }
        # Prices and cost in the pricing currency (MCA prices in USD, bills in EUR ...):
        # Microsoft's own figures, when the row has them for its charge.
        cost_in_pricing = dec("CostInPricingCurrency")
        if pricing_currency == currency:
            pc_effective: Decimal | None = effective
        elif commitment_purchase:
            pc_effective = ZERO
        else:
            pc_effective = cost_in_pricing
        if pc_effective is not None:
            row["PricingCurrencyEffectiveCost"] = pc_effective
            row["PricingCurrencyListUnitPrice"] = pc_list
            row["PricingCurrencyContractedUnitPrice"] = pc_contracted
        row["x_AzureCostInPricingCurrency"] = cost_in_pricing
        delivery = get("delivery_id")
        if delivery is not None and delivery != "":
            # Export runs, and (in tap-azure's contract) cost details reports, are
            # deliveries of a billing period: target-focus replaces the rows of their scope
            # (the export; the Cost Details of one scope and metric) in the period by them.
            row["x_DeliveryId"] = str(delivery)
            if self.export:
                row["x_DeliveryScope"] = delivery_scope(get("export_kind"), get("export_name"))
            else:
                scope = get("scope")
                row["x_DeliveryScope"] = delivery_scope(
                    f"azure_{metric}", f"cost_details:{scope}" if scope else None
                )
        for target, key, placeholders in layout.passthrough:
            value = get(key)
            if value is None or value == "":
                row[target] = None
            elif type(value) is not str:
                row[target] = text_or_none(value)
            else:
                row[target] = clean(value) if placeholders else value
        return [row]

    def _ratio(
        self, additional: object, stream: str, rid: str | None, layout: Layout
    ) -> Decimal | None:
        """RINormalizationRatio of a reservation row (instance size flexibility)."""
        if additional is None or additional == "":
            return None
        if isinstance(additional, str) and "RINormalizationRatio" not in additional:
            return None
        where = (stream, rid, layout.name("AdditionalInfo"))
        info = self.info(additional, where) or {}
        value = info.get("RINormalizationRatio")
        if value is None or value == "":
            return None
        if isinstance(value, float):
            value = repr(value)
        return decimal_or_none(value, where)


def report_record_id(record: Mapping[str, t.Any]) -> str | None:
    """A cost details row is named by its report, blob and row (the blob without any query
    string, so a signed URL never reaches a log)."""
    report, blob, number = record.get("report_id"), record.get("blob"), record.get("row_number")
    if report is None and blob is None and number is None:
        return None
    blob_name = str(blob).split("?", 1)[0] if blob is not None else ""
    return f"{report}:{blob_name}:{number}"


def export_file(record: Mapping[str, t.Any]) -> str | None:
    """The export data file a row came from: tap-azure's `blob` (else `source_file`),
    without any query string, so a signed URL never reaches a log or a key."""
    source = record.get("blob") or record.get("source_file")
    return None if source is None else str(source).split("?", 1)[0]


def export_record_id(record: Mapping[str, t.Any]) -> str | None:
    """An export row is named by its file and row."""
    source, number = export_file(record), record.get("row_number")
    if source is None and number is None:
        return None
    return f"{source}:{number}"


#: tap-azure announces cost_details with its own fields; Microsoft's columns follow.
TAP_REQUIRED = frozenset({"metric", "scope", "row_number"})

_COST_DETAILS = CostMapper(STREAM, export=False)


def map_cost_details(record: Mapping[str, t.Any]) -> Iterator[dict[str, t.Any]]:
    """FOCUS rows of one cost details row (0 or 1: see "each charge once")."""
    return _COST_DETAILS(record)


MAPPINGS = (
    StreamMapping(
        provider=PROVIDER,
        stream=STREAM,
        required_properties=TAP_REQUIRED,
        map_record=map_cost_details,
        record_id=report_record_id,
        custom_columns=CUSTOM_COLUMNS,
    ),
)
