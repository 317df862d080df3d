"""Throughput and peak memory of target-focus writing N FOCUS rows (default 200,000).

    cd /work/main && uv run --package finfocus-target-focus \
        python target-focus/scripts/bench_write.py [--rows 200000] [--format parquet|csv]

Writes a Singer message file of N FOCUS 1.3 rows (a Stripe-like fee row: every column
present, Decimal costs, ISO date/times, a Tags object, 4 custom columns; 2 accounts x 3
months = 6 partitions), then times `target-focus --config ...` reading it in a separate
process, twice: into an empty folder (creates the partitions) and again into the same
folder (every row restated: read, merge, replace). Prints rows/s and the child's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import simplejson
from focus_spec import get_spec

CUSTOM = {
    "x_SourceStream": {"type": ["string"]},
    "x_SourceRecordId": {"type": ["string"]},
    "x_RowKey": {"type": ["string"]},
    "x_StripeFeeType": {"type": ["string", "null"]},
}


def row(index: int) -> dict:
    spec = get_spec("1.3")
    month = index % 3 + 1
    day = index % 28 + 1
    account = f"acct_{index % 2}"
    cost = Decimal(index % 997 + 1).scaleb(-2)
    values = dict.fromkeys(spec.column_names)
    values.update(
        {
            "BilledCost": cost,
            "EffectiveCost": cost,
            "ListCost": cost,
            "ContractedCost": cost,
            "ListUnitPrice": cost,
            "ContractedUnitPrice": cost,
            "PricingCurrency": "USD",
            "PricingCurrencyEffectiveCost": cost,
            "PricingCurrencyListUnitPrice": cost,
            "PricingCurrencyContractedUnitPrice": cost,
            "BillingCurrency": "USD",
            "BillingAccountId": account,
            "BillingAccountName": "Bench Co",
            "BillingAccountType": "Stripe Account",
            "SubAccountId": account,
            "SubAccountName": "Bench Co",
            "SubAccountType": "Stripe Account",
            "BillingPeriodStart": f"2025-{month:02d}-01T00:00:00Z",
            "BillingPeriodEnd": f"2025-{month + 1:02d}-01T00:00:00Z",
            "ChargePeriodStart": f"2025-{month:02d}-{day:02d}T00:00:00Z",
            "ChargePeriodEnd": f"2025-{month:02d}-{day:02d}T23:59:59Z",
            "ChargeCategory": "Usage",
            "ChargeDescription": "Stripe processing fees",
            "ChargeFrequency": "Usage-Based",
            "PricingCategory": "Standard",
            "PricingQuantity": Decimal(1),
            "PricingUnit": "Transactions",
            "ConsumedQuantity": Decimal(1),
            "ConsumedUnit": "Transactions",
            "SkuId": "stripe-card-processing",
            "SkuPriceId": "stripe-card-processing-usd",
            "ServiceName": "Stripe Payments",
            "ServiceCategory": "Business Applications",
            "ServiceSubcategory": "Other (Business Applications)",
            "ServiceProviderName": "Stripe",
            "HostProviderName": "Stripe",
            "InvoiceIssuerName": "Stripe",
            "ProviderName": "Stripe",
            "PublisherName": "Stripe",
            "Tags": {"env": "prod"},
            "x_SourceStream": "balance_transactions",
            "x_SourceRecordId": f"txn_{index}",
            "x_RowKey": f"{index:032x}",
            "x_StripeFeeType": "stripe_fee",
        }
    )
    return values


def write_input(path: Path, rows: int) -> None:
    schema = get_spec("1.3").json_schema(custom_columns=CUSTOM)
    with path.open("w") as handle:
        handle.write(
            json.dumps(
                {
                    "type": "SCHEMA",
                    "stream": "focus_cost_and_usage",
                    "schema": schema,
                    "key_properties": ["x_RowKey"],
                }
            )
            + "\n"
        )
        for index in range(rows):
            message = {"type": "RECORD", "stream": "focus_cost_and_usage", "record": row(index)}
            handle.write(simplejson.dumps(message, use_decimal=True) + "\n")
        handle.write(json.dumps({"type": "STATE", "value": {"rows": rows}}) + "\n")


def run(input_path: Path, config_path: Path) -> tuple[float, int]:
    """Seconds and peak RSS (KiB) of one target-focus process."""
    target = Path(sys.executable).parent / "target-focus"
    started = time.perf_counter()
    with input_path.open() as stdin:
        subprocess.run(
            [str(target), "--config", str(config_path)],
            stdin=stdin,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=True,
        )
    elapsed = time.perf_counter() - started
    return elapsed, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--format", choices=["parquet", "csv"], default="parquet")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="target-focus-bench-") as folder:
        root = Path(folder)
        input_path = root / "input.jsonl"
        write_input(input_path, args.rows)
        size = input_path.stat().st_size / 2**20
        config_path = root / "config.json"
        config_path.write_text(
            json.dumps({"output_path": str(root / "out"), "format": args.format})
        )
        print(f"{args.rows:,} FOCUS 1.3 rows, {size:.0f} MiB of Singer messages, {args.format}")
        for label in ("first load (6 new partitions)", "same load again (all restated)"):
            seconds, peak = run(input_path, config_path)
            print(
                f"{label}: {seconds:.1f} s, {args.rows / seconds:,.0f} rows/s, "
                f"peak RSS {peak / 1024:.0f} MiB"
            )


if __name__ == "__main__":
    main()
