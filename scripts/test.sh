#!/usr/bin/env bash
# Install everything and run every check: ruff, mypy, then the whole pytest suite
# (plugin tests, SDK standard tests, Meltano + PostgreSQL integration, reliability).
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m "not integration"`.
source "$(dirname "$0")/bootstrap.sh"
# Azurite (Azure Blob Storage emulator, from the npm registry) for tap-azure's tests.
if command -v npm >/dev/null 2>&1; then
  npm ci --prefix taps/tap-azure/tests/azurite --no-audit --no-fund --silent
else
  echo "finfocus: npm not found: tap-azure's Blob Storage tests need Node.js and npm" >&2
  exit 1
fi
uv run ruff check .
uv run ruff format --check .
uv run mypy
uv run pytest "$@"
