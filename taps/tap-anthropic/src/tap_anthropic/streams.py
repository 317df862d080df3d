"""Anthropic streams: one small class per endpoint. Reading logic lives in client.py."""

from __future__ import annotations

import typing as t

from finfocus_common.rest import response_json
from singer_sdk.exceptions import RetriableAPIError
from singer_sdk.pagination import SinglePagePaginator

from tap_anthropic.client import AnthropicStream, ListStream, ReportStream

if t.TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Iterable, Iterator

    import requests
    from singer_sdk.helpers.types import Context

REPORTS = "/v1/organizations"
USAGE_PATH = f"{REPORTS}/usage_report/messages"
#: The usage report's group-by fields that identify a cost line's usage.
MATCH_GROUPS = ("workspace_id", "model", "service_tier", "context_window")


class CostReportStream(ReportStream):
    """What Anthropic charged, per day, workspace and cost line (`amount`: cents, a string).

    Each token cost line also gets the token count behind it from the messages usage
    report (`usage_quantity`, `usage_unit`), matched on day, workspace, model, service tier
    and context window; web search lines get the day's searches of the workspace. Lines
    with nothing to match (code execution, ...) keep both null. Nothing is estimated.
    """

    name = "cost_report"
    path = f"{REPORTS}/cost_report"
    group_by = ("workspace_id", "description")
    identity = (
        "workspace_id",
        "description",
        "cost_type",
        "model",
        "token_type",
        "service_tier",
        "context_window",
        "inference_geo",
    )

    def read_window(
        self, context: Context, lower: dt.datetime, upper: dt.datetime
    ) -> Iterator[dict]:
        usage = UsageMatch(self.tap.usage_for_costs.read_window(context, lower, upper))
        for record in super().read_window(context, lower, upper):
            record["usage_quantity"], record["usage_unit"] = usage.match(record)
            yield record


class UsageReportMessagesStream(ReportStream):
    """Tokens and web searches of the Messages API, per bucket (`bucket_width`), workspace,
    API key, model, service tier, context window and inference geo."""

    name = "usage_report_messages"
    path = USAGE_PATH
    group_by = (
        "api_key_id",
        "workspace_id",
        "model",
        "service_tier",
        "context_window",
        "inference_geo",
    )
    identity = group_by

    @property
    def bucket_width(self) -> str:
        return str(self.config.get("bucket_width", "1d"))

    def key_extra(self) -> tuple[str, ...]:
        return (self.bucket_width,)

    def post_process(self, row: dict, context: Context | None = None) -> dict | None:
        row["bucket_width"] = self.bucket_width
        return super().post_process(row, context)


class UsageForCostsStream(ReportStream):
    """Daily usage grouped like the cost report's token lines. Read to match cost lines
    with their token counts, never emitted."""

    name = "usage_for_costs"
    path = USAGE_PATH
    group_by = MATCH_GROUPS
    schema = {"type": "object", "properties": {}}


class UsageMatch:
    """The usage of one window, indexed the way cost lines are matched to it."""

    def __init__(self, usage: Iterable[dict]) -> None:
        self.tokens: dict[tuple[t.Any, ...], dict] = {}
        self.searches: dict[tuple[t.Any, ...], int] = {}
        for row in usage:
            day = _bucket(row)
            self.tokens[(day, *(row.get(name) for name in MATCH_GROUPS))] = row
            if row.get("service_tier") != "priority":  # priority is not in the cost report
                searches = (row.get("server_tool_use") or {}).get("web_search_requests") or 0
                where = (day, row.get("workspace_id"))
                self.searches[where] = self.searches.get(where, 0) + int(searches)

    def match(self, line: dict) -> tuple[int | None, str | None]:
        """(quantity, unit) behind one cost line, or (None, None) when nothing matches."""
        day = _bucket(line)
        if line.get("cost_type") == "tokens" and line.get("token_type"):
            usage = self.tokens.get((day, *(line.get(name) for name in MATCH_GROUPS)))
            value: t.Any = usage
            for part in str(line["token_type"]).split("."):
                value = value.get(part) if isinstance(value, dict) else None
            if isinstance(value, int) and not isinstance(value, bool):
                return value, "tokens"
        if line.get("cost_type") == "web_search":
            searches = self.searches.get((day, line.get("workspace_id")))
            if searches is not None:
                return searches, "web_search_requests"
        return None, None


def _bucket(row: dict) -> str:
    return str(row["starting_at"])  # both reports write bucket starts the same way


class WorkspacesStream(ListStream):
    """Every workspace, archived ones too (their names label past costs). The default
    workspace is not listed: Anthropic reports it with a null workspace_id."""

    name = "workspaces"
    path = f"{REPORTS}/workspaces"
    extra_params: t.ClassVar[dict[str, str]] = {"include_archived": "true"}


class ApiKeysStream(ListStream):
    """Every API key of the organization (never the secret: `partial_key_hint` only)."""

    name = "api_keys"
    path = f"{REPORTS}/api_keys"


class OrganizationStream(AnthropicStream):
    """GET /v1/organizations/me: the organization the key belongs to. Checks the key
    before anything is read; never emitted."""

    name = "organization"
    path = f"{REPORTS}/me"
    schema = {"type": "object", "properties": {"id": {"type": "string"}}}

    def get_new_paginator(self) -> SinglePagePaginator:
        return SinglePagePaginator()

    def check_page(self, response: requests.Response) -> None:
        body = self.check_json(response)
        if not isinstance(body, dict) or not body.get("id"):
            raise RetriableAPIError(
                "Anthropic answered GET /v1/organizations/me without an id", response
            )

    def parse_response(self, response: requests.Response) -> Iterable[dict]:
        yield response_json(response)


STREAM_TYPES: list[type[AnthropicStream]] = [
    CostReportStream,
    UsageReportMessagesStream,
    WorkspacesStream,
    ApiKeysStream,
]
