"""tap-anthropic: settings, the organization and its workspaces, and the stream list."""

from __future__ import annotations

import datetime as dt
import functools
import re
import typing as t
from urllib.parse import urlparse

from finfocus_common.errors import ConfigError, run_cli
from finfocus_common.redact import install_log_redaction, register_secret
from singer_sdk import Tap
from singer_sdk import typing as th
from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.exceptions import ConfigValidationError

from tap_anthropic.client import BUCKET_WIDTHS, UTC, parse_datetime
from tap_anthropic.streams import (
    STREAM_TYPES,
    OrganizationStream,
    UsageForCostsStream,
    WorkspacesStream,
)

if t.TYPE_CHECKING:
    from tap_anthropic.client import AnthropicStream

DEFAULT_HISTORY = dt.timedelta(days=365)
VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}$")
STANDARD_KEY_PREFIX = "sk-ant-api"


class TapAnthropic(Tap):
    """Singer tap for Anthropic's Admin API: Claude API cost and usage, workspaces, keys."""

    name = "tap-anthropic"
    package_name = "finfocus-tap-anthropic"
    message_writer_class = MsgSpecWriter  # faster, and Decimal-exact like the default

    config_jsonschema = th.PropertiesList(
        th.Property(
            "admin_api_key",
            th.StringType,
            required=True,
            secret=True,
            description="Admin API key (sk-ant-admin...) of the organization; standard API "
            "keys cannot read the Admin API",
        ),
        th.Property(
            "start_date",
            th.DateTimeType,
            description="Earliest bucket to extract (ISO 8601). Default: 365 days before the run",
        ),
        th.Property(
            "end_date",
            th.DateTimeType,
            description="Optional exclusive upper bound (ISO 8601). Default: the last complete "
            "bucket before the run",
        ),
        th.Property(
            "api_url",
            th.StringType,
            default="https://api.anthropic.com",
            description="Base URL of the Anthropic API (tests, sandboxes and proxies point it "
            "elsewhere)",
        ),
        th.Property(
            "anthropic_version",
            th.StringType,
            default="2023-06-01",
            description="anthropic-version header sent with every request",
        ),
        th.Property(
            "bucket_width",
            th.StringType,
            default="1d",
            allowed_values=list(BUCKET_WIDTHS),
            description="Bucket width of usage_report_messages: 1d, 1h or 1m (the cost report "
            "is always daily)",
        ),
        th.Property(
            "lookback_days",
            th.NumberType,
            default=2,
            description="How far before the bookmark each incremental run re-reads: Anthropic "
            "revises recent buckets",
        ),
        th.Property(
            "window_days",
            th.IntegerType,
            default=31,
            description="Days per request window; the bookmark advances per window",
        ),
        th.Property(
            "request_timeout",
            th.IntegerType,
            default=60,
            description="Seconds to wait for one HTTP response before retrying",
        ),
        th.Property(
            "max_retries",
            th.IntegerType,
            default=8,
            description="Retries of one request on 429, 5xx, timeouts and resets",
        ),
        th.Property(
            "backoff_base_seconds",
            th.NumberType,
            default=1.0,
            description="First wait of the exponential backoff when Anthropic advertises none",
        ),
    ).to_dict()

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        # Captured once: every stream of the run reads up to the same instant.
        self.run_started_at = dt.datetime.now(tz=UTC).replace(microsecond=0)
        super().__init__(*args, **kwargs)
        register_secret(self.config.get("admin_api_key"))
        install_log_redaction()

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        try:
            errors = super()._validate_config(raise_errors=raise_errors)
        except ConfigValidationError as exc:
            raise ConfigError("invalid config: " + "; ".join(exc.errors)) from None
        problems = list(self._semantic_config_problems())
        if problems and raise_errors:
            raise ConfigError("invalid config: " + "; ".join(problems))
        return errors + problems

    def _semantic_config_problems(self) -> t.Iterator[str]:
        config = self.config
        url = urlparse(str(config.get("api_url", "")))
        if url.scheme not in {"http", "https"} or not url.netloc:
            yield f"api_url must be an http(s) URL, got {config.get('api_url')!r}"
        if str(config.get("admin_api_key", "")).startswith(STANDARD_KEY_PREFIX):
            yield (
                "admin_api_key is a standard API key (sk-ant-api...); the Admin API needs an "
                "Admin API key (sk-ant-admin...)"
            )
        if not VERSION.match(str(config.get("anthropic_version", ""))):
            version = config.get("anthropic_version")
            yield f"anthropic_version must look like 2023-06-01, got {version!r}"
        if float(config.get("lookback_days", 0)) < 0:
            yield f"lookback_days must be >= 0, got {config.get('lookback_days')}"
        for name in ("window_days", "request_timeout"):
            if name in config and float(config[name]) <= 0:
                yield f"{name} must be > 0, got {config[name]}"
        if int(config.get("max_retries", 0)) < 0:
            yield f"max_retries must be >= 0, got {config.get('max_retries')}"
        moments = {}
        for name in ("start_date", "end_date"):
            if config.get(name):
                try:
                    moments[name] = parse_datetime(str(config[name]))
                except ValueError:
                    yield f"{name} must be an ISO 8601 date or date-time, got {config[name]!r}"
        if len(moments) == 2 and moments["start_date"] >= moments["end_date"]:
            yield f"start_date {config['start_date']} must be before end_date {config['end_date']}"

    # --- run scope -----------------------------------------------------------------

    @functools.cached_property
    def start_date(self) -> dt.datetime:
        value = self.config.get("start_date")
        return parse_datetime(value) if value else self.run_started_at - DEFAULT_HISTORY

    @functools.cached_property
    def end_date(self) -> dt.datetime:
        value = self.config.get("end_date")
        return min(parse_datetime(value), self.run_started_at) if value else self.run_started_at

    @property
    def user_agent(self) -> str:
        return f"finfocus-tap-anthropic/{self.plugin_version}"

    @functools.cached_property
    def organization(self) -> dict[str, t.Any]:
        """The organization that owns the key (GET /v1/organizations/me); fails fast on a
        bad or non-admin key."""
        return dict(next(iter(OrganizationStream(tap=self).request_records({}))))

    @functools.cached_property
    def workspace_names(self) -> dict[str | None, str]:
        """Workspace id -> name, archived workspaces included (the default workspace has
        no id and is not listed)."""
        return {
            str(w["id"]): str(w["name"])
            for w in WorkspacesStream(tap=self).request_records({})
            if w.get("id") and w.get("name")
        }

    @functools.cached_property
    def usage_for_costs(self) -> UsageForCostsStream:
        return UsageForCostsStream(tap=self)

    def discover_streams(self) -> list[AnthropicStream]:
        return [stream_class(tap=self) for stream_class in STREAM_TYPES]


def main() -> None:
    """Console entry point: `tap-anthropic`."""
    run_cli(TapAnthropic.cli, "tap-anthropic")


if __name__ == "__main__":
    main()
