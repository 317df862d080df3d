"""Baseline: a singer-sdk inline mapper that re-emits every message unchanged."""

from __future__ import annotations

import typing as t

from singer_sdk.contrib.msgspec import MsgSpecReader, MsgSpecWriter
from singer_sdk.mapper_base import InlineMapper
from singer_sdk.singerlib import RecordMessage, SchemaMessage, StateMessage


class PassThrough(InlineMapper):
    name = "passthrough-mapper"
    message_reader_class = MsgSpecReader
    message_writer_class = MsgSpecWriter
    config_jsonschema: t.ClassVar[dict] = {"type": "object", "properties": {}}

    def map_schema_message(self, message_dict: dict) -> t.Iterable:
        yield SchemaMessage.from_dict(message_dict)

    def map_record_message(self, message_dict: dict) -> t.Iterable:
        yield RecordMessage.from_dict(message_dict)

    def map_state_message(self, message_dict: dict) -> t.Iterable:
        yield StateMessage(value=message_dict["value"])

    def map_activate_version_message(self, message_dict: dict) -> t.Iterable:
        return []


if __name__ == "__main__":
    PassThrough.cli()
