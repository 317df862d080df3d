"""Generate src/tap_openai/schemas/*.json from OpenAI's OpenAPI extract.

Run from the repository root (needs ../shared, which CI and every engineer have):

    uv run python taps/tap-openai/scripts/generate_schemas.py

A bucket stream's record is one result of one bucket: the result's fields as OpenAI's spec
types them (every field nullable: OpenAI fills only what was grouped by), plus the fields
tap-openai adds (`id`, `organization_id`, the bucket's `start_time`/`end_time` and their
ISO 8601 forms `bucket_start`/`bucket_end`). The project and API key objects are not in
the extract; their schemas are written here from OpenAI's API reference.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SPEC = (
    HERE.parents[2].parent / "shared" / "samples" / "openai" / "spec_org_costs_usage_extract.json"
)
OUT = HERE.parent / "src" / "tap_openai" / "schemas"

# stream name -> result component of the spec
BUCKET_STREAMS = {
    "costs": "CostsResult",
    "usage_completions": "UsageCompletionsResult",
    "usage_embeddings": "UsageEmbeddingsResult",
    "usage_moderations": "UsageModerationsResult",
    "usage_images": "UsageImagesResult",
    "usage_audio_speeches": "UsageAudioSpeechesResult",
    "usage_audio_transcriptions": "UsageAudioTranscriptionsResult",
    "usage_vector_stores": "UsageVectorStoresResult",
    "usage_code_interpreter_sessions": "UsageCodeInterpreterSessionsResult",
    "usage_file_search_calls": "UsageFileSearchCallsResult",
    "usage_web_search_calls": "UsageWebSearchCallsResult",
}

OURS: dict[str, Any] = {
    "id": {
        "type": ["string"],
        "description": "tap-openai's key: JSON array of the bucket start and the group-by values",
    },
    "organization_id": {"type": ["string"], "description": "the organization billed"},
    "start_time": {"type": ["integer"], "description": "bucket start, unix seconds (inclusive)"},
    "end_time": {"type": ["integer"], "description": "bucket end, unix seconds (exclusive)"},
    "bucket_start": {"type": ["string"], "format": "date-time"},
    "bucket_end": {"type": ["string"], "format": "date-time"},
}

NULLABLE_STRING = {"type": ["string", "null"]}
NULLABLE_INTEGER = {"type": ["integer", "null"]}
USER = {
    "type": ["object", "null"],
    "properties": {
        "object": NULLABLE_STRING,
        "id": NULLABLE_STRING,
        "name": NULLABLE_STRING,
        "email": NULLABLE_STRING,
        "role": NULLABLE_STRING,
        "added_at": NULLABLE_INTEGER,
        "created_at": NULLABLE_INTEGER,
    },
}
OBJECT_STREAMS: dict[str, dict[str, Any]] = {
    "projects": {
        "id": {"type": ["string"]},
        "organization_id": {"type": ["string"]},
        "object": NULLABLE_STRING,
        "name": NULLABLE_STRING,
        "created_at": NULLABLE_INTEGER,
        "archived_at": NULLABLE_INTEGER,
        "status": NULLABLE_STRING,
    },
    "project_api_keys": {
        "id": {"type": ["string"]},
        "project_id": {"type": ["string"]},
        "organization_id": {"type": ["string"]},
        "object": NULLABLE_STRING,
        "name": NULLABLE_STRING,
        "redacted_value": NULLABLE_STRING,
        "created_at": NULLABLE_INTEGER,
        "last_used_at": NULLABLE_INTEGER,
        "expires_at": NULLABLE_INTEGER,
        "owner_project_access": NULLABLE_STRING,
        "owner": {
            "type": ["object", "null"],
            "properties": {
                "type": NULLABLE_STRING,
                "user": USER,
                "service_account": {
                    "type": ["object", "null"],
                    "properties": {
                        "object": NULLABLE_STRING,
                        "id": NULLABLE_STRING,
                        "name": NULLABLE_STRING,
                        "role": NULLABLE_STRING,
                        "created_at": NULLABLE_INTEGER,
                    },
                },
            },
        },
    },
}


def nullable(prop: dict[str, Any]) -> dict[str, Any]:
    """The spec's property as a nullable JSON Schema type (objects keep their fields)."""
    if "anyOf" in prop:
        types = [o["type"] for o in prop["anyOf"] if o.get("type") not in (None, "null")]
        return {"type": [types[0], "null"]}
    if prop.get("type") == "object":
        fields = {name: nullable(sub) for name, sub in (prop.get("properties") or {}).items()}
        return {"type": ["object", "null"], "properties": fields}
    return {"type": [prop["type"], "null"]}


def bucket_schema(component: dict[str, Any]) -> dict[str, Any]:
    properties = dict(OURS)
    for name, prop in component["properties"].items():
        properties[name] = nullable(prop)
    return {"type": "object", "properties": properties}


def main() -> None:
    spec = json.loads(SPEC.read_text())
    components = spec["components"]
    OUT.mkdir(parents=True, exist_ok=True)
    for stream, component in BUCKET_STREAMS.items():
        schema = bucket_schema(components[f"#/components/schemas/{component}"])
        (OUT / f"{stream}.json").write_text(json.dumps(schema, indent=2) + "\n")
    for stream, properties in OBJECT_STREAMS.items():
        schema = {"type": "object", "properties": properties}
        (OUT / f"{stream}.json").write_text(json.dumps(schema, indent=2) + "\n")


if __name__ == "__main__":
    main()
