"""Cost Management export rows (tap-azure `export_rows`) as FOCUS rows.

One stream carries three export kinds (tap field export_kind): "azure_actual" and
"azure_amortized" rows have the cost details columns and go through the same rules as
`cost_details` (`azure_cost.CostMapper`, the same drop of each charge's other metric);
"azure_focus" rows are Microsoft's FOCUS export, brought to the configured FOCUS version by
`azure_focus.FocusMapper`. Every row carries x_DeliveryId = the tap's delivery_id, by which
target-focus replaces a re-delivered billing period; x_RowKey is the export's file (tap
field `blob`) and row: unique by construction; keys need not survive a re-delivery, which
replaces the period.
"""

from __future__ import annotations

import typing as t

from mapper_focus.providers.azure_common import CUSTOM_COLUMNS, PROVIDER, export_metric
from mapper_focus.providers.azure_cost import CostMapper, export_file, export_record_id
from mapper_focus.providers.azure_focus import FocusMapper, focus_row_key
from mapper_focus.registry import StreamMapping
from mapper_focus.rows import MappingError, delivery_scope

if t.TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

STREAM = "export_rows"
#: tap-azure announces export_rows with its own fields (the file is `blob`, or
#: `source_file`); the export's columns follow.
TAP_REQUIRED = frozenset({"export_kind", "delivery_id", "row_number"})

_COST = CostMapper(STREAM, export=True)
_FOCUS = FocusMapper(STREAM)


def map_export_row(record: Mapping[str, t.Any]) -> Iterator[dict[str, t.Any]]:
    """FOCUS rows of one export row: 0 or 1 for actual / amortized, 1 for FOCUS."""
    rid = export_record_id(record)
    delivery = record.get("delivery_id")
    if delivery is None or delivery == "":
        raise MappingError(STREAM, rid, "delivery_id", "required field is missing")
    if export_metric(record, STREAM, rid) != "focus":
        return _COST(record)
    row = _FOCUS.map(record, rid)
    row["x_SourceStream"] = STREAM
    row["x_SourceRecordId"] = rid
    row["x_RowKey"] = focus_row_key(record, STREAM, export_file(record))
    row["x_DeliveryId"] = str(delivery)
    row["x_DeliveryScope"] = delivery_scope(record.get("export_kind"), record.get("export_name"))
    row["x_AzureMetric"] = "focus"
    return iter((row,))


MAPPINGS = (
    StreamMapping(
        provider=PROVIDER,
        stream=STREAM,
        required_properties=TAP_REQUIRED,
        map_record=map_export_row,
        record_id=export_record_id,
        custom_columns=CUSTOM_COLUMNS,
    ),
)
