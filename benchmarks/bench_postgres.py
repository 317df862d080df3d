"""CUR 2.0 rows into PostgreSQL through target-postgres: the RECORD path, the BATCH path,
and a raw COPY of the same rows, measured in the same run.

    uv run python benchmarks/bench_postgres.py [--rows 1000000] [--record-rows 50000]

Set-up (not measured): two CUR 2.0 months generated into moto S3 (snappy Parquet, as
bench_tap_aws.py): the full month of --rows rows and a small month of --record-rows rows
(same generator and seed); a throwaway PostgreSQL cluster (tests/pgcluster.py); the
meltanolabs target-postgres that `meltano install` put under .meltano/ (installed the same
way when missing); every program started once, its bytecode cached in the work folder.
Every pipe is a real pipe of processes; rows/s is the rows loaded over the pipe's wall
time; each process reports its peak RSS and CPU seconds; the PostgreSQL server's CPU
seconds during the pipe are read from /proc.

Full month:
  baseline: raw COPY -- one process: pyarrow reads the Parquet file from S3, writes CSV
      (MAP columns as JSON text), psycopg ``COPY ... FROM STDIN`` into a table with the
      columns, SQL types and primary key target-postgres creates;
  raw batch use_copy, full month: the fastest BATCH configuration below, at scale.
Small month (the RECORD path manages about 1k rows/s with CUR's ~100 columns, so the
record-vs-batch comparisons run here, on the same rows; every stage streams in batches of
10,000 rows, so rows/s does not depend on the month's size):
  raw record: ``tap-aws | target-postgres``: RECORD messages; target-postgres configured
      as meltano.yml configures it (load_method upsert, schema aws,
      sanitize_null_text_characters) plus the connection -- the default path;
  raw batch: ``tap-aws (batch_config: jsonl, gzip) | target-postgres``, same target config;
  raw batch use_copy: the same with target-postgres's ``use_copy: true``;
  FOCUS record: ``tap-aws | mapper-focus | target-postgres``;
  FOCUS batch [use_copy]: ``tap-aws (Parquet batches) | mapper-focus (batch_config:
      jsonl, gzip) | target-postgres [use_copy]``.
Each batch table is compared with its record table, value by value.

What target-postgres 0.8.1 (singer-sdk 0.54.9) does with a BATCH message: the SDK sink
reads each file of the manifest whole into a list of dicts -- JSONL (gzip when the
encoding says so) with ``json.loads(parse_float=Decimal)``; Parquet only when pyarrow is
importable, which the plugin does not install ("Unsupported batch encoding format:
parquet"), so tap-aws's own Parquet batches cannot be loaded -- and hands the list to the
record path's ``process_batch`` as one batch, skipping JSON-schema validation (most of the
RECORD path's time) and ``_sdc_*`` metadata (those columns stay null). process_batch
creates a temp table, fills it with ``executemany`` INSERT (``use_copy: false``, the
default) or COPY, and upserts into the table (INSERT of new keys, then UPDATE of every
key). With use_copy every ``number`` value goes through a Python float before COPY (the
generic SQLAlchemy DECIMAL bind processor): 1 becomes 1.0 and digits past ~17 are rounded.
The SDK's JSONL batcher always writes gzip, whatever the encoding says, so the tap's
batch_config must say ``compression: gzip``. Rows per batch file (10,000, the SDK default)
are the target's transaction size and bound its memory.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import psycopg
import yaml
from finfocus_sandbox.aws import write_cur2_delivery
from harness import PipelineResult, Result, measure, print_table
from moto.server import ThreadedMotoServer
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TARGET_VENV = ROOT / ".meltano/loaders/target-postgres/venv"
TARGET_POSTGRES = TARGET_VENV / "bin/target-postgres"
KEY, SECRET = "AKIABENCHMARK", "benchmark-secret"
RECORD_ROWS = 50_000  # rows of the month the RECORD pipes run on (about 1k rows/s)
BATCH_FILE_ROWS = 10_000  # the SDK's default batch_size
RAW_KEY = "delivery_id,source_file,row_number"
# Result names (run_all.py picks them up)
BASELINE = "baseline: pyarrow -> CSV -> COPY (1 process)"
RECORD = "raw record"  # tap-aws | target-postgres, meltano.yml's config
EXACT = "raw batch"  # tap-aws (JSONL batches) | target-postgres, meltano.yml's config
FAST = "raw batch use_copy"  # the same with use_copy: fastest, numbers through float
FULL = "raw batch use_copy, full month"
INSTALL = (
    "MELTANO_SEND_ANONYMOUS_USAGE_STATS=false MELTANO_CLI_DISABLE_VERSION_CHECK=true "
    "uv run meltano install --plugin-type loader target-postgres"
)

# One stage of a pipe: runs the command with inherited stdin/stdout/stderr and writes the
# command's peak RSS (KiB), exit code and CPU seconds into a file (RUSAGE_CHILDREN).
_STAGE = (
    "import resource, subprocess, sys\n"
    "code = subprocess.run(sys.argv[2:]).returncode\n"
    "u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "open(sys.argv[1], 'w').write(f'{u.ru_maxrss} {code} {u.ru_utime + u.ru_stime}')\n"
)

# The baseline: the delivery's Parquet file from S3 straight into COPY, Arrow all the way
# except MAP values (json.dumps each); empty text as null; the tap's five fields added.
_RAW_COPY = r"""
import io, json, sys
import psycopg, pyarrow as pa, pyarrow.compute as pc, pyarrow.csv as csv, pyarrow.fs, pyarrow.parquet as pq
spec = json.load(open(sys.argv[1]))
fs = pyarrow.fs.S3FileSystem(access_key=spec["key"], secret_key=spec["secret"], region="us-east-1",
                             endpoint_override=spec["endpoint"].split("://", 1)[1], scheme="http")
options = csv.WriteOptions(include_header=False)
def text(column):
    if pa.types.is_map(column.type):
        return pa.array([None if v is None else json.dumps(dict(v)) for v in column.to_pylist()], pa.string())
    if pa.types.is_string(column.type) and column.null_count < len(column):
        return pc.if_else(pc.equal(column, ""), pa.scalar(None, pa.string()), column)
    return column
with psycopg.connect(spec["url"], autocommit=True) as conn:
    conn.execute(spec["create"])
    with conn.cursor() as cursor, cursor.copy(spec["copy"]) as copy:
        for key in spec["files"]:
            constants = {**spec["fields"], "source_file": key}
            first = 1
            with fs.open_input_file(f"{spec['bucket']}/{key}") as handle:
                for batch in pq.ParquetFile(handle).iter_batches(batch_size=10000):
                    n = batch.num_rows
                    arrays = [text(c) for c in batch.columns]
                    arrays += [pa.repeat(pa.scalar(v), n) for v in constants.values()]
                    arrays.append(pa.array(range(first, first + n), pa.int64()))
                    names = [*batch.schema.names, *constants, "row_number"]
                    out = io.BytesIO()
                    csv.write_csv(pa.RecordBatch.from_arrays(arrays, names=names), out, options)
                    copy.write(out.getbuffer())
                    first += n
"""


@dataclass
class PipeResult(PipelineResult):
    """One pipe: rows loaded, wall time, and per process its peak RSS and CPU seconds; also
    the CPU seconds of the PostgreSQL server and of moto's S3 during the pipe."""

    stage_cpu_seconds: dict[str, float] = field(default_factory=dict)
    server_cpu_seconds: float = 0.0
    s3_cpu_seconds: float = 0.0

    def busiest(self) -> tuple[str, float]:
        """The process (server included) with the most CPU per row, and that CPU."""
        costs = {**self.stage_cpu_seconds, "postgres server": self.server_cpu_seconds}
        name = max(costs, key=lambda k: costs[k])
        return name, costs[name] / max(self.rows, 1)


@dataclass
class Month:
    bucket: str
    rows: int
    files: list[str]
    fields: dict[str, str]  # billing_period, delivery_id, export_name of every row


@dataclass
class Comparison:
    """A batch table against its record table, row by row in key order."""

    name: str
    rows: int
    different_rows: int = 0  # some value differs
    rescaled_rows: int = 0  # values equal, some numeric written differently (1 vs 1.0)
    example: str = ""

    def __str__(self) -> str:
        if self.different_rows:
            return f"{self.different_rows:,} of {self.rows:,} rows differ ({self.example})"
        if self.rescaled_rows:
            return (
                f"equal values; {self.rescaled_rows:,} of {self.rows:,} rows hold a number "
                f"written differently ({self.example})"
            )
        return f"identical ({self.rows:,} rows)"


def ensure_target_postgres() -> None:
    """target-postgres as `meltano install` installs it (installed the same way if missing)."""
    if TARGET_POSTGRES.exists():
        return
    env = {
        **os.environ,
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        "MELTANO_CLI_DISABLE_VERSION_CHECK": "true",
    }
    print(f"target-postgres is not installed; running: {INSTALL}", flush=True)
    command = [str(BIN / "meltano"), "install", "--plugin-type", "loader", "target-postgres"]
    done = subprocess.run(command, cwd=ROOT, env=env, check=False)
    if done.returncode != 0 or not TARGET_POSTGRES.exists():
        raise SystemExit(f"target-postgres is not installed: run `{INSTALL}` in {ROOT}")


def target_reads_parquet() -> bool:
    return any(TARGET_VENV.glob("lib/python*/site-packages/pyarrow/__init__.py"))


def meltano_target_config() -> dict[str, Any]:
    """target-postgres's config as meltano.yml gives it (tap-aws's load schema)."""
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    plugins = project["plugins"]
    tap = next(p for p in plugins["extractors"] if p["name"] == "tap-aws")
    target = next(p for p in plugins["loaders"] if p["name"] == "target-postgres")
    text = json.dumps(target.get("config") or {})
    text = text.replace("$MELTANO_EXTRACT__LOAD_SCHEMA", tap.get("load_schema", "tap_aws"))
    text = text.replace("$MELTANO_PROJECT_ROOT", str(ROOT))
    return dict(json.loads(text))


def write_month(s3: Any, bucket: str, rows: int) -> Month:
    s3.create_bucket(Bucket=bucket)
    delivery = write_cur2_delivery(s3, bucket, "cur2", "bench", "2026-01", rows=rows, seed=11)
    manifest = s3.list_objects_v2(Bucket=bucket, Prefix="cur2/bench/metadata/")["Contents"][0]
    body = json.loads(s3.get_object(Bucket=bucket, Key=manifest["Key"])["Body"].read())
    fields = {
        "billing_period": "2026-01",
        "delivery_id": str(body["executionId"]),
        "export_name": "bench",
    }
    return Month(bucket, rows, list(delivery.files), fields)


def server_cpu_seconds(postmaster: int) -> float:
    """CPU seconds of the PostgreSQL server: the postmaster, its ended children (cutime)
    and its live ones."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            text = stat.read_text()
            fields = text[text.rindex(")") + 2 :].split()
            pid, ppid = int(stat.parent.name), int(fields[1])
            if pid == postmaster or ppid == postmaster:
                total += sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
    return total / tick


def run_pipe(
    name: str,
    stages: list[tuple[str, list[str]]],
    rows_of: Callable[[], int],
    work: Path,
    postmaster: int,
) -> PipeResult:
    """``stages`` as one pipe, measured; ``rows_of()`` counts the rows loaded."""
    slug = "".join(c if c.isalnum() else "-" for c in name)
    reports = [work / f"{slug}-{i}.rusage" for i in range(len(stages))]
    processes: list[subprocess.Popen[bytes]] = []
    server_before = server_cpu_seconds(postmaster)
    own = resource.getrusage(resource.RUSAGE_SELF)
    with contextlib.ExitStack() as stack:
        started = time.perf_counter()
        upstream: Any = subprocess.DEVNULL
        for index, (label, command) in enumerate(stages):
            last = index == len(stages) - 1
            stdout = stack.enter_context((work / f"{slug}.state").open("wb")) if last else None
            stderr = stack.enter_context((work / f"{slug}-{label}.log").open("wb"))
            process = subprocess.Popen(
                [sys.executable, "-c", _STAGE, str(reports[index]), *command],
                stdin=upstream,
                stdout=stdout or subprocess.PIPE,
                stderr=stderr,
                cwd=work,
            )
            if index:
                upstream.close()  # the next stage holds the only read end
            upstream = process.stdout
            processes.append(process)
        for process in processes:
            process.wait()
        seconds = time.perf_counter() - started
    mine = resource.getrusage(resource.RUSAGE_SELF)
    result = PipeResult(name, 0, seconds, 0.0, {})
    result.server_cpu_seconds = server_cpu_seconds(postmaster) - server_before
    # moto serves S3 from threads of this process, idle otherwise during the pipe
    result.s3_cpu_seconds = mine.ru_utime + mine.ru_stime - own.ru_utime - own.ru_stime
    for (label, _), report in zip(stages, reports, strict=True):
        text = report.read_text() if report.exists() else "0 -1 0"
        peak_kb, code, cpu = text.split()
        if code != "0":
            log = (work / f"{slug}-{label}.log").read_text(errors="replace")
            raise RuntimeError(f"{name}: {label} exited {code}:\n{log[-3000:]}")
        result.stage_peaks_mb[label] = int(peak_kb) / 1024
        result.stage_cpu_seconds[label] = float(cpu)
    result.peak_mb = max(result.stage_peaks_mb.values())
    result.rows = rows_of()
    return result


class Bench:
    """The S3 endpoint, the PostgreSQL cluster and the configs every pipe shares."""

    def __init__(self, url: str, pg: Any, work: Path) -> None:
        self.url = url
        self.pg = pg
        self.work = work
        self.postmaster = int((Path(pg.datadir) / "postmaster.pid").read_text().split()[0])
        self.target = meltano_target_config()
        self.schema = str(self.target.get("default_target_schema") or "melty")
        self.comparisons: list[Comparison] = []

    # --- PostgreSQL -------------------------------------------------------------------

    def database(self, name: str) -> None:
        with psycopg.connect(self.pg.url(), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def drop(self, name: str) -> None:
        with psycopg.connect(self.pg.url(), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))

    def count(self, database: str, table: str, schema: str | None = None) -> int:
        name = sql.Identifier(schema or self.schema, table)
        with psycopg.connect(self.pg.url(database)) as conn:
            row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(name)).fetchone()
        return int(row[0]) if row else 0

    def compare(self, name: str, record_db: str, batch_db: str, table: str, key: str) -> None:
        """Every row of the batch table against the record table's (``_sdc_*`` aside)."""
        with psycopg.connect(self.pg.url(record_db)) as conn:
            found = conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = %s"
                " AND table_name = %s AND column_name NOT LIKE '\\_sdc\\_%%'"
                " ORDER BY ordinal_position",
                (self.schema, table),
            ).fetchall()
        columns = [row[0] for row in found]
        query = sql.SQL("SELECT {} FROM {} ORDER BY {}").format(
            sql.SQL(", ").join(sql.Identifier(c) for c in columns),
            sql.Identifier(self.schema, table),
            sql.SQL(", ").join(sql.Identifier(k) for k in key.split(",")),
        )
        result = Comparison(name, self.count(batch_db, table))
        if result.rows != self.count(record_db, table):
            result.different_rows = result.rows
            result.example = f"{self.count(record_db, table):,} rows in the record table"
            self.comparisons.append(result)
            return
        with (
            psycopg.connect(self.pg.url(record_db)) as left,
            psycopg.connect(self.pg.url(batch_db)) as right,
            left.cursor("left") as a,
            right.cursor("right") as b,
        ):
            a.execute(query)
            b.execute(query)
            rescaled = ""
            for one, other in zip(a, b, strict=True):
                if one != other:
                    result.different_rows += 1
                    result.example = result.example or _first_difference(
                        columns, one, other, text=False
                    )
                elif any(str(x) != str(y) for x, y in zip(one, other, strict=True)):
                    result.rescaled_rows += 1
                    rescaled = rescaled or _first_difference(columns, one, other, text=True)
            result.example = result.example or rescaled
        self.comparisons.append(result)

    # --- configs ----------------------------------------------------------------------

    def tap_config(self, month: Month, name: str, batch: str | None) -> Path:
        config: dict[str, Any] = {
            "bucket": month.bucket,
            "prefix": "cur2",
            "endpoint_url": self.url,
            "aws_access_key_id": KEY,
            "aws_secret_access_key": SECRET,
        }
        if batch:
            encoding = {"format": batch}
            if batch == "jsonl":
                encoding["compression"] = "gzip"  # what the SDK's JSONL batcher writes
            config["batch_config"] = {
                "encoding": encoding,
                "storage": {"root": (self.work / f"batches-{name}").as_uri()},
                "batch_size": BATCH_FILE_ROWS,
            }
        path = self.work / f"tap-{name}.json"
        path.write_text(json.dumps(config))
        return path

    def mapper_config(self, name: str, batch: bool) -> Path:
        config: dict[str, Any] = {}
        if batch:
            config["batch_config"] = {
                "encoding": {"format": "jsonl", "compression": "gzip"},
                "storage": {"root": (self.work / f"batches-{name}-focus").as_uri()},
            }
        path = self.work / f"mapper-{name}.json"
        path.write_text(json.dumps(config))
        return path

    def target_config(self, name: str, **extra: Any) -> Path:
        """meltano.yml's config, the connection (database ``name``), and ``extra``."""
        pg = self.pg
        url = f"postgresql+psycopg://{pg.user}@{pg.host}:{pg.port}/{name}"
        path = self.work / f"target-{name}.json"
        path.write_text(json.dumps({**self.target, "sqlalchemy_url": url, **extra}))
        return path

    # --- the measurements -------------------------------------------------------------

    def baseline(self, month: Month) -> Result:
        database = "baseline"
        self.database(database)
        catalog = discover(self.url, month, self.work)
        stream = next(s for s in catalog["streams"] if s["tap_stream_id"] == "cur2_line_items")
        properties = stream["schema"]["properties"]
        columns = ", ".join(f'"{name}" {sql_type(prop)}' for name, prop in properties.items())
        keys = ", ".join(f'"{k}"' for k in stream["key_properties"])
        order = [*parquet_columns(self.url, month), *month.fields, "source_file", "row_number"]
        spec = {
            "url": self.pg.url(database),
            "endpoint": self.url,
            "key": KEY,
            "secret": SECRET,
            "bucket": month.bucket,
            "files": month.files,
            "fields": month.fields,
            "create": f"CREATE TABLE cur2 ({columns}, PRIMARY KEY ({keys}))",
            "copy": f"COPY cur2 ({', '.join(map(quote, order))}) FROM STDIN (FORMAT csv)",
        }
        (self.work / "baseline.json").write_text(json.dumps(spec))
        result = measure(
            BASELINE,
            [sys.executable, "-c", _RAW_COPY, str(self.work / "baseline.json")],
            month.rows,
            None,
            self.work / "baseline.out",
        )
        got = self.count(database, "cur2", "public")
        assert got == month.rows, f"baseline loaded {got} rows, expected {month.rows}"
        self.drop(database)
        return result

    def raw(
        self, title: str, month: Month, name: str, batch: str | None, **target: Any
    ) -> PipeResult:
        self.database(name)
        stages = [
            (
                "tap-aws",
                [str(BIN / "tap-aws"), "--config", str(self.tap_config(month, name, batch))],
            ),
            (
                "target-postgres",
                [str(TARGET_POSTGRES), "--config", str(self.target_config(name, **target))],
            ),
        ]
        result = run_pipe(
            title,
            stages,
            lambda: self.count(name, "cur2_line_items"),
            self.work,
            self.postmaster,
        )
        assert result.rows == month.rows, f"{title}: {result.rows} of {month.rows} rows"
        shutil.rmtree(self.work / f"batches-{name}", ignore_errors=True)
        return result

    def focus(self, title: str, month: Month, name: str, batch: bool, **target: Any) -> PipeResult:
        self.database(name)
        tap = self.tap_config(month, name, "parquet" if batch else None)
        stages = [
            ("tap-aws", [str(BIN / "tap-aws"), "--config", str(tap)]),
            (
                "mapper-focus",
                [str(BIN / "mapper-focus"), "--config", str(self.mapper_config(name, batch))],
            ),
            (
                "target-postgres",
                [str(TARGET_POSTGRES), "--config", str(self.target_config(name, **target))],
            ),
        ]
        result = run_pipe(
            title,
            stages,
            lambda: self.count(name, "focus_cost_and_usage"),
            self.work,
            self.postmaster,
        )
        for folder in (f"batches-{name}", f"batches-{name}-focus"):
            shutil.rmtree(self.work / folder, ignore_errors=True)
        return result


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _first_difference(columns: list[str], one: tuple, other: tuple, *, text: bool) -> str:
    """The first column whose values differ (as text, or as values)."""
    for column, x, y in zip(columns, one, other, strict=True):
        if (str(x) != str(y)) if text else (x != y):
            return f"{column}: {str(x)[:40]} vs {str(y)[:40]}"
    return ""


def sql_type(prop: dict[str, Any]) -> str:
    """The column type target-postgres gives a JSON-schema property."""
    declared = prop.get("type", [])
    types = {declared} if isinstance(declared, str) else set(declared)
    types.discard("null")
    if types == {"string"} and prop.get("format") == "date-time":
        return "timestamp"
    if types == {"number"}:
        return "numeric"
    if types == {"integer"}:
        return "bigint"
    if types == {"boolean"}:
        return "boolean"
    if types & {"object", "array"}:
        return "jsonb"
    return "text"


def parquet_columns(url: str, month: Month) -> list[str]:
    import pyarrow.fs
    import pyarrow.parquet as pq

    fs = pyarrow.fs.S3FileSystem(
        access_key=KEY,
        secret_key=SECRET,
        region="us-east-1",
        endpoint_override=url.split("://", 1)[1],
        scheme="http",
    )
    with fs.open_input_file(f"{month.bucket}/{month.files[0]}") as handle:
        return list(pq.ParquetFile(handle).schema_arrow.names)


def discover(url: str, month: Month, work: Path) -> dict[str, Any]:
    config = work / "discover.json"
    config.write_text(
        json.dumps(
            {
                "bucket": month.bucket,
                "prefix": "cur2",
                "endpoint_url": url,
                "aws_access_key_id": KEY,
                "aws_secret_access_key": SECRET,
            }
        )
    )
    out = subprocess.run(
        [str(BIN / "tap-aws"), "--config", str(config), "--discover"],
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(out.stdout))


@contextlib.contextmanager
def compiled_imports(work: Path) -> Iterator[None]:
    """Every program run once before the measurements, its bytecode cached under ``work``
    (whatever PYTHONDONTWRITEBYTECODE says), so no measured process compiles its imports:
    1-2 s a process otherwise."""
    saved = dict(os.environ)
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    try:
        for program in (BIN / "tap-aws", BIN / "mapper-focus", TARGET_POSTGRES):
            subprocess.run([str(program), "--about"], capture_output=True, check=True)
        warm = "import boto3, psycopg, pyarrow.csv, pyarrow.fs, pyarrow.parquet"
        subprocess.run([sys.executable, "-c", warm], check=True)
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def measure_all(bench: Bench, full: Month, small: Month) -> list[Result]:
    results: list[Result] = [bench.baseline(full)]
    raw, focus = "cur2_line_items", "focus_cost_and_usage"
    results.append(bench.raw(RECORD, small, "raw_record", None))
    results.append(bench.raw(EXACT, small, "raw_batch", "jsonl"))
    bench.compare(EXACT, "raw_record", "raw_batch", raw, RAW_KEY)
    bench.drop("raw_batch")
    results.append(bench.raw(FAST, small, "raw_copy", "jsonl", use_copy=True))
    bench.compare(FAST, "raw_record", "raw_copy", raw, RAW_KEY)
    for name in ("raw_record", "raw_copy"):
        bench.drop(name)
    results.append(bench.focus("FOCUS record", small, "focus_record", batch=False))
    results.append(bench.focus("FOCUS batch", small, "focus_batch", batch=True))
    bench.compare("FOCUS batch", "focus_record", "focus_batch", focus, "x_RowKey")
    bench.drop("focus_batch")
    results.append(
        bench.focus("FOCUS batch use_copy", small, "focus_copy", batch=True, use_copy=True)
    )
    bench.compare("FOCUS batch use_copy", "focus_record", "focus_copy", focus, "x_RowKey")
    for name in ("focus_record", "focus_copy"):
        bench.drop(name)
    if full is not small:
        results.append(bench.raw(FULL, full, "raw_full", "jsonl", use_copy=True))
        bench.drop("raw_full")
    return results


_COMPARISONS: list[Comparison] = []  # of the last run(), for report()


def run(rows: int, work: Path, record_rows: int = RECORD_ROWS) -> list[Result]:
    """The baseline (first) and the full-month BATCH pipe on a ``rows``-row month; the
    RECORD pipes and their BATCH twins on a ``record_rows``-row month (module docstring)."""
    ensure_target_postgres()
    sys.path.insert(0, str(ROOT / "tests"))
    from pgcluster import start_cluster

    work.mkdir(parents=True, exist_ok=True)
    record_rows = min(rows, record_rows)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request lines
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    pg = None
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        s3 = boto3.client(
            "s3",
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id=KEY,
            aws_secret_access_key=SECRET,
        )
        started = time.perf_counter()
        full = write_month(s3, f"bench-pg-{rows}", rows)
        small = full
        if record_rows != rows:
            small = write_month(s3, f"bench-pg-{record_rows}", record_rows)
        print(f"generated the months in {time.perf_counter() - started:.0f} s", flush=True)
        pg = start_cluster()
        bench = Bench(url, pg, work)
        with compiled_imports(work):
            results = measure_all(bench, full, small)
        _COMPARISONS[:] = bench.comparisons
        return results
    finally:
        if pg is not None:
            pg.stop()
        server.stop()


def _pipe(results: list[Result], name: str) -> PipeResult | None:
    return next((r for r in results if isinstance(r, PipeResult) and r.name == name), None)


def report(results: list[Result], rows: int, record_rows: int) -> None:
    print_table(
        f"CUR 2.0 rows into PostgreSQL through target-postgres ({rows:,}-row month; RECORD "
        f"pipes and their BATCH twins on a {min(rows, record_rows):,}-row month)",
        results,
        baseline=BASELINE,
    )
    print("\nCPU seconds (rows per CPU-second): a pipe runs at the pace of its busiest process")
    for r in results:
        if not isinstance(r, PipeResult):
            continue
        cpu = {**r.stage_cpu_seconds, "postgres": r.server_cpu_seconds, "S3": r.s3_cpu_seconds}
        parts = ", ".join(f"{k} {v:.1f} ({r.rows / max(v, 1e-9):,.0f})" for k, v in cpu.items())
        print(f"  {r.name:<32} {parts}")
    print("\nBATCH pipe / RECORD pipe, by rows/s, and by the CPU per row of each pipe's busiest")
    print("process (what the ratio is on two otherwise idle cores):")
    pairs = [(EXACT, RECORD), (FAST, RECORD), (FULL, RECORD)]
    pairs += [("FOCUS batch", "FOCUS record"), ("FOCUS batch use_copy", "FOCUS record")]
    for fast, slow in pairs:
        a, b = _pipe(results, fast), _pipe(results, slow)
        if a is None or b is None:
            continue
        (fast_by, fast_cpu), (slow_by, slow_cpu) = a.busiest(), b.busiest()
        print(
            f"  {fast + ' / ' + slow:<44} {a.rows_per_second / b.rows_per_second:>4.1f}x "
            f"rows/s, {slow_cpu / fast_cpu:>4.1f}x CPU-bound (busiest: {fast_by} / {slow_by})"
        )
    print("  goal: >= 5x into PostgreSQL")
    print("\nBATCH tables against RECORD tables (value by value, _sdc_* columns aside):")
    for comparison in _COMPARISONS:
        print(f"  {comparison.name:<22} {comparison}")
    if not target_reads_parquet():
        print(
            "\ntarget-postgres's venv has no pyarrow: its SDK cannot read Parquet batch files "
            "(tap-aws's own batch format), hence JSONL."
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the full month")
    parser.add_argument(
        "--record-rows",
        type=int,
        default=RECORD_ROWS,
        help="rows of the month the RECORD pipes and their BATCH twins run on",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-postgres-"))
    try:
        results = run(args.rows, work, args.record_rows)
        report(results, args.rows, args.record_rows)
    finally:
        if args.keep:
            print(f"work folder: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
