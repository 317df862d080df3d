"""tap-azure: settings, what to read (cost-details windows, export runs), and the streams."""

from __future__ import annotations

import datetime as dt
import functools
import logging
import re
import typing as t
from urllib.parse import parse_qs

from finfocus_common.errors import run_cli
from finfocus_common.redact import register_secret
from finfocus_common.tap import FinfocusTap
from singer_sdk import typing as th
from singer_sdk.contrib.msgspec import MsgSpecWriter

from tap_azure.client import METRIC_NAMES, AzureHttp, CostDetailsApi, EntraCredential
from tap_azure.storage import BlobExports, ExportRunInfo, container_client
from tap_azure.streams import (
    CostDetailsStream,
    CostDetailsWindow,
    DeliveriesStream,
    ExportRowsStream,
    cost_details_schema,
    export_rows_schema,
)

if t.TYPE_CHECKING:
    from singer_sdk import Stream

SECRETS = ("client_secret", "storage_connection_string", "storage_sas_token")
DEFAULT_MONTHS = 12  # first run: the 12 months before the current one (the API keeps 13)
HORIZON_MONTHS = 13
SCOPE = re.compile(
    r"^/(subscriptions/[^/]+(/resourceGroups/[^/]+)?"
    r"|providers/Microsoft\.Billing/billingAccounts/[^/]+(/[^/]+/[^/]+){0,2}"
    r"|providers/Microsoft\.Management/managementGroups/[^/]+)/?$",
    re.IGNORECASE,
)


def parse_moment(value: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def next_month(day: dt.date) -> dt.date:
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def months_before(day: dt.date, months: int) -> dt.date:
    first = month_start(day)
    for _ in range(months):
        first = month_start(first - dt.timedelta(days=1))
    return first


def derived_secrets(config: t.Mapping[str, t.Any]) -> t.Iterator[str]:
    """The secret parts of the storage settings: a connection string's AccountKey or
    SharedAccessSignature, a SAS token's signature."""
    connection = config.get("storage_connection_string")
    for part in (connection if isinstance(connection, str) else "").split(";"):
        key, _, value = part.partition("=")
        if key.strip().lower() in ("accountkey", "sharedaccesssignature"):
            yield value.strip()
            yield from sas_signatures(value.strip())
    sas = config.get("storage_sas_token")
    yield from sas_signatures(sas if isinstance(sas, str) else "")


def sas_signatures(sas: str) -> list[str]:
    """A SAS's signature, decoded and as it travels in a URL (percent-encoded)."""
    query = sas.strip().lstrip("?")
    raw = [
        value for name, _, value in (p.partition("=") for p in query.split("&")) if name == "sig"
    ]
    return [*parse_qs(query).get("sig", []), *raw]


def exclusive_day(moment: dt.datetime) -> dt.date:
    """The first day not included by an exclusive upper bound."""
    moment = moment.astimezone(dt.UTC)
    return moment.date() if moment.time() == dt.time(0) else moment.date() + dt.timedelta(days=1)


class TapAzure(FinfocusTap):
    """Singer tap for Azure Cost Management: cost details and exports."""

    name = "tap-azure"
    package_name = "finfocus-tap-azure"
    message_writer_class = MsgSpecWriter  # faster, and Decimal-exact

    config_jsonschema = th.PropertiesList(
        th.Property(
            "tenant_id", th.StringType, description="Entra ID tenant (directory) id or domain"
        ),
        th.Property("client_id", th.StringType, description="App registration (client) id"),
        th.Property(
            "client_secret",
            th.StringType,
            secret=True,
            description="The app registration's client secret value",
        ),
        th.Property(
            "scope",
            th.StringType,
            description="Cost Management scope of the Cost Details API: /subscriptions/<id>, "
            "/subscriptions/<id>/resourceGroups/<name>, "
            "/providers/Microsoft.Billing/billingAccounts/<id> (EA enrollment, MCA account), "
            ".../billingProfiles/<id>, .../departments/<id>, .../invoiceSections/<id>",
        ),
        th.Property(
            "login_url",
            th.StringType,
            default="https://login.microsoftonline.com",
            description="Entra ID authority (sovereign clouds, tests and proxies point it "
            "elsewhere)",
        ),
        th.Property(
            "api_url",
            th.StringType,
            default="https://management.azure.com",
            description="Azure Resource Manager endpoint",
        ),
        th.Property(
            "metrics",
            th.ArrayType(th.StringType),
            default=["actual", "amortized"],
            description="Cost Details metrics to read: actual (ActualCost), amortized "
            "(AmortizedCost)",
        ),
        th.Property(
            "agreement",
            th.StringType,
            default="EA",
            allowed_values=["EA", "MCA"],
            description="Which documented column set the discovered schemas declare (EA or "
            "MCA); the data's own header always wins at run time",
        ),
        th.Property(
            "storage_account_url",
            th.StringType,
            description="Blob endpoint of the exports' storage account "
            "(https://<account>.blob.core.windows.net)",
        ),
        th.Property(
            "storage_connection_string",
            th.StringType,
            secret=True,
            description="Connection string of the storage account (instead of storage_account_url)",
        ),
        th.Property(
            "storage_sas_token",
            th.StringType,
            secret=True,
            description="SAS token with read and list on the container. Without it and "
            "without a connection string, the client credentials are used (Storage Blob Data "
            "Reader)",
        ),
        th.Property("container", th.StringType, description="Container the exports write to"),
        th.Property(
            "prefix",
            th.StringType,
            default="",
            description="The exports' directory (root folder path) in the container",
        ),
        th.Property(
            "export_names",
            th.ArrayType(th.StringType),
            default=[],
            description="Read these exports only. Default: every cost export under prefix",
        ),
        th.Property(
            "start_date",
            th.DateTimeType,
            description="Earliest date to read (ISO 8601). Cost details default: the first "
            "day of the month 12 months ago; exports: every billing period",
        ),
        th.Property(
            "end_date",
            th.DateTimeType,
            description="Optional exclusive upper bound (ISO 8601). Default: today included",
        ),
        th.Property(
            "lookback_days",
            th.NumberType,
            default=3,
            description="Azure restates recent days: each run re-reads the month(s) holding "
            "the last lookback_days days before the bookmark",
        ),
        th.Property(
            "request_timeout",
            th.NumberType,
            default=60,
            description="Seconds to wait for one HTTP response",
        ),
        th.Property(
            "max_retries",
            th.IntegerType,
            default=8,
            description="Retries of one request on 5xx, timeouts, resets and 429s without a "
            "wait hint",
        ),
        th.Property(
            "backoff_base_seconds",
            th.NumberType,
            default=1.0,
            description="First wait of the exponential backoff when Azure advertises none",
        ),
        th.Property(
            "max_throttle_wait_seconds",
            th.NumberType,
            default=3600,
            description="Total seconds one request may wait out 429s whose wait Azure "
            "advertises (qpu-retry-after, Retry-After) before the run gives up (exit 75)",
        ),
        th.Property(
            "report_timeout_seconds",
            th.NumberType,
            default=3600,
            description="How long to wait for one cost details report to be generated",
        ),
    ).to_dict()

    secret_settings = SECRETS
    url_settings = ("login_url", "api_url", "storage_account_url")
    positive_settings = (
        "request_timeout",
        "max_throttle_wait_seconds",
        "report_timeout_seconds",
        "backoff_base_seconds",
    )
    non_negative_settings = ("lookback_days", "max_retries")

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        logging.getLogger("azure").setLevel(logging.WARNING)

    # --- config ----------------------------------------------------------------------
    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        # The pieces of the storage secrets that travel alone (an AccountKey, a SAS's
        # signature) are masked too, before any message can mention them.
        for secret in derived_secrets(self._config):
            register_secret(secret)
        return super()._validate_config(raise_errors=raise_errors)

    def config_problems(self) -> t.Iterator[str]:
        config = self.config
        scope, container = config.get("scope"), config.get("container")
        if not scope and not container:
            yield "set scope (Cost Details API) and/or container (exports in Blob Storage)"
        credentials = [name for name in ("tenant_id", "client_id", "client_secret")]
        missing = [name for name in credentials if not config.get(name)]
        if scope:
            if not SCOPE.match(str(scope)):
                yield (
                    f"scope {scope!r} is not a Cost Management scope (/subscriptions/<id>, "
                    "/providers/Microsoft.Billing/billingAccounts/<id>, ...)"
                )
            if missing:
                yield f"scope needs {', '.join(missing)} (an app registration)"
        if container:
            if not config.get("storage_connection_string") and not config.get(
                "storage_account_url"
            ):
                yield "container needs storage_account_url or storage_connection_string"
            elif (
                not config.get("storage_connection_string")
                and not config.get("storage_sas_token")
                and missing
            ):
                yield (
                    "storage_account_url without storage_sas_token needs "
                    f"{', '.join(missing)} (read with the app's Storage Blob Data Reader role)"
                )
        for metric in config.get("metrics") or []:
            if metric not in METRIC_NAMES:
                yield f"metrics entry {metric!r} must be one of {', '.join(METRIC_NAMES)}"
        if scope and not config.get("metrics"):
            yield "metrics is empty"
        if scope and config.get("start_date"):
            try:
                start = parse_moment(config["start_date"]).date()
            except ValueError:
                return  # named by the common date check
            horizon = months_before(self.run_started_at.date(), HORIZON_MONTHS)
            if start < horizon:
                yield (
                    f"start_date {config['start_date']} is older than the 13 months the Cost "
                    f"Details API serves (from {horizon}); read older months from exports"
                )

    # --- clients ---------------------------------------------------------------------
    @functools.cached_property
    def http(self) -> AzureHttp:
        return AzureHttp(
            logger=self.logger,
            timeout=float(self.config.get("request_timeout", 60)),
            max_retries=int(self.config.get("max_retries", 8)),
            backoff_base=float(self.config.get("backoff_base_seconds", 1.0)),
            max_throttle_wait=float(self.config.get("max_throttle_wait_seconds", 3600)),
        )

    @functools.cached_property
    def credential(self) -> EntraCredential:
        config = self.config
        return EntraCredential(
            self.http,
            login_url=str(config.get("login_url") or "https://login.microsoftonline.com"),
            tenant_id=str(config.get("tenant_id") or ""),
            client_id=str(config.get("client_id") or ""),
            client_secret=str(config.get("client_secret") or ""),
        )

    @functools.cached_property
    def cost_details_api(self) -> CostDetailsApi:
        return CostDetailsApi(
            self.http,
            self.credential,
            api_url=str(self.config.get("api_url") or "https://management.azure.com"),
            scope=str(self.config["scope"]),
            report_timeout=float(self.config.get("report_timeout_seconds", 3600)),
        )

    @functools.cached_property
    def exports(self) -> BlobExports:
        config = dict(self.config)
        uses_token = not config.get("storage_connection_string") and not config.get(
            "storage_sas_token"
        )
        container, account_url = container_client(config, self.credential if uses_token else None)
        return BlobExports(
            container,
            prefix=str(config.get("prefix") or ""),
            account_url=account_url,
            export_names=list(config.get("export_names") or []),
            logger=self.logger,
        )

    # --- what to read ----------------------------------------------------------------
    @property
    def today(self) -> dt.date:
        return self.run_started_at.date()

    def _selected(self, name: str) -> bool:
        stream = self.streams[name]
        return bool(stream.selected or stream.has_selected_descendents)

    def cost_details_windows(self, state: dict[str, t.Any]) -> list[CostDetailsWindow]:
        """Calendar-month windows per metric, from the bookmark less lookback_days."""
        config = self.config
        scope = "/" + str(config["scope"]).strip("/")
        start = (
            parse_moment(config["start_date"]).date()
            if config.get("start_date")
            else months_before(self.today, DEFAULT_MONTHS)
        )
        explicit_end = (
            exclusive_day(parse_moment(config["end_date"])) if config.get("end_date") else None
        )
        open_end = self.today + dt.timedelta(days=1)
        end = min(explicit_end or open_end, open_end)
        lookback = dt.timedelta(days=float(config.get("lookback_days", 3)))
        bookmarks = state.get("cost_details") or {}
        windows = []
        for metric in config.get("metrics") or []:
            lower = start
            read_until = (bookmarks.get(f"{scope}|{metric}") or {}).get("read_until")
            if read_until:
                lower = max(start, month_start(dt.date.fromisoformat(read_until) - lookback))
            day = lower
            while day < end:
                upper = min(next_month(month_start(day)), end)
                whole = upper == next_month(month_start(day)) or (
                    upper == open_end and explicit_end is None
                )
                complete = day == month_start(day) and whole
                windows.append(CostDetailsWindow(scope, metric, day, upper, complete))
                day = upper
        return sorted(windows, key=lambda w: (w.start, list(METRIC_NAMES).index(w.metric)))

    def export_runs(self) -> list[ExportRunInfo]:
        """The newest run of every export and month in [start_date, end_date)."""
        config = self.config
        first = ""
        if config.get("start_date"):
            moment = parse_moment(config["start_date"])
            first = f"{moment.year:04d}-{moment.month:02d}"
        end = parse_moment(config["end_date"]) if config.get("end_date") else None
        runs = []
        for run in self.exports.runs():
            if run.billing_period < first:
                continue
            year, month = (int(p) for p in run.billing_period.split("-"))
            if end is not None and dt.datetime(year, month, 1, tzinfo=dt.UTC) >= end:
                continue
            runs.append(run)
        return runs

    def plan(self, state: dict[str, t.Any]) -> list[CostDetailsWindow | ExportRunInfo]:
        items: list[CostDetailsWindow | ExportRunInfo] = []
        if self.config.get("scope") and self._selected("cost_details"):
            items.extend(self.cost_details_windows(state))
        elif self.config.get("scope"):
            self.logger.info("Skipping the Cost Details API: stream cost_details is not selected")
        if self.config.get("container") and self._selected("export_rows"):
            items.extend(self.export_runs())
        elif self.config.get("container"):
            self.logger.info("Skipping exports: stream export_rows is not selected")
        return items

    def discover_streams(self) -> list[Stream]:
        agreement = str(self.config.get("agreement") or "EA")
        return [
            DeliveriesStream(tap=self),
            CostDetailsStream(tap=self, schema=cost_details_schema(agreement)),
            ExportRowsStream(tap=self, schema=export_rows_schema(agreement)),
        ]


def main() -> None:
    """Console entry point: `tap-azure`."""
    run_cli(TapAzure.cli, "tap-azure")


if __name__ == "__main__":
    main()
