"""Fixtures of tap-anthropic's tests (defined in tap_anthropic_testing)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from tap_anthropic_testing import anthropic_config, anthropic_dataset, anthropic_fake  # noqa: F401
