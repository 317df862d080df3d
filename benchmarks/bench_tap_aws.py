"""tap-aws throughput and peak memory on a CUR 2.0 Parquet month in S3 (moto, server mode).

    uv run python benchmarks/bench_tap_aws.py [--rows 250000] [--rows 1000000]

For each size: one CUR 2.0 delivery (Data Exports layout, snappy Parquet, one file as
AWS writes a month of this size) is generated into moto, then measured as separate
processes in the same run:
  baseline: plain pyarrow (S3FileSystem -> iter_batches -> to_pylist -> JSON lines)
  tap-aws cur2_line_items (exact Decimals, ISO timestamps, MAPs as objects, Singer messages)
Peak RSS that stays flat from 250k to 1M rows is the streaming claim.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import boto3
from finfocus_sandbox.aws import write_cur2_delivery
from harness import count_records, measure, print_table
from moto.server import ThreadedMotoServer

KEY, SECRET = "AKIABENCHMARK", "benchmark-secret"
PLAIN_PYARROW = """
import json, sys
import pyarrow.fs, pyarrow.parquet as pq
url, bucket, keys = sys.argv[1], sys.argv[2], sys.argv[3:]
host = url.split("://", 1)[1]
fs = pyarrow.fs.S3FileSystem(access_key="AKIABENCHMARK", secret_key="benchmark-secret",
                             endpoint_override=host, scheme="http", region="us-east-1")
out = sys.stdout
for key in keys:
    with fs.open_input_file(f"{bucket}/{key}") as handle:
        for batch in pq.ParquetFile(handle).iter_batches(batch_size=10000):
            for row in batch.to_pylist():
                out.write(json.dumps({"type": "RECORD", "stream": "cur2_line_items", "record": row}, default=str) + "\\n")
"""


def select_only(catalog: dict, streams: set[str]) -> dict:
    for entry in catalog["streams"]:
        chosen = entry["tap_stream_id"] in streams
        for meta in entry["metadata"]:
            if meta["breadcrumb"] == []:
                meta["metadata"]["selected"] = chosen
    return catalog


def bench(url: str, rows: int, work: Path) -> list:
    s3 = boto3.client(
        "s3",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=KEY,
        aws_secret_access_key=SECRET,
    )
    bucket = f"bench-{rows}"
    s3.create_bucket(Bucket=bucket)
    delivery = write_cur2_delivery(s3, bucket, "cur2", "bench", "2026-01", rows=rows, seed=11)
    config = {
        "bucket": bucket,
        "prefix": "cur2",
        "endpoint_url": url,
        "aws_access_key_id": KEY,
        "aws_secret_access_key": SECRET,
    }
    (work / "config.json").write_text(json.dumps(config))
    catalog = json.loads(
        subprocess.run(
            ["tap-aws", "--config", str(work / "config.json"), "--discover"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    (work / "catalog.json").write_text(json.dumps(select_only(catalog, {"cur2_line_items"})))
    plain = measure(
        "baseline: pyarrow iter_batches -> JSON lines",
        [sys.executable, "-c", PLAIN_PYARROW, url, bucket, *delivery.files],
        rows,
        None,
        work / "plain.jsonl",
    )
    tap = measure(
        "tap-aws cur2_line_items",
        ["tap-aws", "--config", str(work / "config.json"), "--catalog", str(work / "catalog.json")],
        rows,
        None,
        work / "tap.jsonl",
    )
    got = count_records(work / "tap.jsonl", "cur2_line_items")
    assert got == rows, f"tap emitted {got} records, expected {rows}"
    for name in ("plain.jsonl", "tap.jsonl"):
        (work / name).unlink()
    s3.delete_object(Bucket=bucket, Key=delivery.files[0])
    return [plain, tap]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, action="append", help="rows per month (repeatable)")
    args = parser.parse_args()
    sizes = args.rows or [250_000]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    try:
        for rows in sizes:
            work = Path(tempfile.mkdtemp(prefix="bench-tap-aws-"))
            results = bench(url, rows, work)
            print_table(
                f"tap-aws, one CUR 2.0 Parquet month of {rows:,} rows (moto S3)",
                results,
                baseline="baseline: pyarrow iter_batches -> JSON lines",
            )
            sys.stdout.flush()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
