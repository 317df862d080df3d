"""tap-anthropic: settings, the organization and its workspaces, and the stream list."""

from __future__ import annotations

import datetime as dt
import functools
import re
import typing as t

from finfocus_common.errors import run_cli
from finfocus_common.tap import FinfocusTap
from singer_sdk import typing as th
from singer_sdk.contrib.msgspec import MsgSpecWriter

from tap_anthropic.client import BUCKET_WIDTHS, parse_datetime
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


class TapAnthropic(FinfocusTap):
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

    secret_settings = ("admin_api_key",)
    positive_settings = ("request_timeout", "window_days")

    def config_problems(self) -> t.Iterator[str]:
        config = self.config
        if str(config.get("admin_api_key", "")).startswith(STANDARD_KEY_PREFIX):
            yield (
                "admin_api_key is a standard API key (sk-ant-api...); the Admin API needs an "
                "Admin API key (sk-ant-admin...)"
            )
        if not VERSION.match(str(config.get("anthropic_version", ""))):
            version = config.get("anthropic_version")
            yield f"anthropic_version must look like 2023-06-01, got {version!r}"

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
