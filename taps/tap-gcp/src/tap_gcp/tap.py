"""tap-gcp: settings, the BigQuery client, and one stream per configured billing table."""

from __future__ import annotations

import datetime as dt
import functools
import re
import typing as t
from urllib.parse import urlparse

from finfocus_common.errors import ConfigError, run_cli
from finfocus_common.redact import install_log_redaction, redact
from singer_sdk import Tap
from singer_sdk import typing as th
from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.exceptions import ConfigValidationError

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
from tap_gcp.streams import STREAM_TYPES, parse_moment

if t.TYPE_CHECKING:
    from google.cloud import bigquery
    from singer_sdk import Stream

UTC = dt.UTC
#: project (may be domain-scoped: example.com:proj), dataset, table
TABLE_ID = re.compile(
    r"^(?P<project>[a-z][a-z0-9.:-]{2,}[a-z0-9])\.(?P<dataset>[A-Za-z0-9_]{1,1024})\."
    r"(?P<table>[\w$-]{1,1024})$"
)
PROJECT_ID = re.compile(r"^[a-z][a-z0-9.:-]{2,}[a-z0-9]$")
TABLE_SETTINGS = {stream.table_setting: stream for stream in STREAM_TYPES}


class TapGCP(Tap):
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

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        # Captured once: every stream of the run reads up to the same instant.
        self.run_started_at = dt.datetime.now(tz=UTC).replace(microsecond=0)
        self._credentials_info: dict[str, t.Any] | None = None
        super().__init__(*args, **kwargs)
        install_log_redaction()

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        raw = self.config.get("credentials")
        try:
            self._credentials_info = parse_credentials(raw)
        finally:
            register_credential_secrets(raw, self._credentials_info)
        try:
            errors = super()._validate_config(raise_errors=raise_errors)
        except ConfigValidationError as exc:
            raise ConfigError(
                "invalid config: " + "; ".join(redact(e) for e in exc.errors)
            ) from None
        problems = list(self._semantic_config_problems())
        if problems and raise_errors:
            raise ConfigError("invalid config: " + "; ".join(problems))
        return errors + problems

    def _semantic_config_problems(self) -> t.Iterator[str]:
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
        if config.get("api_url"):
            url = urlparse(str(config["api_url"]))
            if url.scheme not in {"http", "https"} or not url.netloc:
                yield f"api_url must be an http(s) URL, got {config['api_url']!r}"
        if float(config.get("lookback_days", 0)) < 0:
            yield f"lookback_days must be >= 0, got {config.get('lookback_days')}"
        for name in ("window_days", "page_size", "request_timeout"):
            if name in config and float(config[name]) <= 0:
                yield f"{name} must be > 0, got {config[name]}"
        for name in ("max_retries", "partition_slack_days", "restatement_days"):
            if int(config.get(name, 0)) < 0:
                yield f"{name} must be >= 0, got {config.get(name)}"
        moments = {}
        for name in ("start_date", "end_date"):
            if config.get(name):
                try:
                    moments[name] = parse_moment(str(config[name]))
                except ValueError:
                    yield f"{name} must be an ISO 8601 date or date-time, got {config[name]!r}"
        if len(moments) == 2 and moments["start_date"] >= moments["end_date"]:
            yield f"start_date {config['start_date']} must be before end_date {config['end_date']}"
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
