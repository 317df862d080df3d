#!/usr/bin/env bash
# Install everything and run every check: ruff, mypy, then the whole pytest suite
# (plugin tests, SDK standard tests, Meltano + PostgreSQL integration, reliability).
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m "not integration"`.
source "$(dirname "$0")/bootstrap.sh"
uv run ruff check .
uv run ruff format --check .
uv run mypy
uv run pytest "$@"
