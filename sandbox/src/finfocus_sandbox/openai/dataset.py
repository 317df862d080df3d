"""A deterministic OpenAI organization: projects, API keys, usage and the costs it bills.

`OpenAIDataset.generate(seed, days, projects, keys_per_project, now)` builds one
organization with `projects` projects (the first is "Default project"; with three or more,
the last one is archived half-way), `keys_per_project` API keys each (owned by users or
service accounts), and, for the `days` UTC days before today and today until `now`, the
usage those keys made: chat completions (several models, batch and not, cached input),
embeddings, moderations, images, text-to-speech, transcriptions, vector store storage,
code interpreter sessions, file search and web search calls. Same seed and same `now`:
same data and same ids.

Costs are derived from the usage with the fake's own price table, per UTC day, project,
API key and line item ("gpt-4o-2024-08-06, input", "web search tool calls", ...). Each
such cell's amount is a binary float computed the way a billing backend might
(`quantity * unit_price`), so many carry float artefacts (0.06000000000000001). Every
amount the API reports, at any grouping, is the exact decimal sum of the cells it covers:
grouped and ungrouped answers reconcile to the last digit.

`restate(days=2)` raises the usage of the most recent days (today and the `days` before),
as OpenAI revises recent buckets, and recomputes their costs.
"""

from __future__ import annotations

import bisect
import random
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable, Mapping, Sequence

Obj = dict[str, Any]

DAY = 86_400
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
CURRENCY = "usd"

#: usage endpoint -> (result object name, group_by fields it supports, metric fields)
USAGE_KINDS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "completions": (
        "organization.usage.completions.result",
        ("project_id", "user_id", "api_key_id", "model", "batch", "service_tier"),
        (
            "input_tokens",
            "input_cached_tokens",
            "input_cache_write_tokens",
            "input_uncached_tokens",
            "output_tokens",
            "input_text_tokens",
            "output_text_tokens",
            "input_cached_text_tokens",
            "input_audio_tokens",
            "input_cached_audio_tokens",
            "output_audio_tokens",
            "input_image_tokens",
            "input_cached_image_tokens",
            "output_image_tokens",
            "num_model_requests",
        ),
    ),
    "embeddings": (
        "organization.usage.embeddings.result",
        ("project_id", "user_id", "api_key_id", "model"),
        ("input_tokens", "num_model_requests"),
    ),
    "moderations": (
        "organization.usage.moderations.result",
        ("project_id", "user_id", "api_key_id", "model"),
        ("input_tokens", "num_model_requests"),
    ),
    "images": (
        "organization.usage.images.result",
        ("project_id", "user_id", "api_key_id", "model", "size", "source"),
        ("images", "num_model_requests"),
    ),
    "audio_speeches": (
        "organization.usage.audio_speeches.result",
        ("project_id", "user_id", "api_key_id", "model"),
        ("characters", "num_model_requests"),
    ),
    "audio_transcriptions": (
        "organization.usage.audio_transcriptions.result",
        ("project_id", "user_id", "api_key_id", "model"),
        ("seconds", "num_model_requests"),
    ),
    "vector_stores": (
        "organization.usage.vector_stores.result",
        ("project_id",),
        ("usage_bytes",),
    ),
    "code_interpreter_sessions": (
        "organization.usage.code_interpreter_sessions.result",
        ("project_id",),
        ("num_sessions",),
    ),
    "file_search_calls": (
        "organization.usage.file_searches.result",
        ("project_id", "user_id", "api_key_id", "vector_store_id"),
        ("num_requests",),
    ),
    "web_search_calls": (
        "organization.usage.web_searches.result",
        ("project_id", "user_id", "api_key_id", "model", "context_level"),
        ("num_model_requests", "num_requests"),
    ),
}
COST_GROUPS = ("project_id", "line_item", "api_key_id")
COST_OBJECT = "organization.costs.result"

#: chat models: (input, cached input, output) USD per token
CHAT_PRICES = {
    "gpt-4o-2024-08-06": (2.5e-06, 1.25e-06, 1e-05),
    "gpt-4o-mini-2024-07-18": (1.5e-07, 7.5e-08, 6e-07),
    "gpt-4.1-2025-04-14": (2e-06, 5e-07, 8e-06),
    "o3-mini-2025-01-31": (1.1e-06, 5.5e-07, 4.4e-06),
}
BATCH_DISCOUNT = 0.5
EMBEDDING_PRICES = {"text-embedding-3-small": 2e-08, "text-embedding-3-large": 1.3e-07}
MODERATION_MODEL = "omni-moderation-latest"  # free: usage, no cost
IMAGE_PRICES = {"1024x1024": 0.04, "1024x1792": 0.08}  # dall-e-3 standard, per image
TTS_PRICE = 1.5e-05  # tts-1, per character
WHISPER_PRICE = 0.0001  # whisper-1, per second
GIB = 2**30
VECTOR_STORE_PRICE = 0.1 / 24  # per GiB-hour
CODE_INTERPRETER_PRICE = 0.03  # per session
FILE_SEARCH_PRICE = 0.0025  # per call
WEB_SEARCH_PRICE = 0.01  # per call

PROJECT_NAMES = (
    "Default project",
    "Support assistant",
    "Search ranking",
    "Data pipeline",
    "Marketing site",
    "Research lab",
)
PEOPLE = (
    ("Ada Lovelace", "ada"),
    ("Grace Hopper", "grace"),
    ("Alan Turing", "alan"),
    ("Barbara Liskov", "barbara"),
    ("Ken Thompson", "ken"),
)


@dataclass
class Fact:
    """Usage one API key made at one moment: grouping fields and metrics."""

    kind: str
    ts: int
    dims: dict[str, Any]
    metrics: dict[str, int]


@dataclass
class _Cell:
    """Costs of one line item for one day, project and API key."""

    quantity: int | Decimal
    unit: str | None
    amount: float


@dataclass
class _Profile:
    """What one project uses."""

    chat_models: list[str]
    embedding_model: str
    uses_images: bool
    uses_audio: bool
    uses_tools: bool


class _Ids:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def rand(self, n: int) -> str:
        return "".join(self.rng.choices(ALPHABET, k=n))


def day_floor(ts: int) -> int:
    return ts - ts % DAY


def exact(value: float | int | Decimal) -> Decimal:
    """The decimal a JSON number spells: a float's shortest round-trip text, exactly."""
    return value if isinstance(value, Decimal) else Decimal(repr(value))


@dataclass
class OpenAIDataset:
    """An OpenAI organization's projects, keys, usage facts and the costs derived from them."""

    seed: int
    days: int
    now: int
    organization: Obj
    projects: list[Obj]
    api_keys: dict[str, list[Obj]]  # project id -> keys
    users: list[Obj]
    facts: dict[str, list[Fact]] = field(default_factory=dict)  # kind -> sorted by ts
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _fact_ts: dict[str, list[int]] = field(default_factory=dict, repr=False)
    _cells: dict[int, dict[tuple[str | None, str | None, str], _Cell]] = field(
        default_factory=dict, repr=False
    )
    _restatements: int = field(default=0, repr=False)

    # ------------------------------------------------------------------ building
    @classmethod
    def generate(
        cls,
        seed: int = 1,
        days: int = 90,
        projects: int = 4,
        keys_per_project: int = 2,
        now: int | None = None,
    ) -> OpenAIDataset:
        """Build an organization with usage on the `days` UTC days before today and today."""
        if days < 1 or projects < 1 or keys_per_project < 1:
            raise ValueError("days, projects and keys_per_project must be >= 1")
        now = int(time.time()) if now is None else int(now)
        rng = random.Random(f"finfocus-sandbox:openai:{seed}")
        ids = _Ids(rng)
        first_day = day_floor(now) - days * DAY
        organization = {
            "id": f"org-{ids.rand(24)}",
            "object": "organization",
            "name": "Finfocus Sandbox",
        }
        users = [
            {
                "object": "organization.project.user",
                "id": f"user-{ids.rand(24)}",
                "name": name,
                "email": f"{handle}@finfocus.example",
                "role": "owner" if i == 0 else "member",
                "added_at": first_day - 400 * DAY,
            }
            for i, (name, handle) in enumerate(PEOPLE)
        ]
        dataset = cls(
            seed=seed,
            days=days,
            now=now,
            organization=organization,
            projects=[],
            api_keys={},
            users=users,
        )
        profiles: dict[str, _Profile] = {}
        for n in range(projects):
            name = PROJECT_NAMES[n] if n < len(PROJECT_NAMES) else f"Project {n + 1}"
            created = first_day - rng.randint(30, 300) * DAY + rng.randint(0, DAY - 1)
            archived_at: int | None = None
            if projects >= 3 and n == projects - 1:
                archived_at = first_day + (days // 2) * DAY + rng.randint(0, DAY - 1)
            project: Obj = {
                "id": f"proj_{ids.rand(24)}",
                "object": "organization.project",
                "name": name,
                "created_at": created,
                "archived_at": archived_at,
                "status": "archived" if archived_at else "active",
            }
            dataset.projects.append(project)
            dataset.api_keys[project["id"]] = [
                dataset._new_key(rng, ids, project, k) for k in range(keys_per_project)
            ]
            profiles[project["id"]] = _Profile(
                chat_models=rng.sample(sorted(CHAT_PRICES), 2),
                embedding_model=rng.choice(sorted(EMBEDDING_PRICES)),
                uses_images=n % 2 == 0,
                uses_audio=n % 3 != 2,
                uses_tools=True,
            )
        facts: dict[str, list[Fact]] = {kind: [] for kind in USAGE_KINDS}
        for day in range(first_day, day_floor(now) + DAY, DAY):
            for project in dataset.projects:
                if project["archived_at"] is not None and day > project["archived_at"]:
                    continue
                for fact in dataset._day_facts(rng, day, project, profiles[project["id"]]):
                    if fact.ts < now:
                        facts[fact.kind].append(fact)
        for kind, items in facts.items():
            dataset._load(kind, items)
        dataset._rebuild_costs(range(first_day, day_floor(now) + DAY, DAY))
        return dataset

    def _new_key(self, rng: random.Random, ids: _Ids, project: Obj, n: int) -> Obj:
        created = project["created_at"] + rng.randint(0, 20) * DAY
        if n % 2 == 1:
            owner: Obj = {
                "type": "service_account",
                "service_account": {
                    "object": "organization.project.service_account",
                    "id": f"svc_acct_{ids.rand(24)}",
                    "name": f"{project['name'].lower().replace(' ', '-')}-worker",
                    "role": "member",
                    "created_at": created,
                },
            }
        else:
            user = self.users[rng.randrange(len(self.users))]
            owner = {
                "type": "user",
                "user": {**user, "role": "owner" if user is self.users[0] else "member"},
            }
        secret = ids.rand(4)
        return {
            "object": "organization.project.api_key",
            "redacted_value": f"sk-proj-****{secret}",
            "name": f"{project['name']} key {n + 1}",
            "created_at": created,
            "last_used_at": self.now - rng.randint(60, 3600),
            "id": f"key_{ids.rand(16)}",
            "owner": owner,
            "owner_project_access": "active",
            "expires_at": None,
        }

    def _key_user(self, key: Obj) -> str | None:
        owner = key["owner"]
        return owner["user"]["id"] if owner["type"] == "user" else None

    def _day_facts(
        self, rng: random.Random, day: int, project: Obj, profile: _Profile
    ) -> Iterable[Fact]:
        """The usage of one project on one day, a few moments per key and model."""
        pid = project["id"]

        def at() -> int:
            return day + rng.randint(0, DAY - 1)

        for key in self.api_keys[pid]:
            base = {"project_id": pid, "user_id": self._key_user(key), "api_key_id": key["id"]}
            for model in profile.chat_models:
                for _ in range(rng.randint(1, 3)):
                    batch = rng.random() < 0.25
                    uncached = rng.randint(1_000_000, 20_000_000)
                    image = rng.randint(50_000, 400_000) if model.startswith("gpt-4o") else 0
                    yield Fact(
                        "completions",
                        at(),
                        {**base, "model": model, "batch": batch, "service_tier": "default"},
                        {
                            "text": uncached,
                            "cached": 0 if batch else int(uncached * rng.uniform(0.2, 0.6)),
                            "cache_write": 0 if batch else rng.randint(0, 50_000),
                            "image": image,
                            "output": rng.randint(200_000, 4_000_000),
                            "requests": rng.randint(200, 9_000),
                        },
                    )
            yield Fact(
                "embeddings",
                at(),
                {**base, "model": profile.embedding_model},
                {
                    "input_tokens": rng.randint(1_000_000, 30_000_000),
                    "requests": rng.randint(50, 900),
                },
            )
            yield Fact(
                "moderations",
                at(),
                {**base, "model": MODERATION_MODEL},
                {"input_tokens": rng.randint(10_000, 900_000), "requests": rng.randint(20, 800)},
            )
            if profile.uses_images:
                size = rng.choice(sorted(IMAGE_PRICES))
                yield Fact(
                    "images",
                    at(),
                    {**base, "model": "dall-e-3", "size": size, "source": "image.generation"},
                    {"images": rng.randint(1, 60), "requests": rng.randint(1, 30)},
                )
            if profile.uses_audio:
                yield Fact(
                    "audio_speeches",
                    at(),
                    {**base, "model": "tts-1"},
                    {"characters": rng.randint(5_000, 200_000), "requests": rng.randint(5, 300)},
                )
                yield Fact(
                    "audio_transcriptions",
                    at(),
                    {**base, "model": "whisper-1"},
                    {"seconds": rng.randint(300, 20_000), "requests": rng.randint(5, 200)},
                )
            if profile.uses_tools:
                yield Fact(
                    "file_search_calls",
                    at(),
                    {**base, "vector_store_id": "vs_" + pid.removeprefix("proj_")[:20]},
                    {"num_requests": rng.randint(10, 500)},
                )
                yield Fact(
                    "web_search_calls",
                    at(),
                    {**base, "model": profile.chat_models[0], "context_level": "medium"},
                    {"num_requests": rng.randint(5, 300), "requests": rng.randint(5, 300)},
                )
        if profile.uses_tools:
            # Project-level usage: no key, no user (the API groups these by project only).
            yield Fact(
                "vector_stores",
                day,
                {"project_id": pid},
                {"usage_bytes": rng.randint(GIB // 5, 5 * GIB)},
            )
            yield Fact(
                "code_interpreter_sessions",
                at(),
                {"project_id": pid},
                {"num_sessions": rng.randint(1, 40)},
            )

    def _load(self, kind: str, items: list[Fact]) -> None:
        items.sort(key=lambda f: f.ts)
        self.facts[kind] = items
        self._fact_ts[kind] = [f.ts for f in items]

    # ------------------------------------------------------------------ costs
    def _rebuild_costs(self, days: Iterable[int]) -> None:
        wanted = set(days)
        for day in wanted:
            self._cells[day] = {}
        quantities: dict[tuple[int, str | None, str | None, str], list[Any]] = {}
        for kind, items in self.facts.items():
            lo = bisect.bisect_left(self._fact_ts[kind], min(wanted, default=0))
            for fact in items[lo:]:
                day = day_floor(fact.ts)
                if day not in wanted:
                    continue
                for line_item, quantity, unit, price in _line_items(fact):
                    key = (day, fact.dims["project_id"], fact.dims.get("api_key_id"), line_item)
                    entry = quantities.setdefault(key, [0, unit, price])
                    entry[0] += quantity
        for (day, project, api_key, line_item), (quantity, unit, price) in quantities.items():
            # The backend's arithmetic: a binary float, artefacts and all.
            self._cells[day][(project, api_key, line_item)] = _Cell(
                quantity=quantity, unit=unit, amount=float(quantity) * price
            )

    def costs(
        self,
        start: int,
        end: int,
        group_by: Sequence[str] = (),
        project_ids: Collection[str] | None = None,
        api_key_ids: Collection[str] | None = None,
    ) -> dict[int, list[Obj]]:
        """Daily cost buckets in [start, end) (start snapped to UTC midnight): results each."""
        with self.lock:
            buckets: dict[int, list[Obj]] = {}
            for day in range(day_floor(start), end, DAY):
                sums: dict[tuple[Any, ...], list[Any]] = {}
                for (project, key, line_item), cell in sorted(
                    self._cells.get(day, {}).items(), key=lambda kv: _sort_key(kv[0])
                ):
                    if project_ids and project not in project_ids:
                        continue
                    if api_key_ids and key not in api_key_ids:
                        continue
                    values = {"project_id": project, "api_key_id": key, "line_item": line_item}
                    group = tuple(values[g] if g in group_by else None for g in COST_GROUPS)
                    entry = sums.setdefault(group, [Decimal(0), 0, cell.unit])
                    entry[0] += exact(cell.amount)
                    entry[1] += exact(cell.quantity)
                buckets[day] = [
                    {
                        "object": COST_OBJECT,
                        "amount": {"value": _trim(amount), "currency": CURRENCY},
                        "line_item": group[1],
                        "project_id": group[0],
                        "api_key_id": group[2],
                        "quantity": quantity if "line_item" in group_by else None,
                        "quantity_unit": unit if "line_item" in group_by else None,
                    }
                    for group, (amount, quantity, unit) in sorted(
                        sums.items(), key=lambda kv: _sort_key(kv[0])
                    )
                ]
            return buckets

    def cost_total(self, start: int, end: int) -> Decimal:
        """Everything the organization was billed for days in [start, end), exactly."""
        return sum(
            (r["amount"]["value"] for rs in self.costs(start, end).values() for r in rs),
            Decimal(0),
        )

    # ------------------------------------------------------------------ usage
    def usage(
        self,
        kind: str,
        start: int,
        end: int,
        width: int,
        group_by: Sequence[str] = (),
        filters: Mapping[str, Collection[Any]] | None = None,
    ) -> dict[int, list[Obj]]:
        """Usage buckets of `width` seconds in [start, end), start snapped to the width."""
        result_object, groups, metrics = USAGE_KINDS[kind]
        first = start - start % width
        with self.lock:
            stamps = self._fact_ts[kind]
            lo, hi = bisect.bisect_left(stamps, first), bisect.bisect_left(stamps, end)
            sums: dict[int, dict[tuple[Any, ...], dict[str, int]]] = {
                b: {} for b in range(first, end, width)
            }
            for fact in self.facts[kind][lo:hi]:
                if any(
                    fact.dims.get(name) not in allowed for name, allowed in (filters or {}).items()
                ):
                    continue
                group = tuple(fact.dims.get(g) if g in group_by else None for g in groups)
                bucket = sums[fact.ts - fact.ts % width]
                totals = bucket.setdefault(group, dict.fromkeys(metrics, 0))
                for name, value in _usage_metrics(fact).items():
                    totals[name] += value
            return {
                b: [
                    {"object": result_object, **totals, **dict(zip(groups, group, strict=True))}
                    for group, totals in sorted(results.items(), key=lambda kv: _sort_key(kv[0]))
                ]
                for b, results in sums.items()
            }

    # ------------------------------------------------------------------ changes
    def restate(self, days: int = 2) -> list[int]:
        """OpenAI revises recent buckets: raise the usage of today and the `days` before it
        (and so their costs). Returns the UTC day starts that changed."""
        with self.lock:
            self._restatements += 1
            rng = random.Random(f"finfocus-sandbox:openai:{self.seed}:restate:{self._restatements}")
            since = day_floor(self.now) - days * DAY
            changed: set[int] = set()
            for kind, items in self.facts.items():
                lo = bisect.bisect_left(self._fact_ts[kind], since)
                for fact in items[lo:]:
                    factor = rng.uniform(1.05, 1.3)
                    for name, value in fact.metrics.items():
                        fact.metrics[name] = int(value * factor) + 1 if value else 0
                    changed.add(day_floor(fact.ts))
            self._rebuild_costs(changed)
            return sorted(changed)

    # ------------------------------------------------------------------ lookups
    def project(self, project_id: str) -> Obj | None:
        return next((p for p in self.projects if p["id"] == project_id), None)

    @property
    def first_day(self) -> int:
        return day_floor(self.now) - self.days * DAY


def _trim(value: Decimal) -> Decimal:
    """1.2550 -> 1.255: a sum spelled without trailing zeros, as a float's text would be."""
    text = format(value, "f")
    return Decimal(text.rstrip("0").rstrip(".") if "." in text else text)


def _sort_key(values: tuple[Any, ...]) -> tuple[tuple[bool, str], ...]:
    return tuple((v is not None, str(v)) for v in values)


def _usage_metrics(fact: Fact) -> dict[str, int]:
    """The metrics a usage result reports for one fact."""
    m = fact.metrics
    if fact.kind == "completions":
        uncached = m["text"] + m["image"]
        return {
            "input_tokens": uncached + m["cached"] + m["cache_write"],
            "input_cached_tokens": m["cached"],
            "input_cache_write_tokens": m["cache_write"],
            "input_uncached_tokens": uncached,
            "output_tokens": m["output"],
            "input_text_tokens": m["text"],
            "output_text_tokens": m["output"],
            "input_cached_text_tokens": m["cached"],
            "input_audio_tokens": 0,
            "input_cached_audio_tokens": 0,
            "output_audio_tokens": 0,
            "input_image_tokens": m["image"],
            "input_cached_image_tokens": 0,
            "output_image_tokens": 0,
            "num_model_requests": m["requests"],
        }
    out = {k: v for k, v in m.items() if k != "requests"}
    if "num_model_requests" in USAGE_KINDS[fact.kind][2]:
        out["num_model_requests"] = m["requests"]
    return out


def _line_items(fact: Fact) -> Iterable[tuple[str, int | Decimal, str | None, float]]:
    """(line item, quantity, quantity unit, USD per unit) that one usage fact is billed as."""
    m, d = fact.metrics, fact.dims
    if fact.kind == "completions":
        model = d["model"]
        input_price, cached_price, output_price = CHAT_PRICES[model]
        scale, suffix = (BATCH_DISCOUNT, " (batch)") if d["batch"] else (1.0, "")
        yield (
            f"{model}, input{suffix}",
            m["text"] + m["image"] + m["cache_write"],
            "tokens",
            input_price * scale,
        )
        if m["cached"]:
            yield f"{model}, cached input{suffix}", m["cached"], "tokens", cached_price * scale
        yield f"{model}, output{suffix}", m["output"], "tokens", output_price * scale
    elif fact.kind == "embeddings":
        model = d["model"]
        yield f"{model}, input", m["input_tokens"], "tokens", EMBEDDING_PRICES[model]
    elif fact.kind == "images":
        size = d["size"]
        yield f"dall-e-3, standard, {size}", m["images"], "images", IMAGE_PRICES[size]
    elif fact.kind == "audio_speeches":
        yield "tts-1, input", m["characters"], "characters", TTS_PRICE
    elif fact.kind == "audio_transcriptions":
        yield "whisper-1, input", m["seconds"], "duration_seconds", WHISPER_PRICE
    elif fact.kind == "vector_stores":
        gib_hours = exact(round(m["usage_bytes"] / GIB * 24, 6))
        yield "vector store storage", gib_hours, "gibibyte_hours", VECTOR_STORE_PRICE
    elif fact.kind == "code_interpreter_sessions":
        # Sessions are none of the units OpenAI names: quantity without a unit.
        yield "code interpreter sessions", m["num_sessions"], None, CODE_INTERPRETER_PRICE
    elif fact.kind == "file_search_calls":
        yield "file search tool calls", m["num_requests"], None, FILE_SEARCH_PRICE
    elif fact.kind == "web_search_calls":
        yield "web search tool calls", m["num_requests"], None, WEB_SEARCH_PRICE
    # moderations are free: no line item


__all__ = [
    "CHAT_PRICES",
    "COST_GROUPS",
    "DAY",
    "USAGE_KINDS",
    "Fact",
    "OpenAIDataset",
    "day_floor",
    "exact",
]
