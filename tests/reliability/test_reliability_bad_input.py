"""Bad input everywhere: every setting of every plugin, surprising data through pipelines.

Each gives a clear one-line error (exit 2) or a quarantined row with its reason; none
crashes with a traceback as the only message, and nothing is lost on the way.
"""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow.dataset as pads
import pytest
from providers import PROVIDERS, canary, gcp_credentials, records

PLUGINS = {
    "tap-stripe": ("tap_stripe.tap", {"api_key": "sk_test_badinput"}),
    "tap-openai": ("tap_openai.tap", {"admin_api_key": "sk-admin-badinput"}),
    "tap-anthropic": ("tap_anthropic.tap", {"admin_api_key": "sk-ant-admin01-badinput"}),
    "tap-aws": ("tap_aws.tap", {"bucket": "billing"}),
    "tap-azure": (
        "tap_azure.tap",
        {
            "tenant_id": "72f988bf-86f1-41af-91ab-2d7cd011db47",
            "client_id": "5f0c9a3e-7b1d-4c2e-9f8a-1b2c3d4e5f60",
            "client_secret": "badinput~secret",
            "scope": "/subscriptions/0f1e2d3c-4b5a-4697-8877-665544332211",
            "login_url": "http://127.0.0.1:9",  # nothing listens: no request may get far
            "api_url": "http://127.0.0.1:9",
        },
    ),
    "tap-gcp": (
        "tap_gcp.tap",
        {
            "project_id": "finfocus-analytics",
            "billing_table": "finfocus-billing.billing_export.gcp_billing_export_v1_X",
            "api_url": "http://127.0.0.1:9",
        },
    ),
    "mapper-focus": ("mapper_focus.mapper", {}),
    "target-focus": ("target_focus.target", {"output_path": "{tmp}/out"}),
}
# Settings every singer-sdk plugin has; the SDK validates them itself.
SDK_SETTINGS = {
    "stream_maps",
    "stream_map_config",
    "flattening_enabled",
    "flattening_max_depth",
    "batch_config",
    "faker_config",
    "add_record_metadata",
    "load_method",
    "validate_records",
    "batch_size_rows",
    "process_activate_version_messages",
    "hard_delete",
}
WRONG = {
    "string": 12345,
    "integer": "many",
    "number": "lots",
    "boolean": "sometimes",
    "array": "not-a-list",
    "object": 7,
}


def settings_of(module: str) -> dict:
    about = subprocess.run(
        [sys.executable, "-m", module, "--about", "--format=json"],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(about.stdout)["settings"]["properties"]


def cases() -> list[tuple[str, str, object]]:
    found = []
    for plugin, (module, _) in PLUGINS.items():
        for name, schema in settings_of(module).items():
            if name in SDK_SETTINGS:
                continue
            types = schema.get("type", [])
            types = [types] if isinstance(types, str) else [t for t in types if t != "null"]
            if types and types[0] in WRONG:
                found.append((plugin, name, WRONG[types[0]]))
    return found


CASES = cases()


def wrong_type_run(plugin: str, setting: str, value: object, folder: Path):
    """The plugin's CLI with `setting` set to a value of the wrong type."""
    module, base = PLUGINS[plugin]
    config = {k: (v.format(tmp=folder) if isinstance(v, str) else v) for k, v in base.items()}
    config[setting] = value
    path = folder / "config.json"
    path.write_text(json.dumps(config))
    return subprocess.run(
        [sys.executable, "-m", module, "--config", str(path)],
        input="",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def wrong_type_runs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """(plugin, setting) -> its run. The selected cases of a plugin are run on first use,
    two at a time: each is a plugin start-up of its own, and there are a hundred."""
    selected = [
        (item.callspec.params["plugin"], item.callspec.params["setting"])
        for item in request.session.items
        if getattr(item, "originalname", "") == WRONG_TYPE_TEST
    ]
    values = {(plugin, setting): value for plugin, setting, value in CASES}
    done: dict[tuple[str, str], subprocess.CompletedProcess] = {}

    def run(plugin: str, setting: str) -> subprocess.CompletedProcess:
        if (plugin, setting) not in done:
            batch = [c for c in selected if c[0] == plugin and c not in done]
            batch = batch if (plugin, setting) in batch else [(plugin, setting)]
            with ThreadPoolExecutor(max_workers=2) as pool:
                runs = pool.map(
                    lambda c: wrong_type_run(*c, values[c], tmp_path_factory.mktemp(c[0])), batch
                )
                done.update(zip(batch, runs, strict=True))
        return done[plugin, setting]

    return run


WRONG_TYPE_TEST = "test_every_setting_with_a_wrong_type_is_one_line_exit_2"


@pytest.mark.parametrize(
    ("plugin", "setting", "value"), CASES, ids=[f"{p}-{s}" for p, s, _ in CASES]
)
def test_every_setting_with_a_wrong_type_is_one_line_exit_2(
    wrong_type_runs, plugin, setting, value, tally
):
    run = wrong_type_runs(plugin, setting)
    tally["bad_inputs"] += 1
    assert run.returncode == 2, run.stderr[-1500:]
    lines = [line for line in run.stderr.strip().splitlines() if line.startswith(f"{plugin}:")]
    assert len(lines) == 1, run.stderr[-1500:]
    assert setting in lines[0]
    assert "Traceback" not in run.stderr


def test_the_suite_covers_every_plugin():
    assert {plugin for plugin, _, _ in CASES} == set(PLUGINS)
    assert len(CASES) >= 40


# --- surprising data through `meltano run` -------------------------------------------------


def _rows(path) -> list[dict]:
    return pads.dataset(path / "data", format="parquet", partitioning="hive").to_table().to_pylist()


def _spoil(dataset, changes: dict) -> str:
    platform = dataset.account_ids[0]
    bt = next(b for b in dataset.objects("balance_transaction", platform) if b["fee_details"])
    dataset.update(
        "balance_transaction",
        bt["id"],
        changes(bt) if callable(changes) else changes,
        account=platform,
        emit_event=False,
    )
    return bt["id"]


BAD_RECORDS = {
    "unknown fee type": lambda bt: {"fee_details": [{**bt["fee_details"][0], "type": "mystery"}]},
    "bad currency": lambda bt: {"fee_details": [{**bt["fee_details"][0], "currency": "dollars"}]},
    "missing required field": {"type": None},
    "huge value": lambda bt: {"fee_details": [{**bt["fee_details"][0], "amount": 10**25}]},
}


@pytest.mark.plugins("tap-stripe", "mapper-focus", "target-focus")
@pytest.mark.parametrize("case", list(BAD_RECORDS))
def test_bad_records_fail_with_one_line_or_are_quarantined(
    meltano, stripe_dataset, tmp_path, case, tally
):
    bad_id = _spoil(stripe_dataset, BAD_RECORDS[case])
    tally["bad_inputs"] += 1
    failed = meltano.run("run", "tap-stripe", "focus", "target-focus")
    assert failed.returncode != 0
    named = [
        line
        for line in failed.stderr.splitlines()
        if ("mapper-focus:" in line or "target-focus:" in line) and bad_id in line
    ]
    assert named, f"no one-line error names {bad_id}"
    assert not list((tmp_path / "focus").rglob("part-0.parquet")) or case == "huge value"

    quarantine = {
        "MAPPER_FOCUS_ON_INVALID": "quarantine",
        "TARGET_FOCUS_ON_INVALID": "quarantine",
        "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path / 'q.db'}",
        "TARGET_FOCUS_OUTPUT_PATH": str(tmp_path / "quarantined"),
    }
    result = meltano.run("run", "tap-stripe", "focus", "target-focus", extra_env=quarantine)
    assert result.returncode == 0, "\n".join(
        line
        for line in result.stderr.splitlines()
        if "target-focus" in line and "METRIC" not in line
    )[-3000:]
    files = list((tmp_path / "quarantined" / "quarantine").glob("*.jsonl"))
    assert files
    entries = [json.loads(line) for f in files for line in f.read_text().splitlines()]
    assert any(e.get("x_SourceRecordId") == bad_id or bad_id in json.dumps(e) for e in entries)
    assert all(e["reasons"] for e in entries)
    audit = json.loads(sorted((tmp_path / "quarantined" / "_audit").glob("*.json"))[-1].read_text())
    counts = audit["rows"]
    assert counts["in"] == counts["written"] + counts["quarantined"]
    assert bad_id not in {r["x_SourceRecordId"] for r in _rows(tmp_path / "quarantined")}


@pytest.mark.plugins("tap-stripe", "mapper-focus", "target-focus")
def test_unicode_nul_bytes_and_schema_drift_land_intact(
    meltano, stripe_dataset, database, tmp_path, tally
):
    text = "Zahlung für 💳 Größe \x00 end"
    bt_id = _spoil(
        stripe_dataset,
        lambda bt: {
            "description": text,
            "brand_new_field": {"added": "by a newer API version"},
            "fee_details": [{**bt["fee_details"][0], "description": "Gebühr ✓"}],
        },
    )
    tally["bad_inputs"] += 3
    raw = meltano.ok("run", "tap-stripe", "target-postgres")
    assert "brand_new_field" in raw.stderr  # the SDK names the field it did not expect
    (description,) = database.query(
        "select description from stripe.balance_transactions where id = %s", bt_id
    )[0]
    # PostgreSQL text cannot hold NUL: target-postgres replaces it with U+FFFD.
    assert description == text.replace("\x00", "\ufffd")
    meltano.ok("run", "tap-stripe", "focus", "target-focus")
    rows = [r for r in _rows(tmp_path / "focus") if r["x_SourceRecordId"] == bt_id]
    assert "Gebühr ✓" in {r["ChargeDescription"] for r in rows}


# --- wrong account details: credentials, tenant or project, scope or table, permissions ---

AZURE, GCP = (next(p for p in PROVIDERS if p.name == name) for name in ("azure", "gcp"))
OTHER_GUID = "9f9f9f9f-0000-4000-8000-00000000dead"


def _gcp_account(fake, email: str, **grants) -> str:
    """The key file of a new service account of the fake (its own key pair)."""
    fake.add_service_account(email, **grants)
    return json.dumps(fake.credentials_info(email))


WRONG_DETAILS = {
    "azure-wrong-secret": (
        AZURE,
        lambda fake, c: {**c, "client_secret": canary(AZURE, "Wrong")},
        ["AADSTS7000215", "check client_secret"],
    ),
    "azure-unknown-tenant": (
        AZURE,
        lambda fake, c: {**c, "tenant_id": OTHER_GUID},
        ["AADSTS90002", f"tenant {OTHER_GUID}", "check tenant_id"],
    ),
    "azure-unknown-client": (
        AZURE,
        lambda fake, c: {**c, "client_id": OTHER_GUID},
        ["AADSTS700016", f"client_id {OTHER_GUID}", "check client_id"],
    ),
    "azure-unknown-subscription": (
        AZURE,
        lambda fake, c: {**c, "scope": f"/subscriptions/{OTHER_GUID}"},
        ["404 SubscriptionNotFound", f"check scope /subscriptions/{OTHER_GUID}"],
    ),
    "azure-no-role-on-scope": (
        AZURE,
        lambda fake, c: fake.app.__setattr__("role_scopes", ["/subscriptions/none"]) or c,
        ["403 AuthorizationFailed", "needs the Cost Management Reader role", "client_id"],
    ),
    "gcp-wrong-key": (
        GCP,
        lambda fake, c: {**c, "credentials": gcp_credentials(fake, canary(GCP, "Wrong"))},
        ["Google rejected the credentials of", "Invalid JWT Signature", "check credentials"],
    ),
    "gcp-unknown-project": (
        GCP,
        lambda fake, c: {**c, "project_id": "finfocus-nowhere"},
        ["project_id finfocus-nowhere not found", "Not found: Project finfocus-nowhere"],
    ),
    "gcp-missing-table": (
        GCP,
        lambda fake, c: {**c, "billing_table": c["billing_table"] + "_typo"},
        ["(billing_table) not found", "Not found: Table"],
    ),
    "gcp-no-permission-on-table": (
        GCP,
        lambda fake, c: {
            **c,
            "credentials": _gcp_account(
                fake, "reader@finfocus-billing.iam.gserviceaccount.com", tables=()
            ),
        },
        ["access denied reading", "(billing_table)", "roles/bigquery.dataViewer"],
    ),
    "gcp-no-jobs-in-project": (
        GCP,
        lambda fake, c: {
            **c,
            "credentials": _gcp_account(
                fake, "viewer@finfocus-billing.iam.gserviceaccount.com", job_projects=("x-y-z",)
            ),
        },
        ["bigquery.jobs.create permission in project finfocus-analytics", "roles/bigquery.jobUser"],
    ),
}


@pytest.mark.parametrize(
    ("provider", "case"),
    [(provider, case) for case, (provider, _, _) in WRONG_DETAILS.items()],
    ids=list(WRONG_DETAILS),
)
def test_wrong_account_details_are_one_line_naming_what_is_wrong(tmp_path, provider, case, tally):
    _, spoil, expected = WRONG_DETAILS[case]
    key = canary(provider)
    fake, extra = provider.make(key)
    with fake:
        config = spoil(fake, provider.config(fake, key, extra))
        run = provider.run_cli(config, tmp_path)
    tally["bad_inputs"] += 1
    assert run.returncode == 2, run.stderr[-1500:]
    assert "Traceback" not in run.stderr
    lines = [line for line in run.stderr.splitlines() if line.startswith(f"{provider.tap}: ")]
    assert len(lines) == 1, run.stderr[-1500:]
    for text in expected:
        assert text in lines[0], lines[0]
    assert not records(run.stdout, provider.stream)
    assert not provider.leaked(key, run.stdout, run.stderr)
    if provider.key_setting in config and isinstance(config[provider.key_setting], str):
        assert config[provider.key_setting] not in run.stdout + run.stderr
