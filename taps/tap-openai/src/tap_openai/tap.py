"""tap-openai: settings, the organization read, and the stream list."""

from __future__ import annotations

import datetime as dt
import functools
import re
import typing as t
from urllib.parse import urlparse

from finfocus_common.errors import PermanentError, run_cli
from finfocus_common.tap import FinfocusTap
from singer_sdk import typing as th
from singer_sdk.contrib.msgspec import MsgSpecWriter

from tap_openai.client import WIDTH_SECONDS, parse_datetime
from tap_openai.streams import STREAM_TYPES, OrganizationStream

if t.TYPE_CHECKING:
    from tap_openai.client import OpenAIStream

DEFAULT_HISTORY = dt.timedelta(days=365)
PROJECT_ID = re.compile(r"^proj_[A-Za-z0-9]+$")


class TapOpenAI(FinfocusTap):
    """Singer tap for OpenAI's organization costs and usage (admin API)."""

    name = "tap-openai"
    package_name = "finfocus-tap-openai"
    message_writer_class = MsgSpecWriter  # faster, and Decimal-exact like the default

    config_jsonschema = th.PropertiesList(
        th.Property(
            "admin_api_key",
            th.StringType,
            required=True,
            secret=True,
            description="OpenAI admin API key (sk-admin-...); usage and costs need its "
            "api.usage.read scope, projects and keys api.management.read",
        ),
        th.Property(
            "start_date",
            th.DateTimeType,
            description="Earliest bucket to extract (ISO 8601). Default: 365 days before the run",
        ),
        th.Property(
            "end_date",
            th.DateTimeType,
            description="Optional exclusive upper bound (ISO 8601). Default: now",
        ),
        th.Property(
            "api_url",
            th.StringType,
            default="https://api.openai.com",
            description="Base URL of the OpenAI API, without /v1 (tests, sandboxes and proxies "
            "point it elsewhere)",
        ),
        th.Property(
            "bucket_width",
            th.StringType,
            default="1d",
            allowed_values=list(WIDTH_SECONDS),
            description="Bucket width of the usage streams: 1m, 1h or 1d (costs are always 1d)",
        ),
        th.Property(
            "project_ids",
            th.ArrayType(th.StringType),
            default=[],
            description="Only these projects (proj_...); default: every project",
        ),
        th.Property(
            "organization_id",
            th.StringType,
            description="Organization to stamp on every record. Default: the one OpenAI names "
            "in its openai-organization response header",
        ),
        th.Property(
            "lookback_days",
            th.NumberType,
            default=2,
            description="How far before the bookmark each incremental run re-reads "
            "(OpenAI revises recent buckets)",
        ),
        th.Property(
            "page_size",
            th.IntegerType,
            description="Buckets per request; the bookmark advances per page. Default: the "
            "API's maximum (costs 180; usage 31 at 1d, 168 at 1h, 1440 at 1m)",
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
            description="First wait of the exponential backoff when OpenAI advertises none",
        ),
    ).to_dict()

    secret_settings = ("admin_api_key",)
    positive_settings = ("request_timeout", "page_size")

    def config_problems(self) -> t.Iterator[str]:
        config = self.config
        if urlparse(str(config.get("api_url", ""))).path.rstrip("/").endswith("/v1"):
            yield "api_url must not end in /v1 (tap-openai adds it)"
        for project in config.get("project_ids") or []:
            if not PROJECT_ID.match(str(project)):
                yield f"project_ids entry {project!r} is not an OpenAI project id (proj_...)"

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
        return f"finfocus-tap-openai/{self.plugin_version}"

    @functools.cached_property
    def organization_id(self) -> str:
        """The organization billed: from config, else as OpenAI names it. Checks the key."""
        body = next(iter(OrganizationStream(tap=self).request_records({})))
        configured = self.config.get("organization_id")
        if configured:
            return str(configured)
        if not body.get("id"):
            raise PermanentError(
                "OpenAI did not name the organization of this key (no openai-organization "
                "header); set organization_id"
            )
        return str(body["id"])

    def discover_streams(self) -> list[OpenAIStream]:
        return [stream_class(tap=self) for stream_class in STREAM_TYPES]


def main() -> None:
    """Console entry point: `tap-openai`."""
    run_cli(TapOpenAI.cli, "tap-openai")


if __name__ == "__main__":
    main()
