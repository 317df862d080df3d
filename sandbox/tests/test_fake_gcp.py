"""The fake BigQuery billing export, driven by the real google-cloud-bigquery client."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from collections import Counter
from decimal import Decimal

import google.auth.transport.requests
import pytest
import requests
from finfocus_sandbox.faults import Fault
from finfocus_sandbox.gcp import COST_TYPES, CREDIT_TYPES, FakeGCP, GCPBillingDataset
from finfocus_sandbox.gcp.dataset import exact
from google.api_core import exceptions
from google.auth.exceptions import RefreshError
from google.cloud import bigquery
from google.oauth2 import service_account

SCOPES = ["https://www.googleapis.com/auth/bigquery"]
NOW = int(dt.datetime(2026, 2, 4, 15, 30, tzinfo=dt.UTC).timestamp())


def _dataset(**overrides) -> GCPBillingDataset:
    options = {"seed": 4, "days": 10, "projects": 3, "resources_per_project": 4, "now": NOW}
    options.update(overrides)
    return GCPBillingDataset.generate(**options)


def _client(fake: FakeGCP, info: dict | None = None, project: str = "finfocus-billing"):
    credentials = service_account.Credentials.from_service_account_info(
        info or fake.credentials_info(), scopes=SCOPES
    )
    # nothing but the fake may be called: no IAM access-boundary lookup at googleapis.com
    credentials._is_regional_access_boundary_lookup_required = lambda: False
    return bigquery.Client(
        project=project, credentials=credentials, client_options={"api_endpoint": fake.api_url}
    )


def _params(**values) -> bigquery.QueryJobConfig:
    params = []
    for name, value in values.items():
        kind = (
            "DATE"
            if isinstance(value, dt.date) and not isinstance(value, dt.datetime)
            else "TIMESTAMP"
        )
        params.append(bigquery.ScalarQueryParameter(name, kind, value))
    return bigquery.QueryJobConfig(query_parameters=params)


@pytest.fixture(scope="module")
def fake():
    with FakeGCP(_dataset(), pending_polls=2, page_bytes=60_000) as server:
        yield server


def test_dataset_is_deterministic_and_complete():
    one, two = _dataset(), _dataset()
    assert one.billing_account_id == two.billing_account_id
    assert one.rows("standard") == two.rows("standard")
    rows = one.rows("resource")
    assert set(Counter(c["type"] for r in rows for c in r["credits"])) == set(CREDIT_TYPES)
    assert {r["cost_type"] for r in rows} == set(COST_TYPES)
    ancestors = rows[0]["project"]["ancestors"]
    assert ancestors[0]["resource_name"].startswith("projects/")
    assert ancestors[-1]["resource_name"].startswith("organizations/")
    # re-ratings: the same usage exported again later with the difference (append-only)
    identity = ("usage_start_time", "resource", "sku", "project", "labels", "invoice")
    seen: dict[str, list[dict]] = {}
    for row in (r for r in rows if r["cost_type"] == "regular"):
        seen.setdefault(
            json.dumps([row[k] for k in identity], sort_keys=True, default=str), []
        ).append(row)
    rerated = [group for group in seen.values() if len(group) > 1]
    assert rerated
    assert all(len({r["export_time"] for r in g}) == len(g) for g in rerated)
    # all three tables bill the same, to the last digit
    assert one.month_totals("standard") == one.month_totals("resource") == one.month_totals("focus")
    assert len(one.rows("standard")) < len(rows)


def test_query_through_the_real_client_pages_and_polls(fake):
    client = _client(fake)
    table = fake.table_id("standard")
    info = client.get_table(table)
    assert info.time_partitioning.type_ == "DAY"
    assert info.time_partitioning.field is None
    assert {f.name for f in info.schema} >= {"cost", "credits", "export_time", "invoice"}
    fake.clear_requests()
    sql = f"SELECT * FROM `{table}` WHERE DATE(_PARTITIONTIME) BETWEEN @a AND @b"
    config = _params(a=dt.date(2026, 1, 1), b=dt.date(2026, 3, 1))
    rows = list(client.query_and_wait(sql, job_config=config, page_size=100))
    expected = fake.dataset.rows("standard")
    assert len(rows) == len(expected)
    first = rows[0]
    assert isinstance(first["cost"], float)
    assert isinstance(first["credits"], list)
    assert first["export_time"].tzinfo is not None
    assert exact(first["cost"]) == exact(expected[0]["cost"])
    paths = [(r.method, r.path.rsplit("/", 2)[-2], r.params) for r in fake.requests]
    # jobComplete false, then polls (jobs.get, getQueryResults), then pages with pageToken
    assert any(m == "GET" and kind == "jobs" for m, kind, _ in paths)
    page_tokens = [p for m, kind, p in paths if kind == "queries" and "pageToken" in p]
    assert len(page_tokens) >= len(expected) // 100 - 1
    assert all(p["formatOptions.useInt64Timestamp"][0].lower() == "true" for p in page_tokens)
    # jobs.insert path, totals exact
    job = client.query(sql, job_config=config)
    result = job.result(page_size=250)
    total = sum(
        (
            exact(r["cost"]) + sum((exact(c["amount"]) for c in r["credits"]), Decimal(0))
            for r in result
        ),
        Decimal(0),
    )
    assert result.total_rows == len(expected)
    assert total == sum(fake.dataset.month_totals("standard").values())
    assert job.total_bytes_processed
    assert job.total_bytes_processed > 0


def test_partition_pruning_is_logged(fake):
    client = _client(fake)
    table = fake.table_id("resource")
    fake.clear_queries()
    days = fake.dataset.partitions("resource")
    sql = (
        f"SELECT cost, export_time FROM `{table}` WHERE DATE(_PARTITIONTIME) BETWEEN @a AND @b "
        "AND export_time >= @s AND export_time < @e ORDER BY export_time"
    )
    low, high = dt.date.fromisoformat(days[2]), dt.date.fromisoformat(days[4])
    start = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    end = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
    rows = list(client.query_and_wait(sql, job_config=_params(a=low, b=high, s=start, e=end)))
    record = fake.queries[-1]
    assert record.partitions == tuple(days[2:5])
    assert not record.full_scan
    assert record.partitions_total == len(days)
    assert record.rows_returned == len(rows) > 0
    assert [r["export_time"] for r in rows] == sorted(r["export_time"] for r in rows)
    list(client.query_and_wait(f"SELECT cost FROM `{table}`"))
    assert fake.queries[-1].full_scan
    assert fake.queries[-1].bytes_processed > record.bytes_processed
    # the FOCUS table is partitioned by ChargePeriodStart and its amounts are NUMERIC
    focus = fake.table_id("focus")
    assert client.get_table(focus).time_partitioning.field == "ChargePeriodStart"
    sql = f"SELECT BilledCost, x_Credits FROM `{focus}` WHERE ChargePeriodStart >= @a AND ChargePeriodStart < @b"  # noqa: E501
    got = list(client.query_and_wait(sql, job_config=_params(a=start, b=end)))
    assert isinstance(got[0]["BilledCost"], Decimal)
    assert sum((r["BilledCost"] for r in got), Decimal(0)) == sum(
        fake.dataset.month_totals("focus").values()
    )


def test_errors_in_googles_shape(fake):
    table = fake.table_id("standard")
    project, dataset, name = table.split(".")
    url = f"{fake.url}/bigquery/v2/projects/{project}/datasets/{dataset}/tables/{name}"
    for headers in ({}, {"Authorization": "Bearer ya29.not-a-token"}):
        reply = requests.get(url, headers=headers, timeout=5)
        assert reply.status_code == 401
        error = reply.json()["error"]
        assert error["status"] == "UNAUTHENTICATED"
        assert error["code"] == 401
        assert "authentication credential" in error["message"]
    client = _client(fake)
    with pytest.raises(
        exceptions.NotFound, match=r"Not found: Table .* was not found in location US"
    ):
        client.query_and_wait(f"SELECT cost FROM `{table}x`")
    with pytest.raises(exceptions.NotFound, match="Not found: Table"):
        client.query(f"SELECT cost FROM `{table}x`").result()  # jobs.insert: a failed job
    with pytest.raises(exceptions.BadRequest, match="Unrecognized name: nope"):
        client.query_and_wait(f"SELECT nope FROM `{table}`")
    with pytest.raises(exceptions.BadRequest, match="Syntax error"):
        client.query_and_wait(f"SELECT cost FROM `{table}` WHERE cost LIKE 'x'")
    email = fake.add_service_account("nobody@finfocus-billing.iam.gserviceaccount.com", tables=())
    denied = _client(fake, fake.credentials_info(email))
    with pytest.raises(
        exceptions.Forbidden,
        match=r"Access Denied: Table .*: User does not have permission to query table",
    ):
        denied.query_and_wait(f"SELECT cost FROM `{table}`")
    forged = {**fake.credentials_info(), "private_key": fake.credentials_info(email)["private_key"]}
    with pytest.raises(RefreshError, match="Invalid JWT Signature"):
        _client(fake, forged).get_table(table)


def test_faults_are_retried_by_the_client(fake):
    client = _client(fake)
    table = fake.table_id("standard")
    fake.faults.add(
        Fault(kind="rate_limit", path=r"/queries$", times=1),
        Fault(kind="server_error", path=r"/queries/", status=503, times=1),
    )
    try:
        rows = list(client.query_and_wait(f"SELECT cost FROM `{table}`", page_size=300))
    finally:
        injected = fake.faults.injected
        fake.faults.clear()
    assert injected == {"rate_limit": 1, "server_error": 1}
    assert len(rows) == len(fake.dataset.rows("standard"))
    reply = requests.post(f"{fake.url}/__sandbox/faults", json={"kind": "rate_limit"}, timeout=5)
    assert reply.status_code == 200
    body = requests.get(f"{fake.url}/bigquery/v2/projects/p/queries/x", timeout=5)
    assert body.status_code == 429
    assert body.json()["error"]["errors"][0]["reason"] == "rateLimitExceeded"
    fake.faults.clear()


def test_legacy_timestamp_encoding_and_corrections(fake):
    token = requests.post(
        f"{fake.url}/__sandbox/faults", json=[], timeout=5
    )  # control endpoint stays reachable
    assert token.status_code == 200
    client = _client(fake)
    job = client.query(f"SELECT export_time FROM `{fake.table_id('standard')}`")
    job.result()
    raw = client._connection.api_request(
        method="GET",
        path=f"/projects/finfocus-billing/queries/{job.job_id}",
        query_params={"maxResults": 1},
    )
    value = raw["rows"][0]["f"][0]["v"]
    assert "E9" in value  # seconds as a double, BigQuery's default encoding
    before = fake.dataset.month_totals("resource")
    pairs = fake.dataset.correct(2, factor=0.5)
    after = fake.dataset.month_totals("resource")
    added = sum(
        (
            exact(new["cost"]) + sum((exact(c["amount"]) for c in new["credits"]), Decimal(0))
            for _, new in pairs
        ),
        Decimal(0),
    )
    assert sum(after.values()) - sum(before.values()) == added != 0
    assert all(new["export_time"] > old["export_time"] for old, new in pairs)


def test_cli_serves_and_writes_credentials(tmp_path):
    key_file = tmp_path / "sa.json"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "finfocus_sandbox.cli",
            "gcp",
            "--port",
            "0",
            "--days",
            "3",
            "--credentials-out",
            str(key_file),
            "--quiet",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        info = json.loads(key_file.read_text())
        assert info["token_uri"] == f"{url}/token"
        assert info["type"] == "service_account"
        assert key_file.stat().st_mode & 0o077 == 0
        credentials = service_account.Credentials.from_service_account_info(info, scopes=SCOPES)
        credentials._is_regional_access_boundary_lookup_required = lambda: False
        client = bigquery.Client(
            project="finfocus-billing",
            credentials=credentials,
            client_options={"api_endpoint": url},
        )
        table_line = process.stderr.readline()
        assert "gcp_billing_export_v1_" in table_line
        standard = table_line.split(": ", 2)[2].split(", ")[0]
        rows = list(client.query_and_wait(f"SELECT cost FROM `{standard}`"))
        assert rows
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0


def test_jobs_query_is_idempotent_by_request_id(fake):
    """A retry of jobs.query (same requestId) gets the job the first request started."""
    table = fake.table_id("standard")
    token = _client(fake)._credentials
    token.refresh(google.auth.transport.requests.Request())
    url = f"{fake.url}/bigquery/v2/projects/finfocus-billing/queries"
    body = {"query": f"SELECT cost FROM `{table}`", "useLegacySql": False, "requestId": "r-42"}
    headers = {"Authorization": f"Bearer {token.token}"}
    first = requests.post(url, json=body, headers=headers, timeout=10).json()
    again = requests.post(url, json=body, headers=headers, timeout=10).json()
    assert again["jobReference"] == first["jobReference"]
    other = requests.post(url, json={**body, "requestId": "r-43"}, headers=headers, timeout=10)
    assert other.json()["jobReference"]["jobId"] != first["jobReference"]["jobId"]


def test_unknown_project_and_own_key_pair():
    from cryptography.hazmat.primitives.asymmetric import rsa

    with FakeGCP(_dataset(days=3), projects=("finfocus-analytics",)) as server:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        server.add_service_account(
            "byok@finfocus-billing.iam.gserviceaccount.com", private_key=key, key_id="ab" * 20
        )
        info = server.credentials_info("byok@finfocus-billing.iam.gserviceaccount.com")
        assert info["private_key_id"] == "ab" * 20
        table = server.table_id("standard")
        rows = _client(server, info, "finfocus-analytics").query_and_wait(
            f"SELECT cost FROM `{table}`"
        )
        assert rows.total_rows == len(server.dataset.rows("standard"))
        with pytest.raises(exceptions.NotFound, match="Not found: Project finfocus-typo"):
            _client(server, info, "finfocus-typo").query_and_wait(f"SELECT cost FROM `{table}`")


def test_empty_first_answer_of_jobs_query_still_reads_every_row(fake):
    table = fake.table_id("standard")
    fake.faults.add(Fault(kind="empty_page_has_more", path=r"/queries$", method="POST"))
    try:
        rows = list(_client(fake).query_and_wait(f"SELECT cost FROM `{table}`", page_size=200))
        injected = fake.faults.injected
    finally:
        fake.faults.clear()
    assert injected == {"empty_page_has_more": 1}
    assert len(rows) == len(fake.dataset.rows("standard"))
