"""Throughput of the AWS mappings (one core): rows/s of map_record, and with RowShaper."""

import datetime as dt
import json
import pathlib
import time

from focus_spec import get_spec
from mapper_focus.mapper import ALL_SPEC_COLUMNS
from mapper_focus.providers.aws_cur import map_cur2, map_legacy
from mapper_focus.providers.aws_focus import map_focus_export
from mapper_focus.rows import RowShaper

FX = pathlib.Path("/work/main/mappers/mapper-focus/tests/fixtures/aws")


def load(n):
    return json.loads((FX / f"{n}.json").read_text())["input"]


def month(templates, n):
    out = []
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    for i in range(n):
        t = templates[i % len(templates)]
        r = dict(t)
        h = start + dt.timedelta(hours=i % 744)
        for k, v in (
            ("line_item_usage_start_date", h),
            ("lineItem/UsageStartDate", h),
            ("line_item_usage_end_date", h + dt.timedelta(hours=1)),
            ("lineItem/UsageEndDate", h + dt.timedelta(hours=1)),
        ):
            if k in r:
                r[k] = v.strftime("%Y-%m-%dT%H:%M:%SZ")
        r["row_number"] = i
        out.append(r)
    return out


def bench(name, fn, records, shape=None):
    t0 = time.perf_counter()
    rows = 0
    if shape is None:
        for r in records:
            for _ in fn(r):
                rows += 1
    else:
        for r in records:
            for row in fn(r):
                shape(row, name, "aws")
                rows += 1
    dt_ = time.perf_counter() - t0
    print(
        f"{name:40s} {len(records):>7} records {rows:>7} rows  {rows / dt_:>9,.0f} rows/s  {len(records) / dt_:>9,.0f} records/s"
    )


N = 200_000
cur2 = month(
    [
        load(n)
        for n in ["on_demand_usage"] * 6
        + [
            "ri_covered_usage",
            "sp_covered_usage",
            "sp_negation",
            "sp_recurring_fee_unused",
            "tax",
            "private_rate_discount_net_columns",
        ]
    ],
    N,
)
# one export has one schema: drop the net-columns template's extra keys for the gross run
gross = [r for r in cur2 if "line_item_net_unblended_cost" not in r]
legacy = month([load("legacy_csv_slash_style")], N)
pq = month([load("legacy_parquet_snake_case")], N)
focus = month([load("focus_export_usage")], N)
shape = RowShaper(get_spec("1.3"), ALL_SPEC_COLUMNS)
bench("cur2_line_items (mixed types)", map_cur2, gross)
bench("cur2_line_items + RowShaper 1.3", map_cur2, gross, shape)
bench("cur_line_items (CSV slash-style)", map_legacy, legacy)
bench("cur_line_items (Parquet snake_case)", map_legacy, pq)
bench("focus_export_rows", map_focus_export, focus)
wide_t = dict(load("legacy_csv_slash_style"))
for i in range(120):
    wide_t[f"product/attr{i}"] = f"v{i}"
for i in range(100):
    wide_t[f"resourceTags/user:tag{i}"] = "" if i % 10 else "x"
wide = month([wide_t], N)
bench("cur_line_items (CSV, 300 columns, 100 tags)", map_legacy, wide)
wide2 = dict(load("on_demand_usage"))
for i in range(70):
    wide2[f"extra_column_{i}"] = None
wide2["product"] = {**wide2["product"], **{f"attr{i}": f"v{i}" for i in range(40)}}
bench("cur2_line_items (135 columns)", map_cur2, month([wide2], N))
