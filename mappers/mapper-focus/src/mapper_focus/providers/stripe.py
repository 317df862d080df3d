"""Stripe's charges to you, as FOCUS rows.

Source: tap-stripe's `balance_transactions` stream. What Stripe charges an account shows up
in two places of its balance:

1. `fee_details` of any balance transaction: processing fees on a charge, the dispute fee
   on a dispute adjustment, currency conversion fees, and `tax` on those fees. Negative
   amounts (on refunds and dispute reversals) are fees Stripe gave back.
2. Standalone fee transactions (`type` stripe_fee, stripe_fx_fee, tax_fee): Billing,
   Radar, Connect, Invoicing and other product fees taken from the balance. Their cost is
   `-amount` (they take money out of the balance); their own fee_details, if any, add to it.

Rules (each has a fixture in tests/fixtures/stripe):

- One FOCUS row per Stripe fee detail, and one per standalone fee transaction.
- `application_fee` fee details are the platform's cut of a connected account's charge,
  not a charge by Stripe: they are not FOCUS rows of Stripe (counted in the mapper log).
- BilledCost = ListCost = ContractedCost = EffectiveCost = the amount in major units:
  minor units scaled by the currency's exponent as Stripe defines it (JPY and the other
  zero-decimal currencies 0, BHD/JOD/KWD/OMR/TND 3, everything else 2, ISK and HUF
  included). Exact Decimal, never float.
- ChargeCategory "Tax" for tax on fees, else "Usage". Refunded fees are negative rows of
  the same category in the period of the refund; ChargeClass stays null, because Stripe's
  monthly fee statement nets them in the month they happen (FOCUS reserves "Correction"
  for corrections to a previously invoiced billing period).
- ChargePeriod: the UTC day of the transaction, or the service period Stripe writes in a
  standalone fee's description ("Billing (2026-05-01 - 2026-05-31): ..."); BillingPeriod:
  the UTC calendar month of the transaction.
- BillingAccountId and SubAccountId: the Stripe account whose balance paid the fee (the
  platform, or a connected account).
- Service: from the fee's description (Billing, Radar, Connect, Tax, ...); processing,
  dispute and conversion fees are "Stripe Payments".
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import typing as t
from decimal import Decimal

from mapper_focus.registry import StreamMapping
from mapper_focus.rows import (
    MappingError,
    as_decimal,
    day_bounds,
    from_unix,
    iso,
    month_bounds,
    require,
    row_key,
)

if t.TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

PROVIDER = "Stripe"
STREAM = "balance_transactions"

ZERO_DECIMAL = frozenset(
    {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga"}
    | {"pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"}
)
THREE_DECIMAL = frozenset({"bhd", "jod", "kwd", "omr", "tnd"})
CURRENCY_CODE = re.compile(r"^[a-z]{3}$")

STRIPE_FEE_DETAIL_TYPES = {"stripe_fee": "Usage", "tax": "Tax"}
PLATFORM_FEE_DETAIL_TYPES = frozenset({"application_fee"})
STANDALONE_FEE_TYPES = {"stripe_fee": "Usage", "stripe_fx_fee": "Usage", "tax_fee": "Tax"}

# Description prefix -> (ServiceName, ServiceCategory, ServiceSubcategory)
BUSINESS = ("Business Applications", "Other (Business Applications)")
# Stripe names product fees "<Product> (<start> - <end>): <detail>" or "<Product> - ...".
SERVICES: tuple[tuple[re.Pattern[str], tuple[str, str, str]], ...] = tuple(
    (re.compile(rf"^(stripe )?{product}( \(| -|:)", re.IGNORECASE), service)
    for product, service in (
        ("billing", ("Stripe Billing", *BUSINESS)),
        ("invoicing", ("Stripe Invoicing", *BUSINESS)),
        ("connect", ("Stripe Connect", *BUSINESS)),
        ("radar", ("Stripe Radar", "Security", "Threat Detection and Response")),
        ("tax", ("Stripe Tax", *BUSINESS)),
        ("identity", ("Stripe Identity", "Identity", "Other (Identity)")),
        ("sigma", ("Stripe Sigma", "Analytics", "Business Intelligence")),
        ("data pipeline", ("Stripe Data Pipeline", "Analytics", "Data Processing")),
        ("terminal", ("Stripe Terminal", *BUSINESS)),
        ("issuing", ("Stripe Issuing", *BUSINESS)),
        ("climate", ("Stripe Climate", "Other", "Other (Other)")),
    )
)
PAYMENTS = ("Stripe Payments", *BUSINESS)
SERVICE_PERIOD = re.compile(r"\((\d{4}-\d{2}-\d{2})\s*-\s*(\d{4}-\d{2}-\d{2})\)")

CUSTOM_COLUMNS: dict[str, dict] = {
    "x_StripeBalanceTransactionType": {"type": ["string", "null"]},
    "x_StripeReportingCategory": {"type": ["string", "null"]},
    "x_StripeFeeType": {"type": ["string", "null"]},
    "x_StripeSource": {"type": ["string", "null"], "description": "charge, refund, ... id"},
}


def currency_exponent(currency: str) -> int:
    if currency in ZERO_DECIMAL:
        return 0
    if currency in THREE_DECIMAL:
        return 3
    return 2


def to_major_units(amount: object, currency: str, where: tuple[str, str | None, str]) -> Decimal:
    minor = as_decimal(amount, where=where)
    if minor != minor.to_integral_value():
        raise MappingError(*where, f"Stripe amounts are whole minor units, got {amount!r}")
    return minor.scaleb(-currency_exponent(currency))


@functools.lru_cache(maxsize=4096)  # a few hundred distinct descriptions per account
def service_for(description: str | None) -> tuple[str, str, str]:
    text = (description or "").strip()
    for pattern, service in SERVICES:
        if pattern.match(text):
            return service
    return PAYMENTS


def charge_period(description: str | None, created: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The service period a standalone fee names, else the UTC day it was charged."""
    match = SERVICE_PERIOD.search(description or "")
    if match:
        start = dt.datetime.fromisoformat(match.group(1)).replace(tzinfo=dt.UTC)
        last = dt.datetime.fromisoformat(match.group(2)).replace(tzinfo=dt.UTC)
        if start <= last:
            return start, last + dt.timedelta(days=1)
    return day_bounds(created)


def record_id(record: Mapping[str, t.Any]) -> str | None:
    value = record.get("id")
    return None if value is None else str(value)


def map_balance_transaction(bt: Mapping[str, t.Any]) -> Iterator[dict[str, t.Any]]:
    """FOCUS rows for one Stripe balance transaction (none if Stripe charged nothing)."""
    bt_id = str(require(bt, "id", STREAM, None))
    account = str(require(bt, "account_id", STREAM, bt_id))
    created = from_unix(require(bt, "created", STREAM, bt_id))
    bt_type = str(require(bt, "type", STREAM, bt_id))
    fee_details = bt.get("fee_details") or []
    if not isinstance(fee_details, list):
        raise MappingError(STREAM, bt_id, "fee_details", "expected a list")

    for index, fee in enumerate(fee_details):
        column = f"fee_details[{index}]"
        fee_type = fee.get("type")
        if fee_type in PLATFORM_FEE_DETAIL_TYPES:
            continue
        if fee_type not in STRIPE_FEE_DETAIL_TYPES:
            raise MappingError(
                STREAM, bt_id, f"{column}.type", f"unknown Stripe fee type {fee_type!r}"
            )
        currency = _currency(fee.get("currency"), bt_id, f"{column}.currency")
        cost = to_major_units(fee.get("amount"), currency, (STREAM, bt_id, f"{column}.amount"))
        yield _row(
            bt,
            account=account,
            created=created,
            currency=currency,
            cost=cost,
            category=STRIPE_FEE_DETAIL_TYPES[fee_type],
            description=fee.get("description") or bt.get("description"),
            fee_type=fee_type,
            component=f"fee:{index}",
            per_transaction=True,
        )

    if bt_type in STANDALONE_FEE_TYPES:
        currency = _currency(bt.get("currency"), bt_id, "currency")
        # The transaction takes money out of the balance: its cost is -amount.
        cost = -to_major_units(bt.get("amount"), currency, (STREAM, bt_id, "amount"))
        yield _row(
            bt,
            account=account,
            created=created,
            currency=currency,
            cost=cost,
            category=STANDALONE_FEE_TYPES[bt_type],
            description=bt.get("description"),
            fee_type=bt_type,
            component="amount",
            per_transaction=False,
        )


def _currency(value: object, bt_id: str, column: str) -> str:
    currency = str(value or "").lower()
    if not CURRENCY_CODE.match(currency):
        raise MappingError(STREAM, bt_id, column, f"not a currency code: {value!r}")
    return currency


def _row(
    bt: Mapping[str, t.Any],
    *,
    account: str,
    created: dt.datetime,
    currency: str,
    cost: Decimal,
    category: str,
    description: str | None,
    fee_type: str,
    component: str,
    per_transaction: bool,
) -> dict[str, t.Any]:
    service_name, service_category, service_subcategory = service_for(description)
    charge_start, charge_end = (
        day_bounds(created) if per_transaction else charge_period(description, created)
    )
    billing_start, billing_end = month_bounds(created)
    is_usage = category == "Usage"
    quantity = (Decimal(-1) if cost < 0 else Decimal(1)) if is_usage else None
    unit = ("Transactions" if per_transaction else "Units") if is_usage else None
    return {
        "BilledCost": cost,
        "EffectiveCost": cost,
        "ListCost": cost,
        "ContractedCost": cost,
        "BillingCurrency": currency.upper(),
        "BillingAccountId": account,
        "BillingAccountName": None,
        "BillingAccountType": "Stripe Account",
        "SubAccountId": account,
        "SubAccountName": account,  # the id is the name we have; FOCUS needs one with an id
        "SubAccountType": "Stripe Account",
        "BillingPeriodStart": iso(billing_start),
        "BillingPeriodEnd": iso(billing_end),
        "ChargePeriodStart": iso(charge_start),
        "ChargePeriodEnd": iso(charge_end),
        "ChargeCategory": category,
        "ChargeClass": None,
        "ChargeDescription": description,
        "ChargeFrequency": "Usage-Based" if per_transaction else "Recurring",
        "PricingQuantity": quantity,
        "PricingUnit": unit,
        "ConsumedQuantity": quantity,
        "ConsumedUnit": unit,
        "PricingCategory": "Standard" if is_usage else None,
        "ServiceName": service_name,
        "ServiceCategory": service_category,
        "ServiceSubcategory": service_subcategory,
        "ServiceProviderName": PROVIDER,
        "HostProviderName": PROVIDER,
        "InvoiceIssuerName": PROVIDER,
        "ProviderName": PROVIDER,
        "PublisherName": PROVIDER,
        "x_SourceStream": STREAM,
        "x_SourceRecordId": str(bt["id"]),
        "x_RowKey": row_key("stripe", STREAM, account, bt["id"], component),
        "x_StripeBalanceTransactionType": bt.get("type"),
        "x_StripeReportingCategory": bt.get("reporting_category"),
        "x_StripeFeeType": fee_type,
        "x_StripeSource": _source_id(bt.get("source")),
    }


def _source_id(source: object) -> str | None:
    if isinstance(source, dict):
        return str(source.get("id")) if source.get("id") else None
    return None if source is None else str(source)


MAPPINGS = (
    StreamMapping(
        provider="stripe",
        stream=STREAM,
        required_properties=frozenset({"id", "account_id", "created", "type", "fee_details"}),
        map_record=map_balance_transaction,
        record_id=record_id,
        custom_columns=CUSTOM_COLUMNS,
    ),
)
