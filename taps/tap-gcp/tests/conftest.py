"""Fixtures of tap-gcp's tests (defined in tap_gcp_testing)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from tap_gcp_testing import dataset, fake  # noqa: F401
