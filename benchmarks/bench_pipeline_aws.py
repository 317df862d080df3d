"""End to end: `tap-aws | mapper-focus | target-focus` on one CUR 2.0 month in S3 (moto).

    uv run python benchmarks/bench_pipeline_aws.py [--rows 1000000] [--record-rows 200000]

Each stage is its own process connected by OS pipes, as Meltano or a shell runs them;
rows/s is input line items over wall time end to end, peak MB is per process. Measured in
the same run:
  baseline: plain pyarrow reading the month's Parquet (the floor any reader pays)
  record path: RECORD messages throughout (the singer-sdk default path)
  batch path: tap-aws `batch_config` -> Parquet BATCH files -> vectorised mapping ->
              column-wise validation and writes
The record path runs on `--record-rows` (its rate does not depend on the month's size).
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import tempfile
from pathlib import Path

import boto3
import pyarrow.parquet as pq
from finfocus_sandbox.aws import write_cur2_delivery
from harness import Result, measure, measure_pipeline, print_table
from moto.server import ThreadedMotoServer

KEY, SECRET = "AKIABENCHMARK", "benchmark-secret"
BIN = Path(sys.executable).parent
PLAIN_PYARROW = """
import sys
import pyarrow.fs, pyarrow.parquet as pq
url, bucket, keys = sys.argv[1], sys.argv[2], sys.argv[3:]
fs = pyarrow.fs.S3FileSystem(access_key="AKIABENCHMARK", secret_key="benchmark-secret",
                             endpoint_override=url.split("://", 1)[1], scheme="http",
                             region="us-east-1")
rows = 0
for key in keys:
    with fs.open_input_file(f"{bucket}/{key}") as handle:
        for batch in pq.ParquetFile(handle).iter_batches(batch_size=65536):
            rows += batch.num_rows
print(rows)
"""


class MotoS3:
    """moto in server mode, as the tests use it."""

    def __enter__(self) -> MotoS3:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log per GET
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.server.start()
        host, port = self.server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        self.client = boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id=KEY,
            aws_secret_access_key=SECRET,
        )
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()


def dataset_rows(root: Path) -> int:
    return sum(pq.ParquetFile(p).metadata.num_rows for p in (root / "data").rglob("*.parquet"))


def run_focus(
    s3: MotoS3, bucket: str, work: Path, rows: int, *, batch: bool, target: dict | None = None
) -> Result:
    work.mkdir(parents=True, exist_ok=True)
    tap: dict = {
        "bucket": bucket,
        "prefix": "cur2",
        "endpoint_url": s3.url,
        "aws_access_key_id": KEY,
        "aws_secret_access_key": SECRET,
    }
    if batch:
        tap["batch_config"] = {
            "encoding": {"format": "parquet"},
            "storage": {"root": (work / "batches").as_uri()},
            "batch_size": 100_000,
        }
    (work / "tap.json").write_text(json.dumps(tap))
    (work / "mapper.json").write_text("{}")
    (work / "target.json").write_text(
        json.dumps({"output_path": str(work / "focus"), **(target or {})})
    )
    result = measure_pipeline(
        f"{'batch' if batch else 'record'} path: tap-aws | mapper-focus | target-focus",
        {
            "tap-aws": [str(BIN / "tap-aws"), "--config", "tap.json"],
            "mapper-focus": [str(BIN / "mapper-focus"), "--config", "mapper.json"],
            "target-focus": [str(BIN / "target-focus"), "--config", "target.json"],
        },
        rows,
        work,
        work / "state.jsonl",
    )
    written = dataset_rows(work / "focus")
    if written < rows:
        raise RuntimeError(f"{result.name}: {written} FOCUS rows from {rows} line items")
    print(f"  {result.name}: {rows:,} line items -> {written:,} FOCUS rows", file=sys.stderr)
    return result


def month(s3: MotoS3, rows: int, seed: int = 11) -> tuple[str, list[str]]:
    bucket = f"bench-pipeline-{rows}"
    s3.client.create_bucket(Bucket=bucket)
    delivery = write_cur2_delivery(s3.client, bucket, "cur2", "bench", "2026-01", rows, seed)
    return bucket, list(delivery.files)


def run(
    rows: int, work: Path, record_rows: int | None = None, target: dict | None = None
) -> list[Result]:
    record_rows = min(rows, record_rows or rows)
    with MotoS3() as s3:
        bucket, files = month(s3, rows)
        results = [
            measure(
                "baseline: pyarrow reads the month from S3",
                [sys.executable, "-c", PLAIN_PYARROW, s3.url, bucket, *files],
                rows,
                None,
                work / "plain.txt",
            ),
            run_focus(s3, bucket, work / "batch", rows, batch=True, target=target),
        ]
        small = bucket if record_rows == rows else month(s3, record_rows)[0]
        results.append(run_focus(s3, small, work / "record", record_rows, batch=False))
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--record-rows", type=int, default=200_000)
    parser.add_argument("--target-batch-rows", type=int, help="target-focus batch_size_rows")
    args = parser.parse_args()
    target = {"batch_size_rows": args.target_batch_rows} if args.target_batch_rows else None
    work = Path(tempfile.mkdtemp(prefix="bench-pipeline-aws-"))
    try:
        results = run(args.rows, work, args.record_rows, target)
        print_table(
            f"AWS CUR 2.0 month to FOCUS, end to end ({args.rows:,} line items)",
            results,
            baseline="record path: tap-aws | mapper-focus | target-focus",
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
