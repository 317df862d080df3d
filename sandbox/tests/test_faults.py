"""Fault injection: the generic layer on a toy app, then the Stripe fake's own shapes."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from finfocus_sandbox.faults import Fault, FaultInjector, FaultSet
from finfocus_sandbox.server import BackgroundServer


class CountingApp:
    """A toy JSON API: every answer carries a running counter, lists claim no more pages."""

    def __init__(self) -> None:
        self.calls = 0
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        with self.lock:
            self.calls += 1
            n = self.calls
        payload = {"path": environ["PATH_INFO"], "n": n, "data": [n], "has_more": False}
        body = json.dumps(payload).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]


@pytest.fixture
def toy():
    app = CountingApp()
    faults = FaultSet()
    server = BackgroundServer(FaultInjector(app, faults))
    server.start()
    server.faults = faults  # type: ignore[attr-defined]
    server.app_calls = lambda: app.calls  # type: ignore[attr-defined]
    yield server
    server.stop()


def raw(
    base: str,
    path: str,
    method: str = "GET",
    body: bytes | None = None,
    timeout: float = 5,
    headers: dict[str, str] | None = None,
    pairs: bool = False,
):
    """(status, headers, body) over http.client, so resets and timeouts surface as-is.

    With pairs=True the headers come as the list of (name, value) pairs received.
    """
    parsed = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        received = response.getheaders()
        return response.status, received if pairs else dict(received), response.read()
    finally:
        conn.close()


# ------------------------------------------------------------------ generic layer
def test_rate_limit_with_retry_after_then_normal(toy):
    toy.faults.add(Fault(kind="rate_limit", path=r"^/a$", times=2, retry_after=1))
    first = raw(toy.url, "/a")
    second = raw(toy.url, "/a")
    third = raw(toy.url, "/a")
    assert [first[0], second[0], third[0]] == [429, 429, 200]
    assert first[1]["Retry-After"] == "1"
    assert toy.faults.injected == {"rate_limit": 2}
    assert toy.app_calls() == 1  # the faulted requests never reached the app


def test_rate_limit_without_retry_after_sends_no_header(toy):
    toy.faults.add(Fault(kind="rate_limit"))
    status, headers, _ = raw(toy.url, "/anything")
    assert status == 429
    assert "Retry-After" not in headers


def test_fractional_retry_after_is_kept(toy):
    toy.faults.add(Fault(kind="rate_limit", retry_after=0.5))
    assert raw(toy.url, "/a")[1]["Retry-After"] == "0.5"


def test_skip_lets_requests_through_then_times_limits_the_fault(toy):
    toy.faults.add(Fault(kind="server_error", path="^/x", skip=2, times=2))
    statuses = [raw(toy.url, "/x")[0] for _ in range(5)]
    assert statuses == [200, 200, 500, 500, 200]


def test_times_none_means_every_matching_request(toy):
    toy.faults.add({"kind": "server_error", "times": None, "status": 503})
    assert {raw(toy.url, "/x")[0] for _ in range(4)} == {503}


def test_path_regex_and_method_select_requests(toy):
    toy.faults.add(Fault(kind="server_error", path=r"^/v1/charges$", method="post", times=None))
    assert raw(toy.url, "/v1/charges")[0] == 200  # GET is not POST
    assert raw(toy.url, "/v1/charges/ch_1", method="POST", body=b"")[0] == 200  # path anchored
    assert raw(toy.url, "/v1/charges", method="POST", body=b"")[0] == 500


def test_first_firing_fault_wins_in_order(toy):
    toy.faults.add(
        Fault(kind="rate_limit", path="^/a", times=1),
        Fault(kind="server_error", path="^/a", times=1),
    )
    assert [raw(toy.url, "/a")[0] for _ in range(3)] == [429, 500, 200]


def test_slow_answers_after_the_delay_and_trips_client_timeouts(toy):
    toy.faults.add(Fault(kind="slow", delay=0.6))
    with pytest.raises(TimeoutError):
        raw(toy.url, "/slow", timeout=0.2)
    status, _, body = raw(toy.url, "/slow", timeout=2)  # the fault was used up
    assert status == 200
    toy.faults.add(Fault(kind="slow", delay=0.3))
    status, _, body = raw(toy.url, "/slow", timeout=2)  # slow but correct
    assert status == 200
    assert json.loads(body)["path"] == "/slow"


def test_reset_closes_the_connection_without_a_response(toy):
    toy.faults.add(Fault(kind="reset", path="^/r$"))
    with pytest.raises(ConnectionError):
        raw(toy.url, "/r")
    assert raw(toy.url, "/r")[0] == 200
    statuses = [r.status for r in toy.requests]
    assert statuses == [0, 200]  # logged with no status: nothing was answered


def test_truncated_json_is_a_200_with_half_the_real_body(toy):
    toy.faults.add(Fault(kind="truncated_json"))
    status, headers, body = raw(toy.url, "/t")
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert int(headers["Content-Length"]) == len(body)
    with pytest.raises(json.JSONDecodeError):
        json.loads(body)
    full = raw(toy.url, "/t")[2]
    assert len(body) == (len(full)) // 2
    assert full.startswith(body[:10])


@pytest.mark.parametrize("status", [None, 200])
def test_wrong_content_type_is_an_html_proxy_page(toy, status):
    toy.faults.add(Fault(kind="wrong_content_type", status=status))
    got, headers, body = raw(toy.url, "/w")
    assert got == (status or 502)
    assert headers["Content-Type"] == "text/html"
    assert body.lstrip().startswith(b"<html>")


def test_repeat_page_answers_the_previous_body_for_the_path(toy):
    toy.faults.add(Fault(kind="repeat_page", path="^/list$"))
    first = raw(toy.url, "/list?page=1")
    assert toy.faults.injected == {}  # nothing to repeat yet: passed through, not used up
    raw(toy.url, "/other")
    repeated = raw(toy.url, "/list?page=2")
    assert repeated[0] == 200
    assert repeated[2] == first[2]
    assert json.loads(raw(toy.url, "/list?page=2")[2])["n"] == 3  # fault used up; app called
    assert toy.faults.injected == {"repeat_page": 1}


def test_empty_page_has_more_uses_the_profile_envelope(toy):
    toy.faults.add(Fault(kind="empty_page_has_more"))
    status, _, body = raw(toy.url, "/list")
    assert status == 200
    assert json.loads(body) == {"data": [], "has_more": True}


def test_concurrent_requests_get_exactly_times_faults(toy):
    toy.faults.add(Fault(kind="server_error", times=5))
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda _: raw(toy.url, "/c")[0], range(24)))
    assert statuses.count(500) == 5
    assert statuses.count(200) == 19


def test_clear_removes_faults_and_counts(toy):
    toy.faults.add(Fault(kind="rate_limit", times=None))
    assert raw(toy.url, "/a")[0] == 429
    toy.faults.clear()
    assert toy.faults.injected == {}
    assert raw(toy.url, "/a")[0] == 200


@pytest.mark.parametrize(
    "spec",
    [
        {"kind": "explode"},
        {"kind": "slow"},
        {"kind": "server_error", "status": 418},
        {"kind": "wrong_content_type", "status": 500},
        {"kind": "rate_limit", "retry_after": -1},
        {"kind": "rate_limit", "bogus": 1},
        {"kind": "rate_limit", "times": -1},
    ],
)
def test_invalid_faults_are_refused(spec):
    with pytest.raises((ValueError, TypeError)):
        Fault.from_dict(spec)


def test_control_endpoint_adds_lists_and_clears_faults(toy):
    faults = [{"kind": "server_error", "path": "^/v1/x$", "times": 2, "status": 502}]
    status, _, body = raw(toy.url, "/__sandbox/faults", "POST", json.dumps(faults).encode())
    assert status == 200
    assert json.loads(body)["faults"][0]["kind"] == "server_error"
    assert [raw(toy.url, "/v1/x")[0] for _ in range(3)] == [502, 502, 200]
    state = json.loads(raw(toy.url, "/__sandbox/faults")[2])
    assert state["injected"] == {"server_error": 2}
    assert state["faults"][0]["injected"] == 2
    one = json.dumps({"kind": "rate_limit"}).encode()  # a single object works too
    assert raw(toy.url, "/__sandbox/faults", "POST", one)[0] == 200
    assert raw(toy.url, "/__sandbox/faults", "DELETE")[0] == 200
    assert json.loads(raw(toy.url, "/__sandbox/faults")[2]) == {"faults": [], "injected": {}}
    assert raw(toy.url, "/v1/x")[0] == 200
    assert all(not r.path.startswith("/__sandbox") for r in toy.requests)


@pytest.mark.parametrize("payload", [b"{not json", b'[{"kind": "nope"}]', b"[1, 2]"])
def test_control_endpoint_rejects_bad_faults(toy, payload):
    status, _, body = raw(toy.url, "/__sandbox/faults", "POST", payload)
    assert status == 400
    assert "error" in json.loads(body)
    assert toy.faults.faults == []


def test_server_reports_its_url_and_stops(toy):
    host, port = urllib.parse.urlsplit(toy.url).hostname, urllib.parse.urlsplit(toy.url).port
    assert host == "127.0.0.1"
    assert port
    toy.stop()
    with pytest.raises(ConnectionRefusedError), socket.create_connection((host, port), timeout=1):
        pass
    with pytest.raises(RuntimeError):
        _ = toy.url


# ------------------------------------------------------------------ the Stripe fake's faults
def test_stripe_rate_limit_has_stripes_body_and_headers(api, http):
    api.faults.add(Fault(kind="rate_limit", path=r"^/v1/charges$", times=1))
    limited = http(api.url, "/v1/charges", headers={"Stripe-Version": "2024-06-20"})
    assert limited.status == 429
    assert limited.json() == {
        "error": {
            "message": "Request rate limit exceeded. Learn more about rate limits here "
            "https://stripe.com/docs/rate-limits.",
            "type": "invalid_request_error",
            "code": "rate_limit",
            "doc_url": "https://stripe.com/docs/error-codes/rate-limit",
        }
    }
    assert limited.headers["Stripe-Rate-Limited-Reason"] == "global-rate"
    assert limited.headers["Request-Id"].startswith("req_")
    assert limited.headers["Stripe-Version"] == "2024-06-20"
    assert "Retry-After" not in limited.headers
    assert "Stripe-Should-Retry" not in limited.headers
    assert http(api.url, "/v1/charges").status == 200
    assert [r.status for r in api.requests] == [429, 200]


def test_stripe_rate_limit_options(api, http):
    api.faults.add(Fault(kind="rate_limit", retry_after=2, should_retry=True))
    limited = http(api.url, "/v1/invoices")
    assert limited.headers["Retry-After"] == "2"
    assert limited.headers["Stripe-Should-Retry"] == "true"


def test_stripe_server_error_is_an_api_error(api, http):
    api.faults.add(Fault(kind="server_error", path="^/v1/balance_transactions$"))
    failed = http(api.url, "/v1/balance_transactions")
    assert failed.status == 500
    assert failed.json()["error"]["type"] == "api_error"
    assert api.faults.injected == {"server_error": 1}


def test_stripe_empty_page_is_a_valid_list_envelope(api, http):
    api.faults.add(Fault(kind="empty_page_has_more", path="^/v1/balance_transactions$"))
    body = http(api.url, "/v1/balance_transactions").json()
    assert body == {
        "object": "list",
        "data": [],
        "has_more": True,
        "url": "/v1/balance_transactions",
    }


def test_stripe_repeat_page_repeats_the_previous_page(api, key):
    auth = {"Authorization": f"Bearer {key}"}
    _, _, first = raw(api.url, "/v1/charges?limit=3", headers=auth)
    api.faults.add(Fault(kind="repeat_page", path="^/v1/charges$"))
    cursor = json.loads(first)["data"][-1]["id"]
    status, pairs, again = raw(
        api.url, f"/v1/charges?limit=3&starting_after={cursor}", headers=auth, pairs=True
    )
    assert status == 200
    assert again == first
    assert [name for name, _ in pairs].count("Request-Id") == 1  # not the old one plus a new


def test_stripe_proxy_page_has_no_stripe_headers(api, http):
    api.faults.add(Fault(kind="wrong_content_type"))
    page = http(api.url, "/v1/charges")
    assert page.status == 502
    assert page.headers["Content-Type"] == "text/html"
    assert "Request-Id" not in page.headers


def test_stripe_faults_over_http(api, http):
    spec = [{"kind": "server_error", "path": "^/v1/payouts$", "status": 503, "times": 1}]
    added = http(api.url, "/__sandbox/faults", method="POST", data=json.dumps(spec).encode())
    assert added.status == 200
    assert http(api.url, "/v1/payouts").status == 503
    assert http(api.url, "/v1/payouts").status == 200
    assert http(api.url, "/__sandbox/faults").json()["injected"] == {"server_error": 1}
