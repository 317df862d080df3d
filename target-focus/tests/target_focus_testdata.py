"""Shared test data for the target-focus tests: valid FOCUS rows and Singer messages.

(A plain module rather than conftest.py fixtures: one pytest run collects every package's
tests, and helpers are easier to read as functions.)
"""

from __future__ import annotations

import io
import json
import typing as t
from contextlib import redirect_stdout
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import simplejson
from focus_spec import get_spec
from target_focus.target import TargetFocus

REPO_ROOT = Path(__file__).resolve().parents[2]
FOCUS_VALIDATE = REPO_ROOT.parent / "shared" / "tools" / "focus-validate"
STREAM = "focus_cost_and_usage"
CUSTOM_COLUMNS = {
    "x_SourceStream": {"type": ["string"]},
    "x_SourceRecordId": {"type": ["string"]},
    "x_RowKey": {"type": ["string"]},
    "x_StripeFeeType": {"type": ["string", "null"]},
}


def stripe_row(
    key: str,
    *,
    cost: Decimal | str = "0.59",
    version: str = "1.3",
    account: str = "acct_1Test",
    month: int = 1,
    day: int = 5,
    provider: str = "Stripe",
    **columns: t.Any,
) -> dict[str, t.Any]:
    """A valid FOCUS row: a Stripe processing fee of ``cost`` USD on ``day`` of ``month`` 2025.

    Every column of the version is present (nulls where Stripe has nothing), as mapper-focus
    sends them; ``columns`` overrides any column.
    """
    amount = Decimal(cost)
    unit_price = abs(amount)  # a refunded fee: quantity -1 at the fee's (positive) price
    quantity = Decimal(-1) if amount < 0 else Decimal(1)
    spec = get_spec(version)
    row: dict[str, t.Any] = dict.fromkeys(spec.column_names)
    next_month = f"2025-{month + 1:02d}-01T00:00:00Z" if month < 12 else "2026-01-01T00:00:00Z"
    row.update(
        {
            "BilledCost": amount,
            "EffectiveCost": amount,
            "ListCost": amount,
            "ContractedCost": amount,
            "ListUnitPrice": unit_price,
            "ContractedUnitPrice": unit_price,
            "PricingCurrency": "USD",
            "PricingCurrencyEffectiveCost": amount,
            "PricingCurrencyListUnitPrice": unit_price,
            "PricingCurrencyContractedUnitPrice": unit_price,
            "BillingCurrency": "USD",
            "BillingAccountId": account,
            "BillingAccountName": "Test Co",
            "BillingAccountType": "Stripe Account",
            "SubAccountId": account,
            "SubAccountName": "Test Co",
            "SubAccountType": "Stripe Account",
            "BillingPeriodStart": f"2025-{month:02d}-01T00:00:00Z",
            "BillingPeriodEnd": next_month,
            "ChargePeriodStart": f"2025-{month:02d}-{day:02d}T00:00:00Z",
            "ChargePeriodEnd": f"2025-{month:02d}-{day + 1:02d}T00:00:00Z",
            "ChargeCategory": "Usage",
            "ChargeDescription": "Stripe processing fees",
            "ChargeFrequency": "Usage-Based",
            "PricingCategory": "Standard",
            "PricingQuantity": quantity,
            "PricingUnit": "Transactions",
            "ConsumedQuantity": quantity,
            "ConsumedUnit": "Transactions",
            "SkuId": "stripe-card-processing",
            "SkuPriceId": "stripe-card-processing-usd",
            "ServiceName": "Stripe Payments",
            "ServiceCategory": "Business Applications",
            "ServiceSubcategory": "Other (Business Applications)",
            "InvoiceIssuerName": provider,
            "ProviderName": provider,
            "PublisherName": provider,
            "Tags": {"env": "test", "rate": Decimal("0.029")},
            "x_SourceStream": "balance_transactions",
            "x_SourceRecordId": f"txn_{key}",
            "x_RowKey": key,
            "x_StripeFeeType": "stripe_fee",
        }
    )
    if version != "1.2":
        row["ServiceProviderName"] = provider
        row["HostProviderName"] = provider
    row.update(columns)
    return row


def schema_message(version: str = "1.3", stream: str = STREAM) -> dict[str, t.Any]:
    return {
        "type": "SCHEMA",
        "stream": stream,
        "schema": get_spec(version).json_schema(custom_columns=CUSTOM_COLUMNS),
        "key_properties": ["x_RowKey"],
    }


def record_message(row: dict[str, t.Any], stream: str = STREAM) -> dict[str, t.Any]:
    return {"type": "RECORD", "stream": stream, "record": row}


def state_message(value: dict[str, t.Any]) -> dict[str, t.Any]:
    return {"type": "STATE", "value": value}


def singer_lines(messages: t.Iterable[dict[str, t.Any]]) -> str:
    """Messages as Singer JSON lines; Decimals written as exact JSON numbers."""
    return "".join(simplejson.dumps(m, use_decimal=True) + "\n" for m in messages)


def focus_messages(rows: t.Iterable[dict[str, t.Any]], version: str = "1.3") -> list[dict]:
    return [schema_message(version), *(record_message(row) for row in rows)]


def run_target(config: dict[str, t.Any], messages: t.Iterable[dict[str, t.Any]]) -> list[str]:
    """Run the target in-process over ``messages``; returns the lines it wrote to stdout."""
    target = TargetFocus(config=config)
    stdout = io.StringIO()

    with redirect_stdout(stdout):
        target.listen(io.StringIO(singer_lines(messages)))
    return stdout.getvalue().splitlines()


def data_files(root: Path) -> list[Path]:
    return sorted(p for p in (root / "data").rglob("part-0.*"))


def parquet_rows(path: Path) -> list[dict[str, t.Any]]:
    return pq.read_table(path).to_pylist()


def audit_records(root: Path) -> list[dict[str, t.Any]]:
    return [json.loads(p.read_text()) for p in sorted((root / "_audit").glob("*.json"))]
