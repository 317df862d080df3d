"""Fixtures of tap-azure's tests (defined in tap_azure_testing)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from tap_azure_testing import (  # noqa: F401
    azure_dataset,
    azurite_server,
    blob_container,
    fake_azure,
)
