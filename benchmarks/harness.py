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


# One stage of a shell pipe: runs the stage, writes "peak_kb exit_code" to a report file.
_STAGE = (
    "import resource, subprocess, sys\n"
    "code = subprocess.run(sys.argv[2:], stderr=open(sys.argv[1] + '.log', 'wb')).returncode\n"
    "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
    "open(sys.argv[1], 'w').write(f'{peak} {code}')\n"
    "sys.exit(code)\n"
)


@dataclass
class PipelineResult(Result):
    stage_peaks_mb: dict[str, float]


def measure_pipeline(
    name: str, stages: dict[str, list[str]], rows: int, work: Path, stdout: Path
) -> PipelineResult:
    """Run `stage | stage | ...` (each stage its own process, connected by OS pipes) and
    report wall time end to end and each stage's own peak RSS. Raises with the failing
    stage's log tail."""
    processes: list[subprocess.Popen[bytes]] = []
    reports = {stage: work / f"{stage}.peak" for stage in stages}
    previous = None
    started = time.perf_counter()
    with stdout.open("wb") as sink:
        for index, (stage, command) in enumerate(stages.items()):
            last = index == len(stages) - 1
            process = subprocess.Popen(
                [sys.executable, "-c", _STAGE, str(reports[stage]), *command],
                stdin=previous.stdout if previous else subprocess.DEVNULL,
                stdout=sink if last else subprocess.PIPE,
                cwd=work,
            )
            if previous and previous.stdout:
                previous.stdout.close()  # the next stage owns the read end
            processes.append(process)
            previous = process
        codes = [process.wait() for process in processes]
    seconds = time.perf_counter() - started
    peaks = {}
    for (stage, report), code in zip(reports.items(), codes, strict=True):
        if code != 0:
            log = Path(f"{report}.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{name}: {stage} exited {code}\n{log}")
        peaks[stage] = int(report.read_text().split()[0]) / 1024
    return PipelineResult(name, rows, seconds, max(peaks.values()), peaks)


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
        if isinstance(r, PipelineResult):
            stages = ", ".join(f"{k} {v:.0f}" for k, v in r.stage_peaks_mb.items())
            print(f"{'':<44} peak MB per process: {stages}")


def markdown_table(title: str, results: list[Result], baseline: str) -> str:
    """The same table as print_table, for docs/benchmarks.md."""
    base = next(r for r in results if r.name == baseline)
    lines = [
        f"### {title}",
        "",
        "| stage | rows | seconds | rows/s | vs baseline | peak MB |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    for r in results:
        ratio = r.rows_per_second / base.rows_per_second if base.rows_per_second else 0
        peak = f"{r.peak_mb:.0f}"
        if isinstance(r, PipelineResult):
            peak = " / ".join(f"{k} {v:.0f}" for k, v in r.stage_peaks_mb.items())
        name = r.name.replace("|", "\\|")  # a shell pipe in a table cell
        lines.append(
            f"| {name} | {r.rows:,} | {r.seconds:.2f} | {r.rows_per_second:,.0f} "
            f"| {ratio:.2f}x | {peak} |"
        )
    return "\n".join(lines) + "\n"
