"""Microsoft's FOCUS export (Cost Management "FocusCost", FOCUS 1.0 / 1.2-preview / the
1.0-preview) normalised to the configured FOCUS version (1.2 or 1.3).

Source (tap-azure): `export_rows` with export_kind "azure_focus": Microsoft's FOCUS columns
and its x_ columns (the FinOps toolkit's dataset metadata lists them), plus the tap fields.
Microsoft already did the conversion (actual and amortized in one dataset, so no row is
dropped); this module brings the rows up to 1.2/1.3, following the FinOps toolkit's own
hub transform (`Costs_transform_v1_2`) where it repairs Microsoft's data:

- columns 1.2/1.3 added that the row can answer: ServiceSubcategory (the toolkit's
  Services table), SkuMeter (x_SkuMeterName), SkuPriceDetails (x_SkuDetails, keys
  x_-prefixed), InvoiceId (x_InvoiceId), PricingCurrency (x_PricingCurrency),
  CapacityReservationId/Status (x_SkuDetails.VMCapacityReservationId),
  CommitmentDiscountQuantity/Unit, and 1.3's ServiceProviderName / HostProviderName;
- values later versions reject: "Usage-Based" purchases become "Recurring", 1.0-preview
  PricingCategory / ChargeSubcategory / Region / UsageQuantity spellings, quantities on
  rows that must have none (ConsumedQuantity on Unused or non-Usage rows), placeholders
  ("-2", "Unassigned") and empty text become null, Tags without braces are repaired;
- Microsoft's known defects: EffectiveCost on commitment purchases is 0 (the amortized
  rows carry it), PublisherName null on first-party rows is "Microsoft", a ListCost /
  ContractedCost that is not unit price x PricingQuantity (the conformance report's
  0-cost gaps) is recomputed exactly;
- Microsoft's x_ columns keep their data under the same x_Azure* names the cost details
  rows use, so both sources share one table.
"""

from __future__ import annotations

import datetime as dt
import typing as t
from decimal import Decimal

from focus_spec import SUPPORTED_VERSIONS, get_spec

from mapper_focus.providers.azure_common import (
    COMMITMENT_CATEGORY,
    EA_ACCOUNT_TYPE,
    GENERIC_SERVICE,
    MCA_ACCOUNT_TYPE,
    MICROSOFT,
    PROVIDER,
    SUB_ACCOUNT_TYPE,
    ZERO,
    JsonObjects,
    arm_type,
    commitment_type_of,
    decimal_or_none,
    fit,
    is_placeholder,
    known_service,
    region_of,
    service_named,
    text_or_none,
    times,
    unit_of,
)
from mapper_focus.rows import MappingError, derived_cost, iso, row_key

if t.TYPE_CHECKING:
    from collections.abc import Mapping

_SPEC = get_spec("1.3")
SPEC_COLUMNS = frozenset(c for v in SUPPORTED_VERSIONS for c in get_spec(v).column_names)
_BY_LOWER = {name.lower(): name for name in SPEC_COLUMNS}
DECIMAL_COLUMNS = frozenset(c.name for c in _SPEC.columns if c.data_type == "Decimal")
DATETIME_COLUMNS = frozenset(c.name for c in _SPEC.columns if c.data_type == "DateTime")
CATEGORIES = _SPEC.column("ServiceCategory").allowed_values or frozenset()
SUBCATEGORY_PARENTS = _SPEC.service_subcategory_parents

#: Microsoft's x_ columns -> finfocus' Azure columns (shared with the cost details rows).
X_COLUMNS = {
    "x_AccountId": "x_AzureAccountId",
    "x_AccountName": "x_AzureAccountName",
    "x_AccountOwnerId": "x_AzureAccountOwnerId",
    "x_BillingAccountId": "x_AzureBillingAccountId",
    "x_BillingAccountName": "x_AzureBillingAccountName",
    "x_BillingProfileId": "x_AzureBillingProfileId",
    "x_BillingProfileName": "x_AzureBillingProfileName",
    "x_BillingExchangeRate": "x_AzureExchangeRate",
    "x_CostAllocationRuleName": "x_AzureCostAllocationRuleName",
    "x_CostCenter": "x_AzureCostCenter",
    "x_CustomerName": "x_AzureCustomerName",
    "x_EffectiveUnitPrice": "x_AzureEffectivePrice",
    "x_InvoiceSectionId": "x_AzureInvoiceSectionId",
    "x_InvoiceSectionName": "x_AzureInvoiceSectionName",
    "x_PricingBlockSize": "x_AzurePricingBlockSize",
    "x_PricingSubcategory": "x_AzurePricingSubcategory",
    "x_PricingUnitDescription": "x_AzureUnitOfMeasure",
    "x_PublisherCategory": "x_AzurePublisherType",
    "x_ResellerName": "x_AzureResellerName",
    "x_ResourceGroupName": "x_AzureResourceGroup",
    "x_ResourceType": "x_AzureResourceType",
    "x_SkuDetails": "x_AzureAdditionalInfo",
    "x_SkuMeterCategory": "x_AzureMeterCategory",
    "x_SkuMeterId": "x_AzureMeterId",
    "x_SkuMeterName": "x_AzureMeterName",
    "x_SkuMeterSubcategory": "x_AzureMeterSubcategory",
    "x_SkuOfferId": "x_AzureOfferId",
    "x_SkuOrderId": "x_AzureProductOrderId",
    "x_SkuOrderName": "x_AzureProductOrderName",
    "x_SkuPartNumber": "x_AzurePartNumber",
    "x_SkuPlanName": "x_AzurePlanName",
    "x_SkuRegion": "x_AzureMeterRegion",
    "x_SkuServiceFamily": "x_AzureServiceFamily",
    "x_SkuTerm": "x_AzureTerm",
}
X_DECIMALS = frozenset({"x_AzureExchangeRate", "x_AzureEffectivePrice", "x_AzurePricingBlockSize"})
#: Microsoft columns read for the normalisation but not kept under a name of their own.
READ_ONLY = {
    "x_InvoiceId": "x_InvoiceId",
    "x_PricingCurrency": "x_PricingCurrency",
    "x_SkuDescription": "x_SkuDescription",
    "x_OnDemandCost": "x_OnDemandCost",
    "x_OnDemandUnitPrice": "x_OnDemandUnitPrice",
    "ChargeSubcategory": "ChargeSubcategory",
    "Region": "Region",
    "UsageQuantity": "UsageQuantity",
    "UsageUnit": "UsageUnit",
}
_X_BY_LOWER = {name.lower(): name for name in (*X_COLUMNS, *READ_ONLY)}
#: Columns where Microsoft writes "-2" or "Unassigned" for "no value" (conformance summary).
PLACEHOLDER_COLUMNS = frozenset(
    {
        "SkuPriceId",
        "SubAccountName",
        "x_AzureAccountId",
        "x_AzureAccountName",
        "x_AzureAccountOwnerId",
        "x_AzureInvoiceSectionId",
        "x_AzureInvoiceSectionName",
        "x_AzureUnitOfMeasure",
    }
)
PRICING_CATEGORIES = {
    "On-Demand": "Standard",
    "OnDemand": "Standard",
    "Commitment-Based": "Committed",
    "Commitment Discount": "Committed",
    "Spot": "Dynamic",
    "Other": None,
}
#: FOCUS-defined SkuPriceDetails properties kept under their own name when the value has
#: the type FOCUS gives them; every other key is x_-prefixed (Microsoft's conversion).
SKU_TEXT_PROPERTIES = frozenset(
    {"InstanceType", "InstanceSeries", "OperatingSystem", "DiskType", "Redundancy", "StorageClass"}
)
SKU_NUMBER_PROPERTIES = frozenset(
    {
        "CoreCount",
        "GpuCount",
        "DiskSpace",
        "MemorySize",
        "DiskMaxIops",
        "NetworkMaxIops",
        "NetworkMaxThroughput",
    }
)
HOSTLESS = frozenset({"Purchase", "Tax", "Credit", "Adjustment"})
#: Conditional columns new since FOCUS 1.0 that the Azure rows carry (null when unknown).
NEW_IN_1_2 = (
    "InvoiceId",
    "CapacityReservationId",
    "CapacityReservationStatus",
    "CommitmentDiscountQuantity",
    "CommitmentDiscountUnit",
    "SkuMeter",
    "SkuPriceDetails",
)
MICROSOFT_NAMES = frozenset({"microsoft", "microsoft corporation", "azure", "microsoft azure"})
CAPACITY_RESERVATION_TYPE = "microsoft.compute/capacityreservationgroups/capacityreservations"


class Layout:
    """One FocusCost schema: raw key -> FOCUS column or Azure column (case-insensitive)."""

    def __init__(self, keys: t.Iterable[str]) -> None:
        self.spec: list[tuple[str, str]] = []  # (raw key, FOCUS column)
        self.custom: list[tuple[str, str]] = []  # (raw key, Microsoft x_ / legacy name)
        for key in keys:
            name = key if key in SPEC_COLUMNS else _BY_LOWER.get(key.lower())
            if name is not None:
                self.spec.append((key, name))
                continue
            legacy = _X_BY_LOWER.get(key.lower())
            if legacy is not None:
                self.custom.append((key, legacy))


class Moments:
    """FOCUS date/time text of Microsoft's values, parsed once per distinct text."""

    LIMIT = 20_000

    def __init__(self) -> None:
        self.cache: dict[str, str] = {}

    def __call__(self, value: object, where: tuple[str, str | None, str]) -> str:
        if isinstance(value, str):
            hit = self.cache.get(value)
            if hit is not None:
                return hit
            text = value.strip()
            if text.endswith(("Z", "z")):
                text = text[:-1] + "+00:00"
            try:
                moment = dt.datetime.fromisoformat(text)
            except ValueError:
                raise MappingError(*where, f"not an ISO 8601 date/time: {value!r}") from None
            result = iso(moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC))
            if len(self.cache) >= self.LIMIT:
                self.cache.clear()
            self.cache[value] = result
            return result
        if isinstance(value, dt.datetime):
            return iso(value if value.tzinfo else value.replace(tzinfo=dt.UTC))
        if isinstance(value, dt.date):
            return iso(dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC))
        raise MappingError(*where, f"not a date/time: {value!r}")


class FocusMapper:
    """Maps the rows of Microsoft's FOCUS export (one FOCUS row each)."""

    def __init__(self, stream: str) -> None:
        self.stream = stream
        self.layouts: dict[tuple[str, ...], Layout] = {}
        self.moments = Moments()
        self.tags = JsonObjects()
        self.details = JsonObjects(prefix="x_")
        self.info = JsonObjects()

    def layout(self, record: Mapping[str, t.Any]) -> Layout:
        keys = tuple(record)
        found = self.layouts.get(keys)
        if found is None:
            if len(self.layouts) >= 64:
                self.layouts.clear()
            found = self.layouts[keys] = Layout(keys)
        return found

    def map(self, record: Mapping[str, t.Any], rid: str | None) -> dict[str, t.Any]:
        stream = self.stream
        layout = self.layout(record)
        row: dict[str, t.Any] = {}
        legacy: dict[str, t.Any] = {}
        for key, column in layout.spec:
            value = record[key]
            if value is None or value == "":
                row[column] = None
                continue
            where = (stream, rid, key)
            if column in DECIMAL_COLUMNS:
                row[column] = decimal_or_none(value, where)
            elif column in DATETIME_COLUMNS:
                row[column] = self.moments(value, where)
            elif column == "Tags":
                row[column] = self.tags(value, where)
            elif column in ("SkuPriceDetails", "AllocatedMethodDetails", "ContractApplied"):
                row[column] = value if not isinstance(value, str) else value.strip() or None
            else:
                row[column] = value if type(value) is str else text_or_none(value)
        for key, microsoft_name in layout.custom:
            value = record[key]
            if value is None or value == "":
                continue
            target = X_COLUMNS.get(microsoft_name)
            if target is None:
                legacy[microsoft_name] = value
            elif target in X_DECIMALS:
                row[target] = decimal_or_none(value, (stream, rid, key))
            else:
                row[target] = text_or_none(value)
        for column in PLACEHOLDER_COLUMNS:
            if column in row and is_placeholder(row[column]):
                row[column] = None

        billing_account = row.get("BillingAccountId")
        if billing_account is None:
            raise MappingError(stream, rid, "BillingAccountId", "required field is missing")
        get = row.get

        # --- 1.0-preview spellings
        subcategory_10p = legacy.get("ChargeSubcategory")
        if subcategory_10p == "Refund":
            row["ChargeCategory"], row["ChargeClass"] = "Purchase", "Correction"
        elif subcategory_10p == "Credit":
            row["ChargeCategory"] = "Credit"
        elif subcategory_10p in ("Used Commitment", "Unused Commitment"):
            row.setdefault("CommitmentDiscountStatus", subcategory_10p.split()[0])
        if get("RegionId") is None and legacy.get("Region"):
            row["RegionId"], row["RegionName"] = region_of(str(legacy["Region"]))
        if get("ConsumedQuantity") is None and legacy.get("UsageQuantity") is not None:
            row["ConsumedQuantity"] = decimal_or_none(
                legacy["UsageQuantity"], (stream, rid, "UsageQuantity")
            )
            row["ConsumedUnit"] = text_or_none(legacy.get("UsageUnit"))
        if get("ContractedUnitPrice") is None and legacy.get("x_OnDemandUnitPrice") is not None:
            row["ContractedUnitPrice"] = decimal_or_none(
                legacy["x_OnDemandUnitPrice"], (stream, rid, "x_OnDemandUnitPrice")
            )
        if get("ContractedCost") is None and legacy.get("x_OnDemandCost") is not None:
            row["ContractedCost"] = decimal_or_none(
                legacy["x_OnDemandCost"], (stream, rid, "x_OnDemandCost")
            )
        if get("InvoiceId") is None and legacy.get("x_InvoiceId"):
            row["InvoiceId"] = text_or_none(legacy["x_InvoiceId"])
        if get("PricingCurrency") is None and legacy.get("x_PricingCurrency"):
            row["PricingCurrency"] = str(legacy["x_PricingCurrency"]).strip().upper()
        if get("PricingCurrency") is None:
            row["PricingCurrency"] = get("BillingCurrency")  # EA prices in the billing currency
        for column in NEW_IN_1_2:  # every row of the table has them, null where unknown
            row.setdefault(column, None)

        # --- accounts
        if not get("BillingAccountType"):
            same = get("x_AzureBillingAccountId") == get("x_AzureBillingProfileId")
            row["BillingAccountType"] = EA_ACCOUNT_TYPE if same else MCA_ACCOUNT_TYPE
        row["x_AzureAgreement"] = "EA" if row["BillingAccountType"] == EA_ACCOUNT_TYPE else "MCA"
        sub_account = get("SubAccountId")
        if sub_account is not None:
            if not get("SubAccountName"):
                row["SubAccountName"] = sub_account
            if not get("SubAccountType"):
                row["SubAccountType"] = SUB_ACCOUNT_TYPE
        else:
            row["SubAccountName"] = row["SubAccountType"] = None

        # --- charge
        category = get("ChargeCategory")
        correction = get("ChargeClass") == "Correction"
        if category == "Purchase" and get("ChargeFrequency") == "Usage-Based":
            row["ChargeFrequency"] = "Recurring"  # monthly commitment payments (toolkit)
        elif get("ChargeFrequency") is None:
            row["ChargeFrequency"] = "Usage-Based" if category == "Usage" else "One-Time"
        pricing_category = get("PricingCategory")
        if pricing_category in PRICING_CATEGORIES:
            pricing_category = row["PricingCategory"] = PRICING_CATEGORIES[pricing_category]

        # --- commitment discount
        commitment_id = get("CommitmentDiscountId")
        if commitment_id is not None:
            commitment_id = row["CommitmentDiscountId"] = commitment_id.lower()
            ctype = get("CommitmentDiscountType") or commitment_type_of(commitment_id)
            if ctype == "Savings plan":
                ctype = "Savings Plan"
            row["CommitmentDiscountType"] = ctype
            if not get("CommitmentDiscountCategory") and ctype in COMMITMENT_CATEGORY:
                row["CommitmentDiscountCategory"] = COMMITMENT_CATEGORY[ctype]
        else:
            for column in (
                "CommitmentDiscountCategory",
                "CommitmentDiscountName",
                "CommitmentDiscountStatus",
                "CommitmentDiscountType",
            ):
                if column in row:
                    row[column] = None
        status = get("CommitmentDiscountStatus") if commitment_id is not None else None
        if commitment_id is not None and category == "Usage" and status is None:
            resource = get("ResourceId")
            resource_type = (get("x_AzureResourceType") or arm_type(resource) or "").lower()
            unused = (
                resource is None
                or resource.lower() == commitment_id
                or resource_type.startswith(("microsoft.capacity/", "microsoft.billingbenefits/"))
            )
            status = row["CommitmentDiscountStatus"] = "Unused" if unused else "Used"
        unused = status == "Unused"
        if category == "Purchase" and commitment_id is not None:
            row["EffectiveCost"] = ZERO  # amortized into the usage rows (toolkit's fix)
        if pricing_category is None and category in ("Usage", "Purchase"):
            committed = category == "Usage" and commitment_id is not None
            row["PricingCategory"] = "Committed" if committed else "Standard"
        if category == "Tax":
            row["PricingCategory"] = None

        # --- quantities and prices
        block = get("x_AzurePricingBlockSize")
        if get("PricingQuantity") is not None and get("PricingUnit") is None:
            row["PricingUnit"] = unit_of(get("x_AzureUnitOfMeasure")).name
        if category != "Usage" or unused:
            row["ConsumedQuantity"] = row["ConsumedUnit"] = None
        elif get("ConsumedQuantity") is None and get("PricingQuantity") is not None:
            row["ConsumedQuantity"] = times(row["PricingQuantity"], block or Decimal(1))
            row["ConsumedUnit"] = get("ConsumedUnit") or row["PricingUnit"]
        elif get("ConsumedQuantity") is not None and not get("ConsumedUnit"):
            row["ConsumedUnit"] = get("PricingUnit") or "Units"
        if category in ("Usage", "Purchase") and not correction:
            if get("ContractedUnitPrice") is None:
                row["ContractedUnitPrice"] = get("x_AzureEffectivePrice") or ZERO
            if get("ListUnitPrice") is None:
                row["ListUnitPrice"] = get("ContractedUnitPrice")
        for cost, price in (
            ("ListCost", "ListUnitPrice"),
            ("ContractedCost", "ContractedUnitPrice"),
        ):
            quantity, unit_price, value = get("PricingQuantity"), get(price), get(cost)
            if quantity is None or unit_price is None:
                continue
            if value is None or not _close(value, unit_price * quantity):
                row[cost] = derived_cost(unit_price, quantity)
        for cost in ("ListCost", "ContractedCost"):
            if get(cost) is None:
                row[cost] = get("BilledCost") if get("BilledCost") is not None else ZERO

        commitment_row = category in ("Usage", "Purchase") and not correction
        if (
            commitment_id is not None
            and commitment_row
            and get("CommitmentDiscountQuantity") is None
        ):
            self._commitment_quantity(row, rid)
        if get("CommitmentDiscountQuantity") is None:
            row["CommitmentDiscountUnit"] = None

        # --- SKU
        sku_id = (
            get("SkuId")
            or get("x_AzureMeterId")
            or get("x_AzurePartNumber")
            or text_or_none(legacy.get("x_SkuDescription"))
            or commitment_id
        )
        if category == "Tax":
            sku_id = None
        row["SkuId"] = sku_id
        sku_price_id = get("SkuPriceId")
        if sku_price_id is None and category in ("Usage", "Purchase") and not correction:
            sku_price_id = row["SkuPriceId"] = sku_id
        if category == "Tax":
            sku_price_id = row["SkuPriceId"] = None
        if sku_id is not None and get("SkuMeter") is None:
            row["SkuMeter"] = (
                get("x_AzureMeterName")
                or get("x_AzureMeterSubcategory")
                or text_or_none(legacy.get("x_SkuDescription"))
            )
        if sku_id is None:
            row["SkuMeter"] = None
        details = get("SkuPriceDetails")
        if sku_price_id is None:
            row["SkuPriceDetails"] = None
        elif details is not None:
            row["SkuPriceDetails"] = self._sku_details(details, (stream, rid, "SkuPriceDetails"))
        elif get("x_AzureAdditionalInfo") is not None:
            where = (stream, rid, "x_SkuDetails")
            row["SkuPriceDetails"] = self.details(row["x_AzureAdditionalInfo"], where)

        # --- capacity reservation (1.2), from x_SkuDetails when Microsoft's 1.0 lacks it
        info_text = get("x_AzureAdditionalInfo")
        if (
            get("CapacityReservationId") is None
            and info_text
            and "CapacityReservation" in info_text
        ):
            info = self.info(info_text, (stream, rid, "x_SkuDetails")) or {}
            capacity = text_or_none(info.get("VMCapacityReservationId"))
            if capacity:
                row["CapacityReservationId"] = capacity.lower()
        if get("CapacityReservationId") is not None:
            if category == "Usage" and get("CapacityReservationStatus") is None:
                unused_capacity = (get("x_AzureResourceType") or "").lower() == (
                    CAPACITY_RESERVATION_TYPE
                )
                row["CapacityReservationStatus"] = "Unused" if unused_capacity else "Used"
        else:
            row["CapacityReservationStatus"] = None

        # --- resource
        resource_id = get("ResourceId")
        if resource_id is not None:
            if not get("ResourceType"):
                row["ResourceType"] = (
                    get("x_AzureResourceType") or arm_type(resource_id) or ("Resource")
                )
            if not get("ResourceName"):
                row["ResourceName"] = resource_id.rstrip("/").rpartition("/")[2] or resource_id
        else:
            row["ResourceName"] = row["ResourceType"] = None
        if get("RegionId") is not None and not get("RegionName"):
            row["RegionName"] = get("RegionId")
        if get("RegionId") is None:
            row["RegionName"] = None

        # --- who
        publisher_type = (get("x_AzurePublisherType") or "").lower()
        publisher = get("PublisherName")
        if publisher is None or publisher.lower() in MICROSOFT_NAMES:
            publisher = None if publisher_type == "marketplace" and publisher is None else MICROSOFT
        third_party = publisher_type == "marketplace" or (publisher not in (None, MICROSOFT))
        if third_party and publisher is None:
            publisher = "Azure Marketplace"
        row["PublisherName"] = publisher
        row["ProviderName"] = get("ProviderName") or MICROSOFT
        row["InvoiceIssuerName"] = get("InvoiceIssuerName") or MICROSOFT
        if third_party:
            resource_type = (get("x_AzureResourceType") or "").lower()
            saas = resource_type.startswith("microsoft.saas/")
            host: str | None = publisher if saas or resource_id is None else MICROSOFT
            service_provider = publisher
        else:
            host = service_provider = row["ProviderName"]
        if category in HOSTLESS:
            host = None
        row["ServiceProviderName"] = get("ServiceProviderName") or service_provider
        if get("HostProviderName") is None:  # Microsoft's own 1.3 value wins when it has one
            row["HostProviderName"] = host

        # --- service
        service_category = get("ServiceCategory")
        if service_category not in CATEGORIES:
            service_category = None
        name: str | None = get("ServiceName")
        if not name:  # conformance gaps: empty for some purchases, rounding, credits
            name = (
                (publisher if third_party else None)
                or get("x_AzureMeterSubcategory")
                or get("x_AzureMeterCategory")
                or GENERIC_SERVICE
            )
            row["ServiceName"] = name
        subcategory = get("ServiceSubcategory")
        if subcategory is None or SUBCATEGORY_PARENTS.get(subcategory) != service_category:
            found = service_named(name) or known_service(
                None, get("x_AzureResourceType"), get("x_AzureMeterCategory")
            )
            if found is not None and (service_category is None or found[1] == service_category):
                service_category, subcategory = found[1], found[2]
            else:
                service_category = service_category or "Other"
                subcategory = f"Other ({service_category})"
        row["ServiceCategory"] = service_category
        row["ServiceSubcategory"] = subcategory
        if not get("ChargeDescription"):  # conformance gap: null on some purchases, unused SP
            row["ChargeDescription"] = (
                text_or_none(legacy.get("x_SkuDescription")) or get("x_AzureMeterName") or name
            )
        return row

    def _commitment_quantity(self, row: dict[str, t.Any], rid: str | None) -> None:
        """CommitmentDiscountQuantity/Unit where 1.0 has none: a savings plan's amount in the
        billing currency (EffectiveCost of usage, BilledCost of a purchase); a reservation's
        quantity in its consumed unit, normalized by x_SkuDetails' RINormalizationRatio."""
        get = row.get
        if get("CommitmentDiscountCategory") == "Spend":
            amount = get("BilledCost") if get("ChargeCategory") == "Purchase" else None
            row["CommitmentDiscountQuantity"] = (
                amount if amount is not None else get("EffectiveCost")
            )
            row["CommitmentDiscountUnit"] = get("BillingCurrency")
            return
        quantity: Decimal | None = get("ConsumedQuantity")
        unit = get("ConsumedUnit") or get("PricingUnit")
        pricing_quantity: Decimal | None = get("PricingQuantity")
        if quantity is None and pricing_quantity is not None:
            quantity = times(pricing_quantity, get("x_AzurePricingBlockSize") or Decimal(1))
        if quantity is None:
            return
        ratio = None
        info_text = get("x_AzureAdditionalInfo")
        if get("ChargeCategory") == "Usage" and info_text and "RINormalizationRatio" in info_text:
            where = (self.stream, rid, "x_SkuDetails")
            value = (self.info(info_text, where) or {}).get("RINormalizationRatio")
            ratio = decimal_or_none(repr(value) if isinstance(value, float) else value, where)
        if ratio is not None:
            row["CommitmentDiscountQuantity"] = times(quantity, ratio)
            row["CommitmentDiscountUnit"] = f"Normalized {unit or 'Units'}"
        else:
            row["CommitmentDiscountQuantity"] = quantity
            row["CommitmentDiscountUnit"] = unit or "Units"

    def _sku_details(
        self, value: object, where: tuple[str, str | None, str]
    ) -> dict[str, t.Any] | None:
        parsed = JsonObjects()(value, where)
        if not parsed:
            return None
        out: dict[str, t.Any] = {}
        for key, item in parsed.items():
            keep = key.startswith("x_") or (
                (key in SKU_TEXT_PROPERTIES and isinstance(item, str))
                or (key in SKU_NUMBER_PROPERTIES and isinstance(item, int | Decimal))
            )
            out[key if keep else f"x_{key}"] = item
        return out


def _close(value: Decimal, product: Decimal) -> bool:
    """value is the product rounded (either way) to value's own decimal places."""
    if value == product:
        return True
    exponent = value.as_tuple().exponent
    if not isinstance(exponent, int):
        return False
    return abs(fit(product) - value) < Decimal(1).scaleb(exponent)


def focus_row_key(record: Mapping[str, t.Any], stream: str, source: str | None) -> str:
    return row_key(
        PROVIDER,
        stream,
        record.get("export_name"),
        record.get("billing_period"),
        source,
        record.get("row_number"),
        "row",
    )
