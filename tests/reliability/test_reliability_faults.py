"""Every HTTP tap against every fault of the shared fault layer.

Transient faults are survived (bounded retries, backoff honouring the provider's waits)
with exactly the records of a clean run; faults that outlast the retries exit 75 with one
line; permanent ones (a rejected key) exit 2 with one line, fast, and without the key.
"""

from __future__ import annotations

import collections
import json

import pytest
from finfocus_sandbox.faults import Fault
from providers import PROVIDERS, canary, records

TRANSIENT = [
    {"kind": "rate_limit", "retry_after": 1, "times": 2},
    {"kind": "rate_limit", "times": 2},
    {"kind": "server_error", "times": 2},
    {"kind": "server_error", "status": 503, "times": 1},
    {"kind": "slow", "delay": 4, "times": 1},
    {"kind": "reset", "times": 1},
    {"kind": "truncated_json", "times": 1},
    {"kind": "wrong_content_type", "status": 502, "times": 1},
    {"kind": "repeat_page", "skip": 1, "times": 1},
    {"kind": "empty_page_has_more", "times": 1},
]


def _id(fault: dict) -> str:
    return "-".join(str(v) for v in fault.values())


@pytest.mark.parametrize("provider", PROVIDERS, ids=lambda p: p.name)
def test_transient_faults_are_survived_without_loss_or_doubles(provider, tmp_path, tally):
    key = canary(provider)
    fake, extra = provider.make(key)
    with fake:
        config = provider.config(fake, key, extra)
        clean = provider.run_cli(config, tmp_path)
        assert clean.returncode == 0, clean.stderr[-2000:]
        want = collections.Counter(map(provider.record_key, records(clean.stdout, provider.stream)))
        assert want
        for spec in TRANSIENT:
            fake.faults.clear()
            fault = Fault(path=provider.fault_path(spec["kind"]), **spec)
            fake.faults.add(fault)
            run = provider.run_cli(config, tmp_path)
            injected = sum(fake.faults.injected.values())
            tally["faults"] += injected
            assert injected, f"{provider.name}: {_id(spec)} was never injected"
            assert run.returncode == 0, f"{provider.name} {_id(spec)}: {run.stderr[-1500:]}"
            got = collections.Counter(
                map(provider.record_key, records(run.stdout, provider.stream))
            )
            lost, doubled = want - got, got - want
            tally["lost"] += sum(lost.values())
            tally["doubled"] += sum(doubled.values())
            assert not lost, f"{provider.name} {_id(spec)}: lost {list(lost)[:3]}"
            assert not doubled, f"{provider.name} {_id(spec)}: doubled {list(doubled)[:3]}"
            assert not provider.leaked(key, run.stdout, run.stderr)


@pytest.mark.parametrize("provider", PROVIDERS, ids=lambda p: p.name)
def test_faults_that_outlast_retries_exit_75_with_one_line(provider, tmp_path, tally):
    key = canary(provider)
    fake, extra = provider.make(key)
    with fake:
        fake.faults.add(Fault(kind="server_error", path=provider.path, times=None))
        run = provider.run_cli({**provider.config(fake, key, extra), "max_retries": 2}, tmp_path)
        tally["faults"] += sum(fake.faults.injected.values())
    assert run.returncode == 75, run.stderr[-1500:]
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith(f"tap-{provider.name}: ")
    assert "Traceback" not in run.stderr
    assert not provider.leaked(key, run.stdout, run.stderr)


@pytest.mark.parametrize("provider", PROVIDERS, ids=lambda p: p.name)
def test_a_rejected_key_fails_fast_with_one_line_and_no_key(provider, tmp_path, tally):
    good = canary(provider, "Good")
    bad = canary(provider, "Rejected")
    fake, extra = provider.make(good)
    with fake:
        run = provider.run_cli(provider.config(fake, bad, extra), tmp_path)
    tally["bad_inputs"] += 1
    assert run.returncode == 2, run.stderr[-1500:]
    lines = [
        line for line in run.stderr.strip().splitlines() if line.startswith(f"tap-{provider.name}:")
    ]
    assert len(lines) == 1
    assert "Traceback" not in run.stderr
    needles = provider.secrets(bad) if provider.secret_parts else [bad, bad[-12:], bad[-8:]]
    for text in needles:
        assert text not in run.stdout + run.stderr
    assert not records(run.stdout, provider.stream)


def states(stdout: str) -> list[dict]:
    out = []
    for line in stdout.splitlines():
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if isinstance(message, dict) and message.get("type") == "STATE":
            out.append(message["value"])
    return out


# Taps whose runs here span several windows, each bookmarked when it is complete, and
# whose crash-resume is not proven by a Meltano kill -9 test (tap-stripe's is).
MULTI_WINDOW = [p for p in PROVIDERS if p.name in {"azure", "gcp"}]


@pytest.mark.parametrize("provider", MULTI_WINDOW, ids=lambda p: p.name)
def test_a_run_that_gives_up_half_way_resumes_from_its_state_without_loss(
    provider, tmp_path, tally
):
    """The endpoint fails for good half-way through: exit 75 in one line, and the last
    state the run emitted claims nothing it did not emit, so the next run, from that
    state, completes the data."""
    key = canary(provider)
    fake, extra = provider.make(key)
    with fake:
        config = provider.config(fake, key, extra)
        counter = Fault(kind="slow", delay=0.001, path=provider.path, times=None)
        fake.faults.add(counter)
        clean = provider.run_cli(config, tmp_path)
        assert clean.returncode == 0, clean.stderr[-2000:]
        want = collections.Counter(map(provider.record_key, records(clean.stdout, provider.stream)))
        requests = counter.injected
        assert requests >= 2, f"{provider.name}: too few requests ({requests}) to fail half-way"

        fake.faults.clear()
        fake.faults.add(
            Fault(kind="server_error", path=provider.path, skip=max(1, requests // 2), times=None)
        )
        failed = provider.run_cli({**config, "max_retries": 1}, tmp_path)
        tally["faults"] += sum(fake.faults.injected.values())
        assert failed.returncode == 75, failed.stderr[-1500:]
        last = failed.stderr.strip().splitlines()[-1]
        assert last.startswith(f"tap-{provider.name}: "), last
        assert "Traceback" not in failed.stderr
        first = collections.Counter(
            map(provider.record_key, records(failed.stdout, provider.stream))
        )
        assert first, f"{provider.name}: the run failed before any record"

        fake.faults.clear()
        emitted = states(failed.stdout)
        state_file = tmp_path / "state.json"
        state_file.write_text(json.dumps(emitted[-1] if emitted else {}))
        resumed = provider.run_cli(config, tmp_path, "--state", str(state_file))
    assert resumed.returncode == 0, resumed.stderr[-1500:]
    second = collections.Counter(map(provider.record_key, records(resumed.stdout, provider.stream)))
    lost = want - (first | second)
    doubled = (second - want) + (first - want)
    tally["lost"] += sum(lost.values())
    tally["doubled"] += sum(doubled.values())
    assert not lost, f"{provider.name}: the failed run's state skipped {list(lost)[:3]}"
    assert not doubled, f"{provider.name}: records a clean run does not have {list(doubled)[:3]}"
    for run in (failed, resumed):
        assert not provider.leaked(key, run.stdout, run.stderr)
