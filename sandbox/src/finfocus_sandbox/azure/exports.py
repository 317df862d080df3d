"""Cost Management exports written to Blob Storage (Azurite in tests) as Microsoft lays them out.

An export run writes its data files and a manifest into its own folder, partitioned by run:

    <prefix>/<export-name>/<YYYYMMDD-YYYYMMDD>/<yyyyMMddHHmm>/<run-id>/part_0_0001.csv[.gz]
    <prefix>/<export-name>/<YYYYMMDD-YYYYMMDD>/<yyyyMMddHHmm>/<run-id>/manifest.json

The manifest is the one Microsoft's FinOps toolkit documents for exports API
2023-07-01-preview and later: `exportConfig` (exportName, resourceId, dataVersion,
apiVersion, type: ActualCost | AmortizedCost | FocusCost, timeFrame, granularity),
`deliveryConfig` (partitionData, dataOverwriteBehavior, fileFormat, compressionMode,
containerUri, rootFolderPath), `runInfo` (executionType, submittedTime, runId, startDate,
endDate) and `blobs` ([{blobName, byteCount, dataRowCount}]), plus manifestVersion,
byteCount, blobCount and dataRowCount at the top. A later run of the same export and
month (Azure re-runs month-to-date exports daily, and re-runs closed months when it
restates them) is a new run folder that supersedes the older one; with
`overwrite=True` (OverwritePreviousReport) the older runs' files are deleted first.

Not verified against a live export (no network here): the exact top-level manifest keys
beyond those FinOps hubs read, and the `part_<n>_<nnnn>` file naming.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from finfocus_sandbox.azure.columns import DATA_VERSION, FOCUS_COLUMNS
from finfocus_sandbox.azure.dataset import AzureDataset, next_month

if TYPE_CHECKING:
    from azure.storage.blob import ContainerClient

EXPORT_TYPES = ("ActualCost", "AmortizedCost", "FocusCost")
DEFAULT_ROWS_PER_FILE = 200_000


@dataclass(frozen=True)
class ExportRun:
    """What one export run wrote, with exact totals of its files."""

    export_name: str
    export_type: str
    billing_period: str  # YYYY-MM
    run_id: str
    submitted_time: str
    manifest_blob: str
    files: tuple[str, ...]
    rows: int
    cost: Decimal  # sum of the billing-currency cost column (FocusCost: BilledCost)
    effective_cost: Decimal  # FocusCost: sum of EffectiveCost; otherwise == cost


def _period_bounds(period: str) -> tuple[dt.date, dt.date]:
    year, month = (int(p) for p in period.split("-"))
    start = dt.date(year, month, 1)
    return start, next_month(start)


def write_export_run(
    container: ContainerClient,
    dataset: AzureDataset,
    export_name: str,
    export_type: str,
    period: str,
    *,
    prefix: str = "exports",
    run_id: str | None = None,
    submitted_at: dt.datetime | None = None,
    rows_per_file: int = DEFAULT_ROWS_PER_FILE,
    compress: bool = False,
    overwrite: bool = False,
    scope: str | None = None,
) -> ExportRun:
    """Write one run of an export for billing period `period` (YYYY-MM) into `container`.

    Rows are the dataset's for the month up to its `today` (a month-to-date run for the
    open month). `scope` defaults to the billing account (EA) or billing profile (MCA).
    """
    if export_type not in EXPORT_TYPES:
        raise ValueError(f"export_type must be one of {EXPORT_TYPES}, got {export_type!r}")
    start, end = _period_bounds(period)
    scope = scope or (
        dataset.billing_account_scope
        if dataset.agreement == "EA"
        else dataset.billing_profile_scope
    )
    run_id = run_id or str(uuid.uuid4())
    submitted = submitted_at or dt.datetime.now(tz=dt.UTC)
    prefix = prefix.strip("/")
    date_range = f"{start:%Y%m%d}-{end - dt.timedelta(days=1):%Y%m%d}"
    base = "/".join(p for p in (prefix, export_name, date_range) if p)
    folder = f"{base}/{submitted:%Y%m%d%H%M}/{run_id}"
    if overwrite:
        for blob in container.list_blobs(name_starts_with=base + "/"):
            container.delete_blob(blob.name)
    if export_type == "FocusCost":
        columns: tuple[str, ...] = FOCUS_COLUMNS
        rows = dataset.focus_rows(start, end, scope)
        cost_index = columns.index("BilledCost")
        effective_index: int | None = columns.index("EffectiveCost")
    else:
        columns = dataset.columns
        rows = dataset.rows(export_type, start, end, scope)
        cost_index = columns.index(dataset.cost_column)
        effective_index = None
    files: list[tuple[str, int, int]] = []
    cost = effective = Decimal(0)
    count = 0
    batch: list[list[str]] = []

    def flush() -> None:
        if not batch and files:
            return
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(columns)
        writer.writerows(batch)
        data = buffer.getvalue().encode("utf-8-sig")
        name = f"{folder}/part_0_{len(files) + 1:04d}.csv"
        if compress:
            data, name = gzip.compress(data, mtime=0), name + ".gz"
        container.upload_blob(name, data, overwrite=True)
        files.append((name, len(data), len(batch)))
        batch.clear()

    for row in rows:
        count += 1
        cost += Decimal(row[cost_index] or 0)
        if effective_index is not None:
            effective += Decimal(row[effective_index] or 0)
        batch.append(row)
        if len(batch) >= rows_per_file:
            flush()
    flush()
    version = DATA_VERSION["FOCUS" if export_type == "FocusCost" else dataset.agreement]
    current = start <= dataset.today < end
    manifest: dict[str, Any] = {
        "manifestVersion": "2024-04-01",
        "byteCount": sum(size for _, size, _ in files),
        "blobCount": len(files),
        "dataRowCount": count,
        "exportConfig": {
            "exportName": export_name,
            "resourceId": f"{scope}/providers/Microsoft.CostManagement/exports/{export_name}",
            "dataVersion": version,
            "apiVersion": "2023-07-01-preview",
            "type": export_type,
            "timeFrame": "MonthToDate" if current else "TheLastMonth",
            "granularity": "Daily",
        },
        "deliveryConfig": {
            "partitionData": True,
            "dataOverwriteBehavior": "OverwritePreviousReport" if overwrite else "CreateNewReport",
            "fileFormat": "Csv",
            "compressionMode": "gzip" if compress else "none",
            "containerUri": f"/subscriptions/{dataset.subscriptions[0].id}/resourceGroups/"
            "rg-finops/providers/Microsoft.Storage/storageAccounts/contosofinops",
            "rootFolderPath": prefix,
        },
        "runInfo": {
            "executionType": "Scheduled",
            "submittedTime": submitted.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z",
            "runId": run_id,
            "startDate": f"{start.isoformat()}T00:00:00",
            "endDate": f"{(end - dt.timedelta(days=1)).isoformat()}T00:00:00",
        },
        "blobs": [
            {"blobName": name, "byteCount": size, "dataRowCount": rows_in}
            for name, size, rows_in in files
        ],
    }
    manifest_blob = f"{folder}/manifest.json"
    container.upload_blob(manifest_blob, json.dumps(manifest, indent=2).encode(), overwrite=True)
    return ExportRun(
        export_name=export_name,
        export_type=export_type,
        billing_period=period,
        run_id=run_id,
        submitted_time=manifest["runInfo"]["submittedTime"],
        manifest_blob=manifest_blob,
        files=tuple(name for name, _, _ in files),
        rows=count,
        cost=cost,
        effective_cost=effective if effective_index is not None else cost,
    )


__all__ = ["EXPORT_TYPES", "ExportRun", "write_export_run"]
