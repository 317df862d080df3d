"""Every benchmark in one run: data generated, each stage and pipeline measured beside
its baselines, a table per section, and the issue's goals checked against the figures.

    uv run python benchmarks/run_all.py [--rows 1000000] [--markdown docs/benchmarks.md]

Sections (rows/s and peak RSS of every process; baselines measured in the same run):
  1. AWS CUR 2.0 month to FOCUS end to end: pyarrow read, record path, batch path
  2. into PostgreSQL through target-postgres: raw COPY, record path, batch paths
  3. the FinOps Foundation converter (focus-converter, own venv) on the same legacy CUR
  4. Stripe fees to FOCUS: pass-through SDK mapper, mapper-focus before issue 8 and now,
     target-focus
  5. tap-stripe against the fake Stripe API: a plain requests pager, the SDK tap
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import bench_focus_converter
import bench_focus_stripe
import bench_pipeline_aws
import bench_postgres
import bench_tap_stripe
from harness import Result, markdown_table, print_table


def rate(results: list[Result], prefix: str) -> Result:
    return next(r for r in results if r.name.startswith(prefix))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="CUR line items")
    parser.add_argument(
        "--record-rows", type=int, default=50_000, help="rows of the RECORD-path runs"
    )
    parser.add_argument(
        "--pg-rows", type=int, default=200_000, help="rows of the full-month PostgreSQL pipes"
    )
    parser.add_argument(
        "--converter-rows", type=int, default=250_000, help="legacy CUR rows of the converter run"
    )
    parser.add_argument("--stripe-rows", type=int, default=200_000)
    parser.add_argument("--markdown", type=Path, help="write the tables here too")
    args = parser.parse_args()
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="bench-all-"))
    sections: list[tuple[str, Callable[[Path], list[Result]], str]] = [
        (
            f"AWS CUR 2.0 month to FOCUS, tap-aws | mapper-focus | target-focus "
            f"({args.rows:,} line items; record path on {args.record_rows:,})",
            lambda w: bench_pipeline_aws.run(args.rows, w, args.record_rows),
            "record path: tap-aws | mapper-focus | target-focus",
        ),
        (
            f"CUR 2.0 rows into PostgreSQL through target-postgres ({args.pg_rows:,}-row month; "
            f"record paths on {args.record_rows:,})",
            lambda w: bench_postgres.run(args.pg_rows, w, args.record_rows),
            bench_postgres.BASELINE,
        ),
        (
            f"The FinOps Foundation converter on the same legacy CUR month "
            f"({args.converter_rows:,} rows; our batch path)",
            lambda w: bench_focus_converter.run(args.converter_rows, w, modes=("batch",)),
            bench_focus_converter.BASELINE,
        ),
        (
            f"Stripe fees to FOCUS, record path ({args.stripe_rows:,} balance transactions)",
            lambda w: bench_focus_stripe.run(args.stripe_rows, w),
            "baseline: pass-through SDK mapper",
        ),
        (
            "tap-stripe against the fake Stripe API (50,000 balance transactions)",
            lambda w: bench_tap_stripe.run(50_000, w),
            "baseline: requests pager -> JSON lines",
        ),
    ]
    tables: list[str] = []
    every: dict[str, list[Result]] = {}
    try:
        for index, (title, run, baseline) in enumerate(sections, 1):
            folder = work / str(index)
            folder.mkdir()
            section_started = time.perf_counter()
            results = run(folder)
            print(f"section {index}: {time.perf_counter() - section_started:.0f} s", flush=True)
            every[title] = results
            print_table(title, results, baseline)
            sys.stdout.flush()
            tables.append(markdown_table(title, results, baseline))
            shutil.rmtree(folder, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    minutes = (time.perf_counter() - started) / 60
    goals = check_goals(list(every.values()))
    print("\nGoals (issue 8):")
    for line in goals:
        print(f"  {line}")
    print(f"\nwhole run: {minutes:.1f} minutes")
    if args.markdown:
        command = "uv run python benchmarks/run_all.py " + " ".join(sys.argv[1:])
        header = [
            "# Benchmarks",
            "",
            f"Made by `{command.strip()}` on {dt.date.today().isoformat()}: "
            f"{os.cpu_count()} cores, Python {platform.python_version()}, "
            f"{platform.system()} {platform.machine()}; the whole run took {minutes:.1f} "
            "minutes. rows/s is input rows over wall time; peak MB is the peak RSS of each "
            "process (`getrusage` of the process that ran it). See benchmarks/README.md.",
            "",
            "## Goals",
            "",
            *[f"- {line}" for line in goals],
            "",
            "## Results",
            "",
        ]
        args.markdown.write_text("\n".join(header) + "\n".join(tables))


def check_goals(sections: list[list[Result]]) -> list[str]:
    aws, postgres, converter, stripe, _ = sections
    batch = rate(aws, "batch path")
    peak = max(getattr(batch, "stage_peaks_mb", {"all": batch.peak_mb}).values())
    ours = rate(converter, bench_focus_converter.OURS)
    theirs = rate(converter, bench_focus_converter.BASELINE)
    record_pg = rate(postgres, bench_postgres.RECORD)
    fast_pg = rate(postgres, bench_postgres.FAST)
    before = rate(stripe, "mapper-focus before issue 8")
    now = rate(stripe, "mapper-focus (raw")

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    pg_ratio = fast_pg.rows_per_second / record_pg.rows_per_second
    mapper_ratio = now.rows_per_second / before.rows_per_second
    faster = ours.rows_per_second / theirs.rows_per_second
    return [
        f"end to end, batch path: {batch.rows_per_second:,.0f} rows/s (goal >= 250,000): "
        f"{verdict(batch.rows_per_second >= 250_000)}",
        f"peak memory per process: {peak:.0f} MB (goal < 1024): {verdict(peak < 1024)}",
        f"vs the FinOps Foundation converter: {faster:.2f}x its rows/s (goal > 1): "
        f"{verdict(faster > 1)}",
        f"into PostgreSQL, fast path vs record path: {pg_ratio:.1f}x (goal >= 5x): "
        f"{verdict(pg_ratio >= 5)}",
        f"mapper-focus record path vs before issue 8: {mapper_ratio:.2f}x (goal >= 2x): "
        f"{verdict(mapper_ratio >= 2)}",
    ]


if __name__ == "__main__":
    main()
