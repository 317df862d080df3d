"""The optional cost_explorer stream against moto's Cost Explorer (queued results)."""

from __future__ import annotations

import datetime as dt
import json
import urllib.request
from decimal import Decimal

from finfocus_sandbox.aws import write_cur2_delivery
from tap_aws_testing import run_tap, tap_config


def _queue(url: str, results: list[dict]) -> None:
    request = urllib.request.Request(  # noqa: S310 - the local moto server
        f"{url}/moto-api/static/ce/cost-and-usage-results",
        data=json.dumps({"results": results}).encode(),
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10):  # noqa: S310
        pass


def _group(service: str, account: str, amount: str) -> dict:
    money = {"Amount": amount, "Unit": "USD"}
    return {
        "Keys": [service, account],
        "Metrics": {
            "UnblendedCost": money,
            "AmortizedCost": money,
            "NetUnblendedCost": money,
            "UsageQuantity": {"Amount": "24", "Unit": "N/A"},
        },
    }


def test_cost_explorer_exact_and_estimated_reread(moto_url, s3, bucket, tmp_path):
    write_cur2_delivery(s3, bucket, "billing/exports", "acme", "2026-01", rows=10, seed=1)
    today = dt.datetime.now(tz=dt.UTC).date()
    days = [(today - dt.timedelta(days=n)).isoformat() for n in (3, 2, 1)]
    _queue(
        moto_url,
        [
            {
                "ResultsByTime": [
                    {
                        "TimePeriod": {"Start": days[0], "End": days[1]},
                        "Groups": [
                            _group("Amazon Simple Storage Service", "111122223333", "0.1000000001")
                        ],
                        "Estimated": False,
                    },
                    {
                        "TimePeriod": {"Start": days[1], "End": days[2]},
                        "Groups": [
                            _group(
                                "Amazon Elastic Compute Cloud - Compute",
                                "111122223333",
                                "12.3456789012",
                            ),
                            _group("AWS Lambda", "444455556666", "0.0000003"),
                        ],
                        "Estimated": True,
                    },
                ]
            }
        ],
    )
    config = tap_config(
        moto_url, bucket, cost_explorer=True, ce_endpoint_url=moto_url, cost_explorer_days=3
    )
    run = run_tap(config, tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    rows = run.records("cost_explorer")
    assert [(r["date"], r["service"], r["estimated"]) for r in rows] == [
        (days[0], "Amazon Simple Storage Service", False),
        (days[1], "Amazon Elastic Compute Cloud - Compute", True),
        (days[1], "AWS Lambda", True),
    ]
    assert rows[0]["unblended_cost"] == Decimal("0.1000000001")
    assert rows[1]["amortized_cost"] == Decimal("12.3456789012")
    assert rows[2]["net_unblended_cost"] == Decimal("0.0000003")
    assert rows[1]["linked_account_id"] == "111122223333"
    assert rows[1]["currency"] == "USD"
    state = run.last_state["bookmarks"]["cost_explorer"]
    assert state["reread_from"] == days[1], "the next run starts at the first estimated day"
