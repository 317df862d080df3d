"""Fixtures of the cross-plugin tests (defined in pipeline_testing)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from pipeline_testing import (  # noqa: F401
    database,
    fake_stripe,
    meltano,
    meltano_installed,
    pg_cluster,
    stripe_dataset,
)
