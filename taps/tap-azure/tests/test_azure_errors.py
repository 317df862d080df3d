"""Permanent failures: one clear line, exit 2, and never a secret."""

from __future__ import annotations

import json
import uuid

import pytest
from finfocus_sandbox.azure import DEV_ACCOUNT
from finfocus_sandbox.azure.azurite import DEV_KEY
from tap_azure_testing import (
    CLIENT_ID,
    SECRET,
    exports_config,
    make_dataset,
    run_tap,
    start_fake,
    tap_config,
)


def failure_line(run) -> str:
    assert "Traceback" not in run.stderr
    lines = [line for line in run.stderr.strip().splitlines() if line.startswith("tap-azure:")]
    assert len(lines) == 1, run.stderr[-2000:]
    return lines[0]


def no_secret(run, *secrets: str) -> None:
    for secret in (SECRET, *secrets):
        assert secret not in run.stdout
        assert secret not in run.stderr


@pytest.fixture
def azure_fake():
    dataset = make_dataset(days=5)
    fake = start_fake(dataset, role_scopes=[dataset.subscriptions[0].resource_id])
    yield fake, dataset
    fake.stop()


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"client_secret": "definitely-Not-The-Secret-42"},
            ["AADSTS7000215", "check client_secret", CLIENT_ID],
        ),
        (
            {"client_id": "9f9f9f9f-0000-4000-8000-000000000001"},
            ["AADSTS700016", "check client_id and tenant_id"],
        ),
        ({"tenant_id": "00000000-0000-4000-8000-00000000dead"}, ["AADSTS90002", "tenant"]),
    ],
)
def test_rejected_credentials(tmp_path, azure_fake, overrides, expected):
    fake, dataset = azure_fake
    config = tap_config(fake, dataset, scope=dataset.subscriptions[0].resource_id, **overrides)
    run = run_tap(config, tmp_path)
    assert run.returncode == 2
    line = failure_line(run)
    assert line.startswith("tap-azure: Entra ID refused the client credentials")
    for text in expected:
        assert text in line
    no_secret(run, config["client_secret"])
    assert run.records("cost_details") == []


def test_no_rbac_role_on_the_scope(tmp_path, azure_fake):
    fake, dataset = azure_fake
    run = run_tap(tap_config(fake, dataset), tmp_path)  # the billing account: no role there
    assert run.returncode == 2
    line = failure_line(run)
    assert "403 AuthorizationFailed" in line
    assert "generateCostDetailsReport" in line
    assert dataset.billing_account_scope in line
    assert "Cost Management Reader" in line
    no_secret(run)


def test_unknown_scope(tmp_path, azure_fake):
    fake, dataset = azure_fake
    scope = f"/subscriptions/{uuid.uuid4()}"
    run = run_tap(tap_config(fake, dataset, scope=scope), tmp_path)
    assert run.returncode == 2
    line = failure_line(run)
    assert "404 SubscriptionNotFound" in line
    assert f"check scope {scope}" in line
    no_secret(run)


def test_missing_container(tmp_path, azurite_server):
    config = exports_config(azurite_server, "no-such-container")
    run = run_tap(config, tmp_path)
    assert run.returncode == 2
    line = failure_line(run)
    assert "container 'no-such-container' does not exist" in line
    assert DEV_ACCOUNT in line
    no_secret(run, DEV_KEY)


def test_no_manifests_under_the_prefix(tmp_path, azurite_server, blob_container):
    _, name = blob_container
    run = run_tap(exports_config(azurite_server, name, prefix="typo"), tmp_path)
    assert run.returncode == 2
    assert "no export manifests found under" in failure_line(run)
    no_secret(run, DEV_KEY)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"scope": None, "container": None}, "set scope"),
        ({"client_secret": None}, "scope needs client_secret"),
        ({"scope": "/subscriptions"}, "is not a Cost Management scope"),
        ({"metrics": ["blended"]}, "metrics entry 'blended'"),
        ({"start_date": "2019-01-01"}, "older than the 13 months"),
        ({"api_url": "management.azure.com"}, "api_url must be an http(s) URL"),
    ],
)
def test_invalid_config(tmp_path, azure_fake, overrides, expected):
    fake, dataset = azure_fake
    config = {k: v for k, v in {**tap_config(fake, dataset), **overrides}.items() if v is not None}
    run = run_tap(config, tmp_path)
    assert run.returncode == 2
    line = failure_line(run)
    assert line.startswith("tap-azure: invalid config:")
    assert expected in line
    no_secret(run)
    assert not [e for e in fake.events if e.kind == "token"]  # nothing was asked of Azure


def test_a_catalog_selecting_an_unknown_stream_is_refused(tmp_path, azure_fake):
    fake, dataset = azure_fake
    config = tap_config(fake, dataset, scope=dataset.subscriptions[0].resource_id)
    discovered = json.loads(run_tap(config, tmp_path, "--discover").stdout)
    bogus = json.loads(json.dumps(discovered["streams"][0]))
    bogus["tap_stream_id"] = bogus["stream"] = "usage_details"
    for entry in bogus["metadata"]:
        if not entry["breadcrumb"]:
            entry["metadata"]["selected"] = True
    discovered["streams"].append(bogus)
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps(discovered))
    run = run_tap(config, tmp_path, "--catalog", str(catalog))
    assert run.returncode == 2
    line = failure_line(run)
    assert "the catalog selects usage_details, not a stream of tap-azure" in line
    assert not run.messages
    assert not [e for e in fake.events if e.kind == "token"]  # nothing was asked of Azure
    no_secret(run)
