"""Realistic AWS billing deliveries written to S3 as AWS lays them out (see deliveries.py).

    s3 = boto3.client("s3", endpoint_url=moto_url, ...)
    d = write_cur2_delivery(s3, "billing", "cur2", "finfocus", "2026-01", rows=50_000, seed=1)
    d.manifest_key, d.files, d.execution_id, d.totals.unblended_cost

Kinds: CUR 2.0 (Data Exports COST_AND_USAGE_REPORT; Parquet or gzip CSV), the AWS FOCUS 1.0
export (FOCUS_1_0_AWS), and legacy CUR (gzip CSV with assembly folders, or the Athena
Parquet layout). Deterministic from the seed; any number of rows in bounded memory.
"""

from finfocus_sandbox.aws.deliveries import (
    CREATE_NEW,
    OVERWRITE,
    Delivery,
    Totals,
    focus_row,
    focus_rows,
    write_cur2_delivery,
    write_focus_export_delivery,
    write_legacy_cur_delivery,
)
from finfocus_sandbox.aws.lineitems import (
    LineItemGenerator,
    Organisation,
    amortized_cost,
    period_bounds,
)

__all__ = [
    "CREATE_NEW",
    "OVERWRITE",
    "Delivery",
    "LineItemGenerator",
    "Organisation",
    "Totals",
    "amortized_cost",
    "focus_row",
    "focus_rows",
    "period_bounds",
    "write_cur2_delivery",
    "write_focus_export_delivery",
    "write_legacy_cur_delivery",
]
