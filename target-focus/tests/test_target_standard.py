"""The SDK's standard target tests.

None is excluded: the standard streams are not FOCUS streams, so target-focus must take
each of them without error (it counts their records in the audit and writes nothing),
and must still fail where the SDK expects a failure (invalid schema, record before
schema, record without its key property).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from singer_sdk.testing import get_target_test_class
from target_focus.target import TargetFocus

OUTPUT = Path(tempfile.mkdtemp(prefix="target-focus-standard-"))

StandardTargetTests = get_target_test_class(
    TargetFocus, config={"output_path": str(OUTPUT), "batch_size_rows": 2}
)


class TestTargetFocusStandard(StandardTargetTests):  # type: ignore[misc, valid-type]
    """Standard target tests, plus a check that nothing was written as FOCUS data."""


@pytest.fixture(scope="module", autouse=True)
def _standard_output():
    yield OUTPUT
    # The standard streams are not FOCUS: no data file may have been written.
    assert not (OUTPUT / "data").exists()
    shutil.rmtree(OUTPUT, ignore_errors=True)
