"""The SDK's standard tap tests, against the fake Anthropic Admin API."""

from __future__ import annotations

import atexit

from finfocus_sandbox.anthropic import FakeAnthropic
from singer_sdk.testing import SuiteConfig, get_tap_test_class
from tap_anthropic.tap import TapAnthropic
from tap_anthropic_testing import ADMIN_KEY, make_dataset, tap_config

# The standard test class is built at import time, so its fake API starts here.
_dataset = make_dataset(days=20)
_fake = FakeAnthropic(_dataset, admin_keys={ADMIN_KEY})
_fake.start()
atexit.register(_fake.stop)

TestTapAnthropic = get_tap_test_class(
    tap_class=TapAnthropic,
    config=tap_config(_fake.url, _dataset),
    suite_config=SuiteConfig(max_records_limit=None),
)
