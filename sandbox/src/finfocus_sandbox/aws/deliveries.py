"""Write AWS billing deliveries to S3 exactly where and how AWS lays them out.

Sources (AWS Data Exports user guide, read through the project's search tool; layouts
re-stated here, not copied):

- "Understanding export delivery" (Data Exports, covers CUR 2.0 and FOCUS exports):
  data at ``s3://<bucket>/<prefix>/<export-name>/data/<partition>/`` where the partition
  of CUR 2.0 (and FOCUS) is ``BILLING_PERIOD=YYYY-MM``; the manifest at
  ``<prefix>/<export-name>/metadata/<partition>/<export-name>-Manifest.json``, replaced at
  every refresh, one per partition; data files named ``<export-name>-00001.csv.gz`` or
  ``<export-name>-00001.snappy.parquet``, further chunks numbered on. Delivery preference
  (botocore bcm-data-exports model, S3OutputConfigurations.Overwrite):
  OVERWRITE_REPORT replaces the partition's files at each refresh; CREATE_NEW_REPORT keeps
  earlier versions and delivers each refresh beside them. NOT VERIFIED (the guide's text
  on it was out of reach): the name of the per-refresh folder; this generator uses
  ``data/BILLING_PERIOD=YYYY-MM/<executionId>/``. Readers must follow the manifest's
  ``dataFiles`` rather than list folders, which works for either preference.
- Manifest fields of Data Exports: ``executionId``, ``billingPeriod``, ``dataFiles``
  (s3:// URIs), ``columns`` (``name`` and ``type``), plus the export's ARN, name, query and
  table configurations. Column types follow the Data Exports table dictionary: string,
  double, timestamp, map.
- CUR 2.0 table dictionary (COST_AND_USAGE_REPORT): costs, quantities and Savings Plans
  rates are double, line item and public on-demand rates are string, usage and billing
  period bounds are timestamp; product, resource_tags, cost_category and discount are MAPs.
- FOCUS 1.0 with AWS columns (FOCUS_1_0_AWS): FOCUS 1.0 columns plus x_CostCategories,
  x_Discounts, x_Operation, x_ServiceCode, x_UsageType; costs double, periods timestamp.
  Rows keep FOCUS 1.0's rules except the gaps AWS's "FOCUS 1.0 with AWS columns
  conformance gaps" page lists (it lists them all): on some rows ListUnitPrice,
  ContractedUnitPrice, PricingUnit, SkuId and SkuPriceId are empty (here: commitment and
  upfront fees, Savings Plans negations, Marketplace usage), and ConsumedQuantity is the
  quantity charged for. See focus_rows.
- Legacy CUR ("Understanding your report versions" / "Accessing your Cost and Usage
  Reports in Amazon S3"): CREATE_NEW_REPORT delivers
  ``<prefix>/<report-name>/yyyymmdd-yyyymmdd/<assemblyId>/<report-name>-<n>.csv.gz`` and a
  manifest both in the date-range folder (replaced at each update) and in the assembly
  folder (kept); OVERWRITE_REPORT delivers ``<prefix>/<report-name>/yyyymmdd-yyyymmdd/
  <report-name>-<n>.csv.gz`` and the range manifest. With Athena integration (Parquet, always
  overwrite) data lands in ``<prefix>/<report-name>/<report-name>/year=YYYY/month=M/
  <report-name>-00001.snappy.parquet`` and the manifest in the date-range folder. Manifest
  fields: assemblyId, account, columns (category, name, type), charset, compression,
  contentType, reportId, reportName, billingPeriod {start, end}, bucket, reportKeys,
  additionalArtifactKeys. CSV headers are ``category/Name``; Parquet columns the snake-case
  rule of columns.snake.
- Amortized cost: lineitems.amortized_cost.

Every money value written is the Decimal of the line item: CSV text spells it (CUR 2.0
plainly, legacy with 10 fractional digits), Parquet stores it as DOUBLE and the shortest
repr of that double spells it back. Delivery.totals are the exact sums.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import json
import tempfile
import typing as t
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from finfocus_sandbox.aws.columns import (
    COST_CATEGORY_KEYS,
    CUR2_COLUMNS,
    CUR2_OF_LEGACY,
    DEFAULT_TAG_KEYS,
    DISCOUNT_MAP_KEYS,
    FOCUS_COLUMNS,
    PRODUCT_MAP_KEYS,
    legacy_columns,
    snake,
)
from finfocus_sandbox.aws.lineitems import (
    ZERO,
    LineItemGenerator,
    Organisation,
    Row,
    amortized_cost,
    period_bounds,
)

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence

OVERWRITE = "OVERWRITE_REPORT"
CREATE_NEW = "CREATE_NEW_REPORT"
CHUNK_ROWS = 20_000  # rows per Parquet row group, and per batch in memory


@dataclass
class Totals:
    """What a delivery holds, summed exactly from the values written."""

    rows: int = 0  # line items (a FOCUS export has one more row per unused commitment fee)
    unblended_cost: Decimal = ZERO
    net_unblended_cost: Decimal = ZERO
    amortized_cost: Decimal = ZERO
    line_item_types: dict[str, int] = field(default_factory=dict)
    payer_account_ids: set[str] = field(default_factory=set)

    def add(self, row: Row) -> None:
        self.rows += 1
        self.unblended_cost += row.get("line_item_unblended_cost") or ZERO
        self.net_unblended_cost += row.get("line_item_net_unblended_cost") or ZERO
        self.amortized_cost += amortized_cost(row)
        kind = row["line_item_line_item_type"]
        self.line_item_types[kind] = self.line_item_types.get(kind, 0) + 1
        self.payer_account_ids.add(row["bill_payer_account_id"])


@dataclass(frozen=True)
class Delivery:
    kind: str  # "cur2" | "cur" | "focus"
    export_name: str
    billing_period: str  # YYYY-MM
    execution_id: str  # Data Exports executionId, or the legacy assemblyId
    manifest_key: str
    files: tuple[str, ...]  # S3 keys of the data files, in manifest order
    columns: tuple[str, ...]  # column names as written in the data files
    totals: Totals

    @property
    def delivery_id(self) -> str:
        return self.execution_id


# --- value rendering ------------------------------------------------------------------


def _plain(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return "0" if text in {"-0", "0"} else text


def _json_map(value: dict[str, t.Any] | None) -> str:
    items = {k: float(v) if isinstance(v, Decimal) else v for k, v in (value or {}).items()}
    return json.dumps(items, separators=(",", ":"))


def _cur2_text(value: t.Any, kind: str) -> str:
    if value is None:
        return ""
    if kind.startswith("map"):
        return _json_map(value)
    if isinstance(value, Decimal):
        return _plain(value)
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return str(value)


def _legacy_text(value: t.Any, kind: str) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return (
            format(value.quantize(Decimal("1e-10")), "f") if "BigDecimal" in kind else _plain(value)
        )
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


def _arrow_type(kind: str) -> pa.DataType:
    kind = kind.lower()
    if kind in {"double", "bigdecimal", "optionalbigdecimal"}:
        return pa.float64()
    if kind in {"timestamp", "datetime"}:
        return pa.timestamp("ms")
    if kind == "map<string,double>":
        return pa.map_(pa.string(), pa.float64())
    if kind.startswith("map"):
        return pa.map_(pa.string(), pa.string())
    return pa.string()


def _arrow_values(values: list[t.Any], kind: str) -> pa.Array:
    arrow_type = _arrow_type(kind)
    if pa.types.is_floating(arrow_type):
        return pa.array([None if v is None else float(v) for v in values], arrow_type)
    if pa.types.is_timestamp(arrow_type):
        return pa.array([None if v is None else v.replace(tzinfo=None) for v in values], arrow_type)
    if pa.types.is_map(arrow_type):
        double = pa.types.is_floating(arrow_type.item_type)
        return pa.array(
            [[(k, float(x) if double else x) for k, x in (v or {}).items()] for v in values],
            arrow_type,
        )
    return pa.array([None if v is None else _cur2_text(v, "string") for v in values], arrow_type)


# --- projections of a line item into each layout ------------------------------------------


def _cur2_projection(
    drop: set[str],
) -> tuple[list[tuple[str, str]], Callable[[Row], list[list[t.Any]]]]:
    columns = [(name, kind) for name, kind in CUR2_COLUMNS if name not in drop]
    names = [name for name, _ in columns]
    maps = {"product", "discount", "cost_category", "resource_tags"}

    def project(row: Row) -> list[list[t.Any]]:
        return [[row.get(name) if name not in maps else (row.get(name) or {}) for name in names]]

    return columns, project


def _legacy_projection(
    tag_keys: tuple[str, ...],
) -> tuple[list[tuple[str, str]], Callable[[Row], list[list[t.Any]]]]:
    columns = legacy_columns(tag_keys)
    getters: list[Callable[[Row], t.Any]] = []
    for name, _ in columns:
        getters.append(_legacy_getter(name))

    def project(row: Row) -> list[list[t.Any]]:
        return [[get(row) for get in getters]]

    return columns, project


def _legacy_getter(name: str) -> Callable[[Row], t.Any]:
    inverse_product = {v: k for k, v in PRODUCT_MAP_KEYS.items()}
    inverse_discount = {v: k for k, v in DISCOUNT_MAP_KEYS.items()}
    inverse_category = {v: k for k, v in COST_CATEGORY_KEYS.items()}
    for inverse, column in (
        (inverse_product, "product"),
        (inverse_discount, "discount"),
        (inverse_category, "cost_category"),
    ):
        if name in inverse:
            return _map_getter(column, inverse[name])
    if name.startswith("resourceTags/"):
        return _map_getter("resource_tags", snake(name.removeprefix("resourceTags/")))
    cur2 = CUR2_OF_LEGACY[name]
    return lambda row: row.get(cur2)


def _map_getter(column: str, key: str) -> Callable[[Row], t.Any]:
    def get(row: Row) -> t.Any:
        return (row.get(column) or {}).get(key)

    return get


def focus_rows(row: Row) -> list[dict[str, t.Any]]:
    """One CUR line item as rows of AWS's FOCUS 1.0 export (FOCUS_1_0_AWS).

    Mostly one row. A commitment fee whose commitment went partly unused (RIFee,
    SavingsPlanRecurringFee) is two: FOCUS 1.0 says a purchase that covers future charges
    has EffectiveCost 0, and AWS's conformance-gaps page ("FOCUS 1.0 with AWS columns
    conformance gaps", which lists every gap of the export) does not name EffectiveCost, so
    the export keeps that rule: the Purchase row has EffectiveCost 0 and the unused part
    (AWS's amortized cost of the fee line) is a Usage row with CommitmentDiscountStatus
    "Unused", BilledCost 0. Sums of BilledCost and EffectiveCost stay the line item's.
    """
    focus = focus_row(row)
    unused = amortized_cost(row) if focus["ChargeCategory"] == "Purchase" else ZERO
    if not unused or not focus["CommitmentDiscountId"]:
        return [focus]
    kind = row["line_item_line_item_type"]
    if kind == "RIFee":
        quantity, unit = row.get("reservation_unused_quantity"), row.get("pricing_unit")
    else:  # SavingsPlanRecurringFee: the unused commitment, in the billing currency
        quantity, unit = unused, focus["BillingCurrency"]
    extra = dict(focus)
    extra.update(
        ChargeCategory="Usage",
        ChargeFrequency="Usage-Based",
        ChargeDescription=f"Unused commitment: {focus['ChargeDescription']}",
        CommitmentDiscountStatus="Unused",
        PricingCategory="Committed",
        BilledCost=ZERO,
        EffectiveCost=unused,
        ListCost=ZERO,
        ContractedCost=ZERO,
        ListUnitPrice=ZERO,
        ContractedUnitPrice=ZERO,
        PricingQuantity=quantity,
        PricingUnit=unit,
        ConsumedQuantity=None,
        ConsumedUnit=None,
    )
    return [focus, extra]


def focus_row(row: Row) -> dict[str, t.Any]:
    """One CUR line item as AWS's FOCUS 1.0 export shows it (the first of `focus_rows`)."""
    kind = row["line_item_line_item_type"]
    category = {
        "Tax": "Tax",
        "Credit": "Credit",
        "Refund": "Credit",
        "BundledDiscount": "Credit",
        "Fee": "Purchase",
        "RIFee": "Purchase",
        "SavingsPlanRecurringFee": "Purchase",
        "SavingsPlanUpfrontFee": "Purchase",
    }.get(kind, "Usage")
    frequency = {
        "RIFee": "Recurring",
        "SavingsPlanRecurringFee": "Recurring",
        "Fee": "One-Time",
        "SavingsPlanUpfrontFee": "One-Time",
    }.get(kind, "Usage-Based")
    ri = row.get("reservation_reservation_a_r_n")
    sp = row.get("savings_plan_savings_plan_a_r_n")
    negation = kind == "SavingsPlanNegation"
    usage = category == "Usage"
    priced = category in {"Usage", "Purchase"}
    quantity = row.get("line_item_usage_amount") if priced else None
    unit = row.get("pricing_unit") if priced else None
    rate = row.get("line_item_unblended_rate") if priced else None
    list_rate = row.get("pricing_public_on_demand_rate") if usage else None
    tags = {}
    for key, value in (row.get("resource_tags") or {}).items():
        original = next((k for k in (*DEFAULT_TAG_KEYS, "user:Project") if snake(k) == key), key)
        tags[original] = value
    product = row.get("product") or {}
    marketplace = row.get("bill_billing_entity") == "AWS Marketplace"
    unblended = row.get("line_item_unblended_cost") or ZERO
    list_cost = row.get("pricing_public_on_demand_cost") or unblended
    contracted_cost = unblended
    if negation:
        # FOCUS 1.0 wants a quantity, a consumption, a status and non-negative unit prices
        # on every Usage row (not a documented gap of AWS's export). The negation cancels
        # the covered line's on-demand cost: it prices and consumes nothing (quantity 0 at
        # the covered line's rate, so List/ContractedCost 0); only BilledCost carries it.
        quantity = ZERO
        rate = list_rate = -(row.get("line_item_unblended_rate") or ZERO)
        list_cost = contracted_cost = ZERO
    return {
        "AvailabilityZone": row.get("line_item_availability_zone"),
        "BilledCost": unblended,
        "BillingAccountId": row["bill_payer_account_id"],
        "BillingAccountName": row.get("bill_payer_account_name"),
        "BillingCurrency": row.get("line_item_currency_code"),
        "BillingPeriodEnd": row["bill_billing_period_end_date"],
        "BillingPeriodStart": row["bill_billing_period_start_date"],
        "ChargeCategory": category,
        "ChargeClass": "Correction" if kind == "Refund" else None,
        "ChargeDescription": row.get("line_item_line_item_description"),
        "ChargeFrequency": frequency,
        "ChargePeriodEnd": row["line_item_usage_end_date"],
        "ChargePeriodStart": row["line_item_usage_start_date"],
        "CommitmentDiscountCategory": "Spend" if sp else "Usage" if ri else None,
        "CommitmentDiscountId": sp or ri,
        "CommitmentDiscountName": None,
        "CommitmentDiscountStatus": "Used"
        if kind in {"DiscountedUsage", "SavingsPlanCoveredUsage", "SavingsPlanNegation"}
        else None,
        "CommitmentDiscountType": "Savings Plan" if sp else "Reserved Instance" if ri else None,
        "ConsumedQuantity": quantity if usage else None,
        "ConsumedUnit": unit if usage else None,
        "ContractedCost": contracted_cost,
        # Null on upfront fees: a documented gap ("might be null for certain product
        # offerings"), as are ListUnitPrice, PricingUnit, SkuId and SkuPriceId below.
        "ContractedUnitPrice": rate,
        # A commitment purchase covers future charges: 0 (its unused part: `focus_rows`).
        "EffectiveCost": ZERO if category == "Purchase" and (sp or ri) else amortized_cost(row),
        "InvoiceIssuerName": row.get("bill_invoicing_entity"),
        "ListCost": list_cost,
        "ListUnitPrice": list_rate,
        "PricingCategory": "Committed"
        if kind in {"DiscountedUsage", "SavingsPlanCoveredUsage", "SavingsPlanNegation"}
        else "Standard"
        if priced
        else None,
        "PricingQuantity": quantity,
        "PricingUnit": unit,
        "ProviderName": "AWS",
        "PublisherName": row.get("line_item_legal_entity")
        if marketplace
        else "Amazon Web Services",
        "RegionId": row.get("product_region_code"),
        "RegionName": row.get("product_location"),
        "ResourceId": row.get("line_item_resource_id"),
        "ResourceName": None,
        "ResourceType": None,
        "ServiceCategory": _SERVICE_CATEGORY.get(row.get("line_item_product_code") or "", "Other"),
        "ServiceName": product.get("product_name") or row.get("line_item_product_code"),
        "SkuId": row.get("product_sku"),
        "SkuPriceId": row.get("pricing_rate_id"),
        "SubAccountId": row["line_item_usage_account_id"],
        "SubAccountName": row.get("line_item_usage_account_name"),
        "Tags": tags,
        "x_CostCategories": _cost_categories(row),
        "x_Discounts": dict(row.get("discount") or {}),
        "x_Operation": row.get("line_item_operation"),
        "x_ServiceCode": row.get("line_item_product_code"),
        "x_UsageType": row.get("line_item_usage_type"),
    }


def _cost_categories(row: Row) -> dict[str, str]:
    unit = (row.get("cost_category") or {}).get("business_unit")
    return {"BusinessUnit": unit} if unit else {}


_SERVICE_CATEGORY = {
    "AmazonEC2": "Compute",
    "AWSLambda": "Compute",
    "AmazonS3": "Storage",
    "AmazonRDS": "Databases",
    "AmazonDynamoDB": "Databases",
    "AmazonCloudWatch": "Management and Governance",
    "awskms": "Security",
    "AmazonCloudFront": "Networking",
    "ComputeSavingsPlans": "Compute",
}


def _focus_projection(
    drop: set[str],
) -> tuple[list[tuple[str, str]], Callable[[Row], list[list[t.Any]]]]:
    columns = [(name, kind) for name, kind in FOCUS_COLUMNS if name not in drop]
    names = [name for name, _ in columns]

    def project(row: Row) -> list[list[t.Any]]:
        return [[focus[name] for name in names] for focus in focus_rows(row)]

    return columns, project


# --- files --------------------------------------------------------------------------


class _FileWriter:
    """Writes projected rows into one local file: gzip CSV or snappy Parquet."""

    def __init__(self, path: Path, fmt: str, columns: list[tuple[str, str]], layout: str) -> None:
        self.path, self.fmt, self.columns, self.layout = path, fmt, columns, layout
        self.rows = 0
        if fmt == "csv":
            self._gzip = gzip.open(path, "wt", encoding="utf-8", newline="")  # noqa: SIM115
            self._csv = csv.writer(self._gzip, lineterminator="\n")
            self._csv.writerow([name for name, _ in columns])
        else:
            self._schema = pa.schema([(name, _arrow_type(kind)) for name, kind in columns])
            self._parquet = pq.ParquetWriter(path, self._schema, compression="snappy")

    def write(self, batch: list[list[t.Any]]) -> None:
        self.rows += len(batch)
        if self.fmt == "csv":
            render = _legacy_text if self.layout == "cur" else _cur2_text
            kinds = [kind for _, kind in self.columns]
            self._csv.writerows(
                [render(value, kind) for value, kind in zip(values, kinds, strict=True)]
                for values in batch
            )
            return
        arrays = [
            _arrow_values([values[i] for values in batch], kind)
            for i, (_, kind) in enumerate(self.columns)
        ]
        self._parquet.write_table(pa.Table.from_arrays(arrays, schema=self._schema))

    def close(self) -> None:
        if self.fmt == "csv":
            self._gzip.close()
        else:
            self._parquet.close()


def _write_files(
    s3: t.Any,
    bucket: str,
    keys: Callable[[int], str],
    fmt: str,
    layout: str,
    columns: list[tuple[str, str]],
    project: Callable[[Row], list[list[t.Any]]],
    rows: Iterable[Row],
    rows_per_file: int | None,
    totals: Totals,
) -> list[str]:
    """Stream rows into numbered files (a new one every rows_per_file), upload each."""
    written: list[str] = []
    with tempfile.TemporaryDirectory(prefix="finfocus-aws-") as tmp:
        writer: _FileWriter | None = None
        batch: list[list[t.Any]] = []

        def finish() -> None:
            nonlocal writer
            if writer is None:
                return
            if batch:
                writer.write(batch)
                batch.clear()
            writer.close()
            key = keys(len(written) + 1)
            s3.upload_file(str(writer.path), bucket, key)
            writer.path.unlink()
            written.append(key)
            writer = None

        for row in rows:
            if writer is None:
                writer = _FileWriter(Path(tmp) / f"part-{len(written) + 1}", fmt, columns, layout)
            totals.add(row)
            batch.extend(project(row))
            if len(batch) >= CHUNK_ROWS:
                writer.write(batch)
                batch.clear()
            if rows_per_file and writer.rows + len(batch) >= rows_per_file:
                finish()
        if writer is None:  # an empty delivery still has one (header-only) file
            writer = _FileWriter(Path(tmp) / "part-1", fmt, columns, layout)
        finish()
    return written


def _delete_other_objects(
    s3: t.Any, bucket: str, folder: str, keep: Iterable[str], *, deep: bool
) -> None:
    keep = set(keep)
    paginator = s3.get_paginator("list_objects_v2")
    doomed = []
    for page in paginator.paginate(Bucket=bucket, Prefix=folder):
        for obj in page.get("Contents", []):
            key = obj["Key"]
            if key in keep or (not deep and "/" in key[len(folder) :]):
                continue
            doomed.append({"Key": key})
    for start in range(0, len(doomed), 1000):
        s3.delete_objects(Bucket=bucket, Delete={"Objects": doomed[start : start + 1000]})


def _root(prefix: str, name: str) -> str:
    prefix = prefix.strip("/")
    return f"{prefix}/{name}" if prefix else name


def _new_id(seed: int, *parts: object) -> str:
    import hashlib

    digest = hashlib.sha256("|".join(map(str, (seed, *parts))).encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-4{digest[13:16]}-a{digest[17:20]}-{digest[20:32]}"


def _rows(
    billing_period: str,
    rows: int,
    seed: int,
    version: int,
    linked_accounts: int,
    edp_rate: Decimal,
    tag_keys: tuple[str, ...] = DEFAULT_TAG_KEYS,
    unused_rows: bool = False,
) -> Iterator[Row]:
    org = Organisation.generate(seed, linked_accounts)
    return iter(
        LineItemGenerator(
            billing_period,
            rows,
            seed,
            org,
            edp_rate=edp_rate,
            tag_keys=tag_keys,
            version=version,
            unused_rows=unused_rows,
        )
    )


# --- Data Exports (CUR 2.0 and FOCUS) ------------------------------------------------------


def _write_data_export(
    kind: str,
    s3: t.Any,
    bucket: str,
    prefix: str,
    export_name: str,
    billing_period: str,
    rows: int,
    seed: int,
    fmt: str,
    execution_id: str | None,
    overwrite: str,
    rows_per_file: int | None,
    drop_columns: Sequence[str],
    version: int,
    linked_accounts: int,
    edp_rate: Decimal,
) -> Delivery:
    if fmt not in {"parquet", "csv"}:
        raise ValueError(f"fmt must be parquet or csv, got {fmt!r}")
    if overwrite not in {OVERWRITE, CREATE_NEW}:
        raise ValueError(f"overwrite must be {OVERWRITE} or {CREATE_NEW}, got {overwrite!r}")
    execution_id = execution_id or _new_id(seed, kind, export_name, billing_period, version, fmt)
    root = _root(prefix, export_name)
    partition = f"BILLING_PERIOD={billing_period}"
    data_folder = f"{root}/data/{partition}/"
    if overwrite == CREATE_NEW:
        data_folder += f"{execution_id}/"
    extension = "snappy.parquet" if fmt == "parquet" else "csv.gz"
    if kind == "cur2":
        columns, project = _cur2_projection(set(drop_columns))
        table = "COST_AND_USAGE_REPORT"
    else:
        columns, project = _focus_projection(set(drop_columns))
        table = "FOCUS_1_0_AWS"
    totals = Totals()
    files = _write_files(
        s3,
        bucket,
        lambda n: f"{data_folder}{export_name}-{n:05d}.{extension}",
        fmt,
        kind,
        columns,
        project,
        _rows(
            billing_period,
            rows,
            seed,
            version,
            linked_accounts,
            edp_rate,
            unused_rows=kind == "focus",
        ),
        rows_per_file,
        totals,
    )
    if overwrite == OVERWRITE:
        _delete_other_objects(s3, bucket, data_folder, files, deep=True)
    payer = Organisation.generate(seed, linked_accounts).payer.id
    start, end = period_bounds(billing_period)
    manifest = {
        "executionId": execution_id,
        "exportArn": f"arn:aws:bcm-data-exports:us-east-1:{payer}:export/"
        f"{export_name}-{_new_id(seed, export_name)[:8]}",
        "exportName": export_name,
        "queryStatement": _query(columns, table),
        "tableConfigurations": {
            table: {"TIME_GRANULARITY": "HOURLY", "INCLUDE_RESOURCES": "TRUE"}
            if kind == "cur2"
            else {}
        },
        "billingPeriod": {"start": _ms(start), "end": _ms(end)},
        "deliveryFormat": "PARQUET" if fmt == "parquet" else "TEXT_OR_CSV",
        "compression": "PARQUET" if fmt == "parquet" else "GZIP",
        "dataFiles": [f"s3://{bucket}/{key}" for key in files],
        "columns": [{"name": name, "type": kind_} for name, kind_ in columns],
    }
    manifest_key = f"{root}/metadata/{partition}/{export_name}-Manifest.json"
    s3.put_object(Bucket=bucket, Key=manifest_key, Body=json.dumps(manifest, indent=2).encode())
    return Delivery(
        kind,
        export_name,
        billing_period,
        execution_id,
        manifest_key,
        tuple(files),
        tuple(name for name, _ in columns),
        totals,
    )


def write_cur2_delivery(
    s3: t.Any,
    bucket: str,
    prefix: str,
    export_name: str,
    billing_period: str,
    rows: int,
    seed: int,
    fmt: str = "parquet",
    execution_id: str | None = None,
    *,
    overwrite: str = OVERWRITE,
    rows_per_file: int | None = None,
    drop_columns: Sequence[str] = (),
    version: int = 0,
    linked_accounts: int = 4,
    edp_rate: Decimal = Decimal("0.05"),
) -> Delivery:
    """One CUR 2.0 (Data Exports, COST_AND_USAGE_REPORT) delivery of a billing period.

    A later call for the same period is a refresh (restatement): a new execution id, a new
    manifest, and (OVERWRITE_REPORT) the period's old data files replaced. `version` > 0
    re-rates about 5% of the usage lines, as a restatement would; `drop_columns` leaves
    columns out (an export defined before AWS added them).
    """
    return _write_data_export(
        "cur2",
        s3,
        bucket,
        prefix,
        export_name,
        billing_period,
        rows,
        seed,
        fmt,
        execution_id,
        overwrite,
        rows_per_file,
        drop_columns,
        version,
        linked_accounts,
        edp_rate,
    )


def write_focus_export_delivery(
    s3: t.Any,
    bucket: str,
    prefix: str,
    export_name: str,
    billing_period: str,
    rows: int,
    seed: int,
    fmt: str = "parquet",
    execution_id: str | None = None,
    *,
    overwrite: str = OVERWRITE,
    rows_per_file: int | None = None,
    drop_columns: Sequence[str] = (),
    version: int = 0,
    linked_accounts: int = 4,
    edp_rate: Decimal = Decimal("0.05"),
) -> Delivery:
    """One AWS FOCUS 1.0 export (Data Exports, FOCUS_1_0_AWS) delivery of a billing period.

    totals.unblended_cost is the sum of BilledCost, totals.amortized_cost the sum of
    EffectiveCost. The export has `rows` rows; a partly unused RIFee or
    SavingsPlanRecurringFee line item is two of them (see focus_rows), so totals.rows (line
    items) is smaller by the number of such fees.
    """
    return _write_data_export(
        "focus",
        s3,
        bucket,
        prefix,
        export_name,
        billing_period,
        rows,
        seed,
        fmt,
        execution_id,
        overwrite,
        rows_per_file,
        drop_columns,
        version,
        linked_accounts,
        edp_rate,
    )


# --- legacy CUR ---------------------------------------------------------------------


def write_legacy_cur_delivery(
    s3: t.Any,
    bucket: str,
    prefix: str,
    report_name: str,
    billing_period: str,
    rows: int,
    seed: int,
    fmt: str = "csv",
    assembly_id: str | None = None,
    *,
    versioning: str = CREATE_NEW,
    rows_per_file: int | None = None,
    tag_keys: Sequence[str] = DEFAULT_TAG_KEYS,
    version: int = 0,
    linked_accounts: int = 4,
    edp_rate: Decimal = Decimal("0.05"),
) -> Delivery:
    """One legacy CUR delivery (an assembly) of a billing period.

    fmt "csv": gzip CSV with slash-style headers, CREATE_NEW_REPORT (assembly folders) or
    OVERWRITE_REPORT. fmt "parquet": the Athena-integrated layout (always overwrite).
    `tag_keys` are the report's resourceTags/<key> columns (activated cost allocation tags).
    """
    if fmt not in {"parquet", "csv"}:
        raise ValueError(f"fmt must be parquet or csv, got {fmt!r}")
    if versioning not in {OVERWRITE, CREATE_NEW}:
        raise ValueError(f"versioning must be {OVERWRITE} or {CREATE_NEW}, got {versioning!r}")
    tags = tuple(tag_keys)
    assembly_id = assembly_id or _new_id(seed, "cur", report_name, billing_period, version, fmt)
    root = _root(prefix, report_name)
    start, end = period_bounds(billing_period)
    date_range = f"{start:%Y%m%d}-{end:%Y%m%d}"
    columns, project = _legacy_projection(tags)
    if fmt == "parquet":
        folder = f"{root}/{report_name}/year={start.year}/month={start.month}/"

        def key_of(n: int) -> str:
            return f"{folder}{report_name}-{n:05d}.snappy.parquet"

        file_columns = [(snake(name), kind) for name, kind in columns]
    else:
        folder = f"{root}/{date_range}/" + (f"{assembly_id}/" if versioning == CREATE_NEW else "")

        def key_of(n: int) -> str:
            return f"{folder}{report_name}-{n}.csv.gz"

        file_columns = columns
    totals = Totals()
    files = _write_files(
        s3,
        bucket,
        key_of,
        fmt,
        "cur",
        file_columns,
        project,
        _rows(billing_period, rows, seed, version, linked_accounts, edp_rate, tags),
        rows_per_file,
        totals,
    )
    if fmt == "parquet" or versioning == OVERWRITE:
        _delete_other_objects(
            s3, bucket, folder, [*files, f"{folder}{report_name}-Manifest.json"], deep=False
        )
    payer = Organisation.generate(seed, linked_accounts).payer.id
    manifest = {
        "assemblyId": assembly_id,
        "account": payer,
        "columns": [
            {"category": name.split("/", 1)[0], "name": name.split("/", 1)[1], "type": kind}
            for name, kind in columns
        ],
        "charset": "UTF-8",
        "compression": "Parquet" if fmt == "parquet" else "GZIP",
        "contentType": "Parquet" if fmt == "parquet" else "text/csv",
        "reportId": _new_id(seed, "report", report_name).replace("-", ""),
        "reportName": report_name,
        "billingPeriod": {
            "start": f"{start:%Y%m%d}T000000.000Z",
            "end": f"{end:%Y%m%d}T000000.000Z",
        },
        "bucket": bucket,
        "reportKeys": files,
        "additionalArtifactKeys": [],
    }
    body = json.dumps(manifest, indent=2).encode()
    manifest_key = f"{root}/{date_range}/{report_name}-Manifest.json"
    s3.put_object(Bucket=bucket, Key=manifest_key, Body=body)
    if fmt == "csv" and versioning == CREATE_NEW:
        s3.put_object(Bucket=bucket, Key=f"{folder}{report_name}-Manifest.json", Body=body)
    return Delivery(
        "cur",
        report_name,
        billing_period,
        assembly_id,
        manifest_key,
        tuple(files),
        tuple(name for name, _ in file_columns),
        totals,
    )


def _query(columns: list[tuple[str, str]], table: str) -> str:
    """The export's query, as Data Exports stores it in the manifest (not run anywhere)."""
    return " ".join(["SELECT", ", ".join(name for name, _ in columns), "FROM", table])


def _ms(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")
