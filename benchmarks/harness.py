"""Measure one pipeline stage as its own process: wall time, rows/s, peak memory (RSS)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

# A wrapper process runs the stage and reports the stage's own peak RSS (its only child).
_WRAPPER = (
    "import resource, subprocess, sys\n"
    "stdin = open(sys.argv[1], 'rb') if sys.argv[1] != '-' else None\n"
    "stdout = open(sys.argv[2], 'wb')\n"
    "code = subprocess.run(sys.argv[3:], stdin=stdin, stdout=stdout, stderr=subprocess.DEVNULL).returncode\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, code)\n"
)


@dataclass
class Result:
    name: str
    rows: int
    seconds: float
    peak_mb: float

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def measure(name: str, command: list[str], rows: int, stdin: Path | None, stdout: Path) -> Result:
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", _WRAPPER, str(stdin or "-"), str(stdout), *command],
        capture_output=True,
        text=True,
        check=True,
    )
    seconds = time.perf_counter() - started
    peak_kb, code = out.stdout.split()
    if code != "0":
        raise RuntimeError(f"{name} exited {code}")
    return Result(name, rows, seconds, int(peak_kb) / 1024)


def count_records(path: Path, stream: str | None = None) -> int:
    count = 0
    with path.open("rb") as handle:
        for line in handle:
            is_record = b'"type":"RECORD"' in line or b'"type": "RECORD"' in line
            if is_record and (stream is None or json.loads(line).get("stream") == stream):
                count += 1
    return count


def print_table(title: str, results: list[Result], baseline: str) -> None:
    base = next(r for r in results if r.name == baseline)
    print(f"\n{title}")
    print(
        f"{'stage':<44} {'rows':>9} {'seconds':>8} {'rows/s':>10} {'vs baseline':>11} {'peak MB':>8}"
    )
    for r in results:
        ratio = r.rows_per_second / base.rows_per_second if base.rows_per_second else 0
        print(
            f"{r.name:<44} {r.rows:>9} {r.seconds:>8.2f} {r.rows_per_second:>10,.0f} "
            f"{ratio:>10.2f}x {r.peak_mb:>8.0f}"
        )
