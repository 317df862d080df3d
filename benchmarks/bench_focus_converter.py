"""The FinOps Foundation's focus-converter beside tap-aws | mapper-focus | target-focus,
both converting the same legacy CUR month, in the same run.

    uv run python benchmarks/bench_focus_converter.py [--rows 1000000] [--format csv]
        [--format parquet] [--mode record] [--mode batch] [--work DIR]

Defaults: 1,000,000 rows, format csv, both modes. run(rows, work) is what run_all.py calls.

focus-converter (PyPI package focus-converter) runs from its own virtual environment,
benchmarks/.venvs/focus-converter, made once with `uv venv` + `uv pip install` and reused
(see CONVERTER_* below for the pinned version and why).

The month: one legacy CUR delivery of N line items (finfocus_sandbox.aws,
write_legacy_cur_delivery, seed 11) in moto S3, gzip CSV with assembly folders (format
csv, the legacy default) or the Athena Parquet layout (format parquet). Generating 1M rows
takes minutes, so each month is generated once and cached (its S3 objects and the
converter's input) under the system temp folder; later runs upload it into moto again.
The converter reads local files: the delivery's data file(s), plus two columns its AWS
rules require and the generator does not write, `product/region` (a copy of
`product/regionCode`: legacy CUR's region code) and `reservation/TotalReservedUnits`
(empty); without them focus-converter 1.0.0 stops with "Column(s) ... not found in data".
Our pipeline reads the generator's delivery as it is, from S3.

Measured, each as its own process(es):
  focus-converter convert (provider aws-cur for CSV, aws for Parquet; FOCUS columns only,
      --no-export-include-source-columns): wall time; peak RSS of the largest of its
      processes (its main process and the writer processes it forks, one per core)
  tap-aws | mapper-focus | target-focus, each stage its own process joined by OS pipes
      (harness.measure_pipeline; the pipe and configs of tests/test_aws_batch_equivalence.py),
      with RECORD messages (mode record) and with tap-aws's batch_config (mode batch:
      Parquet batch files of 100,000 rows; mapper-focus maps legacy CUR batch files record
      by record, its vectorised mapping is CUR 2.0's): end-to-end wall time and each
      stage's own peak RSS. S3 is moto in this process, as in the other AWS benchmarks.
Both outputs are counted and summed afterwards (rows, BilledCost, EffectiveCost,
ChargeCategory) beside the generator's exact totals.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import gzip
import hashlib
import json
import logging
import shutil
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from finfocus_sandbox.aws import write_legacy_cur_delivery
from harness import Result, measure, measure_pipeline, print_table
from moto.server import ThreadedMotoServer

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BIN = Path(sys.executable).parent  # tap-aws, mapper-focus, target-focus of this environment
VENV = HERE / ".venvs" / "focus-converter"
# focus-converter 1.0.0 is the release on the package index (June 2024). It pins typer 0.9
# and pandera 0.17 but not their dependencies, and today's releases break both: click >= 8.2
# fails typer 0.9 ("Secondary flag is not valid for non-boolean flag") and multimethod 2
# fails pandera 0.17 ("cannot import name 'overload'"). So its dependencies are resolved as
# of the day after its release (uv --exclude-newer), the set it was released against.
CONVERTER_VERSION = "1.0.0"
CONVERTER_EXCLUDE_NEWER = "2024-06-07"
# Its pins numpy 1.26 and pyarrow 14 have wheels for CPython 3.11 and 3.12, not 3.13;
# 3.11 is this project's Python.
CONVERTER_PYTHON = "3.11"
CONVERTER_SPEC = f"focus-converter=={CONVERTER_VERSION} exclude-newer={CONVERTER_EXCLUDE_NEWER} python={CONVERTER_PYTHON}"
CACHE = Path(tempfile.gettempdir()) / "finfocus-bench-legacy-cur"
GENERATOR_SOURCES = ("deliveries.py", "lineitems.py", "columns.py")
SEED = 11
PERIOD = "2026-01"
PREFIX, REPORT = "legacy-cur", "finfocus-legacy"
KEY, SECRET = "AKIABENCHMARK", "benchmark-secret"
CONVERTER_TIMEOUT = 3600  # seconds; a failing focus-converter 1.0.0 hangs on its writer processes
FORMATS = ("csv", "parquet")
MODES = ("record", "batch")
PIPE = "tap-aws | mapper-focus | target-focus"
# The names of the converter's and of our fast path's results on the default format (csv).
BASELINE = f"focus-converter {CONVERTER_VERSION} (csv)"
OURS = f"batch path (csv): {PIPE}"

# --- focus-converter's virtual environment ------------------------------------------------


def converter_venv() -> Path:
    """The focus-converter executable, installing its environment first when missing."""
    exe = VENV / "bin" / "focus-converter"
    marker = VENV / ".finfocus-spec"
    if exe.exists() and marker.exists() and marker.read_text() == CONVERTER_SPEC:
        return exe
    uv = shutil.which("uv")
    if uv is None:
        raise SystemExit("bench_focus_converter: uv is needed to install focus-converter")
    shutil.rmtree(VENV, ignore_errors=True)
    print(f"installing focus-converter {CONVERTER_VERSION} into {VENV} ...", flush=True)
    subprocess.run([uv, "venv", "--quiet", "--python", CONVERTER_PYTHON, str(VENV)], check=True)
    subprocess.run(
        [
            uv,
            "pip",
            "install",
            "--quiet",
            "--python",
            str(VENV / "bin" / "python"),
            "--exclude-newer",
            CONVERTER_EXCLUDE_NEWER,
            f"focus-converter=={CONVERTER_VERSION}",
        ],
        check=True,
    )
    subprocess.run([str(exe), "--help"], check=True, capture_output=True)  # it imports
    marker.write_text(CONVERTER_SPEC)
    return exe


def converter_versions() -> str:
    out = subprocess.run(
        [
            str(VENV / "bin" / "python"),
            "-c",
            'import sys, importlib.metadata as m; print(f\'focus-converter {m.version("focus-converter")}'
            ' (Python {sys.version.split()[0]}, polars {m.version("polars")}, pyarrow {m.version("pyarrow")})\')',
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


# --- the legacy CUR month: generated once, cached -----------------------------------------


@dataclasses.dataclass
class Month:
    fmt: str
    rows: int
    bucket: str
    folder: Path  # the cache folder: s3/ (every object of the bucket), converter/
    converter_input: Path  # a file (csv) or a folder (parquet dataset)
    generated_seconds: float
    line_item_types: dict[str, int]
    unblended_cost: str
    net_unblended_cost: str
    amortized_cost: str


def _generator_hash() -> str:
    digest = hashlib.sha256()
    for name in GENERATOR_SOURCES:
        digest.update((ROOT / "sandbox/src/finfocus_sandbox/aws" / name).read_bytes())
    return digest.hexdigest()[:12]


def _s3(url: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=KEY,
        aws_secret_access_key=SECRET,
    )


def legacy_month(url: str, rows: int, fmt: str, cache: Path) -> Month:
    """The month's delivery in moto (bucket legacy-<fmt>-<rows>), from the cache or newly
    generated (then cached), and the converter's input beside it in the cache."""
    s3 = _s3(url)
    bucket = f"legacy-{fmt}-{rows}"
    s3.create_bucket(Bucket=bucket)
    folder = cache / f"{fmt}-{rows}-seed{SEED}-{_generator_hash()}"
    meta = folder / "month.json"
    if meta.exists():
        for path in sorted((folder / "s3").rglob("*")):
            if path.is_file():
                s3.upload_file(str(path), bucket, path.relative_to(folder / "s3").as_posix())
        fields = json.loads(meta.read_text())
        return Month(
            **{**fields, "folder": folder, "converter_input": Path(fields["converter_input"])}
        )
    shutil.rmtree(folder, ignore_errors=True)
    print(f"generating a legacy CUR month of {rows:,} rows ({fmt}) ...", flush=True)
    started = time.perf_counter()
    delivery = write_legacy_cur_delivery(
        s3, bucket, PREFIX, REPORT, PERIOD, rows=rows, seed=SEED, fmt=fmt
    )
    generated = time.perf_counter() - started
    print(f"generated in {generated:.0f} s", flush=True)
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            target = folder / "s3" / obj["Key"]
            target.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, obj["Key"], str(target))
    converter_input = _converter_input(folder, fmt, [folder / "s3" / key for key in delivery.files])
    month = Month(
        fmt,
        rows,
        bucket,
        folder,
        converter_input,
        round(generated, 1),
        dict(delivery.totals.line_item_types),
        str(delivery.totals.unblended_cost),
        str(delivery.totals.net_unblended_cost),
        str(delivery.totals.amortized_cost),
    )
    fields = {k: v for k, v in dataclasses.asdict(month).items() if k != "folder"}
    meta.write_text(json.dumps({**fields, "converter_input": str(converter_input)}, indent=2))
    return month


def _converter_input(folder: Path, fmt: str, files: list[Path]) -> Path:
    """The delivery's data files for focus-converter: with product/region (= regionCode)
    and an empty reservation/TotalReservedUnits, which its AWS rules read."""
    out = folder / "converter"
    out.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        for path in files:
            table = pq.read_table(path)
            table = table.append_column("product_region", table.column("product_region_code"))
            table = table.append_column(
                "reservation_total_reserved_units", pa.nulls(table.num_rows, pa.float64())
            )
            pq.write_table(table, out / path.name, compression="snappy")
        return out
    if len(files) != 1:
        raise SystemExit(f"focus-converter reads one CSV file; the delivery has {len(files)}")
    # Row by row with the csv module, as the generator writes: the same text, quoted the
    # same way, and the two columns appended.
    source, target = files[0], out / files[0].name
    with (
        gzip.open(source, "rt", encoding="utf-8", newline="") as text,
        gzip.open(target, "wt", encoding="utf-8", newline="", compresslevel=6) as converted,
    ):
        reader, writer = csv.reader(text), csv.writer(converted, lineterminator="\n")
        header = next(reader)
        region = header.index("product/regionCode")
        writer.writerow([*header, "product/region", "reservation/TotalReservedUnits"])
        writer.writerows([*row, row[region], ""] for row in reader)
    return target


# --- the two contestants ------------------------------------------------------------------


def run_converter(exe: Path, month: Month, work: Path, timeout: int) -> tuple[Result, Path]:
    out = work / f"converter-{month.fmt}"
    shutil.rmtree(out, ignore_errors=True)
    if month.fmt == "csv":
        source = ["--provider", "aws-cur", "--data-format", "csv"]
    else:
        source = [
            "--provider",
            "aws",
            "--data-format",
            "parquet",
            "--parquet-data-format",
            "dataset",
        ]
    command = [
        "timeout",
        "--kill-after=10",
        str(timeout),
        str(exe),
        "convert",
        *source,
        "--data-path",
        str(month.converter_input),
        "--export-path",
        f"{out}/",
        "--no-export-include-source-columns",
    ]
    result = measure(
        f"focus-converter {CONVERTER_VERSION} ({month.fmt})",
        command,
        month.rows,
        None,
        work / "converter.out",
    )
    return result, out


def run_pipeline(url: str, month: Month, work: Path, mode: str) -> tuple[Result, Path]:
    """`tap-aws | mapper-focus | target-focus`, each stage its own process (OS pipes, as in
    tests/test_aws_batch_equivalence.py): the result and the dataset's folder."""
    folder = work / f"pipeline-{month.fmt}-{mode}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    tap: dict = {
        "bucket": month.bucket,
        "prefix": PREFIX,
        "endpoint_url": url,
        "aws_access_key_id": KEY,
        "aws_secret_access_key": SECRET,
    }
    if mode == "batch":
        tap["batch_config"] = {
            "encoding": {"format": "parquet"},
            "storage": {"root": (folder / "batches").as_uri()},
            "batch_size": 100_000,
        }
    (folder / "tap.json").write_text(json.dumps(tap))
    (folder / "mapper.json").write_text(json.dumps({"on_invalid": "quarantine"}))
    (folder / "target.json").write_text(
        json.dumps({"output_path": str(folder / "focus"), "on_invalid": "quarantine"})
    )
    result = measure_pipeline(
        f"{mode} path ({month.fmt}): {PIPE}",
        {
            "tap-aws": [str(BIN / "tap-aws"), "--config", "tap.json"],
            "mapper-focus": [str(BIN / "mapper-focus"), "--config", "mapper.json"],
            "target-focus": [str(BIN / "target-focus"), "--config", "target.json"],
        },
        month.rows,
        folder,
        folder / "state.jsonl",
    )
    if mode == "batch" and "batch manifests" not in (folder / "mapper-focus.peak.log").read_text():
        raise RuntimeError("batch path: mapper-focus saw no BATCH messages")
    shutil.rmtree(folder / "batches", ignore_errors=True)
    return result, folder / "focus"


# --- what each wrote ----------------------------------------------------------------------


@dataclasses.dataclass
class Output:
    name: str
    rows: int
    columns: list[str]
    billed: float
    effective: float
    categories: dict[str, int]
    quarantined: int = 0


def summarise(name: str, files: list[Path], quarantine: list[Path] | None = None) -> Output:
    rows, billed, effective = 0, 0.0, 0.0
    categories: dict[str, int] = {}
    columns: list[str] = []
    for path in files:
        table = pq.read_table(path, columns=["BilledCost", "EffectiveCost", "ChargeCategory"])
        columns = columns or pq.ParquetFile(path).schema_arrow.names
        rows += table.num_rows
        for column in ("BilledCost", "EffectiveCost"):
            value = pc.sum(table.column(column).cast(pa.float64())).as_py() or 0.0
            if column == "BilledCost":
                billed += value
            else:
                effective += value
        for entry in pc.value_counts(table.column("ChargeCategory")).to_pylist():
            category = str(entry["values"])
            categories[category] = categories.get(category, 0) + entry["counts"]
    quarantined = sum(len(p.read_text().splitlines()) for p in quarantine or [])
    return Output(name, rows, columns, billed, effective, categories, quarantined)


def print_outputs(month: Month, outputs: list[Output]) -> None:
    print(f"\noutputs, legacy CUR {month.fmt}: {month.rows:,} line items in")
    print(
        f"  generator totals (exact): unblended {Decimal(month.unblended_cost):,.2f}, "
        f"net unblended {Decimal(month.net_unblended_cost):,.2f}, amortized {Decimal(month.amortized_cost):,.2f}"
    )
    print(f"  line item types: {json.dumps(month.line_item_types, sort_keys=True)}")
    print(
        f"  {'output':<28} {'rows':>9} {'columns':>7} {'BilledCost':>14} {'EffectiveCost':>14} {'quarantined':>11}"
    )
    for o in outputs:
        print(
            f"  {o.name:<28} {o.rows:>9} {len(o.columns):>7} {o.billed:>14,.2f} {o.effective:>14,.2f} {o.quarantined:>11}"
        )
    for o in outputs:
        print(f"  {o.name} ChargeCategory: {json.dumps(o.categories, sort_keys=True)}")
    if len(outputs) > 1:
        fees = sum(month.line_item_types.get(k, 0) for k in ("RIFee", "SavingsPlanRecurringFee"))
        print(
            f"  {outputs[1].name} - {outputs[0].name}: {outputs[1].rows - outputs[0].rows:+,} rows; "
            f"the month has {fees} RIFee + SavingsPlanRecurringFee line items (mapper-focus "
            "writes a partly unused commitment fee as a used and an unused row)"
        )
        theirs, ours = set(outputs[0].columns), set(outputs[1].columns)
        print(f"  only {outputs[0].name}: {', '.join(sorted(theirs - ours)) or '-'}")
        print(f"  only {outputs[1].name}: {', '.join(sorted(ours - theirs)) or '-'}")


# --- the run ------------------------------------------------------------------------------


def run(
    rows: int,
    work: Path,
    *,
    formats: tuple[str, ...] = ("csv",),
    modes: tuple[str, ...] = MODES,
    cache: Path = CACHE,
    timeout: int = CONVERTER_TIMEOUT,
) -> list[Result]:
    """Measure focus-converter and our pipeline on one legacy CUR month of `rows` rows per
    format; print the tables and the output comparison; return every Result."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    work.mkdir(parents=True, exist_ok=True)
    exe = converter_venv()
    print(converter_versions(), flush=True)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    results: list[Result] = []
    try:
        for fmt in formats:
            month = legacy_month(url, rows, fmt, cache)
            print(
                f"legacy CUR {fmt}: {rows:,} rows, generated in {month.generated_seconds:.0f} s "
                f"(cached in {month.folder})",
                flush=True,
            )
            converter, converted = run_converter(exe, month, work, timeout)
            table: list[Result] = [converter]
            outputs = [summarise("focus-converter", sorted(converted.rglob("*.parquet")))]
            shutil.rmtree(converted)
            for mode in modes:
                measured, dataset = run_pipeline(url, month, work, mode)
                table.append(measured)
                outputs.append(
                    summarise(
                        f"ours ({mode})",
                        sorted((dataset / "data").rglob("*.parquet")),
                        sorted((dataset / "quarantine").glob("*.jsonl")),
                    )
                )
                shutil.rmtree(dataset.parent)
            print_table(
                f"legacy CUR month of {rows:,} rows ({fmt}): focus-converter vs tap-aws | mapper-focus | target-focus",
                table,
                baseline=converter.name,
            )
            print_outputs(month, outputs)
            sys.stdout.flush()
            results.extend(table)
    finally:
        server.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="line items in the month")
    parser.add_argument(
        "--format",
        action="append",
        choices=FORMATS,
        help="legacy CUR layout (repeatable; default csv)",
    )
    parser.add_argument(
        "--mode",
        action="append",
        choices=MODES,
        help="our pipeline's messages (repeatable; default both)",
    )
    parser.add_argument("--work", type=Path, help="scratch folder (default: a new temp folder)")
    parser.add_argument(
        "--cache", type=Path, default=CACHE, help=f"generated months (default {CACHE})"
    )
    parser.add_argument(
        "--timeout", type=int, default=CONVERTER_TIMEOUT, help="seconds for focus-converter"
    )
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-focus-converter-"))
    try:
        run(
            args.rows,
            work,
            formats=tuple(args.format or ["csv"]),
            modes=tuple(args.mode or MODES),
            cache=args.cache,
            timeout=args.timeout,
        )
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
