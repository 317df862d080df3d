"""Canary credentials through success and failure paths, with debug logging everywhere.

The canary must appear in no output, log, state, error or file written: Meltano's and the
plugins' stdout/stderr, the state Meltano kept, the dataset, its audit and quarantine
files, Meltano's run folder and its system database.
"""

from __future__ import annotations

import base64
import datetime as dt
import tempfile
import urllib.parse
from pathlib import Path

import boto3
import pytest
from azure.storage.blob import BlobServiceClient, ContainerSasPermissions, generate_container_sas
from finfocus_sandbox.aws import write_cur2_delivery
from finfocus_sandbox.azure import AzureDataset, Azurite, write_export_run
from finfocus_sandbox.faults import Fault
from moto.server import ThreadedMotoServer
from pipeline_testing import ROOT
from providers import AZURITE_DIR, PROVIDERS, canary, run_tap, tap_env

DEBUG = {"LOGLEVEL": "DEBUG", "MELTANO_CLI_LOG_LEVEL": "debug"}


def leaks(secret: str | list[str], *texts: str, folders: tuple[Path, ...] = ()) -> list[str]:
    """Where the secret (or a long piece of it) shows up; a list: any of these pieces."""
    needles = set(secret) if isinstance(secret, list) else {secret, secret[-16:], secret[:16]}
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


CLOUD = [p for p in PROVIDERS if p.name in {"azure", "gcp"}]


@pytest.mark.plugins("mapper-focus", "target-focus")
@pytest.mark.parametrize("provider", [p for p in PROVIDERS if p not in CLOUD], ids=lambda p: p.name)
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
    found = leaks(provider.secrets(secret), *texts, folders=folders) + leaks(
        provider.secrets(wrong), *texts, folders=folders
    )
    tally["leaked"] += len(found)
    assert not found, f"{provider.tap}: credential found in {found}"


@pytest.mark.plugins("tap-aws", "mapper-focus", "target-focus")
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


@pytest.mark.plugins("mapper-focus", "target-focus")
@pytest.mark.parametrize("provider", CLOUD, ids=lambda p: p.name)
def test_cloud_tap_canary_never_leaks(meltano, tmp_path, provider, tally):
    """tap-azure's client secret, tap-gcp's private key: a full sync through Meltano, and
    the tap's failure paths (rejected credentials, a service that keeps failing), all with
    debug logging."""
    secret, wrong = canary(provider, "Leak"), canary(provider, "WrongLeak")
    fake, extra = provider.make(secret)
    debug = tap_env(LOGLEVEL="DEBUG")
    with fake, tempfile.TemporaryDirectory() as configs:
        env = {**provider.meltano_env(fake, secret, extra), **DEBUG}
        ok = meltano.run("run", provider.tap, "focus", "target-focus", extra_env=env)
        assert ok.returncode == 0, one_line_errors(ok.stderr)
        refused = provider.run_cli(provider.config(fake, wrong, extra), Path(configs), env=debug)
        assert refused.returncode == 2, refused.stderr[-1500:]
        fake.faults.add(Fault(kind="server_error", path=provider.path, skip=3, times=None))
        failing = provider.run_cli(
            {**provider.config(fake, secret, extra), "max_retries": 1},
            Path(configs),
            env=debug,
        )
        assert failing.returncode == 75, failing.stderr[-1500:]
    state = state_text(meltano, f"dev:{provider.tap}-to-target-focus")
    texts = [ok.stdout, ok.stderr, refused.stdout, refused.stderr, failing.stdout, failing.stderr]
    folders = (tmp_path, ROOT / ".meltano" / "run")
    tally["leak_checks"] += 2
    found = leaks(provider.secrets(secret), *texts, state, folders=folders) + leaks(
        provider.secrets(wrong), *texts, state, folders=folders
    )
    tally["leaked"] += len(found)
    assert not found, f"{provider.tap}: credential found in {found}"


STORAGE_ACCOUNT = "finfocuscanary"
STORAGE_KEY = base64.b64encode(b"finfocusCanaryStorageKey/7c3d9e2a41b8/0123456789abcdef").decode()
WRONG_KEY = base64.b64encode(b"finfocusWrongStorageKey/2a41b87c3d9e/fedcba9876543210").decode()


@pytest.mark.plugins("tap-azure")
def test_azure_storage_canaries_never_leak(tmp_path, tally):
    """tap-azure reading exports with a canary account key (in a connection string) and a
    SAS made from it, with debug logging: on success, with a wrong key, with a SAS that may
    not list, and with a missing container."""
    debug = tap_env(LOGLEVEL="DEBUG")
    runs = {}
    with Azurite(AZURITE_DIR, account=(STORAGE_ACCOUNT, STORAGE_KEY)) as azurite:
        service = BlobServiceClient.from_connection_string(azurite.connection_string)
        service.create_container("billing")
        container = service.get_container_client("billing")
        dataset = AzureDataset.generate(seed=37, days=20, subscriptions=1)
        write_export_run(container, dataset, "daily-focus", "FocusCost", dataset.months()[-1])
        expiry = dt.datetime.now(tz=dt.UTC) + dt.timedelta(hours=1)
        sas = generate_container_sas(
            STORAGE_ACCOUNT,
            "billing",
            account_key=STORAGE_KEY,
            permission=ContainerSasPermissions(read=True, list=True),
            expiry=expiry,
        )
        read_only = generate_container_sas(
            STORAGE_ACCOUNT,
            "billing",
            account_key=STORAGE_KEY,
            permission=ContainerSasPermissions(read=True),
            expiry=expiry,
        )
        base = {"container": "billing", "prefix": "exports", "max_retries": 1}
        by_key = {**base, "storage_connection_string": azurite.connection_string}
        by_sas = {**base, "storage_account_url": azurite.blob_endpoint}
        wrong = azurite.connection_string.replace(STORAGE_KEY, WRONG_KEY)
        expected = {
            "wrong key": "Blob Storage refused the container listing",
            "SAS that may not list": "(AuthorizationPermissionMismatch): check storage_",
            "missing container": "container 'no-such-container' does not exist",
        }
        cases = {
            "connection string": (by_key, 0),
            "SAS token": ({**by_sas, "storage_sas_token": sas}, 0),
            "wrong key": ({**by_key, "storage_connection_string": wrong}, 2),
            "SAS that may not list": ({**by_sas, "storage_sas_token": read_only}, 2),
            "missing container": ({**by_key, "container": "no-such-container"}, 2),
        }
        with tempfile.TemporaryDirectory() as configs:
            for name, (config, code) in cases.items():
                run = run_tap("tap_azure.tap", config, Path(configs), env=debug)
                runs[name] = run
                assert run.returncode == code, f"{name}: {run.stderr[-1500:]}"
                if code:
                    lines = [x for x in run.stderr.splitlines() if x.startswith("tap-azure: ")]
                    assert len(lines) == 1, f"{name}: {run.stderr[-1500:]}"
                    assert expected[name] in lines[0], lines[0]
    signatures = [
        value
        for token in (sas, read_only)
        for name, _, value in (part.partition("=") for part in token.split("&"))
        if name == "sig"
    ]
    needles = [
        STORAGE_KEY,
        STORAGE_KEY[:16],
        STORAGE_KEY[-16:],
        WRONG_KEY,
        WRONG_KEY[-16:],
        sas,
        read_only,
        *signatures,
        *(urllib.parse.unquote(s) for s in signatures),
    ]
    texts = [text for run in runs.values() for text in (run.stdout, run.stderr)]
    tally["leak_checks"] += len(runs)
    found = leaks(needles, *texts, folders=(tmp_path,))
    tally["leaked"] += len(found)
    assert not found, f"tap-azure: a storage secret found in {found}"
