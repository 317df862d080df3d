"""Fixtures of tap-openai's tests (defined in tap_openai_testing)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from tap_openai_testing import config, dataset, fake  # noqa: F401
