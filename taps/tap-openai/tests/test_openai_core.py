"""The SDK's standard tap tests, against the fake OpenAI admin API."""

from __future__ import annotations

import atexit

from finfocus_sandbox.openai import FakeOpenAI
from singer_sdk.testing import SuiteConfig, get_tap_test_class
from tap_openai.tap import TapOpenAI
from tap_openai_testing import ADMIN_KEY, make_dataset, tap_config

# The standard test class is built at import time, so its fake API starts here.
_dataset = make_dataset(days=15, projects=3)
_fake = FakeOpenAI(_dataset, admin_keys={ADMIN_KEY})
_fake.start()
atexit.register(_fake.stop)

TestTapOpenAI = get_tap_test_class(
    tap_class=TapOpenAI,
    config=tap_config(_fake.url, _dataset),
    suite_config=SuiteConfig(max_records_limit=None),
)
