"""Canary credentials through success and failure paths, with debug logging everywhere.

The canary must appear in no output, log, state, error or file written: Meltano's and the
plugins' stdout/stderr, the state Meltano kept, the dataset, its audit and quarantine
files, Meltano's run folder and its system database.
"""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from finfocus_sandbox.aws import write_cur2_delivery
from moto.server import ThreadedMotoServer
from pipeline_testing import ROOT
from providers import PROVIDERS, canary

DEBUG = {"LOGLEVEL": "DEBUG", "MELTANO_CLI_LOG_LEVEL": "debug"}


def leaks(secret: str, *texts: str, folders: tuple[Path, ...] = ()) -> list[str]:
    """Where the secret (or a long piece of it) shows up."""
    needles = {secret, secret[-16:], secret[:16]}
    found = [f"text #{i}" for i, text in enumerate(texts) if any(n in text for n in needles)]
    for folder in folders:
        if not folder.exists():
            continue
        for path in folder.rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                if any(n.encode() in data for n in needles):
                    found.append(str(path))
    return found


def one_line_errors(stderr: str) -> str:
    """The plugins' own one-line errors in Meltano's log (what a user would read)."""
    marks = ("tap-", "mapper-focus:", "target-focus:")
    return "\n".join(
        line
        for line in stderr.splitlines()
        if "METRIC" not in line
        and any(f" {m}" in line for m in marks)
        and ("error" in line.lower() or ": " in line.split("]", 1)[-1])
    )[-3000:]


def state_text(meltano, state_id: str) -> str:
    result = meltano.run("state", "get", state_id)
    return result.stdout + result.stderr


@pytest.mark.parametrize("provider", PROVIDERS, ids=lambda p: p.name)
def test_http_tap_canary_never_leaks(meltano, tmp_path, provider, tally):
    secret = canary(provider, "Leak")
    fake, extra = provider.make(secret)
    with fake:
        env = {**provider.meltano_env(fake, secret, extra), **DEBUG}
        ok = meltano.run("run", provider.tap, "focus", "target-focus", extra_env=env)
        assert ok.returncode == 0, one_line_errors(ok.stderr)
        # Failure paths: Stripe-style 401 (a different key), and a server that keeps failing.
        wrong = canary(provider, "WrongLeak")
        env_bad = {**provider.meltano_env(fake, wrong, extra), **DEBUG}
        refused = meltano.run("run", provider.tap, "focus", "target-focus", extra_env=env_bad)
        assert refused.returncode != 0
        from finfocus_sandbox.faults import Fault

        fake.faults.add(Fault(kind="server_error", path=provider.path, times=None))
        failing = meltano.run(
            "run",
            provider.tap,
            "focus",
            "target-focus",
            extra_env={**env, f"TAP_{provider.name.upper()}_MAX_RETRIES": "1"},
        )
        assert failing.returncode != 0
    state = state_text(meltano, f"dev:{provider.tap}-to-target-focus")
    texts = [
        ok.stdout,
        ok.stderr,
        refused.stdout,
        refused.stderr,
        failing.stdout,
        failing.stderr,
        state,
    ]
    folders = (tmp_path, ROOT / ".meltano" / "run")
    tally["leak_checks"] += 2
    found = leaks(secret, *texts, folders=folders) + leaks(wrong, *texts, folders=folders)
    tally["leaked"] += len(found)
    assert not found, f"{provider.tap}: credential found in {found}"


def test_aws_canary_credentials_never_leak(meltano, tmp_path, tally):
    access_key, secret_key = "AKIAFINFOCUSCANARY42", "finfocusCanarySecretKey0123456789abcdefXYZ"
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
        )
        client.create_bucket(Bucket="canary-billing")
        write_cur2_delivery(
            client, "canary-billing", "exports", "cur2", "2026-10", rows=300, seed=9
        )
        env = {
            "TAP_AWS_BUCKET": "canary-billing",
            "TAP_AWS_PREFIX": "exports",
            "TAP_AWS_ENDPOINT_URL": endpoint,
            "TAP_AWS_START_DATE": "2026-10-01",
            "TAP_AWS_AWS_ACCESS_KEY_ID": access_key,
            "TAP_AWS_AWS_SECRET_ACCESS_KEY": secret_key,
            **DEBUG,
        }
        ok = meltano.run("run", "tap-aws", "focus", "target-focus", extra_env=env)
        assert ok.returncode == 0, ok.stderr[-3000:]
        missing = meltano.run(
            "run",
            "tap-aws",
            "focus",
            "target-focus",
            extra_env={**env, "TAP_AWS_BUCKET": "no-such-bucket"},
        )
        assert missing.returncode != 0
    finally:
        server.stop()
    state = state_text(meltano, "dev:tap-aws-to-target-focus")
    tally["leak_checks"] += 1
    found = leaks(
        secret_key,
        ok.stdout,
        ok.stderr,
        missing.stdout,
        missing.stderr,
        state,
        folders=(tmp_path, ROOT / ".meltano" / "run"),
    )
    tally["leaked"] += len(found)
    assert not found, f"tap-aws: secret key found in {found}"
