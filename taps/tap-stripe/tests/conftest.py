"""Fixtures of tap-stripe's tests (defined in tap_stripe_testing)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from tap_stripe_testing import config, dataset, fake  # noqa: F401
