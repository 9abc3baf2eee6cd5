#!/usr/bin/env bash
# The whole test suite, from a fresh machine: Vulkan driver packages (as root), a virtualenv with
# framealloc and its test/notebook/vulkan extras, a fresh numba cache, then pytest.
# Extra arguments go to pytest (e.g. scripts/test.sh tests/core -x).
set -uo pipefail
cd "$(dirname "$0")/.."
if [ -f scripts/install-vulkan.sh ]; then
  bash scripts/install-vulkan.sh || echo "warning: Vulkan packages could not be installed; GPU tests will skip (fail in CI)"
fi
set -e
source scripts/setup-env.sh dev
set +e
NUMBA_CACHE_DIR="$(mktemp -d)"
export NUMBA_CACHE_DIR
trap 'rm -rf "$NUMBA_CACHE_DIR"' EXIT
"$FRAMEALLOC_PY" -m pytest "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
  echo "error: pytest collected no tests" >&2
  exit 1
fi
exit "$rc"
