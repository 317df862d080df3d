"""OpenAI's bill, as FOCUS rows.

Source: tap-openai's `costs` stream: one record per UTC day, project and line item, as
OpenAI's Costs API reports it (`group_by=project_id,line_item`), with the organization on
every record. Rules (each has a fixture in tests/fixtures/openai):

- One FOCUS row per cost record. BilledCost = EffectiveCost = ListCost = ContractedCost =
  `amount.value`, the exact decimal OpenAI's JSON spells (float artefacts included: the
  sum of the rows is what OpenAI reports, to the last digit). Currency upper-cased.
- ChargeCategory "Usage", ChargeFrequency "Usage-Based", PricingCategory "Standard";
  ChargePeriod = the bucket; BillingPeriod = the UTC calendar month of the bucket.
- BillingAccountId = the organization; SubAccountId = the project (its id is also its
  name here: a record does not carry the project's name). A cost OpenAI attributes to no
  project has no sub account.
- SkuId and ChargeDescription = the line item ("gpt-4o-2024-08-06, input"). ServiceName:
  the model family for model line items (the model id without its date snapshot:
  "gpt-4o"), else the tool or product the line item names ("Web Search", ...);
  ServiceSubcategory "Generative AI", "Natural Language Processing" (embeddings,
  moderation, transcription) or "AI Platforms" (tools, vector storage).
- Quantities: OpenAI's own. When costs are grouped by line item, OpenAI reports the
  quantity behind each line (tokens, images, characters, seconds, GiB-hours: the same
  counts as the usage endpoints). That quantity becomes PricingQuantity and
  ConsumedQuantity in the unit OpenAI names ("Tokens", "Images", ...), or "Units" when it
  names none (tool calls, sessions). A line without a quantity is 1 "Units": one charge.
  Nothing is estimated from price lists.
"""

from __future__ import annotations

import re
import typing as t

from mapper_focus.registry import StreamMapping
from mapper_focus.rows import (
    MappingError,
    as_decimal,
    from_unix,
    iso,
    month_bounds,
    require,
    row_key,
)

if t.TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from decimal import Decimal

PROVIDER = "OpenAI"
STREAM = "costs"
CURRENCY_CODE = re.compile(r"^[A-Za-z]{3}$")

#: OpenAI's quantity_unit -> FOCUS unit (UnitFormat)
UNITS = {
    "tokens": "Tokens",
    "1000_tokens": "1000 Tokens",
    "duration_seconds": "Seconds",
    "duration_minutes": "Minutes",
    "duration_hours": "Hours",
    "gibibyte_hours": "GiB Hours",
    "images": "Images",
    "characters": "Characters",
}
COUNT_UNIT = "Units"

GENERATIVE = "Generative AI"
LANGUAGE = "Natural Language Processing"
PLATFORM = "AI Platforms"
#: model families that analyse rather than generate
LANGUAGE_MODELS = re.compile(r"embedding|moderation|whisper|transcribe", re.IGNORECASE)
#: line items that name a tool or product instead of a model: (prefix, ServiceName)
PRODUCTS = (
    ("web search", "Web Search"),
    ("file search", "File Search"),
    ("code interpreter", "Code Interpreter"),
    ("vector store", "Vector Stores"),
    ("container", "Containers"),
)
SNAPSHOT = re.compile(r"-(\d{4}-\d{2}-\d{2}|\d{4})$")

CUSTOM_COLUMNS: dict[str, dict] = {
    "x_OpenAIProjectId": {"type": ["string", "null"]},
    "x_OpenAILineItem": {"type": ["string", "null"]},
    "x_OpenAIModel": {
        "type": ["string", "null"],
        "description": "the model a line item names (with its snapshot), if any",
    },
    "x_OpenAIQuantity": {
        "type": ["number", "null"],
        "description": "quantity as OpenAI reports it (null when it reports none)",
    },
    "x_OpenAIQuantityUnit": {"type": ["string", "null"], "description": "OpenAI's own unit"},
}


def record_id(record: Mapping[str, t.Any]) -> str | None:
    value = record.get("id")
    return None if value is None else str(value)


def model_of(line_item: str) -> str | None:
    """The model a line item names ("gpt-4o-2024-08-06, input" -> gpt-4o-2024-08-06)."""
    head = line_item.split(",", 1)[0].strip()
    if head and not any(ch.isspace() for ch in head) and any(ch.isdigit() for ch in head):
        return head
    return None


def family_of(model: str) -> str:
    """gpt-4o-2024-08-06 -> gpt-4o; ft:gpt-4o-mini-2024-07-18:acme::id -> gpt-4o-mini."""
    base = model.removeprefix("ft:").split(":", 1)[0]
    return SNAPSHOT.sub("", base) or base


def service_for(line_item: str) -> tuple[str, str]:
    """(ServiceName, ServiceSubcategory) of a line item; ServiceCategory is AI and ML."""
    model = model_of(line_item)
    if model is not None:
        family = family_of(model)
        return family, LANGUAGE if LANGUAGE_MODELS.search(family) else GENERATIVE
    lowered = line_item.lower()
    for prefix, name in PRODUCTS:
        if lowered.startswith(prefix):
            return name, PLATFORM
    return line_item.split(",", 1)[0].strip(), "Other (AI and Machine Learning)"


def quantity_for(record: Mapping[str, t.Any], record_key: str) -> tuple[Decimal, str]:
    """(quantity, FOCUS unit): OpenAI's quantity in its unit, else 1 Units (one charge)."""
    raw = record.get("quantity")
    if raw is None:
        return as_decimal(1, where=(STREAM, record_key, "quantity")), COUNT_UNIT
    quantity = as_decimal(raw, where=(STREAM, record_key, "quantity"))
    unit = record.get("quantity_unit")
    return quantity, (UNITS.get(str(unit), str(unit)) if unit else COUNT_UNIT)


def map_cost(record: Mapping[str, t.Any]) -> Iterator[dict[str, t.Any]]:
    """The FOCUS row of one OpenAI cost record (a day, a project, a line item)."""
    key = str(require(record, "id", STREAM, None))
    organization = str(require(record, "organization_id", STREAM, key))
    start = from_unix(require(record, "start_time", STREAM, key))
    end = from_unix(require(record, "end_time", STREAM, key))
    line_item = str(require(record, "line_item", STREAM, key))
    amount = record.get("amount")
    if not isinstance(amount, dict):
        raise MappingError(STREAM, key, "amount", "expected an object {value, currency}")
    cost = as_decimal(amount.get("value"), where=(STREAM, key, "amount.value"))
    currency = str(amount.get("currency") or "")
    if not CURRENCY_CODE.match(currency):
        raise MappingError(STREAM, key, "amount.currency", f"not a currency code: {currency!r}")
    project = record.get("project_id") or None
    quantity, unit = quantity_for(record, key)
    service_name, subcategory = service_for(line_item)
    billing_start, billing_end = month_bounds(start)
    yield {
        "BilledCost": cost,
        "EffectiveCost": cost,
        "ListCost": cost,
        "ContractedCost": cost,
        "BillingCurrency": currency.upper(),
        "BillingAccountId": organization,
        "BillingAccountName": None,
        "BillingAccountType": "OpenAI Organization",
        "SubAccountId": project,
        "SubAccountName": project,  # the id is the name a cost record has
        "SubAccountType": "OpenAI Project" if project else None,
        "BillingPeriodStart": iso(billing_start),
        "BillingPeriodEnd": iso(billing_end),
        "ChargePeriodStart": iso(start),
        "ChargePeriodEnd": iso(end),
        "ChargeCategory": "Usage",
        "ChargeClass": None,
        "ChargeDescription": line_item,
        "ChargeFrequency": "Usage-Based",
        "PricingCategory": "Standard",
        "PricingQuantity": quantity,
        "PricingUnit": unit,
        "ConsumedQuantity": quantity,
        "ConsumedUnit": unit,
        "SkuId": line_item,
        "ServiceName": service_name,
        "ServiceCategory": "AI and Machine Learning",
        "ServiceSubcategory": subcategory,
        "ServiceProviderName": PROVIDER,
        "HostProviderName": PROVIDER,
        "InvoiceIssuerName": PROVIDER,
        "ProviderName": PROVIDER,
        "PublisherName": PROVIDER,
        "x_SourceStream": STREAM,
        "x_SourceRecordId": key,
        # Identity only (never the amount): a restated bucket keeps its key.
        "x_RowKey": row_key("openai", STREAM, organization, project, line_item, start.isoformat()),
        "x_OpenAIProjectId": project,
        "x_OpenAILineItem": line_item,
        "x_OpenAIModel": model_of(line_item),
        "x_OpenAIQuantity": None if record.get("quantity") is None else quantity,
        "x_OpenAIQuantityUnit": record.get("quantity_unit"),
    }


MAPPINGS = (
    StreamMapping(
        provider="openai",
        stream=STREAM,
        required_properties=frozenset(
            {"id", "organization_id", "start_time", "end_time", "amount", "line_item", "project_id"}
        ),
        map_record=map_cost,
        record_id=record_id,
        custom_columns=CUSTOM_COLUMNS,
    ),
)
