"""singer-sdk's own way to test a mapper (0.54 has no standard mapper suite):
`sync_end_to_end(tap, target, mapper)`, all in one process, real plugins."""

from __future__ import annotations

import collections
import sys
from decimal import Decimal
from pathlib import Path

import pyarrow.dataset as pads
from finfocus_sandbox.stripe import FakeStripe, StripeDataset
from mapper_focus.mapper import FocusMapper
from singer_sdk.testing import sync_end_to_end
from target_focus.target import TargetFocus

sys.path.insert(0, str(Path(__file__).parents[3] / "taps/tap-stripe/tests"))
from tap_stripe.tap import TapStripe
from tap_stripe_testing import API_KEY, tap_config


def test_tap_mapper_target_in_one_process(tmp_path):
    dataset = StripeDataset.generate(seed=21, days=60, balance_transactions=150)
    with FakeStripe(dataset, api_keys={API_KEY}) as fake:
        tap = TapStripe(config=tap_config(fake.url, dataset, account_ids=[]))
        mapper = FocusMapper(config={})
        target = TargetFocus(config={"output_path": str(tmp_path / "focus")})
        sync_end_to_end(tap, target, mapper)
    table = pads.dataset(
        tmp_path / "focus" / "data", format="parquet", partitioning="hive"
    ).to_table()
    rows = table.to_pylist()
    assert rows
    assert len({r["x_RowKey"] for r in rows}) == len(rows)
    fees: dict[str, Decimal] = collections.defaultdict(Decimal)
    for bt in dataset.objects("balance_transaction"):
        for fee in bt["fee_details"]:
            if fee["type"] != "application_fee":
                fees[fee["currency"].upper()] += Decimal(fee["amount"]).scaleb(-2)
        if bt["type"] in {"stripe_fee", "stripe_fx_fee", "tax_fee"}:
            fees[bt["currency"].upper()] -= Decimal(bt["amount"]).scaleb(-2)
    billed: dict[str, Decimal] = collections.defaultdict(Decimal)
    for row in rows:
        billed[row["BillingCurrency"]] += row["BilledCost"]
    assert billed == fees
