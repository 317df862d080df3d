"""Fixtures of tap-aws's tests (defined in tap_aws_testing)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from tap_aws_testing import bucket, moto_url, s3  # noqa: F401
