"""The fake Azure: Entra ID tokens, the Cost Details API, its faults, and exports to Azurite."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from finfocus_sandbox.azure import (
    EA_COLUMNS,
    FOCUS_COLUMNS,
    MCA_COLUMNS,
    QPU_RETRY_AFTER,
    AzureDataset,
    Azurite,
    FakeAzure,
    Fault,
    dec_text,
    write_export_run,
)

CLIENT = "11111111-2222-3333-4444-555555555555"
SECRET = "sandbox~Secret0123456789"
AZURITE_DIR = Path(
    os.environ.get(
        "FINFOCUS_AZURITE_DIR",
        Path(__file__).resolve().parents[2] / "taps" / "tap-azure" / "tests" / "azurite",
    )
)


def request(
    url: str,
    *,
    method: str = "GET",
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, method=method, data=data, headers=headers or {})  # noqa: S310
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - loopback
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def token(fake: FakeAzure, *, secret: str = SECRET, client: str = CLIENT, tenant: str = ""):
    form = urllib.parse.urlencode(
        {
            "grant_type": "client_credentials",
            "client_id": client,
            "client_secret": secret,
            "scope": "https://management.azure.com/.default",
        }
    ).encode()
    return request(fake.token_url(tenant or None), method="POST", data=form)


def bearer(fake: FakeAzure) -> dict[str, str]:
    status, _, body = token(fake)
    assert status == 200
    return {"Authorization": f"Bearer {json.loads(body)['access_token']}"}


def generate(fake: FakeAzure, scope: str, body: dict, headers: dict | None = None) -> tuple:
    url = (
        f"{fake.url}{scope}/providers/Microsoft.CostManagement/generateCostDetailsReport"
        "?api-version=2024-08-01"
    )
    return request(
        url,
        method="POST",
        data=json.dumps(body).encode(),
        headers={
            "Content-Type": "application/json",
            **(bearer(fake) if headers is None else headers),
        },
    )


def parse_csv(data: bytes) -> tuple[list[str], list[list[str]]]:
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    return rows[0], rows[1:]


@pytest.fixture(scope="module")
def ea() -> AzureDataset:
    return AzureDataset.generate(seed=9, days=40, agreement="EA", resources_per_subscription=6)


@pytest.fixture
def fake(ea: AzureDataset):
    with FakeAzure(ea, client_id=CLIENT, client_secret=SECRET, poll_retry_after=0) as server:
        yield server
    server.stop()


# ------------------------------------------------------------------ the dataset
def test_dataset_is_deterministic_and_documented_columns():
    first = AzureDataset.generate(seed=3, days=20, now=1_767_225_600)
    again = AzureDataset.generate(seed=3, days=20, now=1_767_225_600)
    other = AzureDataset.generate(seed=4, days=20, now=1_767_225_600)
    assert list(first.rows("ActualCost")) == list(again.rows("ActualCost"))
    assert list(first.rows("ActualCost")) != list(other.rows("ActualCost"))
    assert len(EA_COLUMNS) == 57
    assert len(MCA_COLUMNS) == 65
    assert len(FOCUS_COLUMNS) == 96
    mca = AzureDataset.generate(seed=3, days=20, agreement="MCA", now=1_767_225_600)
    row = dict(zip(MCA_COLUMNS, next(mca.rows("ActualCost")), strict=True))
    assert row["billingCurrency"] == "EUR"
    assert row["pricingCurrency"] == "USD"
    assert Decimal(row["costInBillingCurrency"]) == mca.billing(Decimal(row["costInUsd"]))


def test_actual_and_amortized_views_differ_as_azure_documents(ea: AzureDataset):
    actual = [dict(zip(EA_COLUMNS, r, strict=True)) for r in ea.rows("ActualCost")]
    amortized = [dict(zip(EA_COLUMNS, r, strict=True)) for r in ea.rows("AmortizedCost")]
    purchases = [r for r in actual if r["ChargeType"] == "Purchase"]
    assert {r["PricingModel"] for r in purchases} >= {"Reservation", "SavingsPlan"}
    assert not [
        r for r in amortized if r["ChargeType"] == "Purchase" and r["PublisherType"] == "Azure"
    ]
    assert {r["ChargeType"] for r in amortized} >= {"UnusedReservation", "UnusedSavingsPlan"}
    covered = [r for r in actual if r["ChargeType"] == "Usage" and r["ReservationId"]]
    assert covered
    assert all(Decimal(r["CostInBillingCurrency"]) == 0 for r in covered)
    covered_am = [r for r in amortized if r["ChargeType"] == "Usage" and r["ReservationId"]]
    assert all(Decimal(r["CostInBillingCurrency"]) > 0 for r in covered_am)
    # exact totals: the sum of what the rows spell
    for metric, rows in (("ActualCost", actual), ("AmortizedCost", amortized)):
        spelled = sum((Decimal(r["CostInBillingCurrency"]) for r in rows), Decimal(0))
        assert spelled == ea.total(metric)
    billed, effective = ea.focus_totals()
    assert (billed, effective) == (ea.total("ActualCost"), ea.total("AmortizedCost"))
    # long fractions and .NET exponents, both exact
    assert any(len(r["Quantity"].split(".")[-1]) >= 15 for r in actual)
    assert any("E-" in r["CostInBillingCurrency"] for r in actual)
    assert dec_text(Decimal("0.0000123456")) == "1.23456E-05"
    assert Decimal(dec_text(Decimal("0.0000123456"))) == Decimal("0.0000123456")
    assert any(r["Tags"].startswith('"') for r in actual)  # EA tags come without braces


def test_restate_changes_only_recent_days():
    ds = AzureDataset.generate(seed=2, days=30)
    before = {
        day: ds.total("ActualCost", day, day + dt.timedelta(days=1)) for day in ds.day_range()
    }
    touched = ds.restate(days=3)
    assert touched == [ds.today - dt.timedelta(days=n) for n in (2, 1, 0)]
    after = {day: ds.total("ActualCost", day, day + dt.timedelta(days=1)) for day in ds.day_range()}
    changed = sorted(day for day in before if before[day] != after[day])
    assert changed == touched
    assert all(after[day] > before[day] for day in touched)


# ------------------------------------------------------------------ Entra ID
def test_token_and_entra_error_bodies(fake: FakeAzure, ea: AzureDataset):
    status, _, body = token(fake)
    assert status == 200
    payload = json.loads(body)
    assert payload["token_type"] == "Bearer"
    assert payload["expires_in"] == 3599
    cases = [
        ({"secret": "wrong-secret-value"}, 401, "invalid_client", 7000215),
        ({"client": "99999999-0000-0000-0000-000000000000"}, 400, "unauthorized_client", 700016),
        ({"tenant": "00000000-dead-beef-0000-000000000000"}, 400, "invalid_request", 90002),
        ({"secret": ""}, 401, "invalid_client", 7000218),
    ]
    for options, code, error, aadsts in cases:
        status, _, body = token(fake, **options)
        payload = json.loads(body)
        assert status == code, options
        assert payload["error"] == error
        assert payload["error_codes"] == [aadsts]
        assert payload["error_description"].startswith(f"AADSTS{aadsts}:")
        assert {"trace_id", "correlation_id", "timestamp", "error_uri"} <= set(payload)
        assert "wrong-secret-value" not in payload["error_description"]


# ------------------------------------------------------------------ Cost Details API
def test_generate_poll_and_download_every_blob(ea: AzureDataset):
    with FakeAzure(
        ea, client_id=CLIENT, client_secret=SECRET, poll_retry_after=1, polls_before_ready=1,
        blob_rows=100,
    ) as fake:  # fmt: skip
        month = ea.today.replace(day=1)
        scope = ea.subscriptions[0].resource_id
        body = {
            "metric": "AmortizedCost",
            "timePeriod": {"start": str(month), "end": str(ea.today)},
        }
        status, headers, _ = generate(fake, scope, body)
        assert status == 202
        assert headers["Retry-After"] == "1"
        location = headers["Location"]
        assert "/providers/Microsoft.CostManagement/costDetailsOperationResults/" in location
        assert headers["x-ms-request-id"]
        auth = bearer(fake)
        status, headers, _ = request(location, headers=auth)
        assert status == 202
        assert headers["Location"] == location
        status, _, body = request(location, headers=auth)
        assert status == 200
        operation = json.loads(body)
        manifest = operation["manifest"]
        assert operation["status"] == "Completed"
        assert manifest["requestContext"]["requestBody"]["metric"] == "AmortizedCost"
        assert manifest["blobCount"] == len(manifest["blobs"]) > 1
        rows, total = 0, Decimal(0)
        for blob in manifest["blobs"]:
            status, _, data = request(blob["blobLink"])
            assert status == 200
            assert len(data) == blob["byteCount"]
            header, lines = parse_csv(data)
            assert tuple(header) == EA_COLUMNS
            rows += len(lines)
            total += sum(
                (Decimal(r[EA_COLUMNS.index("CostInBillingCurrency")]) for r in lines), Decimal(0)
            )
        expected = ea.total("AmortizedCost", month, ea.today + dt.timedelta(days=1), scope)
        assert total == expected
        assert rows == len(
            list(ea.rows("AmortizedCost", month, ea.today + dt.timedelta(days=1), scope))
        )
        tampered = manifest["blobs"][0]["blobLink"].replace("sig=", "sig=x")
        status, _, data = request(tampered)
        assert status == 403
        assert b"<Code>AuthenticationFailed</Code>" in data
        kinds = [(e.kind, e.status) for e in fake.events if e.kind in ("generate", "poll")]
        assert kinds == [("generate", 202), ("poll", 202), ("poll", 200)]


def test_arm_errors(fake: FakeAzure, ea: AzureDataset):
    scope = ea.subscriptions[0].resource_id
    body = {"metric": "ActualCost", "timePeriod": {"start": str(ea.today), "end": str(ea.today)}}
    status, headers, data = generate(fake, scope, body, headers={})
    assert status == 401
    assert json.loads(data)["error"]["code"] == "AuthenticationFailed"
    assert "WWW-Authenticate" in headers
    status, _, data = generate(fake, scope, body, headers={"Authorization": "Bearer nope"})
    assert json.loads(data)["error"]["code"] == "InvalidAuthenticationToken"
    status, _, data = generate(fake, "/subscriptions/" + str(uuid.uuid4()), body)
    assert status == 404
    assert json.loads(data)["error"]["code"] == "SubscriptionNotFound"
    long = {"metric": "ActualCost", "timePeriod": {"start": "2026-01-01", "end": "2026-02-15"}}
    status, _, data = generate(fake, scope, long)
    assert status == 400
    assert "1 month" in json.loads(data)["error"]["message"]
    fake.app.expire_tokens()
    auth = {"Authorization": f"Bearer {next(iter(fake.app.tokens))}"}
    status, _, data = generate(fake, scope, body, headers=auth)
    assert status == 401
    assert json.loads(data)["error"]["code"] == "ExpiredAuthenticationToken"


def test_rbac_denied_is_authorization_failed(ea: AzureDataset):
    allowed = ea.subscriptions[0].resource_id
    with FakeAzure(ea, client_id=CLIENT, client_secret=SECRET, role_scopes=[allowed]) as fake:
        body = {
            "metric": "ActualCost",
            "timePeriod": {"start": str(ea.today), "end": str(ea.today)},
        }
        status, _, _ = generate(fake, f"{allowed}/resourceGroups/rg-web", body)
        assert status in (202, 204)
        status, _, data = generate(fake, ea.billing_account_scope, body)
        error = json.loads(data)["error"]
        assert status == 403
        assert error["code"] == "AuthorizationFailed"
        assert CLIENT in error["message"]
        assert ea.billing_account_scope in error["message"]


def test_faults_speak_azure(fake: FakeAzure, ea: AzureDataset):
    scope = ea.subscriptions[0].resource_id
    body = {"metric": "ActualCost", "timePeriod": {"start": str(ea.today), "end": str(ea.today)}}
    auth = bearer(fake)
    fake.faults.add(Fault(kind="rate_limit", path="generateCostDetailsReport", times=1))
    status, headers, data = generate(fake, scope, body, headers=auth)
    assert status == 429
    assert json.loads(data)["error"]["code"] == "429"
    assert headers[QPU_RETRY_AFTER] == "1"
    assert "Retry-After" not in headers
    fake.faults.add(Fault(kind="rate_limit", path="generateCostDetailsReport", retry_after=2))
    status, headers, _ = generate(fake, scope, body, headers=auth)
    assert headers[QPU_RETRY_AFTER] == "2"
    assert headers["Retry-After"] == "2"
    fake.faults.add(Fault(kind="server_error", path="generateCostDetailsReport", status=503))
    status, _, data = generate(fake, scope, body, headers=auth)
    assert status == 503
    assert json.loads(data)["error"]["code"] == "ServiceUnavailable"
    fake.faults.add(Fault(kind="rate_limit", path="/oauth2/"))
    status, _, data = token(fake)
    assert status == 429
    assert json.loads(data)["error"] == "temporarily_unavailable"
    assert fake.faults.injected == {"rate_limit": 3, "server_error": 1}


# ------------------------------------------------------------------ exports to Azurite
@pytest.fixture(scope="module")
def azurite():
    with Azurite(AZURITE_DIR) as server:
        yield server


def test_exports_written_as_microsoft_lays_them_out(azurite: Azurite):
    from azure.storage.blob import BlobServiceClient

    ds = AzureDataset.generate(seed=4, days=35, agreement="MCA")
    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    container = service.create_container(f"exports-{uuid.uuid4().hex[:8]}")
    period = ds.months()[-1]
    first = write_export_run(container, ds, "daily-focus", "FocusCost", period, rows_per_file=50)
    manifest = json.loads(container.download_blob(first.manifest_blob).readall())
    assert manifest["exportConfig"]["type"] == "FocusCost"
    assert manifest["exportConfig"]["exportName"] == "daily-focus"
    assert manifest["runInfo"]["runId"] == first.run_id
    assert manifest["runInfo"]["startDate"].startswith(f"{period}-01")
    assert [b["blobName"] for b in manifest["blobs"]] == list(first.files)
    assert len(first.files) > 1
    assert sum(b["dataRowCount"] for b in manifest["blobs"]) == first.rows
    parts = first.manifest_blob.split("/")
    assert parts[0] == "exports"
    assert parts[1] == "daily-focus"
    assert parts[-2] == first.run_id
    assert parts[2] == f"{period.replace('-', '')}01-" + parts[2].split("-")[1]
    start = dt.date.fromisoformat(f"{period}-01")
    billed, effective = ds.focus_totals(start, (start + dt.timedelta(days=32)).replace(day=1))
    assert (first.cost, first.effective_cost) == (billed, effective)
    spelled = Decimal(0)
    for name in first.files:
        header, lines = parse_csv(container.download_blob(name).readall())
        assert tuple(header) == FOCUS_COLUMNS
        spelled += sum((Decimal(r[0]) for r in lines), Decimal(0))
    assert spelled == billed
    # a re-delivery is a new run beside the old one; with overwrite the old one goes
    time.sleep(0.01)
    second = write_export_run(container, ds, "daily-focus", "FocusCost", period, compress=True)
    assert second.run_id != first.run_id
    assert second.files[0].endswith(".csv.gz")
    header, _ = parse_csv(gzip.decompress(container.download_blob(second.files[0]).readall()))
    assert tuple(header) == FOCUS_COLUMNS
    names = {b.name for b in container.list_blobs()}
    assert first.manifest_blob in names
    assert second.manifest_blob in names
    third = write_export_run(container, ds, "daily-focus", "FocusCost", period, overwrite=True)
    names = {b.name for b in container.list_blobs()}
    assert first.manifest_blob not in names
    assert third.manifest_blob in names
    container.delete_container()


def test_cli_serves_the_fake():
    process = subprocess.Popen(
        [sys.executable, "-m", "finfocus_sandbox.cli", "azure", "--port", "0", "--quiet",
         "--days", "5"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        form = urllib.parse.urlencode(
            {
                "grant_type": "client_credentials",
                "client_id": "00000000-0000-0000-0000-00000000f1f0",
                "client_secret": "finfocus-sandbox-secret",
                "scope": "https://management.azure.com/.default",
            }
        ).encode()
        status, _, body = request(
            f"{url}/contoso.onmicrosoft.com/oauth2/v2.0/token", method="POST", data=form
        )
        assert status == 200
        assert json.loads(body)["access_token"]
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0


def test_azurite_serves_an_account_of_our_own():
    import base64

    from azure.core.exceptions import HttpResponseError
    from azure.storage.blob import BlobServiceClient

    key = base64.b64encode(b"finfocus-test-account-key-0123456789abcdef").decode()
    with Azurite(AZURITE_DIR, account=("finfocustest", key)) as server:
        assert server.blob_endpoint.endswith("/finfocustest")
        assert f"AccountKey={key};" in server.connection_string
        service = BlobServiceClient.from_connection_string(server.connection_string)
        service.create_container("billing")
        assert [c.name for c in service.list_containers()] == ["billing"]
        wrong = server.connection_string.replace(key, base64.b64encode(b"x" * 32).decode())
        with pytest.raises(HttpResponseError) as refused:
            list(BlobServiceClient.from_connection_string(wrong).list_containers())
        assert refused.value.status_code == 403
