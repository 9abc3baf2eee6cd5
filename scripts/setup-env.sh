#!/usr/bin/env bash
# Creates .venv (if missing) and installs framealloc into it with the extras named in $1.
# Sourced by scripts/test.sh and scripts/demo.sh; installs only from the package registries.
set -euo pipefail
extras="${1:-}"
py="${PYTHON:-python3}"
if [ -n "${VIRTUAL_ENV:-}" ]; then
  venv_py="$(command -v python)"
else
  if [ ! -x .venv/bin/python ]; then
    "$py" -m venv .venv
  fi
  venv_py=".venv/bin/python"
fi
spec="."
[ -n "$extras" ] && spec=".[${extras}]"
stamp=".venv/.installed-${extras:-base}"
if [ -n "${VIRTUAL_ENV:-}" ] || [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  "$venv_py" -m pip install --disable-pip-version-check -q -e "$spec"
  [ -z "${VIRTUAL_ENV:-}" ] && touch "$stamp"
fi
export FRAMEALLOC_PY="$venv_py"
