"""tap-stripe throughput against the fake Stripe API (balance transactions).

    uv run python benchmarks/bench_tap_stripe.py [--rows 50000]

Baseline in the same run: a plain `requests` loop paging the same endpoint and writing
each object as a JSON line (the fake API's own ceiling plus JSON encoding), so the
figure for the tap is the SDK's and our cost on top of the API.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from finfocus_sandbox.stripe import FakeStripe, StripeDataset
from harness import Result, count_records, measure, print_table

KEY = "sk_test_benchmark0000"
PLAIN_PAGER = """
import json, sys, requests
url, key = sys.argv[1], sys.argv[2]
session = requests.Session(); session.headers["Authorization"] = f"Bearer {key}"
params = {"limit": 100}
out = sys.stdout
while True:
    body = session.get(url + "/v1/balance_transactions", params=params).json()
    for obj in body["data"]:
        out.write(json.dumps({"type": "RECORD", "stream": "balance_transactions", "record": obj}) + "\\n")
    if not body["has_more"]:
        break
    params["starting_after"] = body["data"][-1]["id"]
"""


def select_only(catalog: dict, stream: str) -> dict:
    for entry in catalog["streams"]:
        chosen = entry["tap_stream_id"] == stream
        for meta in entry["metadata"]:
            if meta["breadcrumb"] == []:
                meta["metadata"]["selected"] = chosen
    return catalog


def run(rows: int, work: Path) -> list[Result]:
    """The requests pager baseline and tap-stripe, against one fake Stripe API."""
    dataset = StripeDataset.generate(seed=3, days=90, balance_transactions=rows)
    fake = FakeStripe(dataset, api_keys={KEY})
    fake.start()
    config = {
        "api_key": KEY,
        "api_url": fake.url,
        "window_days": 30,
        "start_date": "2000-01-01T00:00:00Z",
    }
    (work / "config.json").write_text(json.dumps(config))
    try:
        catalog = json.loads(
            subprocess.run(
                ["tap-stripe", "--config", str(work / "config.json"), "--discover"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        (work / "catalog.json").write_text(json.dumps(select_only(catalog, "balance_transactions")))
        plain = measure(
            "baseline: requests pager -> JSON lines",
            [sys.executable, "-c", PLAIN_PAGER, fake.url, KEY],
            rows,
            None,
            work / "plain.jsonl",
        )
        tap = measure(
            "tap-stripe balance_transactions",
            [
                "tap-stripe",
                "--config",
                str(work / "config.json"),
                "--catalog",
                str(work / "catalog.json"),
            ],
            rows,
            None,
            work / "tap.jsonl",
        )
        got = count_records(work / "tap.jsonl", "balance_transactions")
        if got != rows:
            raise RuntimeError(f"tap emitted {got} records, expected {rows}")
    finally:
        fake.stop()
    return [plain, tap]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=50_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-tap-stripe-"))
    try:
        print_table(
            f"tap-stripe against the fake Stripe API, {args.rows:,} balance transactions",
            run(args.rows, work),
            baseline="baseline: requests pager -> JSON lines",
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
