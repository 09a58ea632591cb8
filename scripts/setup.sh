#!/usr/bin/env bash
# Create or reuse the project-local virtual environment (.venv) and install the project into it.
#   bash scripts/setup.sh          # runtime dependencies
#   bash scripts/setup.sh dev      # plus test tools
# torch: FACEX_TORCH_SPEC overrides what is installed when torch is missing. By default the script takes
# torch==2.13.0 when a wheel of it lies in pip's local find-links (machines of this project's kind keep a CPU
# build there), and otherwise lets pip choose, so no pin is forced on other machines.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=.venv
extras=${1:-}

if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating $VENV"
  "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip
fi
# This machine kind's pip config names local index folders that may be missing; pip warns once per package.
pip_() {
  local out rc=0
  out=$("$VENV/bin/python" -m pip "$@" 2>&1) || rc=$?
  if [ -n "$out" ]; then printf '%s\n' "$out" | grep -v "is ignored: it is neither a file nor a directory" || true; fi
  return "$rc"
}

if ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
  spec=${FACEX_TORCH_SPEC:-}
  if [ -z "$spec" ]; then
    tmp=$(mktemp -d)
    if pip_ download -q --no-deps --no-index -d "$tmp" "torch==2.13.0" >/dev/null 2>&1; then
      spec="torch==2.13.0"
    else
      spec="torch"
    fi
    rm -rf "$tmp"
  fi
  echo "[setup] installing $spec"
  pip_ install -q "$spec"
fi

# Reinstall only when the dependency list changed since the last successful install.
target="."
[ "$extras" = dev ] && target=".[dev]"
stamp="$VENV/.facex-installed-$(echo "$extras" | tr -c 'a-z' '_')"
digest=$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$digest" ]; then
  echo "[setup] installing the project ($target)"
  pip_ install -q -e "$target"
  pip_ check
  echo "$digest" > "$stamp"
fi
