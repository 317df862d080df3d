"""How many rows per second ``FocusSpec.validate_row`` checks, on one core.

    uv run --package finfocus-focus-spec python packages/focus-spec/scripts/bench_validate_row.py

Two typical 40-column FOCUS 1.3 Usage rows: one with Python values as the mapper emits
them (Decimal, aware datetime, dict tags), one with text values as read back from CSV
(decimal text, ISO 8601 text, JSON text tags). Prints the best of several runs.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from focus_spec import get_spec

TYPED_ROW: dict[str, Any] = {
    "BilledCost": Decimal("0.0832"),
    "BillingAccountId": "123456789012",
    "BillingAccountName": "Acme",
    "BillingCurrency": "USD",
    "BillingPeriodEnd": datetime(2025, 2, 1, tzinfo=UTC),
    "BillingPeriodStart": datetime(2025, 1, 1, tzinfo=UTC),
    "ChargeCategory": "Usage",
    "ChargeClass": None,
    "ChargeDescription": "t3.large On Demand Linux",
    "ChargeFrequency": "Usage-Based",
    "ChargePeriodEnd": datetime(2025, 1, 1, 1, tzinfo=UTC),
    "ChargePeriodStart": datetime(2025, 1, 1, 0, tzinfo=UTC),
    "CommitmentDiscountId": None,
    "CommitmentDiscountStatus": None,
    "ConsumedQuantity": Decimal("1"),
    "ConsumedUnit": "Hours",
    "ContractedCost": Decimal("0.0832"),
    "ContractedUnitPrice": Decimal("0.0832"),
    "EffectiveCost": Decimal("0.0832"),
    "HostProviderName": "AWS",
    "InvoiceIssuerName": "AWS",
    "ListCost": Decimal("0.0832"),
    "ListUnitPrice": Decimal("0.0832"),
    "PricingCategory": "Standard",
    "PricingQuantity": Decimal("1"),
    "PricingUnit": "Hours",
    "ProviderName": "AWS",
    "PublisherName": "AWS",
    "RegionId": "us-east-1",
    "RegionName": "US East (N. Virginia)",
    "ResourceId": "i-0abc",
    "ResourceType": "Virtual Machine",
    "ServiceCategory": "Compute",
    "ServiceName": "Amazon EC2",
    "ServiceProviderName": "AWS",
    "ServiceSubcategory": "Virtual Machines",
    "SkuId": "SKU1",
    "SkuPriceId": "SKU1-OD",
    "SubAccountId": "123456789012",
    "Tags": {"env": "dev", "team": "web"},
}

TEXT_ROW: dict[str, Any] = {
    name: (
        format(value, "f")
        if isinstance(value, Decimal)
        else value.strftime("%Y-%m-%dT%H:%M:%SZ")
        if isinstance(value, datetime)
        else '{"env": "dev", "team": "web"}'
        if isinstance(value, dict)
        else value
    )
    for name, value in TYPED_ROW.items()
}


def rows_per_second(row: dict[str, Any], count: int, repeats: int = 5) -> float:
    validate = get_spec("1.3").validate_row
    assert validate(row) == [], validate(row)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(count):
            validate(row)
        best = min(best, time.perf_counter() - start)
    return count / best


def main() -> int:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    print(f"python {sys.version.split()[0]}, {len(TYPED_ROW)} columns, {count} rows per run")
    print(f"typed values: {rows_per_second(TYPED_ROW, count):>10,.0f} rows/s")
    print(f"text values:  {rows_per_second(TEXT_ROW, count):>10,.0f} rows/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
