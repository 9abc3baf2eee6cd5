#!/usr/bin/env bash
# The test suite from a fresh machine, in three steps that say what they do and how long they
# took: the Vulkan driver packages (as root), a virtualenv with framealloc and its dev extras, then
# pytest with a fresh numba cache.
#
#   bash scripts/test.sh                  every test
#   bash scripts/test.sh --quick          without the tests marked slow (notebooks, the demo,
#                                         compile-cache and packaging checks, stress tables):
#                                         for local iteration; refused when CI=true (CI runs all)
#   bash scripts/test.sh tests/core -x    other arguments go to pytest (with --quick, a -m of
#                                         your own replaces its -m "not slow")
set -uo pipefail
cd "$(dirname "$0")/.."

# Measured on a 2-core VM (see README.md, Development); the first run also downloads packages.
SUITE_TIME="about 15 min on 2 cores"
QUICK_TIME="about 9 min on 2 cores"

usage() { sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; }

quick=0
args=()
for a in "$@"; do
  case "$a" in
    --quick) quick=1 ;;
    -h|--help) usage; exit 0 ;;
    *) args+=("$a") ;;
  esac
done

ci="$(printf '%s' "${CI:-}" | tr '[:upper:]' '[:lower:]')"
if [ "$quick" -eq 1 ] && { [ "$ci" = "true" ] || [ "$ci" = "1" ] || [ "$ci" = "yes" ]; }; then
  echo "error: --quick skips the slow tests, and CI (CI=${CI}) runs every test: drop --quick" >&2
  exit 2
fi

start=$SECONDS
step_start=$SECONDS
step() { step_start=$SECONDS; echo; echo "==> [$1/3] $2"; }
done_step() { echo "    ($(( SECONDS - step_start )) s)"; }

step 1 "Vulkan driver for the GPU tests: loader, lavapipe, validation layers (as root; a 13 MB download the first time, nothing to do once installed)"
if [ -f scripts/install-vulkan.sh ]; then
  bash scripts/install-vulkan.sh || echo "warning: Vulkan packages could not be installed; GPU tests will skip (fail in CI)"
fi
done_step

step 2 "virtualenv .venv with framealloc[dev] (about 30 s the first time with a nearby package index, more over a slow network; seconds after)"
set -e
source scripts/setup-env.sh dev
set +e
done_step

NUMBA_CACHE_DIR="$(mktemp -d)"
export NUMBA_CACHE_DIR
trap 'rm -rf "$NUMBA_CACHE_DIR"' EXIT
if [ "$quick" -eq 1 ]; then
  step 3 "pytest without the slow tests (--quick), fresh numba cache: ${QUICK_TIME}"
  "$FRAMEALLOC_PY" -m pytest -m "not slow" ${args[@]+"${args[@]}"}
else
  step 3 "pytest, every test, fresh numba cache: ${SUITE_TIME} (--quick skips the slow ones)"
  "$FRAMEALLOC_PY" -m pytest ${args[@]+"${args[@]}"}
fi
rc=$?
done_step
echo "==> total $(( SECONDS - start )) s, pytest exit status ${rc}"
if [ "$rc" -eq 5 ]; then
  echo "error: pytest collected no tests" >&2
  exit 1
fi
exit "$rc"
