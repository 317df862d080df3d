"""What the AWS mappings (CUR 2.0, legacy CUR, AWS's FOCUS export) share.

Names (provider, account types), the custom columns every AWS row carries, exact
decimals and cached timestamp normalisation. A data module: it declares no stream.
"""

from __future__ import annotations

import datetime as dt
import typing as t
from decimal import Decimal

from mapper_focus.rows import DELIVERY_SCOPE_COLUMN, MappingError, iso

if t.TYPE_CHECKING:
    from collections.abc import Mapping

#: ProviderName / ServiceProviderName / HostProviderName of AWS's own services, as AWS's
#: FOCUS export writes them.
AWS = "AWS"
MARKETPLACE = "AWS Marketplace"
#: InvoiceIssuerName when the CUR has no bill_invoicing_entity column (older exports).
DEFAULT_INVOICE_ISSUER = "Amazon Web Services, Inc."
#: BillingAccountId is the payer (management) account; SubAccountId the usage account.
BILLING_ACCOUNT_TYPE = "Payer Account"
SUB_ACCOUNT_TYPE = "Linked Account"

ZERO = Decimal(0)
ONE = Decimal(1)

_STRING = {"type": ["string", "null"]}
_DECIMAL = {"type": ["number", "null"]}
_OBJECT = {"type": ["object", "null"]}

#: Custom columns of every AWS row (CUR and FOCUS export alike, so one table holds both).
CUSTOM_COLUMNS: dict[str, dict] = {
    "x_DeliveryId": {
        "type": ["string"],
        "description": "tap-aws delivery the row came from; target-focus replaces a "
        "re-delivered billing period by it",
    },
    **DELIVERY_SCOPE_COLUMN,
    "x_AwsLineItemType": {**_STRING, "description": "CUR line_item_line_item_type"},
    "x_AwsLineItemId": {**_STRING, "description": "CUR identity_line_item_id"},
    "x_AwsUsageType": {**_STRING, "description": "CUR line_item_usage_type"},
    "x_AwsOperation": {**_STRING, "description": "CUR line_item_operation"},
    "x_AwsProductCode": {**_STRING, "description": "CUR line_item_product_code"},
    "x_AwsServiceCode": {**_STRING, "description": "CUR product_servicecode"},
    "x_AwsBillingEntity": {**_STRING, "description": "CUR bill_billing_entity"},
    "x_AwsInvoicingEntity": {
        **_STRING,
        "description": "CUR bill_invoicing_entity: the legal entity on the invoice",
    },
    "x_AwsUnblendedCost": {
        **_DECIMAL,
        "description": "CUR line_item_unblended_cost (BilledCost is net unblended when "
        "the export has net columns)",
    },
    "x_AwsCostCategories": {**_OBJECT, "description": "AWS cost categories of the line"},
    "x_AwsDiscounts": {**_OBJECT, "description": "CUR 2.0 discount map / FOCUS x_Discounts"},
}


def decimal_or_none(value: object, where: tuple[str, str | None, str]) -> Decimal | None:
    """Exact decimal of a raw value; None for null and empty text; floats are refused."""
    if value is None or value == "":
        return None
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise MappingError(*where, f"not a finite number: {value!r}")
        return value
    if isinstance(value, str):
        try:
            result = Decimal(value)
        except ArithmeticError:
            raise MappingError(*where, f"not a number: {value!r}") from None
        if not result.is_finite():
            raise MappingError(*where, f"not a finite number: {value!r}")
        return result
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    raise MappingError(*where, f"expected an exact number, got {value!r}")


class Timestamps:
    """ISO 8601 text -> FOCUS date/time text, parsed once per distinct value.

    A month of hourly CUR rows has ~750 distinct usage timestamps, so a small cache turns
    per-row datetime parsing into a dict lookup. Bounded, so odd inputs cannot grow it.
    """

    LIMIT = 50_000

    def __init__(self) -> None:
        self.cache: dict[str, tuple[dt.datetime, str]] = {}

    def parse(self, value: object, where: tuple[str, str | None, str]) -> tuple[dt.datetime, str]:
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
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=dt.UTC)  # CUR timestamps are UTC
            moment = moment.astimezone(dt.UTC)
            result = (moment, iso_exact(moment))
            if len(self.cache) >= self.LIMIT:
                self.cache.clear()
            self.cache[value] = result
            return result
        if isinstance(value, dt.datetime):
            moment = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
            moment = moment.astimezone(dt.UTC)
            return moment, iso_exact(moment)
        if value is None or value == "":
            raise MappingError(*where, "required field is missing")
        raise MappingError(*where, f"not a date/time: {value!r}")


def iso_exact(moment: dt.datetime) -> str:
    """FOCUS date/time text; a fraction of a second is kept, never dropped."""
    if moment.microsecond:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return iso(moment)


def month_of(billing_period: object, where: tuple[str, str | None, str]) -> tuple[str, str]:
    """FOCUS text bounds of a tap billing_period "YYYY-MM"."""
    text = str(billing_period or "")
    try:
        year, month = int(text[:4]), int(text[5:7])
        if len(text) != 7 or text[4] != "-":
            raise ValueError(text)
        start = dt.datetime(year, month, 1, tzinfo=dt.UTC)
    except ValueError:
        raise MappingError(*where, f"expected YYYY-MM, got {billing_period!r}") from None
    end = (start + dt.timedelta(days=32)).replace(day=1)
    return iso(start), iso(end)


def record_id(record: Mapping[str, t.Any]) -> str | None:
    """A raw AWS record is named by the export file and row it was read from."""
    source, row = record.get("source_file"), record.get("row_number")
    if source is None and row is None:
        return None
    return f"{source}:{row}"


def is_aws_entity(name: str | None) -> bool:
    """Whether a seller / publisher name is AWS itself (not a Marketplace seller)."""
    if not name:
        return True
    folded = name.casefold()
    return folded.startswith(("aws", "amazon web services", "amazon.com"))


MAPPINGS: tuple[()] = ()  # a helper module: no stream of its own


# AWS writes time in units as "Hrs" and "Mo" ("GB-Mo", "LCU-Hrs"); FOCUS unit format
# spells plural time units out ("GB-Months"). A rename only: quantities and prices keep
# their scale, so ListUnitPrice x PricingQuantity stays exact.
_TIME_SUFFIXES = (
    ("-Hrs", "-Hours"),
    ("-Hr", "-Hours"),
    ("-Hour", "-Hours"),
    ("-Mo", "-Months"),
    ("-Month", "-Months"),
    ("-Second", "-Seconds"),
    ("-Minute", "-Minutes"),
    ("-Day", "-Days"),
)
_STANDALONE = {"Hrs": "Hours", "Hr": "Hours", "Mo": "Months", "Lambda-GB-Second": "GB-Seconds"}


def focus_unit(unit: str | None) -> str | None:
    """An AWS unit in FOCUS unit format: "GB-Mo" -> "GB-Months", "Hrs" -> "Hours"."""
    if not unit:
        return unit
    if unit in _STANDALONE:
        return _STANDALONE[unit]
    for suffix, focus in _TIME_SUFFIXES:
        if unit.endswith(suffix):
            return unit[: -len(suffix)] + focus
    return unit
