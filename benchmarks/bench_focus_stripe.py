"""mapper-focus and target-focus throughput on Stripe fee records.

    uv run python benchmarks/bench_focus_stripe.py [--rows 200000]

Input: balance transactions of the fake Stripe dataset, as tap-stripe emits them, in a
Singer message file. Stages, each its own process, measured in the same run:
  baseline: a pass-through singer-sdk mapper (read + write every message)
  mapper-focus: raw balance transactions -> FOCUS rows
  target-focus: FOCUS rows -> validated Parquet dataset
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sys
import tempfile
from pathlib import Path

from finfocus_sandbox.stripe import StripeDataset
from harness import count_records, measure, print_table

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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-focus-"))
    raw = work / "raw.jsonl"
    write_input(raw, args.rows)
    passthrough = measure(
        "baseline: pass-through SDK mapper",
        [sys.executable, str(Path(__file__).with_name("passthrough_mapper.py"))],
        args.rows,
        raw,
        work / "passthrough.jsonl",
    )
    mapper = measure(
        "mapper-focus (raw -> FOCUS rows)", ["mapper-focus"], args.rows, raw, work / "focus.jsonl"
    )
    focus_rows = count_records(work / "focus.jsonl")
    (work / "target.json").write_text(json.dumps({"output_path": str(work / "dataset")}))
    target = measure(
        "target-focus (FOCUS rows -> Parquet)",
        ["target-focus", "--config", str(work / "target.json")],
        focus_rows,
        work / "focus.jsonl",
        work / "target-state.jsonl",
    )
    print(f"\n{args.rows:,} balance transactions -> {focus_rows:,} FOCUS rows")
    print_table(
        "Stripe fees to FOCUS (rows = input records per stage)",
        [passthrough, mapper, target],
        baseline="baseline: pass-through SDK mapper",
    )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
