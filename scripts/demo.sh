#!/usr/bin/env bash
# The demo, from a fresh machine: a virtualenv with framealloc, then the frame-loop demo.
# Extra arguments go to the demo (e.g. scripts/demo.sh --frames 100 --baseline).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup-env.sh demo
exec "$FRAMEALLOC_PY" -m framealloc.demo "$@"
