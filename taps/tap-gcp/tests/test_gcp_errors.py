"""Failures: one clear line, the right exit code, never a secret; transient faults retried."""

from __future__ import annotations

import json

from finfocus_sandbox.faults import Fault
from finfocus_sandbox.gcp import FakeGCP
from tap_gcp_testing import fake_sums, month_sums, run_tap, tap_config


def _secrets(info: dict) -> tuple[str, ...]:
    body = [line for line in info["private_key"].splitlines() if "PRIVATE KEY" not in line]
    return (info["private_key_id"], *body[:3], body[-2])


def test_bad_credentials_exit_2_without_the_key(fake, tmp_path):
    info = fake.credentials_info()
    other = fake.credentials_info(
        fake.add_service_account("other@finfocus-billing.iam.gserviceaccount.com")
    )
    forged = {**info, "private_key": other["private_key"]}  # right account, wrong key
    run = run_tap(tap_config(fake, credentials=json.dumps(forged)), tmp_path)
    assert run.returncode == 2
    line = run.failure_line(_secrets(forged))
    assert (
        "Google rejected the credentials of tap-gcp@finfocus-billing.iam.gserviceaccount.com"
        in line
    )
    assert "Invalid JWT Signature" in line


def test_disabled_account_and_key_file_path(fake, tmp_path):
    key_file = tmp_path / "sa.json"
    key_file.write_text(json.dumps(fake.credentials_info()))
    ok = run_tap(tap_config(fake, streams=("standard",), credentials=str(key_file)), tmp_path)
    assert ok.returncode == 0, ok.stderr[-2000:]
    fake.disable_service_account()
    run = run_tap(tap_config(fake, streams=("standard",), credentials=str(key_file)), tmp_path)
    assert run.returncode == 2
    assert "account not found" in run.failure_line(_secrets(fake.credentials_info()))


def test_application_default_credentials(fake, tmp_path):
    key_file = tmp_path / "adc.json"
    key_file.write_text(json.dumps(fake.credentials_info()))
    config = tap_config(fake, streams=("standard",))
    del config["credentials"]
    run = run_tap(config, tmp_path, env={"GOOGLE_APPLICATION_CREDENTIALS": str(key_file)})
    assert run.returncode == 0, run.stderr[-2000:]
    assert len(run.records("billing_export")) == len(fake.dataset.rows("standard"))
    none = run_tap(config, tmp_path)
    assert none.returncode == 2
    assert "no Google credentials" in none.failure_line()


def test_missing_table(fake, tmp_path):
    table = fake.table_id("standard").replace("gcp_billing_export_v1_", "gcp_billing_export_v9_")
    run = run_tap(tap_config(fake, streams=(), billing_table=table), tmp_path)
    assert run.returncode == 2
    line = run.failure_line()
    assert f"{table} (billing_table) not found" in line
    assert "Not found: Table " in line


def test_wrong_location(fake, tmp_path):
    run = run_tap(tap_config(fake, streams=("standard",), location="EU"), tmp_path)
    assert run.returncode == 2
    assert "was not found in location EU" in run.failure_line()


def test_no_permission_on_the_table(fake, tmp_path):
    email = fake.add_service_account("reader@finfocus-billing.iam.gserviceaccount.com", tables=())
    info = fake.credentials_info(email)
    run = run_tap(tap_config(fake, streams=("resource",), credentials=json.dumps(info)), tmp_path)
    assert run.returncode == 2
    line = run.failure_line(_secrets(info))
    assert f"access denied reading {fake.table_id('resource')} (resource_billing_table)" in line
    assert "Access Denied: Table " in line
    assert email in line


def test_no_job_permission_in_the_project(fake, tmp_path):
    email = fake.add_service_account(
        "viewer@finfocus-billing.iam.gserviceaccount.com", job_projects=("someone-else",)
    )
    info = fake.credentials_info(email)
    run = run_tap(tap_config(fake, streams=("standard",), credentials=json.dumps(info)), tmp_path)
    assert run.returncode == 2
    line = run.failure_line(_secrets(info))
    assert "bigquery.jobs.create permission in project finfocus-analytics" in line
    assert "roles/bigquery.jobUser on project finfocus-analytics" in line


def test_invalid_config_is_one_line(fake, tmp_path):
    run = run_tap(
        tap_config(fake, streams=(), billing_table="not-a-table", api_url="ftp://x"), tmp_path
    )
    assert run.returncode == 2
    line = run.failure_line()
    assert "billing_table must be a fully qualified table" in line
    assert "api_url" in line
    nothing = run_tap(tap_config(fake, streams=()), tmp_path)
    assert nothing.returncode == 2
    assert "set at least one of billing_table" in nothing.failure_line()
    garbage = run_tap(tap_config(fake, credentials="{not json"), tmp_path)
    assert garbage.returncode == 2
    assert "credentials is not valid JSON" in garbage.failure_line(("{not json",))


def test_transient_faults_are_retried(fake, tmp_path):
    fake.faults.add(
        Fault(kind="rate_limit", path=r"/queries$", method="POST", times=2),
        Fault(kind="server_error", path=r"/queries/", status=503, skip=1, times=2),
        Fault(kind="server_error", path=r"/tables/", status=500, times=1),
        Fault(kind="reset", path=r"/queries/", skip=4, times=1),
        Fault(kind="truncated_json", path=r"/queries/", skip=6, times=1),
        Fault(kind="wrong_content_type", path=r"/queries/", status=200, skip=8, times=1),
        Fault(kind="empty_page_has_more", path=r"/queries/", skip=10, times=1),
        Fault(kind="repeat_page", path=r"/queries/", skip=12, times=1),
        Fault(kind="rate_limit", path=r"/token$", times=1),
    )
    run = run_tap(tap_config(fake, max_retries=4, page_size=40), tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Skipping a replayed page" in run.stderr
    assert fake.faults.injected == {
        "rate_limit": 3,
        "server_error": 3,
        "reset": 1,
        "truncated_json": 1,
        "wrong_content_type": 1,
        "empty_page_has_more": 1,
        "repeat_page": 1,
    }
    for stream, kind in (
        ("billing_export", "standard"),
        ("billing_export_resource", "resource"),
        ("focus_export", "focus"),
    ):
        records = run.records(stream)
        assert len(records) == len(fake.dataset.rows(kind)), stream
        assert len({r["row_key"] for r in records}) == len(records), stream
        assert month_sums(records, kind) == fake_sums(fake, kind), stream


def test_persistent_5xx_exits_75(fake, tmp_path):
    fake.faults.add(Fault(kind="server_error", path=r"/queries", status=503, times=None))
    run = run_tap(tap_config(fake, streams=("standard",), max_retries=2), tmp_path)
    assert run.returncode == 75
    line = run.failure_line(_secrets(fake.credentials_info()))
    assert "BigQuery kept failing (503 backendError)" in line
    assert fake.table_id("standard") in line


def test_secrets_stay_out_of_logs_and_state(fake, tmp_path):
    info = fake.credentials_info()
    run = run_tap(tap_config(fake, streams=("standard",)), tmp_path, timeout=120)
    assert run.returncode == 0
    for secret in _secrets(info):
        assert secret not in run.stdout
        assert secret not in run.stderr
    # pointed at api_url, nothing else of Google's is called (no IAM boundary lookup)
    assert "googleapis.com" not in run.stderr
    assert "private_key" not in json.dumps(run.states)
    about = run_tap(tap_config(fake), tmp_path, "--about", "--format", "json")
    assert about.returncode == 0
    assert info["private_key_id"] not in about.stdout


def test_a_catalog_selecting_an_unknown_stream_is_refused(fake, tmp_path):
    config = tap_config(fake, streams=("standard",))
    discovered = json.loads(run_tap(config, tmp_path, "--discover").stdout)
    bogus = json.loads(json.dumps(discovered["streams"][0]))
    bogus["tap_stream_id"] = bogus["stream"] = "billing_export_detailed"
    for entry in bogus["metadata"]:
        if not entry["breadcrumb"]:
            entry["metadata"]["selected"] = True
    discovered["streams"].append(bogus)
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps(discovered))
    fake.clear_queries()
    run = run_tap(config, tmp_path, "--catalog", str(catalog))
    assert run.returncode == 2
    line = run.failure_line(_secrets(fake.credentials_info()))
    assert "the catalog selects billing_export_detailed, not a stream of tap-gcp" in line
    assert not run.messages
    assert not fake.queries  # nothing was queried


def test_a_project_that_does_not_exist_is_named(dataset, tmp_path):
    with FakeGCP(dataset, projects=("finfocus-analytics",)) as server:
        run = run_tap(
            tap_config(server, streams=("standard",), project_id="finfocus-typo"), tmp_path
        )
    assert run.returncode == 2
    line = run.failure_line(_secrets(server.credentials_info()))
    assert "project_id finfocus-typo not found (" in line
    assert "check project_id" in line


def test_a_replayed_query_answer_is_not_taken_for_the_next_query(fake, tmp_path):
    """A proxy that answers jobs.query with an earlier query's answer (the same job, its
    rows): the tap notices the job it already read and asks again."""
    fake.faults.add(Fault(kind="repeat_page", path=r"/queries$", method="POST", times=2))
    run = run_tap(tap_config(fake, streams=("standard",), window_days=2), tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert fake.faults.injected == {"repeat_page": 2}
    assert "which an earlier query started" in run.stderr
    records = run.records("billing_export")
    assert len(records) == len(fake.dataset.rows("standard"))
    assert len({r["row_key"] for r in records}) == len(records)
    assert month_sums(records, "standard") == fake_sums(fake, "standard")
