"""OpenAI streams: costs, usage per endpoint, projects and their API keys.

Reading logic lives in client.BucketStream (bucket endpoints) and client.ListStream.
"""

from __future__ import annotations

import typing as t

from singer_sdk.pagination import SinglePagePaginator

from tap_openai.client import (
    COSTS_PAGE_LIMIT,
    BucketStream,
    ListStream,
    OpenAIStream,
    floor_to,
    to_unix,
)

if t.TYPE_CHECKING:
    from collections.abc import Iterable

    import requests
    from singer_sdk.helpers.types import Context

USER_KEY_MODEL = ("project_id", "user_id", "api_key_id", "model")


class CostsStream(BucketStream):
    """What the organization is billed: daily amounts per project and line item."""

    name = "costs"
    path = "/organization/costs"
    group_by = ("project_id", "line_item")

    @property
    def bucket_width(self) -> str:
        return "1d"  # the only width OpenAI has for costs

    @property
    def page_limit(self) -> int:
        return min(int(self.config.get("page_size") or COSTS_PAGE_LIMIT), COSTS_PAGE_LIMIT)


class UsageCompletionsStream(BucketStream):
    name = "usage_completions"
    path = "/organization/usage/completions"
    group_by = (*USER_KEY_MODEL, "batch", "service_tier")


class UsageEmbeddingsStream(BucketStream):
    name = "usage_embeddings"
    path = "/organization/usage/embeddings"
    group_by = USER_KEY_MODEL


class UsageModerationsStream(BucketStream):
    name = "usage_moderations"
    path = "/organization/usage/moderations"
    group_by = USER_KEY_MODEL


class UsageImagesStream(BucketStream):
    name = "usage_images"
    path = "/organization/usage/images"
    group_by = (*USER_KEY_MODEL, "size", "source")


class UsageAudioSpeechesStream(BucketStream):
    name = "usage_audio_speeches"
    path = "/organization/usage/audio_speeches"
    group_by = USER_KEY_MODEL


class UsageAudioTranscriptionsStream(BucketStream):
    name = "usage_audio_transcriptions"
    path = "/organization/usage/audio_transcriptions"
    group_by = USER_KEY_MODEL


class UsageVectorStoresStream(BucketStream):
    name = "usage_vector_stores"
    path = "/organization/usage/vector_stores"
    group_by = ("project_id",)


class UsageCodeInterpreterSessionsStream(BucketStream):
    name = "usage_code_interpreter_sessions"
    path = "/organization/usage/code_interpreter_sessions"
    group_by = ("project_id",)


class UsageFileSearchCallsStream(BucketStream):
    name = "usage_file_search_calls"
    path = "/organization/usage/file_search_calls"
    group_by = ("project_id", "user_id", "api_key_id", "vector_store_id")


class UsageWebSearchCallsStream(BucketStream):
    name = "usage_web_search_calls"
    path = "/organization/usage/web_search_calls"
    group_by = (*USER_KEY_MODEL, "context_level")


class ProjectsStream(ListStream):
    """Every project, archived ones included (their past costs still name them)."""

    name = "projects"
    path = "/organization/projects"

    def get_url_params(self, context: Context | None, next_page_token: str | None) -> dict:
        return {**super().get_url_params(context, next_page_token), "include_archived": "true"}

    def parse_response(self, response: requests.Response) -> Iterable[dict]:
        wanted = set(self.config.get("project_ids") or [])
        for project in super().parse_response(response):
            if not wanted or project["id"] in wanted:
                yield project

    def generate_child_contexts(
        self, record: dict, context: Context | None
    ) -> Iterable[Context | None]:
        # An archived project's keys are revoked with it: nothing to list.
        if record.get("archived_at") is None:
            yield {"project_id": record["id"]}


class ProjectApiKeysStream(ListStream):
    """The API keys of each active project (ids in costs and usage name them)."""

    name = "project_api_keys"
    path = "/organization/projects/{project_id}/api_keys"
    parent_stream_type = ProjectsStream
    primary_keys: t.ClassVar[list[str]] = ["project_id", "id"]
    state_partitioning_keys: t.ClassVar[list[str]] = []  # no bookmark: read whole

    def post_process(self, row: dict, context: Context | None = None) -> dict | None:
        assert context is not None, "project_api_keys is only read through projects"
        return {**row, "project_id": context["project_id"]}


class OrganizationStream(OpenAIStream):
    """One small costs request: checks the key and learns the organization from OpenAI's
    `openai-organization` header. Never emitted."""

    name = "organization"
    path = "/organization/costs"
    schema = {"type": "object", "properties": {"id": {"type": ["string", "null"]}}}

    def get_new_paginator(self) -> SinglePagePaginator:
        return SinglePagePaginator()

    def get_url_params(self, context: Context | None, next_page_token: str | None) -> dict:
        today = floor_to(self.tap.run_started_at, 86_400)
        return {"start_time": to_unix(today), "limit": 1}

    def parse_response(self, response: requests.Response) -> Iterable[dict]:
        yield {"id": response.headers.get("openai-organization") or None}


STREAM_TYPES: list[type[OpenAIStream]] = [
    CostsStream,
    UsageCompletionsStream,
    UsageEmbeddingsStream,
    UsageModerationsStream,
    UsageImagesStream,
    UsageAudioSpeechesStream,
    UsageAudioTranscriptionsStream,
    UsageVectorStoresStream,
    UsageCodeInterpreterSessionsStream,
    UsageFileSearchCallsStream,
    UsageWebSearchCallsStream,
    ProjectsStream,
    ProjectApiKeysStream,
]
