"""tap-gcp: settings, the BigQuery client, and one stream per configured billing table."""

from __future__ import annotations

import functools
import re
import typing as t

from finfocus_common.errors import run_cli
from finfocus_common.redact import redact
from finfocus_common.tap import FinfocusTap
from singer_sdk import typing as th
from singer_sdk.contrib.msgspec import MsgSpecWriter

from tap_gcp.client import (
    BoundedRetry,
    QueryRunner,
    TableInfo,
    make_client,
    one_line,
    parse_credentials,
    principal_of,
    register_credential_secrets,
    table_info,
    translate,
)
from tap_gcp.streams import STREAM_TYPES

if t.TYPE_CHECKING:
    from google.cloud import bigquery
    from singer_sdk import Stream

#: project (may be domain-scoped: example.com:proj), dataset, table
TABLE_ID = re.compile(
    r"^(?P<project>[a-z][a-z0-9.:-]{2,}[a-z0-9])\.(?P<dataset>[A-Za-z0-9_]{1,1024})\."
    r"(?P<table>[\w$-]{1,1024})$"
)
PROJECT_ID = re.compile(r"^[a-z][a-z0-9.:-]{2,}[a-z0-9]$")
TABLE_SETTINGS = {stream.table_setting: stream for stream in STREAM_TYPES}


class TapGCP(FinfocusTap):
    """Singer tap for Google Cloud Billing exports in BigQuery."""

    name = "tap-gcp"
    package_name = "finfocus-tap-gcp"
    message_writer_class = MsgSpecWriter  # faster, and Decimal-exact

    config_jsonschema = th.PropertiesList(
        th.Property(
            "project_id",
            th.StringType,
            required=True,
            description="Google Cloud project the queries run (and are billed) in; the "
            "credentials need roles/bigquery.jobUser there",
        ),
        th.Property(
            "billing_table",
            th.StringType,
            description="Standard usage cost table, fully qualified: "
            "project.dataset.gcp_billing_export_v1_<BILLING_ACCOUNT_ID> (stream billing_export)",
        ),
        th.Property(
            "resource_billing_table",
            th.StringType,
            description="Detailed usage cost table: project.dataset."
            "gcp_billing_export_resource_v1_<BILLING_ACCOUNT_ID> (stream billing_export_resource)",
        ),
        th.Property(
            "focus_table",
            th.StringType,
            description="FOCUS export table (project.gcp_billing_immutable_<ID>_<location>."
            "gcp_billing_export_focus_<ID>) or a FOCUS view (stream focus_export)",
        ),
        th.Property(
            "credentials",
            th.StringType,
            secret=True,
            description="Service-account key: its JSON text, or the path of the key file. "
            "Default: Application Default Credentials",
        ),
        th.Property(
            "location",
            th.StringType,
            description="BigQuery location of the dataset(s) (US, EU, europe-west1...). "
            "Default: BigQuery infers it from the table",
        ),
        th.Property(
            "api_url",
            th.StringType,
            description="BigQuery API endpoint (client_options api_endpoint); default Google's. "
            "Tests, sandboxes and proxies point it elsewhere",
        ),
        th.Property(
            "start_date",
            th.DateTimeType,
            description="Read rows exported at or after this time on a first run. Default: the "
            "first day of the previous month",
        ),
        th.Property(
            "end_date",
            th.DateTimeType,
            description="Exclusive upper bound on export_time. Default: when the run starts",
        ),
        th.Property(
            "lookback_days",
            th.NumberType,
            default=3,
            description="Each incremental run re-reads rows exported this many days before the "
            "bookmark (export batches can land out of order; re-read rows keep their row_key)",
        ),
        th.Property(
            "window_days",
            th.IntegerType,
            default=1,
            description="Partitions (days) per query; the run's progress is saved after each",
        ),
        th.Property(
            "partition_slack_days",
            th.IntegerType,
            default=1,
            description="Extra partition days read either side of the export-time range "
            "(partitions follow Pacific time)",
        ),
        th.Property(
            "restatement_days",
            th.IntegerType,
            default=35,
            description="Tables partitioned by a usage-time column only: how much older than "
            "its export a re-rated usage can be (the partitions each run re-reads)",
        ),
        th.Property(
            "page_size",
            th.IntegerType,
            default=10_000,
            description="Rows per getQueryResults page",
        ),
        th.Property(
            "request_timeout",
            th.NumberType,
            default=60,
            description="Seconds to wait for one BigQuery response before retrying",
        ),
        th.Property(
            "max_retries",
            th.IntegerType,
            default=8,
            description="Retries of one request on rate limits, 5xx, timeouts and resets",
        ),
        th.Property(
            "backoff_base_seconds",
            th.NumberType,
            default=1.0,
            description="First wait of the exponential backoff (with jitter)",
        ),
    ).to_dict()

    secret_settings = ("credentials",)
    positive_settings = ("window_days", "page_size", "request_timeout")
    non_negative_settings = (
        "lookback_days",
        "max_retries",
        "partition_slack_days",
        "restatement_days",
        "backoff_base_seconds",
    )

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        self._credentials_info: dict[str, t.Any] | None = None
        super().__init__(*args, **kwargs)

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        # The key file is read (and its private key masked, line by line) before anything
        # can mention it; a value of the wrong type is left to the schema check to name.
        raw = self._config.get("credentials")
        try:
            if raw is None or isinstance(raw, (str, dict)):
                self._credentials_info = parse_credentials(raw)
        finally:
            register_credential_secrets(raw, self._credentials_info)
        return super()._validate_config(raise_errors=raise_errors)

    def config_problems(self) -> t.Iterator[str]:
        config = self.config
        project = str(config.get("project_id") or "")
        if project and not PROJECT_ID.match(project):
            yield f"project_id {project!r} is not a Google Cloud project id"
        tables = [name for name in TABLE_SETTINGS if config.get(name)]
        if not tables:
            yield "set at least one of billing_table, resource_billing_table, focus_table"
        for name in tables:
            if not TABLE_ID.match(str(config[name])):
                yield f"{name} must be a fully qualified table project.dataset.table, got {config[name]!r}"  # noqa: E501
        info = self._credentials_info
        if info is not None and not info.get("type"):
            yield 'credentials has no "type" (expected a service-account key file)'

    # --- BigQuery ----------------------------------------------------------------------

    @functools.cached_property
    def client(self) -> bigquery.Client:
        return make_client(self.config, self._credentials_info)

    @property
    def principal(self) -> str:
        return principal_of(getattr(self.client, "_credentials", None))

    @functools.cached_property
    def retry(self) -> BoundedRetry:
        def on_retry(exc: BaseException, attempt: int, wait: float) -> None:
            self.logger.warning(
                "Retrying a BigQuery request in %.1fs (attempt %d): %s",
                wait,
                attempt,
                redact(one_line(str(exc)))[:300],
            )

        return BoundedRetry(
            max_retries=int(self.config.get("max_retries", 8)),
            base=float(self.config.get("backoff_base_seconds", 1.0)),
            on_retry=on_retry,
        )

    @functools.cached_property
    def runner(self) -> QueryRunner:
        return QueryRunner(
            self.client,
            retry=self.retry,
            max_retries=int(self.config.get("max_retries", 8)),
            page_size=int(self.config.get("page_size", 10_000)),
            timeout=float(self.config.get("request_timeout", 60)),
            logger=self.logger,
        )

    def table(self, setting: str) -> TableInfo:
        table_id = str(self.config[setting])
        client = self.client  # a config problem surfaces as itself, before any request
        try:
            return table_info(
                client,
                table_id,
                self.retry,
                float(self.config.get("request_timeout", 60)),
            )
        except Exception as exc:
            raise translate(
                exc,
                what=table_id,
                setting=setting,
                principal=self.principal,
                project_id=str(self.config["project_id"]),
            ) from None

    def discover_streams(self) -> list[Stream]:
        return [
            stream_class(self, self.table(stream_class.table_setting))
            for stream_class in STREAM_TYPES
            if self.config.get(stream_class.table_setting)
        ]


def main() -> None:
    """Console entry point: `tap-gcp`."""
    run_cli(TapGCP.cli, "tap-gcp")


if __name__ == "__main__":
    main()
