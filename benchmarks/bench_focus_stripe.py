"""mapper-focus and target-focus throughput on Stripe fee records.

    uv run python benchmarks/bench_focus_stripe.py [--rows 200000]

Input: balance transactions of the fake Stripe dataset, as tap-stripe emits them, in a
Singer message file. Stages, each its own process, measured in the same run:
  baseline: a pass-through singer-sdk mapper (read + write every message)
  mapper-focus before issue 8: the mapper's code at commit BEFORE (its record path then),
      run from that commit's sources in this environment
  mapper-focus: raw balance transactions -> FOCUS rows
  target-focus: FOCUS rows -> validated Parquet dataset
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from finfocus_sandbox.stripe import StripeDataset
from harness import Result, count_records, measure, print_table

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = json.loads(
    (ROOT / "taps/tap-stripe/src/tap_stripe/schemas/balance_transactions.json").read_text()
)


def write_input(path: Path, rows: int) -> int:
    dataset = StripeDataset.generate(seed=5, days=90, balance_transactions=rows)
    account = dataset.account_ids[0]
    with path.open("w") as out:
        out.write(
            json.dumps(
                {
                    "type": "SCHEMA",
                    "stream": "balance_transactions",
                    "schema": SCHEMA,
                    "key_properties": ["id"],
                }
            )
            + "\n"
        )
        for index, bt in enumerate(reversed(dataset.objects("balance_transaction", account))):
            record = {
                **bt,
                "account_id": account,
                "updated_at": dt.datetime.fromtimestamp(bt["created"], tz=dt.UTC).isoformat(),
            }
            out.write(
                json.dumps({"type": "RECORD", "stream": "balance_transactions", "record": record})
                + "\n"
            )
            if index % 10_000 == 9_999:
                out.write(json.dumps({"type": "STATE", "value": {"n": index}}) + "\n")
    return rows


# A commit before the throughput work (issue 8; the next one carries a half-made batch module
# by accident): its mapper-focus is the baseline the
# record path must beat 2x.
BEFORE = "0fa20a7"


def sources_at(commit: str, work: Path) -> Path:
    """mapper-focus and the packages it imports, as they were at `commit`."""
    folder = work / f"src-{commit}"
    folder.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", commit, "mappers/mapper-focus/src", "packages"],
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def old_mapper_command(commit: str, work: Path) -> list[str]:
    root = sources_at(commit, work)
    paths = [root / "mappers/mapper-focus/src", *sorted((root / "packages").glob("*/src"))]
    code = (
        "import sys; sys.path[:0] = sys.argv[1].split(':'); sys.argv[1:2] = [];"
        " from mapper_focus.mapper import main; main()"
    )
    return [sys.executable, "-c", code, os.pathsep.join(map(str, paths))]


def run(rows: int, work: Path) -> list[Result]:
    """Pass-through baseline, mapper-focus before issue 8 and now, target-focus."""
    raw = work / "raw.jsonl"
    write_input(raw, rows)
    results = [
        measure(
            "baseline: pass-through SDK mapper",
            [sys.executable, str(Path(__file__).with_name("passthrough_mapper.py"))],
            rows,
            raw,
            work / "passthrough.jsonl",
        ),
        measure(
            f"mapper-focus before issue 8 ({BEFORE})",
            old_mapper_command(BEFORE, work),
            rows,
            raw,
            work / "focus-before.jsonl",
        ),
        measure(
            "mapper-focus (raw -> FOCUS rows)", ["mapper-focus"], rows, raw, work / "focus.jsonl"
        ),
    ]
    focus_rows = count_records(work / "focus.jsonl")
    if count_records(work / "focus-before.jsonl") != focus_rows:
        raise RuntimeError("mapper-focus emits a different number of rows than before")
    (work / "target.json").write_text(json.dumps({"output_path": str(work / "dataset")}))
    results.append(
        measure(
            "target-focus (FOCUS rows -> Parquet)",
            ["target-focus", "--config", str(work / "target.json")],
            focus_rows,
            work / "focus.jsonl",
            work / "target-state.jsonl",
        )
    )
    print(f"{rows:,} balance transactions -> {focus_rows:,} FOCUS rows", file=sys.stderr)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-focus-"))
    try:
        print_table(
            "Stripe fees to FOCUS (rows = input records per stage)",
            run(args.rows, work),
            baseline="baseline: pass-through SDK mapper",
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
