"""tap-openai: settings, the organization read, and the stream list."""

from __future__ import annotations

import datetime as dt
import functools
import re
import typing as t
from urllib.parse import urlparse

from finfocus_common.errors import ConfigError, PermanentError, run_cli
from finfocus_common.redact import install_log_redaction, register_secret
from singer_sdk import Tap
from singer_sdk import typing as th
from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.exceptions import ConfigValidationError

from tap_openai.client import UTC, WIDTH_SECONDS, parse_datetime
from tap_openai.streams import STREAM_TYPES, OrganizationStream

if t.TYPE_CHECKING:
    from tap_openai.client import OpenAIStream

DEFAULT_HISTORY = dt.timedelta(days=365)
PROJECT_ID = re.compile(r"^proj_[A-Za-z0-9]+$")


class TapOpenAI(Tap):
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
        elif url.path.rstrip("/").endswith("/v1"):
            yield "api_url must not end in /v1 (tap-openai adds it)"
        for project in config.get("project_ids") or []:
            if not PROJECT_ID.match(str(project)):
                yield f"project_ids entry {project!r} is not an OpenAI project id (proj_...)"
        if float(config.get("lookback_days", 0)) < 0:
            yield f"lookback_days must be >= 0, got {config.get('lookback_days')}"
        for name in ("request_timeout", "page_size"):
            if config.get(name) is not None and float(config[name]) <= 0:
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
            yield (
                f"start_date {config['start_date']} must be before end_date {config['end_date']}"
            )

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
