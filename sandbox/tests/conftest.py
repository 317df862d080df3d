"""Shared fixtures: one generated dataset and one running fake per test module.

Tests import nothing from here (test directories of several packages share one pytest
run); they take the `http` client, the `key` and the fakes as fixtures.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

import pytest
from finfocus_sandbox.stripe import FakeStripe, StripeDataset

KEY = "sk_test_sandboxSecret0123456789wxyz"
JP = "acct_1SandboxJapan001"
EU = "acct_1SandboxEuro0002"


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def call(
    base: str,
    path: str,
    params: dict[str, Any] | list[tuple[str, Any]] | None = None,
    *,
    key: str | None = KEY,
    basic: bool = False,
    account: str | None = None,
    headers: dict[str, str] | None = None,
    method: str = "GET",
    data: bytes | None = None,
    timeout: float = 10,
) -> Response:
    query = urllib.parse.urlencode(params or {})
    request = urllib.request.Request(  # noqa: S310 - http URLs of the local fake
        f"{base}{path}{'?' + query if query else ''}", method=method, data=data
    )
    if key is not None:
        if basic:
            token = base64.b64encode(f"{key}:".encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        else:
            request.add_header("Authorization", f"Bearer {key}")
    if account is not None:
        request.add_header("Stripe-Account", account)
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return Response(response.status, dict(response.headers), response.read())
    except urllib.error.HTTPError as err:
        return Response(err.code, dict(err.headers), err.read())


@pytest.fixture(scope="module")
def dataset() -> StripeDataset:
    return StripeDataset.generate(
        seed=11, days=120, balance_transactions=700, connected_accounts=[JP, EU]
    )


@pytest.fixture(scope="module")
def fake(dataset: StripeDataset):
    with FakeStripe(dataset, api_keys={KEY}) as server:
        yield server


@pytest.fixture
def api(fake: FakeStripe):
    """A clean fake: no faults, empty request log."""
    fake.faults.clear()
    fake.clear_requests()
    yield fake
    fake.faults.clear()


@pytest.fixture
def http():
    """call(base, path, params, key=..., account=..., headers=...) -> Response."""
    return call


@pytest.fixture
def key() -> str:
    return KEY


@pytest.fixture
def get(api: FakeStripe):
    """GET on the module's fake with the valid key: get(path, params, **options)."""

    def _get(path: str, params: Any = None, **options: Any) -> Response:
        return call(api.url, path, params, **options)

    return _get
