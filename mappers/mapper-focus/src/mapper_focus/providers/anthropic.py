"""Anthropic's charges for the Claude API, as FOCUS rows.

Source: tap-anthropic's `cost_report` stream, Anthropic's cost report read per day and
grouped by workspace and description: one record per cost line (model and token type,
web search, code execution, ...) per daily bucket. The messages usage report is not
mapped: it holds no money, and its tokens reach FOCUS through the cost lines they match.

Rules (each has a fixture in tests/fixtures/anthropic):

- One FOCUS row per cost line and bucket. Usage, Usage-Based; ChargePeriod = the bucket,
  BillingPeriod = the UTC calendar month of its start.
- BilledCost = EffectiveCost = ListCost = ContractedCost = `amount` / 100: Anthropic sends
  cents as a decimal string ("123.78912" is $1.2378912); the point moves, nothing rounds,
  no float is involved.
- BillingAccountId: the organization (tap-anthropic reads it from /v1/organizations/me).
  SubAccountId: the workspace. Anthropic reports the default workspace with a null id;
  its rows get SubAccountId "default" and SubAccountName "Default Workspace", so its
  spend is a sub account like any other (`x_AnthropicWorkspaceId` keeps the null).
  A workspace whose name is unknown is named by its id.
- Quantities are never estimated. A token line carries the token count the usage report
  has for the same day, workspace, model, service tier and context window
  (`usage_quantity`, matched by tap-anthropic): ConsumedQuantity in Tokens, PricingQuantity
  in the price list's unit, 1000000 Tokens. A web search line carries the day's searches of
  the workspace (Requests; priced per 1000 Requests). A line with no usage behind it (code
  execution, or a token line the usage report has nothing for) is 1 Units of itself;
  `x_AnthropicQuantitySource` says which ("usage_report" or "cost_line").
- Service: ServiceCategory "AI and Machine Learning". Token lines: ServiceName from the
  model ("claude-sonnet-4-20250514" is "Claude Sonnet 4"), ServiceSubcategory "Generative
  AI". Tool lines: ServiceName from the cost type ("Web Search", "Code Execution"),
  ServiceSubcategory "AI Platforms" (as the OpenAI mapping names tools). SkuId is the model and
  token type ("claude-sonnet-4-20250514/output_tokens"), or the cost type: what is
  metered, not the tier or context window that change its price. ChargeDescription is
  Anthropic's own description.
- x_RowKey comes from the line's identity (organization, bucket start, workspace,
  description, model, cost type, token type, tier, context window), never its amount, so a
  restated bucket replaces its rows.
"""

from __future__ import annotations

import datetime as dt
import re
import typing as t
from decimal import Decimal

from mapper_focus.registry import StreamMapping
from mapper_focus.rows import (
    MappingError,
    as_decimal,
    iso,
    month_bounds,
    require,
    row_key,
)

if t.TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

PROVIDER = "Anthropic"
STREAM = "cost_report"
COST_TYPES = frozenset({"tokens", "web_search", "code_execution", "session_usage"})
DEFAULT_WORKSPACE_ID = "default"
DEFAULT_WORKSPACE_NAME = "Default Workspace"
CURRENCY_CODE = re.compile(r"^[A-Z]{3}$")
RELEASE_DATE = re.compile(r"^\d{8}$")
IDENTITY = (
    "workspace_id",
    "description",
    "model",
    "cost_type",
    "token_type",
    "service_tier",
    "context_window",
    "inference_geo",
)
#: usage_unit from tap-anthropic -> (ConsumedUnit, PricingUnit, units per pricing block)
QUANTITY_UNITS = {
    "tokens": ("Tokens", "1000000 Tokens", -6),
    "web_search_requests": ("Requests", "1000 Requests", -3),
}

CUSTOM_COLUMNS: dict[str, dict] = {
    "x_AnthropicWorkspaceId": {
        "type": ["string", "null"],
        "description": "workspace id as Anthropic sends it (null: the default workspace)",
    },
    "x_AnthropicCostType": {"type": ["string", "null"], "description": "tokens, web_search, ..."},
    "x_AnthropicModel": {"type": ["string", "null"]},
    "x_AnthropicTokenType": {"type": ["string", "null"]},
    "x_AnthropicServiceTier": {"type": ["string", "null"], "description": "standard, batch"},
    "x_AnthropicContextWindow": {"type": ["string", "null"], "description": "0-200k, 200k-1M"},
    "x_AnthropicInferenceGeo": {"type": ["string", "null"]},
    "x_AnthropicQuantitySource": {
        "type": ["string", "null"],
        "description": "usage_report: quantities are the matched usage; cost_line: 1 Units",
    },
}


def record_id(record: Mapping[str, t.Any]) -> str | None:
    value = record.get("record_key")
    return None if value is None else str(value)


def model_name(model: str) -> str:
    """A model's name from its id: claude-3-5-haiku-20241022 is "Claude 3.5 Haiku"."""
    parts = model.split("-")
    if parts[0] != "claude":
        return model
    words: list[str] = []
    digits: list[str] = []
    for part in [p for p in parts[1:] if not RELEASE_DATE.match(p)]:
        if part.isdigit():
            digits.append(part)
            continue
        if digits:
            words.append(".".join(digits))
            digits = []
        words.append(part.capitalize())
    if digits:
        words.append(".".join(digits))
    return " ".join(["Claude", *words])


def map_cost_line(line: Mapping[str, t.Any]) -> Iterator[dict[str, t.Any]]:
    """The FOCUS row of one cost line of Anthropic's cost report."""
    rid = record_id(line)
    organization = str(require(line, "organization_id", STREAM, rid))
    start = _moment(require(line, "starting_at", STREAM, rid), rid, "starting_at")
    end = _moment(require(line, "ending_at", STREAM, rid), rid, "ending_at")
    if end <= start:
        raise MappingError(STREAM, rid, "ending_at", "the bucket ends before it starts")
    amount = require(line, "amount", STREAM, rid)
    cost = as_decimal(amount, where=(STREAM, rid, "amount")).scaleb(-2)  # cents -> dollars
    currency = str(require(line, "currency", STREAM, rid)).upper()
    if not CURRENCY_CODE.match(currency):
        raise MappingError(STREAM, rid, "currency", f"not a currency code: {line['currency']!r}")
    cost_type = str(require(line, "cost_type", STREAM, rid))
    if cost_type not in COST_TYPES:
        raise MappingError(STREAM, rid, "cost_type", f"unknown Anthropic cost type {cost_type!r}")
    description = str(require(line, "description", STREAM, rid))
    model = line.get("model")
    token_type = line.get("token_type")
    if cost_type == "tokens":
        model = str(require(line, "model", STREAM, rid))
        token_type = str(require(line, "token_type", STREAM, rid))
        service_name, subcategory = model_name(model), "Generative AI"
        sku = f"{model}/{token_type}"
    else:
        service_name, subcategory = cost_type.replace("_", " ").title(), "AI Platforms"
        sku = cost_type
    consumed, consumed_unit, pricing, pricing_unit, source = _quantities(line, rid)
    workspace_id = line.get("workspace_id")
    if workspace_id is None:
        sub_account, sub_account_name = DEFAULT_WORKSPACE_ID, DEFAULT_WORKSPACE_NAME
    else:
        sub_account = str(workspace_id)
        sub_account_name = str(line.get("workspace_name") or workspace_id)
    billing_start, billing_end = month_bounds(start)
    yield {
        "BilledCost": cost,
        "EffectiveCost": cost,
        "ListCost": cost,
        "ContractedCost": cost,
        "BillingCurrency": currency,
        "BillingAccountId": organization,
        "BillingAccountName": line.get("organization_name"),
        "BillingAccountType": "Anthropic Organization",
        "SubAccountId": sub_account,
        "SubAccountName": sub_account_name,
        "SubAccountType": "Anthropic Workspace",
        "BillingPeriodStart": iso(billing_start),
        "BillingPeriodEnd": iso(billing_end),
        "ChargePeriodStart": iso(start),
        "ChargePeriodEnd": iso(end),
        "ChargeCategory": "Usage",
        "ChargeClass": None,
        "ChargeDescription": description,
        "ChargeFrequency": "Usage-Based",
        "PricingQuantity": pricing,
        "PricingUnit": pricing_unit,
        "ConsumedQuantity": consumed,
        "ConsumedUnit": consumed_unit,
        "PricingCategory": "Standard",
        "SkuId": sku,
        "SkuMeter": token_type or cost_type,
        "ServiceName": service_name,
        "ServiceCategory": "AI and Machine Learning",
        "ServiceSubcategory": subcategory,
        "ServiceProviderName": PROVIDER,
        "HostProviderName": PROVIDER,
        "InvoiceIssuerName": PROVIDER,
        "ProviderName": PROVIDER,
        "PublisherName": PROVIDER,
        "x_SourceStream": STREAM,
        "x_SourceRecordId": rid or row_key(organization, start, *_identity(line)),
        "x_RowKey": row_key("anthropic", STREAM, organization, iso(start), *_identity(line)),
        "x_AnthropicWorkspaceId": workspace_id,
        "x_AnthropicCostType": cost_type,
        "x_AnthropicModel": model,
        "x_AnthropicTokenType": token_type,
        "x_AnthropicServiceTier": line.get("service_tier"),
        "x_AnthropicContextWindow": line.get("context_window"),
        "x_AnthropicInferenceGeo": line.get("inference_geo"),
        "x_AnthropicQuantitySource": source,
    }


def _identity(line: Mapping[str, t.Any]) -> tuple[t.Any, ...]:
    return tuple(line.get(name) for name in IDENTITY)


def _quantities(
    line: Mapping[str, t.Any], rid: str | None
) -> tuple[Decimal, str, Decimal, str, str]:
    """(ConsumedQuantity, ConsumedUnit, PricingQuantity, PricingUnit, source) of a line."""
    quantity, unit = line.get("usage_quantity"), line.get("usage_unit")
    if quantity is None:
        return Decimal(1), "Units", Decimal(1), "Units", "cost_line"
    if unit not in QUANTITY_UNITS:
        raise MappingError(STREAM, rid, "usage_unit", f"unknown usage unit {unit!r}")
    consumed = as_decimal(quantity, where=(STREAM, rid, "usage_quantity"))
    if consumed < 0 or consumed != consumed.to_integral_value():
        raise MappingError(STREAM, rid, "usage_quantity", f"not a count: {quantity!r}")
    consumed_unit, pricing_unit, block = QUANTITY_UNITS[str(unit)]
    return consumed, consumed_unit, consumed.scaleb(block), pricing_unit, "usage_report"


def _moment(value: object, rid: str | None, column: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(str(value))
    except ValueError:
        raise MappingError(STREAM, rid, column, f"not an RFC 3339 date-time: {value!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


MAPPINGS = (
    StreamMapping(
        provider="anthropic",
        stream=STREAM,
        required_properties=frozenset(
            {"record_key", "organization_id", "starting_at", "ending_at", "amount", "cost_type"}
        ),
        map_record=map_cost_line,
        record_id=record_id,
        custom_columns=CUSTOM_COLUMNS,
    ),
)
