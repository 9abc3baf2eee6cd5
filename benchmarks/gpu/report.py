"""Print the GPU ratio table: P8 (frame sub-allocation) and staged-upload bandwidth.

    python -m benchmarks.gpu.report                     # interleaved timing in this process
    python -m benchmarks.gpu.report --rounds 31         # more rounds
    python -m benchmarks.gpu.report --from-json out.json  # format a pytest-benchmark JSON:
    python -m pytest benchmarks/gpu --benchmark-json out.json

Interleaved timing runs one round of every competitor in turn, ``--rounds`` times, and
compares medians: on a shared machine whose load changes from second to second this keeps
the ratios fair, where timing the competitors one after the other does not. Every ratio
compares medians from the same run.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from typing import Any

from . import _cases as C

# (id, what, group, subject, reference, kind, target): kind "faster" = reference/subject,
# kind "share" = reference/subject as a share of the reference's speed (bandwidth ratio).
ROWS = [
    ("P8", "frame allocation (N per frame, incl. begin/end_frame) vs a VkBuffer + "
     "VkDeviceMemory per buffer", C.P8, C.FRAMEALLOC, C.RAW, "faster", 10.0),
    ("P8", "frame allocation vs VMA create+destroy (pyvma)", C.P8, C.FRAMEALLOC, C.VMA,
     "faster", 5.0),
    ("ctx", "allocate_frame alone vs a VkBuffer + VkDeviceMemory per buffer", C.P8, C.HOT, C.RAW,
     "faster", None),
    ("P9", "persistent allocate + free (TLSF kernels) vs VMA create+destroy: ≥ 2× faster is "
     "≤ 0.5× VMA's time", C.P9, C.TLSF, C.VMA, "faster", 2.0),
    ("ctx", "persistent allocate + free vs a VkBuffer + VkDeviceMemory per buffer", C.P9, C.TLSF,
     C.RAW, "faster", None),
    ("P10", "one allocate_frame_batch of 1000 ranges vs 1000 VMA create+destroy (per range)",
     C.P10, C.BATCH, C.VMA, "faster", None),
    ("BW", "staged upload of 64 MiB vs bare vkCmdCopyBuffer (bandwidth share)", C.UPLOAD,
     C.UPLOAD_FA, C.UPLOAD_BARE, "share", 0.90),
    ("ctx", "staged upload vs numpy copy into mapped memory (bandwidth share)", C.UPLOAD,
     C.UPLOAD_FA, C.MEMCPY, "share", None),
]


def fmt_time(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if seconds >= scale or unit == "ns":
            return f"{seconds / scale:.3g} {unit}"
    raise AssertionError


def interleaved(rounds: int) -> tuple[dict[tuple[str, str], float], dict[str, Any]]:
    """Median seconds per operation of every case, timed round-robin."""
    from framealloc.gpu import GpuAllocator, GpuConfig
    from framealloc.gpu.vk import VulkanContext

    ctx = VulkanContext()
    out: dict[tuple[str, str], float] = {}
    try:
        p8_gpu = GpuAllocator.vulkan(GpuConfig(), context=ctx)
        up_gpu = GpuAllocator.vulkan(GpuConfig(), context=ctx)
        p8_gpu.begin_frame()
        groups = [C.p8_cases(ctx, p8_gpu), C.upload_cases(ctx, up_gpu),
                  C.persistent_cases(ctx), C.batch_cases(ctx)]
        for cases in groups:
            C.warm_up(cases)
            samples: dict[str, list[float]] = {c.name: [] for c in cases}
            for _ in range(rounds):
                for c in cases:
                    if c.setup is not None:
                        c.setup()
                    t0 = time.perf_counter()
                    c.fn()
                    samples[c.name].append((time.perf_counter() - t0) / c.ops)
            for c in cases:
                out[(c.group, c.name)] = statistics.median(samples[c.name])
                c.close()
        # P10 is compared per range with VMA's per-buffer time from P9.
        if (C.P9, C.VMA) in out:
            out[(C.P10, C.VMA)] = out[(C.P9, C.VMA)]
        p8_gpu.end_frame()
        p8_gpu.close()
        up_gpu.close()
        info = {"device": ctx.device_name, "rounds": rounds, "mode": "interleaved"}
    finally:
        ctx.close()
    return out, info


def from_json(path: str) -> tuple[dict[tuple[str, str], float], dict[str, Any]]:
    data = json.loads(open(path).read())
    out = {}
    for b in data["benchmarks"]:
        extra = b["extra_info"]
        out[(b["group"], extra.get("competitor", b["name"]))] = \
            b["stats"]["median"] / extra.get("ops", 1)
    return out, {"mode": f"pytest-benchmark JSON {path}", "datetime": data.get("datetime")}


def table(medians: dict[tuple[str, str], float]) -> str:
    lines = ["| # | what | subject | reference | ratio | target | result |",
             "|---|---|---|---|---|---|---|"]
    for rid, what, group, subj, ref, kind, target in ROWS:
        s, r = medians.get((group, subj)), medians.get((group, ref))
        if r is None and group == C.P10:
            r = medians.get((C.P9, ref))
        if s is None or r is None:
            lines.append(f"| {rid} | {what} | — | {ref}: not measured | — | — | — |")
            continue
        ratio = r / s
        if kind == "faster":
            text, tgt = f"{ratio:.3g}× faster", f"≥ {target:g}×" if target else "context"
        else:
            text = f"{ratio:.0%} ({C.NBYTES / s / 1e9:.2f} vs {C.NBYTES / r / 1e9:.2f} GB/s)"
            tgt = f"≥ {target:.0%}" if target else "context"
        verdict = "—" if target is None else ("PASS" if ratio >= target else "MISS")
        lines.append(f"| {rid} | {what} | {fmt_time(s)} | {fmt_time(r)} ({ref}) | {text} | "
                     f"{tgt} | {verdict} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--from-json", metavar="PATH")
    args = parser.parse_args(argv)
    medians, info = from_json(args.from_json) if args.from_json else interleaved(args.rounds)
    print(f"GPU benchmarks ({', '.join(f'{k}: {v}' for k, v in info.items())})\n")
    print(table(medians))
    print("\nAll medians:\n")
    for (group, name), t in sorted(medians.items()):
        print(f"* {group} / {name}: {fmt_time(t)} per op")
    return 0


if __name__ == "__main__":
    sys.exit(main())
