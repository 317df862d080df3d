"""A deterministic, Anthropic-shaped dataset: one organization's Claude API usage and cost.

`AnthropicDataset.generate(seed, days, workspaces, now)` builds an organization with
`workspaces` named workspaces (the last one archived) besides the default workspace
(whose id is null in the API), a few API keys in each, and usage over the `days` complete
UTC days before `now`: per hour, per API key, model, service tier (standard, batch,
priority), context window and inference geo, token counts of every type and web search
requests. Code execution is billed per workspace and day (container hours) and, as in
Anthropic's API, appears in the cost report only.

Costs derive from usage through the fake's own price list (per million tokens, batch at
half price, long context at a premium) and are kept as exact Decimal **cents**, the way
the cost report sends them ("123.45" means $1.23). Priority tier usage has no cost lines:
Anthropic bills it outside the cost report. Same seed and same `now`: same data and ids.

`restate(days=2)` revises the most recent days (late usage arrives), as Anthropic does
until its numbers settle.
"""

from __future__ import annotations

import bisect
import calendar
import random
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

Obj = dict[str, Any]

MINUTE = 60
HOUR = 3_600
DAY = 86_400
ALPHABET = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

TOKEN_TYPES = (
    "uncached_input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_creation.ephemeral_5m_input_tokens",
    "cache_creation.ephemeral_1h_input_tokens",
)
#: Price of each token type relative to the model's input price (output has its own).
INPUT_MULTIPLIER = {
    "uncached_input_tokens": Decimal(1),
    "cache_read_input_tokens": Decimal("0.1"),
    "cache_creation.ephemeral_5m_input_tokens": Decimal("1.25"),
    "cache_creation.ephemeral_1h_input_tokens": Decimal(2),
}
TOKEN_LABEL = {
    "uncached_input_tokens": "Input Tokens",
    "output_tokens": "Output Tokens",
    "cache_read_input_tokens": "Input Tokens, Cache Read",
    "cache_creation.ephemeral_5m_input_tokens": "Input Tokens, Cache Write (5m)",
    "cache_creation.ephemeral_1h_input_tokens": "Input Tokens, Cache Write (1h)",
}
SERVICE_TIERS = ("standard", "batch", "priority")
CONTEXT_WINDOWS = ("0-200k", "200k-1M")
INFERENCE_GEOS = ("global", "us")
BATCH_DISCOUNT = Decimal("0.5")
WEB_SEARCH_CENTS = Decimal(1)  # $10 per 1,000 searches
CODE_EXECUTION_CENTS_PER_HOUR = Decimal(5)  # $0.05 per container hour
CENTS_PER_DOLLAR = Decimal(100)
PER_MILLION = Decimal(1_000_000)
DEFAULT_WORKSPACE_NAME = "Default Workspace"


@dataclass(frozen=True)
class Model:
    id: str
    name: str
    input_usd: Decimal  # per million tokens
    output_usd: Decimal
    long_context: tuple[Decimal, Decimal] | None = None  # (input, output) above 200k

    def cents_per_token(self, token_type: str, tier: str, context_window: str) -> Decimal:
        input_usd, output_usd = self.input_usd, self.output_usd
        if context_window == "200k-1M" and self.long_context is not None:
            input_usd, output_usd = self.long_context
        if token_type == "output_tokens":  # noqa: S105 - a token count, not a secret
            usd = output_usd
        else:
            usd = input_usd * INPUT_MULTIPLIER[token_type]
        if tier == "batch":
            usd *= BATCH_DISCOUNT
        return usd * CENTS_PER_DOLLAR / PER_MILLION


MODELS = (
    Model("claude-opus-4-1-20250805", "Claude Opus 4.1", Decimal(15), Decimal(75)),
    Model(
        "claude-sonnet-4-20250514",
        "Claude Sonnet 4",
        Decimal(3),
        Decimal(15),
        long_context=(Decimal(6), Decimal("22.50")),
    ),
    Model("claude-3-5-haiku-20241022", "Claude Haiku 3.5", Decimal("0.80"), Decimal(4)),
)
MODELS_BY_ID = {model.id: model for model in MODELS}
WORKSPACE_NAMES = ("Production", "Staging", "Research", "Support Bot", "Data Science", "Legacy")
KEY_NAMES = ("backend", "batch-jobs", "evals", "notebooks")
COLORS = ("#6C5BB9", "#2F80ED", "#27AE60", "#EB5757", "#F2994A", "#9B51E0")


@dataclass
class Atom:
    """Usage of one API key in one hour, for one model, tier, context window and geo."""

    at: int  # the minute it is recorded at (unix seconds)
    workspace_id: str | None
    api_key_id: str | None  # None: usage in the Console (no API key)
    model: str
    service_tier: str
    context_window: str
    inference_geo: str
    tokens: dict[str, int]
    web_search_requests: int


@dataclass
class _Key:
    id: str | None  # None: usage in the Console, without an API key
    workspace_id: str | None
    models: tuple[Model, ...]
    tier: str  # the tier most of its traffic uses
    geo: str
    searches: bool


@dataclass
class AnthropicDataset:
    """One organization: workspaces, API keys, hourly usage atoms and code execution hours.

    `start` and `end` (unix seconds, UTC midnights) bound the days that hold data.
    """

    seed: int
    now: int
    start: int
    end: int
    organization: Obj
    workspaces: list[Obj]
    api_keys: list[Obj]
    atoms_by_day: dict[int, list[Atom]]
    code_execution_hours: dict[tuple[int, str | None], Decimal]
    lock: threading.RLock = field(default_factory=threading.RLock)
    _cost_cache: dict[int, list[Obj]] = field(default_factory=dict)
    _restatements: int = 0

    # ----------------------------------------------------------------- generation
    @classmethod
    def generate(
        cls,
        seed: int = 1,
        days: int = 60,
        workspaces: int = 3,
        now: int | None = None,
        organization_name: str = "Finfocus Labs",
    ) -> AnthropicDataset:
        """Usage over the `days` complete UTC days before `now` (default: the wall clock)."""
        if days < 1 or not 1 <= workspaces <= len(WORKSPACE_NAMES):
            raise ValueError(f"days must be >= 1 and workspaces 1..{len(WORKSPACE_NAMES)}")
        now = int(time.time()) if now is None else int(now)
        end = now - now % DAY
        start = end - days * DAY
        rng = random.Random(seed)
        ids = _Ids(rng)
        org = {"id": ids.uuid(), "name": organization_name, "type": "organization"}

        spaces = []
        for i in range(workspaces):
            created = start - (workspaces - i) * 7 * DAY
            archived = i == workspaces - 1 and workspaces > 1
            spaces.append(
                {
                    "id": ids.make("wrkspc"),
                    "type": "workspace",
                    "name": WORKSPACE_NAMES[i],
                    "created_at": rfc3339(created),
                    "archived_at": rfc3339(end - 3 * DAY) if archived else None,
                    "display_color": COLORS[i % len(COLORS)],
                }
            )
        creator = {"id": ids.make("user"), "type": "user"}
        keys: list[_Key] = []
        key_objects: list[Obj] = []
        for space_id in [None, *(w["id"] for w in spaces)]:
            for n in range(2):
                key = _Key(
                    id=ids.make("apikey"),
                    workspace_id=space_id,
                    models=tuple(rng.sample(MODELS, 2)),
                    tier="batch" if n == 1 else "standard",
                    geo="us" if space_id and n == 0 and rng.random() < 0.3 else "global",
                    searches=rng.random() < 0.6,
                )
                keys.append(key)
                key_objects.append(
                    {
                        "id": key.id,
                        "type": "api_key",
                        "name": f"{KEY_NAMES[n]}-{len(key_objects) + 1}",
                        "workspace_id": space_id,
                        "created_at": rfc3339(start - 5 * DAY + len(key_objects) * HOUR),
                        "created_by": creator,
                        "partial_key_hint": f"sk-ant-api03-{ids.chars(3)}...{ids.chars(4)}",
                        "status": "active" if n == 0 else rng.choice(("active", "inactive")),
                    }
                )
        # Usage in the Console (no API key) lands in the default workspace.
        keys.append(_Key(None, None, (MODELS[1],), "standard", "global", False))

        archived_on = {w["id"]: parse_rfc3339(w["archived_at"]) for w in spaces if w["archived_at"]}
        atoms_by_day: dict[int, list[Atom]] = {}
        code_hours: dict[tuple[int, str | None], Decimal] = {}
        for day in range(start, end, DAY):
            atoms: list[Atom] = []
            for key in keys:
                if key.workspace_id in archived_on and day >= archived_on[key.workspace_id]:
                    continue  # an archived workspace's keys stop working
                for model in key.models:
                    for hour in sorted(rng.sample(range(24), rng.randint(1, 3))):
                        atoms.append(_atom(rng, key, model, day + hour * HOUR, key.tier))
                        if key.id == keys[0].id and rng.random() < 0.3:
                            atoms.append(_atom(rng, key, model, day + hour * HOUR, "priority"))
                        if model.long_context and rng.random() < 0.25:
                            atoms.append(
                                _atom(rng, key, model, day + hour * HOUR, key.tier, "200k-1M")
                            )
            atoms.sort(key=lambda a: a.at)
            atoms_by_day[day] = atoms
            for space in spaces[:2]:
                if rng.random() < 0.7:
                    code_hours[(day, space["id"])] = Decimal(rng.randint(1, 48)) / 4
        return cls(
            seed=seed,
            now=now,
            start=start,
            end=end,
            organization=org,
            workspaces=spaces,
            api_keys=key_objects,
            atoms_by_day=atoms_by_day,
            code_execution_hours=code_hours,
        )

    @property
    def days(self) -> int:
        return (self.end - self.start) // DAY

    @property
    def workspace_ids(self) -> list[str | None]:
        """The default workspace (None) first, then every named one (archived too)."""
        return [None, *(w["id"] for w in self.workspaces)]

    # ----------------------------------------------------------------- costs
    def cost_lines(self, day: int) -> list[Obj]:
        """Cost items of one UTC day grouped by workspace and description (finest grain)."""
        with self.lock:
            if day not in self._cost_cache:
                self._cost_cache[day] = self._compute_cost_lines(day)
            return self._cost_cache[day]

    def _compute_cost_lines(self, day: int) -> list[Obj]:
        tokens: dict[tuple[str | None, str, str, str, str], int] = {}
        searches: dict[str | None, int] = {}
        for atom in self.atoms_by_day.get(day, []):
            if atom.service_tier == "priority":
                continue  # billed outside the cost report, as Anthropic does
            for token_type, count in atom.tokens.items():
                key = (atom.workspace_id, atom.model, atom.service_tier, atom.context_window)
                tokens[(*key, token_type)] = tokens.get((*key, token_type), 0) + count
            if atom.web_search_requests:
                searches[atom.workspace_id] = (
                    searches.get(atom.workspace_id, 0) + atom.web_search_requests
                )
        lines = []
        for (space, model_id, tier, window, token_type), count in sorted(
            tokens.items(), key=lambda item: tuple(str(part) for part in item[0])
        ):
            if not count:
                continue
            model = MODELS_BY_ID[model_id]
            cents = model.cents_per_token(token_type, tier, window) * count
            batch = " Batch" if tier == "batch" else ""
            long = " (Long Context)" if window == "200k-1M" else ""
            description = f"{model.name}{batch} Usage - {TOKEN_LABEL[token_type]}{long}"
            lines.append(
                _cost_item(space, cents, description, "tokens", window, model_id, tier, token_type)
            )
        for space in self.workspace_ids:
            if searches.get(space):
                cents = WEB_SEARCH_CENTS * searches[space]
                lines.append(_cost_item(space, cents, "Web Search", "web_search"))
            hours = self.code_execution_hours.get((day, space))
            if hours:
                cents = CODE_EXECUTION_CENTS_PER_HOUR * hours
                lines.append(_cost_item(space, cents, "Code Execution", "code_execution"))
        return lines

    def cost_results(self, day: int, group_by: set[str]) -> list[Obj]:
        """The cost report's results for one daily bucket, grouped as asked."""
        by_description = "description" in group_by
        by_workspace = "workspace_id" in group_by
        totals: dict[tuple[Any, ...], tuple[Obj, Decimal]] = {}
        for line in self.cost_lines(day):
            item = {
                "currency": "USD",
                "amount": "",
                "workspace_id": line["workspace_id"] if by_workspace else None,
            }
            for name in ("description", "cost_type", "context_window", "model"):
                item[name] = line[name] if by_description else None
            item["service_tier"] = line["service_tier"] if by_description else None
            item["token_type"] = line["token_type"] if by_description else None
            key = tuple(item.values())
            _, total = totals.get(key, (item, Decimal(0)))
            totals[key] = (item, total + Decimal(line["amount"]))
        return [{**item, "amount": amount_text(total)} for item, total in totals.values()]

    def total_cost_cents(self) -> Decimal:
        """Every cost line of every day, in cents (what the cost report adds up to)."""
        return sum(
            (Decimal(line["amount"]) for day in self.day_starts() for line in self.cost_lines(day)),
            Decimal(0),
        )

    def day_starts(self) -> list[int]:
        return list(range(self.start, self.end, DAY))

    # ----------------------------------------------------------------- usage
    def usage_results(
        self,
        start: int,
        width: int,
        group_by: set[str],
        filters: dict[str, set[str]] | None = None,
    ) -> list[Obj]:
        """The messages usage report's results for the bucket [start, start + width)."""
        filters = filters or {}
        totals: dict[tuple[Any, ...], Obj] = {}
        for atom in self._atoms_between(start, start + width):
            if not _passes(atom, filters):
                continue
            dims = {
                name: getattr(atom, name) if name in group_by else None
                for name in ("api_key_id", "workspace_id", "model", "service_tier")
            }
            dims["context_window"] = atom.context_window if "context_window" in group_by else None
            for extra in ("inference_geo", "account_id", "service_account_id"):
                if extra in group_by:
                    dims[extra] = getattr(atom, extra, None)
            key = tuple(dims.items())
            result = totals.get(key)
            if result is None:
                result = totals[key] = {
                    "uncached_input_tokens": 0,
                    "cache_creation": {
                        "ephemeral_1h_input_tokens": 0,
                        "ephemeral_5m_input_tokens": 0,
                    },
                    "cache_read_input_tokens": 0,
                    "output_tokens": 0,
                    "server_tool_use": {"web_search_requests": 0},
                    **dims,
                }
            for token_type, count in atom.tokens.items():
                if token_type.startswith("cache_creation."):
                    result["cache_creation"][token_type.split(".", 1)[1]] += count
                else:
                    result[token_type] += count
            result["server_tool_use"]["web_search_requests"] += atom.web_search_requests
        return list(totals.values())

    def _atoms_between(self, lower: int, upper: int) -> list[Atom]:
        found: list[Atom] = []
        for day in range(lower - lower % DAY, upper, DAY):
            atoms = self.atoms_by_day.get(day)
            if not atoms:
                continue
            times = [atom.at for atom in atoms]
            found.extend(atoms[bisect.bisect_left(times, lower) : bisect.bisect_left(times, upper)])
        return found

    # ----------------------------------------------------------------- restatement
    def restate(self, days: int = 2) -> list[int]:
        """Late usage arrives for the most recent `days` days: their tokens, searches and
        code execution hours grow, so their costs change. Returns the days revised."""
        with self.lock:
            self._restatements += 1
            rng = random.Random(self.seed * 7919 + self._restatements)
            revised = [day for day in self.day_starts()[-days:] if day in self.atoms_by_day]
            for day in revised:
                for atom in self.atoms_by_day[day]:
                    for token_type, count in atom.tokens.items():
                        if count:
                            atom.tokens[token_type] = count + rng.randint(1, max(1, count // 10))
                    if atom.web_search_requests:
                        atom.web_search_requests += rng.randint(1, 3)
                for (when, space), hours in list(self.code_execution_hours.items()):
                    if when == day:
                        self.code_execution_hours[(when, space)] = hours + Decimal("0.5")
                self._cost_cache.pop(day, None)
            return revised


# --------------------------------------------------------------------- helpers
class _Ids:
    """Anthropic-looking ids (`wrkspc_01...`, `apikey_01...`) from a seeded RNG."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def chars(self, n: int) -> str:
        return "".join(self.rng.choices(ALPHABET, k=n))

    def make(self, prefix: str) -> str:
        return f"{prefix}_01{self.chars(22)}"

    def uuid(self) -> str:
        h = f"{self.rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


def _atom(
    rng: random.Random,
    key: _Key,
    model: Model,
    hour: int,
    tier: str,
    context_window: str = "0-200k",
) -> Atom:
    scale = 8 if context_window == "200k-1M" else 1
    uncached = rng.randint(2_000, 400_000) * scale
    tokens = {
        "uncached_input_tokens": uncached,
        "output_tokens": rng.randint(500, 60_000),
        "cache_read_input_tokens": rng.choice((0, rng.randint(1_000, uncached))),
        "cache_creation.ephemeral_5m_input_tokens": rng.choice((0, 0, rng.randint(500, 50_000))),
        "cache_creation.ephemeral_1h_input_tokens": rng.choice((0, 0, 0, rng.randint(500, 20_000))),
    }
    searches = rng.randint(0, 25) if key.searches and context_window == "0-200k" else 0
    return Atom(
        at=hour + rng.randrange(60) * MINUTE,
        workspace_id=key.workspace_id,
        api_key_id=key.id,
        model=model.id,
        service_tier=tier,
        context_window=context_window,
        inference_geo=key.geo,
        tokens=tokens,
        web_search_requests=searches,
    )


def _passes(atom: Atom, filters: dict[str, set[str]]) -> bool:
    return all(getattr(atom, name, None) in wanted for name, wanted in filters.items())


def _cost_item(
    workspace_id: str | None,
    cents: Decimal,
    description: str,
    cost_type: str,
    context_window: str | None = None,
    model: str | None = None,
    service_tier: str | None = None,
    token_type: str | None = None,
) -> Obj:
    """A cost result shaped like the API's (non-token costs have no model, tier, ...)."""
    return {
        "currency": "USD",
        "amount": amount_text(cents),
        "workspace_id": workspace_id,
        "description": description,
        "cost_type": cost_type,
        "context_window": context_window,
        "model": model,
        "service_tier": service_tier,
        "token_type": token_type,
    }


def amount_text(cents: Decimal) -> str:
    """Cents as the decimal string the cost report sends: no exponent, no trailing zeros."""
    text = format(cents.normalize(), "f")
    return text if text != "-0" else "0"


def rfc3339(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def parse_rfc3339(text: str) -> int:
    """Unix seconds of an RFC 3339 UTC text as this module writes it."""
    return calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ"))
