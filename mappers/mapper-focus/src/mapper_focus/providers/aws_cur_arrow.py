"""CUR 2.0 line items as FOCUS rows, vectorised: tap-aws batch files in, Arrow columns out.
Legacy CUR batch tables are renamed to CUR 2.0 columns first (``legacy_as_cur2``).

The same rules as ``aws_cur.CurMapper`` (the RECORD path), written with pyarrow.compute
for the line item types that make up almost every CUR: Usage, DiscountedUsage,
SavingsPlanCoveredUsage and SavingsPlanNegation. Every other row (fees, purchases, taxes,
credits, refunds, discounts) and every row the vectorised rules cannot reproduce exactly
(a missing required field, a derived cost whose exact product has more than 28
significant digits, a MAP with repeated keys or control characters, ...) goes through
``aws_cur`` itself, one record at a time, so both paths give the same rows: the test
``test_aws_batch_equivalence`` maps generated deliveries both ways and compares the
datasets column by column.

Columns arrive as tap-aws writes them into batch files (``tap_aws.batches``): money
``decimal128(38, 18)``, date-times ``timestamp(unit, "UTC")``, MAPs as MAPs, repeated
text as dictionaries. Output columns are FOCUS batch columns (``mapper_focus.batches``).
"""

from __future__ import annotations

import hashlib
import typing as t
from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc

from mapper_focus.batches import DECIMAL, TIMESTAMP
from mapper_focus.batches import JSON_ENCODER as _JSON
from mapper_focus.providers.aws_common import (
    AWS,
    BILLING_ACCOUNT_TYPE,
    DEFAULT_INVOICE_ISSUER,
    MARKETPLACE,
    SUB_ACCOUNT_TYPE,
    focus_unit,
    month_of,
)
from mapper_focus.providers.aws_cur import (
    ALIASES,
    CUR2_STREAM,
    EXPORT_KINDS,
    LEGACY_STREAM,
    MISSING,
    NAME_TAGS,
    RI,
    SP,
    Layout,
    classify_resource,
)
from mapper_focus.providers.aws_services import AWS_SERVICES, OTHER
from mapper_focus.registry import BatchMapping, Mapped
from mapper_focus.rows import MappingError, delivery_scope

#: Line item types done here; every other type goes through aws_cur row by row.
KINDS = ("Usage", "DiscountedUsage", "SavingsPlanCoveredUsage", "SavingsPlanNegation")

#: The columns of an aws_cur row, in its order (a test checks they are the same).
ROW_COLUMNS: tuple[str, ...] = (
    "AvailabilityZone",
    "BilledCost",
    "BillingAccountId",
    "BillingAccountName",
    "BillingAccountType",
    "BillingCurrency",
    "BillingPeriodStart",
    "BillingPeriodEnd",
    "CapacityReservationId",
    "CapacityReservationStatus",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargeFrequency",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "CommitmentDiscountCategory",
    "CommitmentDiscountId",
    "CommitmentDiscountQuantity",
    "CommitmentDiscountStatus",
    "CommitmentDiscountType",
    "CommitmentDiscountUnit",
    "ConsumedQuantity",
    "ConsumedUnit",
    "ContractedCost",
    "ContractedUnitPrice",
    "EffectiveCost",
    "HostProviderName",
    "InvoiceId",
    "InvoiceIssuerName",
    "ListCost",
    "ListUnitPrice",
    "PricingCategory",
    "PricingQuantity",
    "PricingUnit",
    "ProviderName",
    "PublisherName",
    "RegionId",
    "RegionName",
    "ResourceId",
    "ResourceName",
    "ResourceType",
    "ServiceCategory",
    "ServiceName",
    "ServiceProviderName",
    "ServiceSubcategory",
    "SkuId",
    "SkuMeter",
    "SkuPriceDetails",
    "SkuPriceId",
    "SubAccountId",
    "SubAccountName",
    "SubAccountType",
    "Tags",
    "x_SourceStream",
    "x_SourceRecordId",
    "x_RowKey",
    "x_DeliveryId",
    "x_DeliveryScope",
    "x_AwsLineItemType",
    "x_AwsLineItemId",
    "x_AwsUsageType",
    "x_AwsOperation",
    "x_AwsProductCode",
    "x_AwsServiceCode",
    "x_AwsBillingEntity",
    "x_AwsInvoicingEntity",
    "x_AwsUnblendedCost",
    "x_AwsCostCategories",
    "x_AwsDiscounts",
)

TAP_FIELDS = ("billing_period", "delivery_id", "export_name", "source_file", "row_number")
MAP_COLUMNS = ("product", "resource_tags", "cost_category", "discount")
TEXT_COLUMNS = (
    "bill_payer_account_id",
    "bill_payer_account_name",
    "bill_invoice_id",
    "bill_invoicing_entity",
    "bill_billing_entity",
    "identity_line_item_id",
    "line_item_line_item_type",
    "line_item_usage_account_id",
    "line_item_usage_account_name",
    "line_item_product_code",
    "line_item_usage_type",
    "line_item_operation",
    "line_item_availability_zone",
    "line_item_resource_id",
    "line_item_currency_code",
    "line_item_line_item_description",
    "line_item_legal_entity",
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
    "savings_plan_savings_plan_a_r_n",
    "capacity_reservation_capacity_reservation_a_r_n",
    "capacity_reservation_capacity_reservation_arn",
    "capacity_reservation_capacity_reservation_status",
)
DECIMAL_COLUMNS = (
    "line_item_usage_amount",
    "line_item_normalized_usage_amount",
    "line_item_unblended_rate",
    "line_item_unblended_cost",
    "line_item_net_unblended_rate",
    "line_item_net_unblended_cost",
    "pricing_public_on_demand_rate",
    "pricing_public_on_demand_cost",
    "reservation_effective_cost",
    "reservation_net_effective_cost",
    "savings_plan_savings_plan_effective_cost",
    "savings_plan_net_savings_plan_effective_cost",
)
TIME_COLUMNS = (
    "bill_billing_period_start_date",
    "bill_billing_period_end_date",
    "line_item_usage_start_date",
    "line_item_usage_end_date",
)
#: Every column this module reads (the projection of a batch file).
READS: tuple[str, ...] = (
    *TEXT_COLUMNS,
    *DECIMAL_COLUMNS,
    *TIME_COLUMNS,
    *MAP_COLUMNS,
    *TAP_FIELDS,
)

_ONE_HOUR = pa.scalar(3_600_000_000, pa.duration("us"))
_ZERO = pa.scalar(Decimal(0), DECIMAL)
_BIG = pa.scalar(Decimal("1E19"), DECIMAL)
_REPR_HIGH = pa.scalar(Decimal("1E16"), DECIMAL)
_SMALL = pa.scalar(Decimal("0.000001"), DECIMAL)
_CONTROL = r"[\x00-\x1f]"
_ID_SENTINEL = "\x00family-or-service"


def _combine(array: pa.ChunkedArray | pa.Array) -> pa.Array:
    if isinstance(array, pa.ChunkedArray):
        return array.combine_chunks() if array.num_chunks != 1 else array.chunk(0)
    return array


def _const(value: str | None, n: int) -> pa.Array:
    if value is None:
        return pa.nulls(n, pa.string())
    indices = pa.repeat(pa.scalar(0, pa.int32()), n) if n else pa.array([], pa.int32())
    return pa.DictionaryArray.from_arrays(indices, pa.array([value], pa.string()))


def _map_values(values: pa.Array, table: dict[str | None, t.Any], kind: pa.DataType) -> pa.Array:
    """``table[value]`` for every value of a (low-cardinality) text column."""
    encoded = values.dictionary_encode() if not pa.types.is_dictionary(values.type) else values
    mapped = pa.array([table.get(v) for v in encoded.dictionary.to_pylist()], kind)
    return mapped.take(encoded.indices)


def _json_escaped(values: pa.Array) -> tuple[pa.Array, pa.Array | None]:
    """Text escaped as msgspec writes JSON strings (backslash and quote), and the values
    holding a control character (None when there are none): their rows go the row way."""
    special = pc.match_substring_regex(values, r'["\\\x00-\x1f]')
    if not pc.any(special).as_py():
        return values, None
    escaped = pc.replace_substring(values, "\\", "\\\\")
    escaped = pc.replace_substring(escaped, '"', '\\"')
    return escaped, _has_control(values)


def _quoted(values: pa.Array) -> pa.Array:
    escaped, _ = _json_escaped(values)
    return pc.binary_join_element_wise('"', escaped, '"', "")


def _decimal_text(values: pa.Array) -> pa.Array:
    """JSON text of the decimals ``Decimal(repr(x))`` gives for the doubles these came
    from (see ``batches.float_decimal``): shortest digits, integral values as ``5.0``."""
    text = values.cast(pa.string())
    text = pc.replace_substring_regex(text, r"0+$", "")
    text = pc.replace_substring_regex(text, r"\.$", ".0")
    return pc.if_else(pc.equal(values, _ZERO), pa.scalar("0.0"), text)  # Arrow writes 0E-18


def _map_parts(array: pa.Array) -> tuple[pa.Array, pa.Array, pa.Array]:
    """(offsets from 0, keys, items) of a MAP array (sliced or not)."""
    offsets = array.offsets
    start = offsets[0].as_py()
    end = offsets[-1].as_py()
    if start:
        offsets = pc.subtract(offsets, pa.scalar(start, offsets.type))
    return offsets, array.keys.slice(start, end - start), array.items.slice(start, end - start)


def _regroup(offsets: pa.Array, values: pa.Array, keep: pa.Array | None) -> pa.ListArray:
    """Per-row lists of ``values`` (flattened along ``offsets``), dropping ``keep`` false."""
    if keep is None:
        return pa.ListArray.from_arrays(offsets, values)
    kept = pc.cumulative_sum(keep.cast(pa.int32()))
    starts = pa.concat_arrays([pa.array([0], pa.int32()), kept.cast(pa.int32())])
    return pa.ListArray.from_arrays(starts.take(offsets), values.filter(keep))


def _object_text(lists: pa.ListArray) -> pa.Array:
    """``{...}`` around each row's joined pairs; null for a row without any."""
    joined = pc.binary_join(lists, ",")
    empty = pc.equal(pc.list_value_length(lists), 0)
    text = pc.binary_join_element_wise("{", joined, "}", "")
    return pc.if_else(empty, pa.scalar(None, pa.string()), text)


def _duplicate_rows(offsets: pa.Array, keys: pa.Array, n: int) -> pa.Array:
    """Rows whose MAP repeats a key (dict semantics differ from the pairs: row path)."""
    if not len(keys):
        return pa.repeat(pa.scalar(False), n)
    parents = pc.list_parent_indices(pa.ListArray.from_arrays(offsets, keys)).cast(pa.int64())
    encoded = keys.dictionary_encode()
    width = pa.scalar(len(encoded.dictionary) + 1, pa.int64())
    pairs = pc.add(pc.multiply(parents, width), encoded.indices.cast(pa.int64()))
    distinct = pc.unique(pairs)
    if len(distinct) == len(pairs):
        return pa.repeat(pa.scalar(False), n)
    counts = pc.value_counts(pairs)
    repeated = counts.field("values").filter(pc.greater(counts.field("counts"), 1))
    rows = pc.unique(parents.filter(pc.is_in(pairs, value_set=repeated)))
    return pc.is_in(pa.array(range(n), pa.int64()), value_set=rows)


def _has_control(values: pa.Array) -> pa.Array:
    return pc.fill_null(pc.match_substring_regex(values, _CONTROL), False)


def _rows_flagged(offsets: pa.Array, flags: pa.Array, n: int) -> pa.Array:
    """Per row: does any of its MAP entries have ``flags`` true?"""
    if not len(flags) or not pc.any(flags).as_py():
        return pa.repeat(pa.scalar(False), n)
    parents = pc.list_parent_indices(pa.ListArray.from_arrays(offsets, flags))
    rows = pc.unique(parents.filter(flags))
    return pc.is_in(pa.array(range(n), pa.int64()), value_set=rows.cast(pa.int64()))


def significant_digits(values: pa.Array) -> pa.Array:
    """Each decimal's significant digits, by value (``100`` has 1, ``0.0250`` has 2)."""
    text = pc.replace_substring_regex(values.cast(pa.string()), "E.*$", "")  # 2.0E-7
    text = pc.utf8_ltrim(pc.utf8_rtrim(text, "0."), "-0.")
    dot = pc.match_substring(text, ".").cast(pa.int32())
    return pc.fill_null(pc.subtract(pc.utf8_length(text).cast(pa.int32()), dot), 0)


def distinct_significant_digits(values: pa.Array) -> pa.Array:
    """``significant_digits`` computed once per distinct value (prices repeat)."""
    encoded = values.dictionary_encode()
    return significant_digits(encoded.dictionary).take(encoded.indices)


def derived_cost(
    price: pa.Array,
    quantity: pa.Array,
    price_digits: pa.Array | None = None,
    quantity_digits: pa.Array | None = None,
) -> tuple[pa.Array, pa.Array]:
    """``rows.derived_cost`` per row: (price x quantity rounded half-even to 18 places,
    rows where that is provably what aws_cur computes)."""
    # Python's default context keeps 28 digits: exact only if the product has no more.
    if price_digits is None:
        price_digits = distinct_significant_digits(price)
    if quantity_digits is None:
        quantity_digits = significant_digits(quantity)
    exact = pc.less_equal(pc.add(price_digits, quantity_digits), 28)
    zero = pa.scalar(Decimal(0), DECIMAL)
    safe_price = pc.if_else(exact, price, zero).cast(pa.decimal256(37, 18))
    safe_quantity = pc.if_else(exact, quantity, zero).cast(pa.decimal256(37, 18))
    product = pc.multiply(safe_price, safe_quantity)
    rounded = pc.round(product, ndigits=18, round_mode="half_to_even").cast(DECIMAL)
    return rounded, exact


class CurArrow:
    """Maps one tap-aws CUR 2.0 batch table (the columns of ``READS`` it has)."""

    def __init__(self, table: pa.Table, stream: str = CUR2_STREAM) -> None:
        self.stream = stream
        self.n = table.num_rows
        self.names = set(table.column_names)
        self.table = table
        self.unsupported = self._unsupported()

    def _unsupported(self) -> str | None:
        """Why this table's layout is for the row path, or None."""
        for name in self.names:
            if "/" in name or name.startswith(("resource_tags_", "cost_category_")):
                return f"legacy column {name}"
        for name in DECIMAL_COLUMNS:
            if name in self.names and self.table.schema.field(name).type != DECIMAL:
                return f"{name} is {self.table.schema.field(name).type}"
        for name in TIME_COLUMNS:
            if name in self.names and not pa.types.is_timestamp(self.table.schema.field(name).type):
                return f"{name} is {self.table.schema.field(name).type}"
        for name in (*TEXT_COLUMNS, "billing_period", "delivery_id", "source_file"):
            if name in self.names:
                kind = self.table.schema.field(name).type
                if pa.types.is_dictionary(kind):
                    kind = kind.value_type
                if not pa.types.is_string(kind):
                    return f"{name} is {kind}"
        for name in MAP_COLUMNS:
            if name in self.names:
                kind = self.table.schema.field(name).type
                if not pa.types.is_map(kind) or not pa.types.is_string(kind.key_type):
                    return f"{name} is {kind}"
                value = kind.item_type
                if name == "discount" and not (value == DECIMAL or pa.types.is_null(value)):
                    return f"{name} values are {value}"
                if name != "discount" and not pa.types.is_string(value):
                    return f"{name} values are {value}"
        if "row_number" in self.names and not pa.types.is_integer(
            self.table.schema.field("row_number").type
        ):
            return "row_number is not an integer"
        return None

    # --- columns -----------------------------------------------------------------

    def raw(self, name: str) -> pa.Array | None:
        if name not in self.names:
            for canon, aliases in ALIASES.items():
                if name == canon:
                    for alias in aliases:
                        if alias in self.names:
                            return _combine(self.table.column(alias))
            return None
        return _combine(self.table.column(name))

    def text(self, name: str) -> pa.Array:
        """A text column as plain strings; empty text and an absent column are null."""
        array = self.raw(name)
        if array is None:
            return pa.nulls(self.n, pa.string())
        if pa.types.is_dictionary(array.type):
            array = array.cast(array.type.value_type)
        if array.null_count == len(array):
            return array
        return pc.if_else(pc.equal(array, ""), pa.scalar(None, pa.string()), array)

    def dec(self, name: str) -> pa.Array:
        array = self.raw(name)
        return pa.nulls(self.n, DECIMAL) if array is None else array

    def moment(self, name: str) -> pa.Array | None:
        array = self.raw(name)
        return None if array is None else array.cast(TIMESTAMP)

    def map(self, name: str) -> pa.Array | None:
        array = self.raw(name)
        if array is None or pa.types.is_null(array.type.item_type):
            return None
        return array

    def prod(self, attr: str, product: pa.Array | None) -> pa.Array:
        """aws_cur's prod(): the product_<attr> column, else the product MAP's value."""
        value = self.text(f"product_{attr}")
        if product is None:
            return value
        first = pc.map_lookup(product, attr, "last")
        second = pc.map_lookup(product, f"product_{attr}", "last")
        found = pc.if_else(pc.is_null(first), second, first)
        found = pc.if_else(pc.equal(found, ""), pa.scalar(None, pa.string()), found)
        return pc.coalesce(value, found)

    # --- the mapping -----------------------------------------------------------------

    def run(self) -> Mapped:
        n = self.n
        everything = list(range(n))
        if self.unsupported is not None or not n:
            return Mapped({}, pa.array([], pa.int64()), everything)
        text, dec, prod = self.text, self.dec, self.prod
        product = self.map("product")
        bad = pa.repeat(pa.scalar(False), n)

        def flag(mask: pa.Array) -> None:
            nonlocal bad
            bad = pc.or_(bad, pc.fill_null(mask, True))

        line_type = text("line_item_line_item_type")
        flag(pc.invert(pc.is_in(line_type, value_set=pa.array(KINDS))))
        payer = text("bill_payer_account_id")
        currency = text("line_item_currency_code")
        delivery = text("delivery_id")
        source = text("source_file")
        row_number = self.raw("row_number")
        period = text("billing_period")
        for required in (payer, currency, delivery, source, period):
            flag(pc.is_null(required))
        if row_number is None:
            return Mapped({}, pa.array([], pa.int64()), everything)
        row_number = row_number.cast(pa.int64())
        flag(pc.is_null(row_number))

        # --- periods
        start = self.moment("line_item_usage_start_date")
        end = self.moment("line_item_usage_end_date")
        if start is None or end is None:
            return Mapped({}, pa.array([], pa.int64()), everything)
        flag(pc.or_(pc.is_null(start), pc.is_null(end)))
        month_starts, month_ends, month_ok = self._months(period)
        flag(pc.invert(month_ok))
        bps = self.moment("bill_billing_period_start_date")
        bpe = self.moment("bill_billing_period_end_date")
        if bps is None:
            bp_start, bp_end = month_starts, month_ends
        else:
            from_bill = pc.is_valid(bps)
            if bpe is None:
                flag(from_bill)
                bpe = pa.nulls(n, TIMESTAMP)
            else:
                flag(pc.and_(from_bill, pc.is_null(bpe)))
            bp_start = pc.if_else(from_bill, bps, month_starts)
            bp_end = pc.if_else(from_bill, bpe, month_ends)
        instant = pc.less_equal(end, start)
        charge_end = pc.if_else(
            instant, pc.add(pc.floor_temporal(start, unit="hour"), _ONE_HOUR), end
        )
        correction = pc.if_else(
            pc.less_equal(charge_end, bp_start),
            pa.scalar("Correction"),
            pa.scalar(None, pa.string()),
        )

        # --- money
        unblended = dec("line_item_unblended_cost")
        flag(pc.is_null(unblended))
        net = "line_item_net_unblended_cost" in self.names
        billed = pc.coalesce(dec("line_item_net_unblended_cost"), unblended) if net else unblended

        # --- entities and service
        product_code = text("line_item_product_code")
        product_name = prod("product_name", product)
        billing_entity = text("bill_billing_entity")
        legal_entity = text("line_item_legal_entity")
        resource_id = text("line_item_resource_id")
        market = pc.fill_null(pc.equal(billing_entity, MARKETPLACE), False)
        seller = pc.coalesce(legal_entity, pa.scalar(MARKETPLACE))
        aws = pa.scalar(AWS)
        provider = pc.if_else(market, pa.scalar(MARKETPLACE), aws)
        service_provider = pc.if_else(market, seller, aws)
        publisher = pc.if_else(market, seller, pc.coalesce(legal_entity, aws))
        invoice_issuer = provider
        host = pc.if_else(pc.and_(market, pc.is_null(resource_id)), seller, aws)
        codes = pa.array(list(AWS_SERVICES))
        known = pc.index_in(product_code, value_set=codes)
        table_names = pa.array([v[0] for v in AWS_SERVICES.values()])
        table_categories = pa.array([v[1] for v in AWS_SERVICES.values()])
        table_subcategories = pa.array([v[2] for v in AWS_SERVICES.values()])
        use_table = pc.and_(pc.invert(market), pc.is_valid(known))
        other_name = pc.coalesce(
            product_name, product_code, pc.if_else(market, pa.scalar(MARKETPLACE), aws)
        )
        service_name = pc.if_else(use_table, table_names.take(known), other_name)
        service_category = pc.if_else(use_table, table_categories.take(known), pa.scalar(OTHER[0]))
        service_subcategory = pc.if_else(
            use_table, table_subcategories.take(known), pa.scalar(OTHER[1])
        )

        # --- tags, cost categories, discounts
        tags_text, tags_bad, name_tag = self._tags("resource_tags", with_names=True)
        flag(tags_bad)
        categories_text, categories_bad, _ = self._tags("cost_category")
        flag(categories_bad)
        discounts_text, discounts_bad = self._discounts()
        flag(discounts_bad)

        # --- resource
        family = prod("product_family", product)
        resource_kind = self._resource_kinds(resource_id)
        resource_type = pc.if_else(
            pc.equal(resource_kind, _ID_SENTINEL),
            pc.coalesce(family, service_name),
            resource_kind,
        )
        resource_name = pc.coalesce(name_tag, resource_id) if name_tag is not None else resource_id
        resource_name = pc.if_else(
            pc.is_null(resource_id), pa.scalar(None, pa.string()), resource_name
        )
        region_id = pc.coalesce(prod("region_code", product), prod("region", product))
        region_name = pc.if_else(
            pc.is_null(region_id),
            pa.scalar(None, pa.string()),
            pc.coalesce(prod("location", product), region_id),
        )

        # --- pricing
        quantity = dec("line_item_usage_amount")
        unit = text("pricing_unit")
        public_rate = dec("pricing_public_on_demand_rate")
        rate = dec("line_item_unblended_rate")
        contracted_rate = rate
        if net:
            contracted_rate = pc.coalesce(dec("line_item_net_unblended_rate"), rate)
        usage_type = text("line_item_usage_type")
        sku_id = pc.coalesce(prod("sku", product), usage_type)
        sku_price_id = pc.coalesce(text("pricing_rate_code"), text("pricing_rate_id"), sku_id)

        is_usage = pc.equal(line_type, "Usage")
        is_ri = pc.equal(line_type, "DiscountedUsage")
        is_sp_usage = pc.equal(line_type, "SavingsPlanCoveredUsage")
        is_negation = pc.equal(line_type, "SavingsPlanNegation")
        is_sp = pc.or_(is_sp_usage, is_negation)

        list_price = pc.coalesce(public_rate, rate)
        spot = pc.or_(
            pc.fill_null(pc.equal(text("pricing_term"), "Spot"), False),
            pc.fill_null(pc.match_substring(usage_type, "SpotUsage"), False),
        )
        pricing_category = pc.if_else(
            is_usage,
            pc.if_else(spot, pa.scalar("Dynamic"), pa.scalar("Standard")),
            pa.scalar("Committed"),
        )
        # SavingsPlanNegation: zero quantities, a unit anyway, the positive list price.
        negation_price = pc.abs(pc.coalesce(list_price, _ZERO))
        list_price = pc.if_else(is_negation, negation_price, list_price)
        contracted_price = pc.if_else(is_ri, list_price, pc.coalesce(contracted_rate, list_price))
        contracted_price = pc.if_else(is_negation, negation_price, contracted_price)
        quantity = pc.if_else(is_negation, _ZERO, quantity)
        unit = pc.if_else(is_negation, pc.coalesce(unit, pa.scalar("Units")), unit)
        consumed, consumed_unit = quantity, unit

        # --- commitments
        ri_id = text("reservation_reservation_a_r_n")
        sp_id = text("savings_plan_savings_plan_a_r_n")
        commitment_id = pc.if_else(
            is_ri, ri_id, pc.if_else(is_sp, sp_id, pa.scalar(None, pa.string()))
        )
        has_commitment = pc.is_valid(commitment_id)
        ri_effective = dec("reservation_effective_cost")
        sp_effective = dec("savings_plan_savings_plan_effective_cost")
        if net:
            ri_effective = pc.coalesce(dec("reservation_net_effective_cost"), ri_effective)
            sp_net = pc.coalesce(dec("savings_plan_net_savings_plan_effective_cost"), sp_effective)
        else:
            sp_net = sp_effective
        effective = pc.if_else(
            is_ri,
            pc.coalesce(ri_effective, _ZERO),
            pc.if_else(
                is_sp_usage,
                pc.coalesce(sp_net, _ZERO),
                pc.if_else(is_negation, _ZERO, billed),
            ),
        )
        normalized = dec("line_item_normalized_usage_amount")
        ri_quantity = pc.coalesce(normalized, quantity)
        ri_unit = pc.if_else(
            pc.is_valid(normalized),
            pa.scalar("Normalized Hours"),
            pc.coalesce(unit, pa.scalar("Hours")),
        )
        commitment_quantity = pc.if_else(
            is_ri, ri_quantity, pc.if_else(is_sp_usage, sp_effective, _ZERO)
        )
        commitment_unit = pc.if_else(is_ri, ri_unit, currency)
        commitment_type = pc.if_else(is_ri, pa.scalar(RI[0]), pa.scalar(SP[0]))
        commitment_category = pc.if_else(is_ri, pa.scalar(RI[1]), pa.scalar(SP[1]))

        # --- list and contracted cost
        quantity_digits = significant_digits(pc.coalesce(quantity, _ZERO))
        list_product, list_exact = derived_cost(
            pc.coalesce(list_price, _ZERO), pc.coalesce(quantity, _ZERO), None, quantity_digits
        )
        priced = pc.and_(pc.is_valid(list_price), pc.is_valid(quantity))
        flag(pc.and_(priced, pc.invert(list_exact)))
        public_cost = dec("pricing_public_on_demand_cost")
        unpriced = pc.coalesce(public_cost, pc.if_else(is_usage, billed, _ZERO))
        list_cost = pc.if_else(priced, list_product, unpriced)
        contracted_product, contracted_exact = derived_cost(
            pc.coalesce(contracted_price, _ZERO),
            pc.coalesce(quantity, _ZERO),
            None,
            quantity_digits,
        )
        contracted_priced = pc.and_(pc.is_valid(contracted_price), pc.is_valid(quantity))
        flag(pc.and_(contracted_priced, pc.invert(contracted_exact)))
        contracted_cost = pc.if_else(contracted_priced, contracted_product, billed)

        # --- capacity reservations
        capacity_id = text("capacity_reservation_capacity_reservation_a_r_n")
        capacity_status: pa.Array = pa.nulls(n, pa.string())
        if capacity_id.null_count != n:
            status = pc.utf8_lower(
                pc.coalesce(text("capacity_reservation_capacity_reservation_status"), pa.scalar(""))
            )
            unused = pc.or_(
                pc.match_substring(status, "unused"),
                pc.and_(
                    pc.equal(status, ""),
                    pc.match_substring(pc.coalesce(usage_type, pa.scalar("")), "Unused"),
                ),
            )
            capacity_status = pc.if_else(
                pc.is_null(capacity_id),
                pa.scalar(None, pa.string()),
                pc.if_else(unused, pa.scalar("Unused"), pa.scalar("Used")),
            )

        # --- SKU price details
        details, details_bad = self._details(product)
        flag(details_bad)
        no_sku = pc.is_null(sku_id)
        null_text = pa.scalar(None, pa.string())

        usage_account = text("line_item_usage_account_id")
        no_account = pc.is_null(usage_account)
        units = self._units(unit, consumed_unit, commitment_unit)

        mask = pc.invert(bad)
        keep = pc.indices_nonzero(mask)
        if not len(keep):
            return Mapped({}, pa.array([], pa.int64()), everything)
        fallback = pc.indices_nonzero(bad).to_pylist()

        def take(array: pa.Array) -> pa.Array:
            return array if len(keep) == n else array.take(keep)

        m = len(keep)
        columns: dict[str, pa.Array] = {
            "AvailabilityZone": take(self.raw_text("line_item_availability_zone")),
            "BilledCost": take(billed),
            "BillingAccountId": take(self.raw_text("bill_payer_account_id")),
            "BillingAccountName": take(self.raw_text("bill_payer_account_name")),
            "BillingAccountType": _const(BILLING_ACCOUNT_TYPE, m),
            "BillingCurrency": take(self.raw_text("line_item_currency_code")),
            "BillingPeriodStart": take(bp_start),
            "BillingPeriodEnd": take(bp_end),
            "CapacityReservationId": take(capacity_id),
            "CapacityReservationStatus": take(capacity_status),
            "ChargeCategory": _const("Usage", m),
            "ChargeClass": take(correction),
            "ChargeDescription": take(self.raw_text("line_item_line_item_description")),
            "ChargeFrequency": _const("Usage-Based", m),
            "ChargePeriodStart": take(start),
            "ChargePeriodEnd": take(charge_end),
            "CommitmentDiscountCategory": take(
                pc.if_else(has_commitment, commitment_category, null_text)
            ),
            "CommitmentDiscountId": take(commitment_id),
            "CommitmentDiscountQuantity": take(
                pc.if_else(has_commitment, commitment_quantity, pa.scalar(None, DECIMAL))
            ),
            "CommitmentDiscountStatus": take(
                pc.if_else(
                    pc.and_(has_commitment, pc.invert(is_usage)), pa.scalar("Used"), null_text
                )
            ),
            "CommitmentDiscountType": take(pc.if_else(has_commitment, commitment_type, null_text)),
            "CommitmentDiscountUnit": take(pc.if_else(has_commitment, units[2], null_text)),
            "ConsumedQuantity": take(consumed),
            "ConsumedUnit": take(pc.if_else(pc.is_null(consumed), null_text, units[1])),
            "ContractedCost": take(contracted_cost),
            "ContractedUnitPrice": take(contracted_price),
            "EffectiveCost": take(effective),
            "HostProviderName": take(host),
            "InvoiceId": take(self.raw_text("bill_invoice_id")),
            "InvoiceIssuerName": take(invoice_issuer),
            "ListCost": take(list_cost),
            "ListUnitPrice": take(list_price),
            "PricingCategory": take(pricing_category),
            "PricingQuantity": take(quantity),
            "PricingUnit": take(pc.if_else(pc.is_null(quantity), null_text, units[0])),
            "ProviderName": take(provider),
            "PublisherName": take(publisher),
            "RegionId": take(region_id),
            "RegionName": take(region_name),
            "ResourceId": take(resource_id),
            "ResourceName": take(resource_name),
            "ResourceType": take(pc.if_else(pc.is_null(resource_id), null_text, resource_type)),
            "ServiceCategory": take(service_category),
            "ServiceName": take(service_name),
            "ServiceProviderName": take(service_provider),
            "ServiceSubcategory": take(service_subcategory),
            "SkuId": take(sku_id),
            "SkuMeter": take(pc.if_else(no_sku, null_text, usage_type)),
            "SkuPriceDetails": take(pc.if_else(no_sku, null_text, details)),
            "SkuPriceId": take(sku_price_id),
            "SubAccountId": take(usage_account),
            "SubAccountName": take(
                pc.if_else(
                    no_account,
                    null_text,
                    pc.coalesce(text("line_item_usage_account_name"), usage_account),
                )
            ),
            "SubAccountType": take(pc.if_else(no_account, null_text, pa.scalar(SUB_ACCOUNT_TYPE))),
            "Tags": take(tags_text),
            "x_SourceStream": _const(self.stream, m),
            "x_SourceRecordId": take(
                pc.binary_join_element_wise(source, row_number.cast(pa.string()), ":")
            ),
            "x_DeliveryId": take(self.raw_text("delivery_id")),
            "x_DeliveryScope": take(self.delivery_scope()),
            "x_AwsLineItemType": take(self.raw_text("line_item_line_item_type")),
            "x_AwsLineItemId": take(text("identity_line_item_id")),
            "x_AwsUsageType": take(usage_type),
            "x_AwsOperation": take(text("line_item_operation")),
            "x_AwsProductCode": take(product_code),
            "x_AwsServiceCode": take(prod("servicecode", product)),
            "x_AwsBillingEntity": take(billing_entity),
            "x_AwsInvoicingEntity": take(
                pc.coalesce(text("bill_invoicing_entity"), pa.scalar(DEFAULT_INVOICE_ISSUER))
            ),
            "x_AwsUnblendedCost": take(unblended),
            "x_AwsCostCategories": take(categories_text),
            "x_AwsDiscounts": take(discounts_text),
        }
        columns["x_RowKey"] = self._row_keys(
            take(payer), take(period), take(source), take(row_number)
        )
        return Mapped(columns, keep.cast(pa.int64()), fallback)

    # --- helpers -----------------------------------------------------------------------

    def delivery_scope(self) -> pa.Array:
        """x_DeliveryScope (``rows.delivery_scope``): "cur2:<export_name>", null without one."""
        names = self.text("export_name").dictionary_encode()
        kind = EXPORT_KINDS[self.stream]
        scopes = [delivery_scope(kind, name) for name in names.dictionary.to_pylist()]
        return pa.DictionaryArray.from_arrays(names.indices, pa.array(scopes, pa.string()))

    def raw_text(self, name: str) -> pa.Array:
        """A text column as stored (a dictionary stays one: cheap to write), empty as null."""
        array = self.raw(name)
        if array is None:
            return pa.nulls(self.n, pa.string())
        if pa.types.is_dictionary(array.type):
            empty = pc.equal(array.dictionary, "")
            if pc.any(empty).as_py():
                return self.text(name)
            return array
        return self.text(name)

    def _months(self, period: pa.Array) -> tuple[pa.Array, pa.Array, pa.Array]:
        """Bounds of each row's tap billing_period (YYYY-MM), and whether it is one."""
        bounds: dict[str | None, tuple[t.Any, t.Any]] = {}
        encoded = period.dictionary_encode()
        starts: list[t.Any] = []
        ends: list[t.Any] = []
        ok: list[bool] = []
        for value in encoded.dictionary.to_pylist():
            try:
                first, last = month_of(value, ("", None, ""))
            except MappingError:
                starts.append(None)
                ends.append(None)
                ok.append(False)
                continue
            bounds[value] = (first, last)
            starts.append(first)
            ends.append(last)
            ok.append(True)
        to_time = (
            pa.array(starts, pa.string()).cast(TIMESTAMP),
            pa.array(ends, pa.string()).cast(TIMESTAMP),
        )
        indices = encoded.indices
        return (
            to_time[0].take(indices),
            to_time[1].take(indices),
            pc.fill_null(pa.array(ok, pa.bool_()).take(indices), False),
        )

    def _resource_kinds(self, resource_id: pa.Array) -> pa.Array:
        """classify_resource per distinct id; the sentinel means "family, else service"."""
        encoded = resource_id.dictionary_encode()
        kinds = [
            None if rid is None else classify_resource(rid, None, _ID_SENTINEL)
            for rid in encoded.dictionary.to_pylist()
        ]
        return pa.array(kinds, pa.string()).take(encoded.indices)

    def _units(self, *units: pa.Array) -> list[pa.Array]:
        """focus_unit over a few unit columns (one Python call per distinct unit)."""
        distinct = pc.unique(pa.concat_arrays([pc.unique(u) for u in units])).to_pylist()
        table = {unit: focus_unit(unit) for unit in distinct}
        return [_map_values(u, table, pa.string()) for u in units]

    def _tags(
        self, name: str, *, with_names: bool = False
    ) -> tuple[pa.Array, pa.Array, pa.Array | None]:
        """(JSON text of the non-empty entries or null, rows for the row path, name tag)."""
        n = self.n
        array = self.map(name)
        false = pa.repeat(pa.scalar(False), n)
        if array is None:
            return pa.nulls(n, pa.string()), false, None
        offsets, keys, items = _map_parts(array)
        bad = _duplicate_rows(offsets, keys, n)
        keys, key_bad = _json_escaped(keys)
        items, item_bad = _json_escaped(items)
        if key_bad is not None or item_bad is not None:
            flags = pc.or_(
                key_bad if key_bad is not None else pa.repeat(pa.scalar(False), len(keys)),
                item_bad if item_bad is not None else pa.repeat(pa.scalar(False), len(keys)),
            )
            bad = pc.or_(bad, _rows_flagged(offsets, flags, n))
        keep = pc.fill_null(pc.not_equal(items, ""), False)
        pairs = pc.binary_join_element_wise('"', keys, '":"', items, '"', "")
        text = _object_text(_regroup(offsets, pairs, keep))
        name_tag = None
        if with_names:
            name_tag = pa.nulls(n, pa.string())
            for tag in reversed(NAME_TAGS):
                found = pc.map_lookup(array, tag, "last")
                found = pc.if_else(pc.equal(found, ""), pa.scalar(None, pa.string()), found)
                name_tag = pc.coalesce(found, name_tag)
        return text, bad, name_tag

    def _discounts(self) -> tuple[pa.Array, pa.Array]:
        """(JSON text of the discount MAP, rows for the row path): every entry, nulls too."""
        n = self.n
        array = self.map("discount")
        false = pa.repeat(pa.scalar(False), n)
        if array is None:
            return pa.nulls(n, pa.string()), false
        offsets, keys, items = _map_parts(array)
        bad = _duplicate_rows(offsets, keys, n)
        keys, key_bad = _json_escaped(keys)
        magnitude = pc.abs(items)
        odd = pc.or_(
            pc.greater_equal(magnitude, _REPR_HIGH),
            pc.and_(pc.less(magnitude, _SMALL), pc.not_equal(magnitude, _ZERO)),
        )
        odd = pc.fill_null(odd, False)
        if key_bad is not None:
            odd = pc.or_(odd, key_bad)
        bad = pc.or_(bad, _rows_flagged(offsets, odd, n))
        values = pc.coalesce(_decimal_text(items), pa.scalar("null"))
        pairs = pc.binary_join_element_wise('"', keys, '":', values, "")
        return _object_text(_regroup(offsets, pairs, None)), bad

    def _details(self, product: pa.Array | None) -> tuple[pa.Array, pa.Array]:
        """SkuPriceDetails JSON text (instance type, OS, storage class) or null: built per
        distinct combination (a handful per bill), in Python, as aws_cur builds the dict."""
        values = [
            self.prod(attr, product)
            for attr in ("instance_type", "operating_system", "storage_class")
        ]
        marked = [pc.coalesce(v, pa.scalar("\x00")) for v in values]
        combined = pc.binary_join_element_wise(*marked, "\x1f").dictionary_encode()
        texts: list[str | None] = []
        flags: list[bool] = []
        for combination in combined.dictionary.to_pylist():
            parts = [None if p == "\x00" else p for p in combination.split("\x1f")]
            details = {
                key: value
                for key, value in zip(
                    ("InstanceType", "OperatingSystem", "StorageClass"), parts, strict=True
                )
                if value
            }
            flags.append(any(ord(c) < 0x20 for value in details.values() for c in value))
            texts.append(_JSON.encode(details).decode() if details else None)
        indices = combined.indices
        return pa.array(texts, pa.string()).take(indices), pa.array(flags, pa.bool_()).take(indices)

    def _row_keys(
        self, payer: pa.Array, period: pa.Array, source: pa.Array, row_number: pa.Array
    ) -> pa.Array:
        """rows.row_key("aws", stream, payer, billing_period, source, row, "line")."""
        numbers = row_number.to_pylist()
        constant = (
            pc.count_distinct(payer).as_py() == 1
            and pc.count_distinct(period).as_py() == 1
            and pc.count_distinct(source).as_py() == 1
        )
        if constant:
            prefix = "\x1f".join(
                ["aws", self.stream, payer[0].as_py(), period[0].as_py(), source[0].as_py(), ""]
            )
            copy = hashlib.sha256(prefix.encode()).copy
            keys: list[str] = []
            append = keys.append
            for number in numbers:
                digest = copy()
                digest.update(b"%d\x1fline" % number)
                append(digest.hexdigest()[:32])
            return pa.array(keys, pa.string())
        from mapper_focus.rows import row_key

        return pa.array(
            [
                row_key("aws", self.stream, p, b, s, r, "line")
                for p, b, s, r in zip(
                    payer.to_pylist(), period.to_pylist(), source.to_pylist(), numbers, strict=True
                )
            ],
            pa.string(),
        )


def map_cur2_table(table: pa.Table) -> Mapped:
    """The vectorised part of one tap-aws ``cur2_line_items`` batch table."""
    return CurArrow(table).run()


def map_legacy_table(table: pa.Table) -> Mapped:
    """The vectorised part of one tap-aws ``cur_line_items`` (legacy CUR) batch table: its
    columns renamed as CUR 2.0 names them, then the CUR 2.0 rules."""
    renamed = legacy_as_cur2(table)
    if renamed is None:
        return Mapped({}, pa.array([], pa.int64()), list(range(table.num_rows)))
    return CurArrow(renamed, LEGACY_STREAM).run()


def legacy_as_cur2(table: pa.Table) -> pa.Table | None:
    """A legacy CUR table as a CUR 2.0 one, read as ``aws_cur.Layout`` reads a legacy
    record: slash-style (CSV) and snake_case (Parquet) names become their CUR 2.0 names,
    and the per-key tag and cost category columns become the ``resource_tags`` and
    ``cost_category`` MAPs, keys in column order as the record path collects them. None
    when a tag column is not text (the record path's str() of it is for the row path)."""
    layout = Layout(table.column_names)
    columns: dict[str, t.Any] = {}
    for canon, raw in layout.raw.items():
        if raw != MISSING and canon in READS:
            columns[canon] = table.column(raw)
    for name in TAP_FIELDS:
        if name in table.column_names:
            columns[name] = table.column(name)
    for name, pairs in (
        ("resource_tags", layout.tag_columns),
        ("cost_category", layout.category_columns),
    ):
        if not pairs:
            continue
        gathered = _map_of_columns(table, pairs)
        if gathered is None:
            return None
        columns[name] = gathered
    return pa.table(columns)


def _map_of_columns(table: pa.Table, pairs: list[tuple[str, str]]) -> pa.MapArray | None:
    """Per-key text columns as one MAP column: row i holds (key j, value of column j) for
    every column j, in order. Built with one take over the columns laid end to end."""
    arrays = []
    for raw, _ in pairs:
        array = _combine(table.column(raw))
        if pa.types.is_dictionary(array.type):
            array = array.cast(array.type.value_type)
        if not (pa.types.is_string(array.type) or pa.types.is_null(array.type)):
            return None
        arrays.append(array.cast(pa.string()))
    n, width = table.num_rows, len(arrays)
    position = pc.subtract(pc.cumulative_sum(pa.repeat(pa.scalar(1, pa.int64()), n * width)), 1)
    row = pc.divide(position, width)  # integer division
    column = pc.subtract(position, pc.multiply(row, width))
    items = pa.concat_arrays(arrays).take(pc.add(pc.multiply(column, n), row))
    keys = pa.array([key for _, key in pairs], pa.string()).take(column)
    offsets = pa.concat_arrays(
        [
            pa.array([0], pa.int32()),
            pc.cumulative_sum(pa.repeat(pa.scalar(width, pa.int32()), n)),
        ]
    )
    return pa.MapArray.from_arrays(offsets, keys, items)


BATCH_MAPPINGS = (
    BatchMapping("aws", CUR2_STREAM, READS, map_cur2_table),
    # Legacy tag columns are named by their keys: the whole batch file is read.
    BatchMapping("aws", LEGACY_STREAM, None, map_legacy_table),
)
MAPPINGS: tuple[()] = ()  # no RECORD mapping of its own: aws_cur is the record path
