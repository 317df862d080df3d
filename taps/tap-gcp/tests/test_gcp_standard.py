"""The SDK's standard tap tests, against the fake BigQuery holding all three tables."""

from __future__ import annotations

import atexit

from finfocus_sandbox.gcp import FakeGCP
from singer_sdk.testing import SuiteConfig, get_tap_test_class
from tap_gcp.tap import TapGCP
from tap_gcp_testing import new_dataset, tap_config

# The standard test class is built at import time, so its fake starts here.
_fake = FakeGCP(new_dataset(seed=5, days=3, projects=2, resources_per_project=2))
_fake.start()
atexit.register(_fake.stop)

TestTapGCP = get_tap_test_class(
    tap_class=TapGCP,
    config=tap_config(_fake, window_days=10, page_size=500),
    suite_config=SuiteConfig(max_records_limit=None),
)
