# Sourced by the other scripts: find or install uv, keep Meltano offline and quiet.
# uv comes from the Python package index into .tools/ (no system change, no curl installer).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export MELTANO_SEND_ANONYMOUS_USAGE_STATS=false
export MELTANO_CLI_DISABLE_VERSION_CHECK=true
# Every plugin is a process: without bytecode each one recompiles its imports (singer-sdk,
# boto3, pyarrow's Python layer), about 3 s per process start on this machine's 2 cores.
unset PYTHONDONTWRITEBYTECODE
if ! command -v uv >/dev/null 2>&1; then
  if [ ! -x .tools/bin/uv ]; then
    echo "finfocus: installing uv into .tools/ ..." >&2
    python3 -m venv .tools
    .tools/bin/python -m pip install --quiet --disable-pip-version-check "uv>=0.9,<1"
  fi
  export PATH="$ROOT/.tools/bin:$PATH"
fi
# One environment for the workspace: every plugin, the sandbox, and the dev tools.
uv sync --all-packages --frozen --quiet --compile-bytecode
