"""AWS Cost and Usage Report line items (CUR 2.0 and legacy CUR) as FOCUS rows.

Sources (tap-aws): `cur2_line_items` (CUR 2.0, the export's snake_case columns, MAP
columns as JSON objects) and `cur_line_items` (legacy CUR: slash-style CSV headers such as
`lineItem/UnblendedCost`, or the snake_case of its Parquet/Athena form). Both carry the tap
fields billing_period, delivery_id, export_name, source_file and row_number.

One rule set serves the three forms: column names are normalised once per schema (the
set of keys a record has), not per row, to CUR 2.0's names (`lineItem/UnblendedCost` ->
`line_item_unblended_cost`, `savingsPlan/SavingsPlanARN` -> `savings_plan_savings_plan_a_r_n`,
`resourceTags/user:Team` -> tag `user:Team`, `resource_tags_user_team` -> tag `user_team`).

Each CUR line item becomes one FOCUS row whose BilledCost is the line item's own invoiced
cost, so every sum of BilledCost reconciles with the CUR line by line. The FOCUS
commitment-discount model needs one more row: an RIFee or SavingsPlanRecurringFee line
item is a Purchase row (EffectiveCost 0) plus, when part of the commitment went unused,
an "Unused" Usage row carrying that unused amount as EffectiveCost (BilledCost 0). Sums
of EffectiveCost then equal AWS's documented amortized cost. The rules per line item
type are in `RULES`; the reasons are in the README (section "AWS").
"""

from __future__ import annotations

import datetime as dt
import json
import typing as t
from dataclasses import dataclass
from decimal import Context, Decimal, Inexact

from mapper_focus.providers.aws_common import (
    AWS,
    BILLING_ACCOUNT_TYPE,
    CUSTOM_COLUMNS,
    DEFAULT_INVOICE_ISSUER,
    MARKETPLACE,
    ONE,
    SUB_ACCOUNT_TYPE,
    ZERO,
    Timestamps,
    decimal_or_none,
    focus_unit,
    month_of,
    record_id,
)
from mapper_focus.providers.aws_services import service_for
from mapper_focus.registry import StreamMapping
from mapper_focus.rows import MappingError, delivery_scope, derived_cost, row_key

if t.TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

CUR2_STREAM = "cur2_line_items"
LEGACY_STREAM = "cur_line_items"
EXPORT_KINDS = {CUR2_STREAM: "cur2", LEGACY_STREAM: "cur"}
MISSING = "\x00absent"  # the raw key of a column this export does not have

# --- column names: normalisation, once per schema ------------------------------------


def snake(part: str) -> str:
    """AWS's own Athena/Parquet naming: an underscore before every capital
    (`SavingsPlanARN` -> `savings_plan_a_r_n`, `publicOnDemandCost` -> `public_on_demand_cost`)."""
    out: list[str] = []
    for index, char in enumerate(part):
        if char.isupper():
            if index:
                out.append("_")
            out.append(char.lower())
        else:
            out.append(char)
    return "".join(out)


#: Columns the rules read, by their CUR 2.0 name (aliases: other spellings of one column).
ALIASES: dict[str, tuple[str, ...]] = {
    "capacity_reservation_capacity_reservation_a_r_n": (
        "capacity_reservation_capacity_reservation_arn",
    ),
}
COLUMNS: tuple[str, ...] = (
    "bill_payer_account_id",
    "bill_payer_account_name",
    "bill_billing_period_start_date",
    "bill_billing_period_end_date",
    "bill_invoice_id",
    "bill_invoicing_entity",
    "bill_billing_entity",
    "bill_bill_type",
    "identity_line_item_id",
    "identity_time_interval",
    "line_item_line_item_type",
    "line_item_usage_account_id",
    "line_item_usage_account_name",
    "line_item_usage_start_date",
    "line_item_usage_end_date",
    "line_item_product_code",
    "line_item_usage_type",
    "line_item_operation",
    "line_item_availability_zone",
    "line_item_resource_id",
    "line_item_usage_amount",
    "line_item_normalized_usage_amount",
    "line_item_currency_code",
    "line_item_unblended_rate",
    "line_item_unblended_cost",
    "line_item_net_unblended_rate",
    "line_item_net_unblended_cost",
    "line_item_line_item_description",
    "line_item_legal_entity",
    "pricing_public_on_demand_rate",
    "pricing_public_on_demand_cost",
    "pricing_unit",
    "pricing_rate_code",
    "pricing_rate_id",
    "pricing_term",
    "product_servicecode",
    "product_sku",
    "product_region_code",
    "product_region",
    "product_location",
    "product_product_name",
    "product_product_family",
    "product_instance_type",
    "product_operating_system",
    "product_storage_class",
    "reservation_reservation_a_r_n",
    "reservation_effective_cost",
    "reservation_net_effective_cost",
    "reservation_unused_amortized_upfront_fee_for_billing_period",
    "reservation_net_unused_amortized_upfront_fee_for_billing_period",
    "reservation_unused_recurring_fee",
    "reservation_net_unused_recurring_fee",
    "reservation_total_reserved_units",
    "reservation_total_reserved_normalized_units",
    "reservation_unused_quantity",
    "reservation_unused_normalized_unit_quantity",
    "savings_plan_savings_plan_a_r_n",
    "savings_plan_savings_plan_effective_cost",
    "savings_plan_net_savings_plan_effective_cost",
    "savings_plan_total_commitment_to_date",
    "savings_plan_used_commitment",
    "savings_plan_recurring_commitment_for_billing_period",
    "savings_plan_net_recurring_commitment_for_billing_period",
    "savings_plan_amortized_upfront_commitment_for_billing_period",
    "savings_plan_net_amortized_upfront_commitment_for_billing_period",
    "capacity_reservation_capacity_reservation_a_r_n",
    "capacity_reservation_capacity_reservation_status",
    "resource_tags",
    "cost_category",
    "discount",
    "product",
)


class Layout:
    """One export schema: where each column the rules read is, and which columns are tags.

    Built once per distinct key set of the records (a CUR export has one), so per row the
    mapper only does dict lookups.
    """

    def __init__(self, keys: t.Iterable[str]) -> None:
        found: dict[str, str] = {}
        self.tag_columns: list[tuple[str, str]] = []  # (raw column, tag key)
        self.category_columns: list[tuple[str, str]] = []  # (raw column, cost category)
        for key in keys:
            canon = self._canonical(key)
            if canon is not None:
                found.setdefault(canon, key)
        for canon, aliases in ALIASES.items():
            for alias in aliases:
                if canon not in found and alias in found:
                    found[canon] = found[alias]
        self.raw: dict[str, str] = {name: found.get(name, MISSING) for name in COLUMNS}
        self.raw_name = {raw: canon for canon, raw in self.raw.items()}
        # Net columns exist only when the payer had discounts in the period: then the
        # invoiced basis is net unblended (the cost after those discounts).
        self.net = self.raw["line_item_net_unblended_cost"] != MISSING
        self.product_map = self.raw["product"] != MISSING

    def _canonical(self, key: str) -> str | None:
        if "/" in key:  # legacy CSV: lineItem/UnblendedCost, resourceTags/user:Team
            prefix, _, rest = key.partition("/")
            if prefix == "resourceTags":
                self.tag_columns.append((key, rest))
                return None
            if prefix == "costCategory":
                self.category_columns.append((key, rest))
                return None
            return f"{snake(prefix)}_{snake(rest)}"
        if key.startswith("resource_tags_"):  # legacy Parquet: resource_tags_user_team
            self.tag_columns.append((key, key[len("resource_tags_") :]))
            return None
        if key.startswith("cost_category_"):
            self.category_columns.append((key, key[len("cost_category_") :]))
            return None
        return key

    def name(self, canon: str) -> str:
        """The column's name in this export (for error messages)."""
        raw = self.raw.get(canon, MISSING)
        return canon if raw == MISSING else raw


class Layouts:
    """Layouts by the tuple of a record's keys (records of one schema share it)."""

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


# --- rules per line item type ----------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """How one CUR line item type becomes FOCUS rows."""

    kind: str  # usage | ri_usage | sp_usage | sp_negation | ri_fee | sp_recurring | ...
    category: str  # ChargeCategory
    frequency: str | None  # ChargeFrequency; None: from bill_bill_type


DISCOUNT = Rule("discount", "Credit", "Usage-Based")
RULES: dict[str, Rule] = {
    "Usage": Rule("usage", "Usage", "Usage-Based"),
    "DiscountedUsage": Rule("ri_usage", "Usage", "Usage-Based"),
    "SavingsPlanCoveredUsage": Rule("sp_usage", "Usage", "Usage-Based"),
    "SavingsPlanNegation": Rule("sp_negation", "Usage", "Usage-Based"),
    "RIFee": Rule("ri_fee", "Purchase", "Recurring"),
    "SavingsPlanRecurringFee": Rule("sp_recurring", "Purchase", "Recurring"),
    "SavingsPlanUpfrontFee": Rule("sp_upfront", "Purchase", "One-Time"),
    "Fee": Rule("fee", "Purchase", None),
    "Tax": Rule("tax", "Tax", None),
    "Credit": Rule("credit", "Credit", "One-Time"),
    "Refund": Rule("refund", "Adjustment", "One-Time"),
    "BundledDiscount": DISCOUNT,
    "EdpDiscount": DISCOUNT,
    "PrivateRateDiscount": DISCOUNT,
    "RiVolumeDiscount": DISCOUNT,
    "SppDiscount": DISCOUNT,
    "DistributorDiscount": DISCOUNT,
    "Discount": DISCOUNT,
}
RI = ("Reserved Instance", "Usage")  # CommitmentDiscountType, CommitmentDiscountCategory
SP = ("Savings Plan", "Spend")
COMMITTED_KINDS = frozenset({"ri_usage", "sp_usage", "sp_negation"})
CURRENCY_PRICED = frozenset({"sp_recurring", "sp_upfront"})
HOSTLESS = frozenset({"Purchase", "Tax", "Credit", "Adjustment"})
ID_PREFIXES = {
    "i": "Instance",
    "vol": "Volume",
    "snap": "Snapshot",
    "ami": "Image",
    "eipalloc": "Elastic IP",
    "eni": "Network Interface",
    "nat": "NAT Gateway",
    "vpce": "VPC Endpoint",
    "tgw": "Transit Gateway",
    "vpn": "VPN Connection",
    "fs": "File System",
    "db": "DB Instance",
    "cr": "Capacity Reservation",
}
NAME_TAGS = ("user:Name", "user_name", "name")
HOUR = dt.timedelta(hours=1)
SP_RATIO = Context(prec=34, traps=[])  # for net unused Savings Plan commitment only
NET_SCALE = Decimal("1E-10")


class CurMapper:
    """Maps one raw CUR stream (`cur2_line_items` or `cur_line_items`)."""

    def __init__(self, stream: str) -> None:
        self.stream = stream
        self.kind = EXPORT_KINDS[stream]  # tap-aws export_kind of the stream's deliveries
        self.layouts = Layouts()
        self.timestamps = Timestamps()

    def __call__(self, record: Mapping[str, t.Any]) -> Iterator[dict[str, t.Any]]:
        return iter(self.map(record))

    # The one hot function: plain locals and dict lookups, no regex, no per-row parsing
    # of names.
    def map(self, record: Mapping[str, t.Any]) -> list[dict[str, t.Any]]:
        stream = self.stream
        layout = self.layouts(record)
        raw = layout.raw
        get = record.get
        rid = record_id(record)

        def dec(canon: str) -> Decimal | None:
            value = get(raw[canon])
            if value is None or value == "":
                return None
            if type(value) is str:  # the usual case: decimal text, parsed exactly
                try:
                    parsed = Decimal(value)
                except ArithmeticError:
                    parsed = None
                if parsed is not None and parsed.is_finite():
                    return parsed
            # errors, Decimal, int and refused types: the checks name the column
            return decimal_or_none(value, (stream, rid, layout.name(canon)))

        def text(canon: str) -> str | None:
            value = get(raw[canon])
            return None if value is None or value == "" else str(value)

        def required(canon: str) -> str:
            value = text(canon)
            if value is None:
                raise MappingError(stream, rid, layout.name(canon), "required field is missing")
            return value

        product = get(raw["product"]) if layout.product_map else None
        if isinstance(product, str):
            product = _json_object(product, (stream, rid, layout.name("product")))

        def prod(attr: str) -> str | None:
            value = text(f"product_{attr}")
            if value is None and product:
                found = product.get(attr)
                if found is None:
                    found = product.get(f"product_{attr}")
                value = None if found is None or found == "" else str(found)
            return value

        line_type = required("line_item_line_item_type")
        rule = RULES.get(line_type)
        if rule is None:
            raise MappingError(
                stream,
                rid,
                layout.name("line_item_line_item_type"),
                f"unknown CUR line item type {line_type!r}",
            )
        payer = required("bill_payer_account_id")
        delivery = get("delivery_id")
        if delivery is None or delivery == "":
            raise MappingError(stream, rid, "delivery_id", "required field is missing")
        currency = required("line_item_currency_code")
        cached = self.timestamps.cache.get
        slow_parse = self.timestamps.parse

        def parse(value: object, canon: str) -> tuple[dt.datetime, str]:
            hit = cached(value) if type(value) is str else None
            if hit is not None:
                return hit
            return slow_parse(value, (stream, rid, layout.name(canon)))

        billing_period = get("billing_period")
        bps_raw = get(raw["bill_billing_period_start_date"])
        if bps_raw is None or bps_raw == "":
            bp_start, bp_end = month_of(billing_period, (stream, rid, "billing_period"))
            bp_start_moment = parse(bp_start, "billing_period")[0]
        else:
            bp_start_moment, bp_start = parse(bps_raw, "bill_billing_period_start_date")
            bp_end = parse(
                get(raw["bill_billing_period_end_date"]), "bill_billing_period_end_date"
            )[1]
        start_moment, charge_start = parse(
            get(raw["line_item_usage_start_date"]), "line_item_usage_start_date"
        )
        end_moment, charge_end = parse(
            get(raw["line_item_usage_end_date"]), "line_item_usage_end_date"
        )
        if end_moment <= start_moment:
            # A purchase stamped at one instant: FOCUS periods are [start, end), so the
            # charge period ends with the hour that contains it.
            end_moment = start_moment.replace(minute=0, second=0, microsecond=0) + HOUR
            charge_end = parse(end_moment, "line_item_usage_end_date")[1]

        unblended = dec("line_item_unblended_cost")
        if unblended is None:
            raise MappingError(
                stream, rid, layout.name("line_item_unblended_cost"), "required field is missing"
            )
        net = layout.net
        billed = unblended
        if net:
            net_cost = dec("line_item_net_unblended_cost")
            if net_cost is not None:
                billed = net_cost

        kind = rule.kind
        category = rule.category
        frequency = rule.frequency
        if frequency is None:
            bill_type = text("bill_bill_type")
            frequency = "Recurring" if bill_type in (None, "Anniversary") else "One-Time"
        correction = "Correction" if end_moment <= bp_start_moment else None

        # --- entities and service
        product_code = text("line_item_product_code")
        product_name = prod("product_name")
        billing_entity = text("bill_billing_entity")
        legal_entity = text("line_item_legal_entity")
        resource_id = text("line_item_resource_id")
        host: str | None
        if billing_entity == MARKETPLACE:
            seller = legal_entity or MARKETPLACE
            # FOCUS 1.2: AWS Marketplace makes the product available and invoices it (it
            # is not a third-party payment); the seller publishes it. 1.3's
            # ServiceProviderName is the seller.
            provider = MARKETPLACE
            service_provider = seller
            publisher = seller
            invoice_issuer = MARKETPLACE
            host = AWS if resource_id else seller
            service = (product_name or product_code or MARKETPLACE, "Other", "Other (Other)")
        else:
            provider = service_provider = AWS
            publisher = legal_entity or AWS
            # The issuer by name, as ProviderName names the provider: the FOCUS 1.2
            # third-party rule compares the two. The legal entity is x_AwsInvoicingEntity.
            invoice_issuer = AWS
            host = AWS
            service = service_for(product_code, product_name)
        if category in HOSTLESS:
            host = None

        # --- tags and cost categories
        tags = _tags(layout, get, get(raw["resource_tags"]), (stream, rid, "resource_tags"))
        categories = _tags(
            layout, get, get(raw["cost_category"]), (stream, rid, "cost_category"), cost=True
        )
        discounts = get(raw["discount"])
        if isinstance(discounts, str):
            discounts = _json_object(discounts, (stream, rid, layout.name("discount")))

        # --- resource
        resource_type = resource_name = None
        if resource_id is not None:
            resource_type = classify_resource(resource_id, prod("product_family"), service[0])
            resource_name = resource_id
            if tags:
                for tag in NAME_TAGS:
                    found = tags.get(tag)
                    if found:
                        resource_name = str(found)
                        break

        region_id = prod("region_code") or prod("region")
        region_name = (prod("location") or region_id) if region_id else None

        # --- pricing
        quantity = dec("line_item_usage_amount")
        unit = pricing_unit = text("pricing_unit")
        public_rate = dec("pricing_public_on_demand_rate")
        rate = dec("line_item_unblended_rate")
        contracted_rate = dec("line_item_net_unblended_rate") if net else None
        if contracted_rate is None:
            contracted_rate = rate
        list_price = contracted_price = None
        consumed = consumed_unit = None
        pricing_category = None
        # FOCUS wants a SKU and a SKU price on every Usage and Purchase row. AWS leaves them
        # empty on some lines (commitment fees, some Marketplace usage: a documented gap of
        # its own FOCUS export): the usage type names what was charged, and the spec lets
        # SkuPriceId equal SkuId when there is no separate price id.
        sku_id = prod("sku") or text("line_item_usage_type")
        sku_price_id = text("pricing_rate_code") or text("pricing_rate_id") or sku_id
        list_cost = contracted_cost = billed
        effective = billed

        commitment_id = commitment_type = commitment_category = None
        commitment_status = None
        commitment_quantity = commitment_unit = None
        unused: Unused | None = None

        if category == "Usage":
            consumed, consumed_unit = quantity, unit
            if kind == "usage":
                list_price = public_rate if public_rate is not None else rate
                contracted_price = contracted_rate if contracted_rate is not None else list_price
                term = text("pricing_term")
                usage_type = text("line_item_usage_type") or ""
                spot = term == "Spot" or "SpotUsage" in usage_type
                pricing_category = "Dynamic" if spot else "Standard"
            else:
                pricing_category = "Committed"
                commitment_status = "Used"
                list_price = public_rate if public_rate is not None else rate
                if kind == "ri_usage":
                    commitment_id = text("reservation_reservation_a_r_n")
                    commitment_type, commitment_category = RI
                    effective = _net_or_gross(
                        net, dec, "reservation_net_effective_cost", "reservation_effective_cost"
                    )
                    # Excludes the commitment discount: no negotiated on-demand rate is given
                    # for RI-covered usage (its unblended rate is 0), so the public rate.
                    contracted_price = list_price
                    normalized = dec("line_item_normalized_usage_amount")
                    if normalized is not None:
                        commitment_quantity, commitment_unit = normalized, "Normalized Hours"
                    else:
                        commitment_quantity, commitment_unit = quantity, unit or "Hours"
                else:
                    commitment_id = text("savings_plan_savings_plan_a_r_n")
                    commitment_type, commitment_category = SP
                    commitment_unit = currency
                    contracted_price = (
                        contracted_rate if contracted_rate is not None else list_price
                    )
                    if kind == "sp_usage":
                        effective = _net_or_gross(
                            net,
                            dec,
                            "savings_plan_net_savings_plan_effective_cost",
                            "savings_plan_savings_plan_effective_cost",
                        )
                        commitment_quantity = dec("savings_plan_savings_plan_effective_cost")
                    else:  # SavingsPlanNegation: offsets the covered usage's on-demand cost
                        effective = ZERO
                        quantity = consumed = commitment_quantity = ZERO
                        # Zero quantities still need a unit (FOCUS); AWS repeats the covered
                        # line's, and "Units" stands in when an export leaves it out.
                        unit = unit or "Units"
                        consumed_unit = consumed_unit or unit
                        contracted_price = list_price = list_price if list_price else ZERO
                        if list_price < 0:
                            contracted_price = list_price = -list_price
            if list_price is not None and quantity is not None:
                list_cost = derived_cost(list_price, quantity)
            else:
                public_cost = dec("pricing_public_on_demand_cost")
                if public_cost is not None:
                    list_cost = public_cost
                elif kind != "usage":
                    list_cost = ZERO
            if contracted_price is not None and quantity is not None:
                contracted_cost = derived_cost(contracted_price, quantity)
        elif category == "Purchase":
            pricing_category = "Standard"
            if kind in ("ri_fee", "sp_recurring", "sp_upfront") or (
                kind == "fee" and text("reservation_reservation_a_r_n")
            ):
                effective = ZERO  # amortized into the usage rows (and the unused row)
            if kind in CURRENCY_PRICED or rate is None or quantity is None:
                # Priced in the billing currency: quantity = amount, unit price 1.
                quantity, unit = billed, currency
                list_price = contracted_price = ONE
                list_cost = contracted_cost = billed
            else:
                list_price = rate
                contracted_price = contracted_rate if contracted_rate is not None else rate
                list_cost = derived_cost(list_price, quantity)
                contracted_cost = derived_cost(contracted_price, quantity)
            if kind in ("ri_fee", "fee"):
                commitment_id = text("reservation_reservation_a_r_n")
                if commitment_id is not None:
                    commitment_type, commitment_category = RI
                    normalized = dec("reservation_total_reserved_normalized_units")
                    if normalized is not None:
                        commitment_quantity, commitment_unit = normalized, "Normalized Hours"
                    else:
                        commitment_quantity = dec("reservation_total_reserved_units")
                        commitment_unit = text("pricing_unit") or "Hours"
                if kind == "ri_fee" and commitment_id is not None:
                    unused = _ri_unused(net, dec, pricing_unit)
            else:
                commitment_id = text("savings_plan_savings_plan_a_r_n")
                commitment_type, commitment_category = SP
                commitment_unit = currency
                if kind == "sp_recurring":
                    commitment_quantity = dec("savings_plan_total_commitment_to_date")
                    unused = _sp_unused(net, dec, currency)
                else:
                    commitment_quantity = unblended
            if commitment_id is not None and commitment_quantity is None:
                # No reserved-units columns on the line: what the fee itself covers.
                commitment_quantity, commitment_unit = quantity, unit
            if commitment_quantity is None:
                commitment_unit = None
        elif kind == "discount":
            list_cost = ZERO  # a reduction of other charges: it has no list price

        capacity_id = text("capacity_reservation_capacity_reservation_a_r_n")
        capacity_status = None
        if capacity_id is not None and category == "Usage":
            status = (text("capacity_reservation_capacity_reservation_status") or "").lower()
            usage_type = text("line_item_usage_type") or ""
            unused_capacity = "unused" in status or (not status and "Unused" in usage_type)
            capacity_status = "Unused" if unused_capacity else "Used"

        details = None
        instance_type = prod("instance_type")
        operating_system = prod("operating_system")
        storage_class = prod("storage_class")
        if instance_type or operating_system or storage_class:
            details = {}
            if instance_type:
                details["InstanceType"] = instance_type
            if operating_system:
                details["OperatingSystem"] = operating_system
            if storage_class:
                details["StorageClass"] = storage_class

        usage_account = text("line_item_usage_account_id")
        priced = category in ("Usage", "Purchase")
        source = get("source_file")
        row_number = get("row_number")
        row: dict[str, t.Any] = {
            "AvailabilityZone": text("line_item_availability_zone"),
            "BilledCost": billed,
            "BillingAccountId": payer,
            "BillingAccountName": text("bill_payer_account_name"),
            "BillingAccountType": BILLING_ACCOUNT_TYPE,
            "BillingCurrency": currency,
            "BillingPeriodStart": bp_start,
            "BillingPeriodEnd": bp_end,
            "CapacityReservationId": capacity_id,
            "CapacityReservationStatus": capacity_status,
            "ChargeCategory": category,
            "ChargeClass": correction,
            "ChargeDescription": text("line_item_line_item_description"),
            "ChargeFrequency": frequency,
            "ChargePeriodStart": charge_start,
            "ChargePeriodEnd": charge_end,
            "CommitmentDiscountCategory": commitment_category if commitment_id else None,
            "CommitmentDiscountId": commitment_id,
            "CommitmentDiscountQuantity": commitment_quantity if commitment_id else None,
            "CommitmentDiscountStatus": commitment_status if commitment_id else None,
            "CommitmentDiscountType": commitment_type if commitment_id else None,
            "CommitmentDiscountUnit": focus_unit(commitment_unit) if commitment_id else None,
            "ConsumedQuantity": consumed,
            "ConsumedUnit": focus_unit(consumed_unit) if consumed is not None else None,
            "ContractedCost": contracted_cost,
            "ContractedUnitPrice": contracted_price if priced else None,
            "EffectiveCost": effective,
            "HostProviderName": host,
            "InvoiceId": text("bill_invoice_id"),
            "InvoiceIssuerName": invoice_issuer,
            "ListCost": list_cost,
            "ListUnitPrice": list_price if priced else None,
            "PricingCategory": pricing_category,
            "PricingQuantity": quantity if priced else None,
            "PricingUnit": focus_unit(unit) if priced and quantity is not None else None,
            "ProviderName": provider,
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
            "SkuId": sku_id if priced else None,
            "SkuMeter": text("line_item_usage_type") if sku_id and priced else None,
            "SkuPriceDetails": details if sku_id and priced else None,
            "SkuPriceId": sku_price_id if priced else None,
            "SubAccountId": usage_account,
            "SubAccountName": (text("line_item_usage_account_name") or usage_account)
            if usage_account
            else None,
            "SubAccountType": SUB_ACCOUNT_TYPE if usage_account else None,
            "Tags": tags or None,
            "x_SourceStream": stream,
            "x_SourceRecordId": rid,
            "x_RowKey": row_key("aws", stream, payer, billing_period, source, row_number, "line"),
            "x_DeliveryId": str(delivery),
            "x_DeliveryScope": delivery_scope(self.kind, get("export_name")),
            "x_AwsLineItemType": line_type,
            "x_AwsLineItemId": text("identity_line_item_id"),
            "x_AwsUsageType": text("line_item_usage_type"),
            "x_AwsOperation": text("line_item_operation"),
            "x_AwsProductCode": product_code,
            "x_AwsServiceCode": prod("servicecode"),
            "x_AwsBillingEntity": billing_entity,
            "x_AwsInvoicingEntity": text("bill_invoicing_entity") or DEFAULT_INVOICE_ISSUER,
            "x_AwsUnblendedCost": unblended,
            "x_AwsCostCategories": categories or None,
            "x_AwsDiscounts": discounts or None,
        }
        if unused is None:
            return [row]
        effective_unused, quantity_unused, unused_pricing_unit, commitment_unused, unused_unit = (
            unused
        )
        extra = dict(row)
        extra.update(
            {
                "BilledCost": ZERO,
                "EffectiveCost": effective_unused,
                "ListCost": ZERO,
                "ContractedCost": ZERO,
                "ListUnitPrice": ZERO,
                "ContractedUnitPrice": ZERO,
                "ChargeCategory": "Usage",
                "ChargeFrequency": "Usage-Based",
                "ChargeDescription": f"Unused commitment: {row['ChargeDescription'] or line_type}",
                "PricingCategory": "Committed",
                "PricingQuantity": quantity_unused,
                "PricingUnit": (
                    focus_unit(unused_pricing_unit) if quantity_unused is not None else None
                ),
                "CommitmentDiscountStatus": "Unused",
                "CommitmentDiscountQuantity": commitment_unused,
                "CommitmentDiscountUnit": (
                    focus_unit(unused_unit) if commitment_unused is not None else None
                ),
                "ConsumedQuantity": None,
                "ConsumedUnit": None,
                "HostProviderName": AWS,
                "ResourceId": commitment_id,
                "ResourceName": commitment_id,
                "ResourceType": commitment_type,
                "x_RowKey": row_key(
                    "aws", stream, payer, billing_period, source, row_number, "unused"
                ),
            }
        )
        return [row, extra]


#: The unused part of a commitment: (EffectiveCost, PricingQuantity, PricingUnit,
#: CommitmentDiscountQuantity, CommitmentDiscountUnit) of its "Unused" row.
Unused = tuple[Decimal, Decimal | None, str | None, Decimal | None, str | None]


def _net_or_gross(
    net: bool, dec: t.Callable[[str], Decimal | None], net_column: str, gross_column: str
) -> Decimal:
    value = dec(net_column) if net else None
    if value is None:
        value = dec(gross_column)
    return ZERO if value is None else value


def _ri_unused(
    net: bool, dec: t.Callable[[str], Decimal | None], pricing_unit: str | None
) -> Unused | None:
    """Unused part of a reservation in an RIFee line (AWS's amortized formula: unused
    amortized upfront fee + unused recurring fee), or None when all was used."""
    upfront = _net_or_gross(
        net,
        dec,
        "reservation_net_unused_amortized_upfront_fee_for_billing_period",
        "reservation_unused_amortized_upfront_fee_for_billing_period",
    )
    recurring = _net_or_gross(
        net, dec, "reservation_net_unused_recurring_fee", "reservation_unused_recurring_fee"
    )
    effective = upfront + recurring
    hours = dec("reservation_unused_quantity")
    normalized = dec("reservation_unused_normalized_unit_quantity")
    if not effective and not hours and not normalized:
        return None
    unit = pricing_unit or "Hours"
    if hours is None:
        hours, unit = normalized, "Normalized Hours"
    if normalized is not None:
        return effective, hours, unit, normalized, "Normalized Hours"
    return effective, hours, unit, hours, unit


def _sp_unused(net: bool, dec: t.Callable[[str], Decimal | None], currency: str) -> Unused | None:
    """Unused commitment of a SavingsPlanRecurringFee line (AWS's amortized formula:
    TotalCommitmentToDate - UsedCommitment), or None when all was used."""
    total = dec("savings_plan_total_commitment_to_date") or ZERO
    used = dec("savings_plan_used_commitment") or ZERO
    unused = total - used
    if not unused:
        return None
    effective = unused
    if net and total:
        # After discounts: the unused share of the plan's net cost for the period.
        recurring = dec("savings_plan_recurring_commitment_for_billing_period") or ZERO
        upfront = dec("savings_plan_amortized_upfront_commitment_for_billing_period") or ZERO
        net_recurring = dec("savings_plan_net_recurring_commitment_for_billing_period")
        net_upfront = dec("savings_plan_net_amortized_upfront_commitment_for_billing_period")
        net_total = (recurring if net_recurring is None else net_recurring) + (
            upfront if net_upfront is None else net_upfront
        )
        if net_total != recurring + upfront:
            effective = net_unused_share(unused, net_total, total)
    return effective, unused, currency, unused, currency


def net_unused_share(unused: Decimal, net_total: Decimal, total: Decimal) -> Decimal:
    """unused x net_total / total: exact when the quotient terminates, else rounded half
    even to 10 decimal places (the only rounding in the AWS mapping)."""
    SP_RATIO.clear_flags()
    value = SP_RATIO.divide(SP_RATIO.multiply(unused, net_total), total)
    if SP_RATIO.flags[Inexact]:
        value = value.quantize(NET_SCALE)
    return value


def _json_object(value: str, where: tuple[str, str | None, str]) -> dict[str, t.Any]:
    try:
        parsed = json.loads(value, parse_float=Decimal)
    except ValueError:
        raise MappingError(*where, "not a JSON object") from None
    if not isinstance(parsed, dict):
        raise MappingError(*where, "not a JSON object")
    return parsed


def _tags(
    layout: Layout,
    get: t.Callable[[str], t.Any],
    mapped: object,
    where: tuple[str, str | None, str],
    *,
    cost: bool = False,
) -> dict[str, t.Any] | None:
    """Tags (or cost categories) of a line: the CUR 2.0 MAP column, or the legacy
    per-key columns. Keys as the export spells them; keys without a value are left out."""
    out: dict[str, t.Any] = {}
    if mapped:
        if isinstance(mapped, str):
            mapped = _json_object(mapped, where)
        if isinstance(mapped, dict):
            for key, value in mapped.items():
                if value is not None and value != "":
                    out[str(key)] = value if isinstance(value, str) else str(value)
    for raw, key in layout.category_columns if cost else layout.tag_columns:
        value = get(raw)
        if value is not None and value != "":
            out[key] = str(value)
    return out or None


def classify_resource(resource_id: str, product_family: str | None, service_name: str) -> str:
    """What kind of resource an id names: from an ARN's resource type, a known id
    prefix (i-, vol-, ...), else the product family, else the service."""
    if resource_id.startswith("arn:"):
        parts = resource_id.split(":", 5)
        if len(parts) == 6:
            resource = parts[5]
            for separator in ("/", ":"):
                if separator in resource:
                    return f"{parts[2]}:{resource.split(separator, 1)[0]}"
            return parts[2]
    prefix, dash, _ = resource_id.partition("-")
    if dash:
        known = ID_PREFIXES.get(prefix)
        if known is not None:
            return known
    return product_family or service_name


#: tap-aws announces a line-item stream with its own fields first and widens the schema
#: with the export's columns per delivery, so the stream is recognised by the tap fields.
TAP_REQUIRED = frozenset({"delivery_id", "source_file", "row_number", "billing_period"})


def map_cur2(record: Mapping[str, t.Any]) -> Iterator[dict[str, t.Any]]:
    """FOCUS rows of one CUR 2.0 line item (module-level mapper, shared cache)."""
    return _CUR2(record)


def map_legacy(record: Mapping[str, t.Any]) -> Iterator[dict[str, t.Any]]:
    """FOCUS rows of one legacy CUR line item (CSV slash-style or Parquet snake_case)."""
    return _LEGACY(record)


_CUR2 = CurMapper(CUR2_STREAM)
_LEGACY = CurMapper(LEGACY_STREAM)

MAPPINGS = (
    StreamMapping(
        provider="aws",
        stream=CUR2_STREAM,
        required_properties=TAP_REQUIRED,
        map_record=map_cur2,
        record_id=record_id,
        custom_columns=CUSTOM_COLUMNS,
    ),
    StreamMapping(
        provider="aws",
        stream=LEGACY_STREAM,
        required_properties=TAP_REQUIRED,
        map_record=map_legacy,
        record_id=record_id,
        custom_columns=CUSTOM_COLUMNS,
    ),
)
