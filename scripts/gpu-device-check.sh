#!/usr/bin/env bash
# Run the GPU tests and the GPU benchmarks on a machine with a real Vulkan driver (e.g. an NVIDIA
# machine lent for a device check), and print the GPU ratio table. CI stays on lavapipe; this is
# for quoting one real-hardware run in docs/gpu.md.
#
#   scripts/gpu-device-check.sh [OUTDIR]        # OUTDIR (default: ./gpu-device-check) keeps
#                                               # the logs, the benchmark JSON and the table
#
# It records which Vulkan devices the loader sees (`vulkaninfo --summary` when installed);
# VulkanContext picks the first discrete GPU by default. The GPU tests need the Khronos
# validation layer (scripts/install-vulkan.sh); without it they skip, so do not run this with
# CI=true on such a machine. pyvma (`pip install .[bench-vma]`, needs g++) adds the VMA rows.
set -u
out="${1:-gpu-device-check}"
mkdir -p "$out"
py="${FRAMEALLOC_PY:-python3}"
export NUMBA_CACHE_DIR="${NUMBA_CACHE_DIR:-$out/numba-cache}"
export PYTHONPATH="$(pwd)${PYTHONPATH:+:$PYTHONPATH}"

command -v vulkaninfo >/dev/null 2>&1 && vulkaninfo --summary > "$out/vulkaninfo.txt" 2>&1
"$py" - <<'PY' | tee "$out/devices.txt"
from framealloc.gpu.vk import VulkanContext
try:
    ctx = VulkanContext()
    print("default device:", ctx.device_name)
    ctx.close()
except Exception as e:          # noqa: BLE001 - report and go on
    print("no Vulkan device:", e)
PY

"$py" -m pytest tests/gpu -q -p no:cacheprovider 2>&1 | tee "$out/tests.log" | tail -5
tests_rc=${PIPESTATUS[0]}
"$py" -m pytest benchmarks/gpu -q -p no:cacheprovider --benchmark-json="$out/bench.json" \
    --benchmark-columns=median,iqr,rounds 2>&1 | tee "$out/bench.log" | tail -5
"$py" -m benchmarks.gpu.report --from-json "$out/bench.json" | tee "$out/table.md"
"$py" -m benchmarks.gpu.report --rounds 21 | tee "$out/table-interleaved.md"
exit "$tests_rc"
