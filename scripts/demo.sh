#!/usr/bin/env bash
# The demo, from a fresh machine: a virtualenv with framealloc, then the particle demo
# (framealloc vs np.empty, a table and framealloc-demo.png). The first run compiles the demo's
# kernels (tens of seconds); later runs load them from numba's cache.
# Extra arguments go to the demo, e.g. scripts/demo.sh --frames 100, scripts/demo.sh --window
# (particles drawn live with pygame, installed for it), scripts/demo.sh --help.
set -euo pipefail
cd "$(dirname "$0")/.."
extras=demo
for arg in "$@"; do
  [ "$arg" = "--window" ] && extras=demo,window
done
source scripts/setup-env.sh "$extras"
exec "$FRAMEALLOC_PY" -m framealloc.demo "$@"
