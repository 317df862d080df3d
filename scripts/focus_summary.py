"""Print a FOCUS dataset's cost by provider, service and billing month (exact decimals).

python scripts/focus_summary.py output/demo/focus
"""

from __future__ import annotations

import collections
import json
import sys
from decimal import Decimal
from pathlib import Path

import pyarrow.dataset as ds

ZERO_DECIMAL = {
    "BIF",
    "CLP",
    "DJF",
    "GNF",
    "JPY",
    "KMF",
    "KRW",
    "MGA",
    "PYG",
    "RWF",
    "UGX",
    "VND",
    "VUV",
    "XAF",
    "XOF",
    "XPF",
}


def money(value: Decimal, currency: str) -> str:
    """Exact, without the dataset's storage scale: 2 decimals (0 for yen), more if needed."""
    places = max(-value.normalize().as_tuple().exponent, 0 if currency in ZERO_DECIMAL else 2)
    return f"{value:,.{places}f}"


def main(path: str) -> int:
    root = Path(path)
    data = root / "data"
    if not data.exists():
        print(f"no FOCUS dataset at {root}", file=sys.stderr)
        return 1
    columns = [
        "ServiceProviderName",
        "ServiceName",
        "BillingPeriodStart",
        "BillingCurrency",
        "BilledCost",
    ]
    table = ds.dataset(data, format="parquet", partitioning="hive").to_table(columns=columns)
    totals: dict[tuple, Decimal] = collections.defaultdict(Decimal)
    rows: collections.Counter[tuple] = collections.Counter()
    for batch in table.to_batches():
        for provider, service, period, currency, cost in zip(
            *batch.to_pydict().values(), strict=True
        ):
            key = (provider, service, period.strftime("%Y-%m"), currency)
            totals[key] += cost
            rows[key] += 1
    width = max((len(k[1]) for k in totals), default=10)
    print(f"\nFOCUS dataset: {root}  ({table.num_rows} rows)")
    print(f"{'provider':<10} {'service':<{width}} {'month':<8} {'rows':>6} {'BilledCost':>16}")
    for key in sorted(totals):
        provider, service, month, currency = key
        print(
            f"{provider:<10} {service:<{width}} {month:<8} {rows[key]:>6} "
            f"{money(totals[key], currency):>16} {currency}"
        )
    audits = sorted((root / "_audit").glob("*.json"))
    if audits:
        audit = json.loads(audits[-1].read_text())
        counts = audit.get("rows", {})
        print(
            f"last run {audit.get('status')}: {counts.get('in')} rows in, "
            f"{counts.get('written')} written, {counts.get('quarantined')} quarantined; "
            f"audit {audits[-1].relative_to(root)}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "output/focus"))
