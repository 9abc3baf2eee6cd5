"""What bounds the GPU rows, layer by layer: P8 (frame range), P9 (persistent alloc + free) and
the 64 MiB staged upload, each next to the layers it is made of, timed interleaved.

    python -m benchmarks.gpu.layers                 # 41 rounds of every layer, medians
    python -m benchmarks.gpu.layers --rounds 101

Every row is the median time per operation over ``--rounds`` rounds; the rows of one group
run round-robin, so the load of a shared machine hits them alike. The floors are what any
design with the same API shape pays in CPython: a call that returns a new object, a numba
entry-point call per kernel call, two memory copies for a staged upload.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Any, Callable

import numpy as np

from . import _cases as C

N = C.N


def _time(groups: list[tuple[str, list[tuple[str, Callable[[], Any], int]]]], rounds: int) -> None:
    for title, rows in groups:
        for _, fn, _ in rows:
            fn()
        samples: dict[str, list[float]] = {name: [] for name, _, _ in rows}
        for _ in range(rounds):
            for name, fn, ops in rows:
                t0 = time.perf_counter()
                fn()
                samples[name].append((time.perf_counter() - t0) / ops)
        print(f"\n{title}\n")
        print("| layer | median per op |")
        print("|---|---|")
        for name, _, _ in rows:
            print(f"| {name} | {_fmt(statistics.median(samples[name]))} |")


def _fmt(s: float) -> str:
    return f"{s * 1e9:.0f} ns" if s < 1e-5 else f"{s * 1e6:.1f} µs" if s < 1e-3 else \
        f"{s * 1e3:.2f} ms"


def p8_rows(ctx: Any) -> list[tuple[str, Callable[[], Any], int]]:
    from framealloc.gpu import GpuAllocator, GpuConfig, GpuMemoryIntent as Intent
    gpu = GpuAllocator.vulkan(GpuConfig(), context=ctx)
    gpu.begin_frame()
    dl = Intent.DEVICE_LOCAL
    alloc = gpu.allocate_frame
    alloc(C.SIZE, dl)
    ring = gpu._frame_hot[dl]
    cls, block = ring.alloc_class, ring.block

    def empty(size: int, intent: Any = dl, usage: Any = None, alignment: int = 0,
              name: Any = None) -> None:
        return None

    def floor(size: int, intent: Any = dl, usage: Any = None, alignment: int = 0,
              name: Any = None) -> Any:
        a = cls()
        a._block = block
        a.offset = 0
        a.size = size
        a._frame = 1
        return a

    words = memoryview(np.zeros(6, np.int64)).cast("B").cast("q")   # a scratch chunk row

    def floor_row(size: int, intent: Any = dl, usage: Any = None, alignment: int = 0,
                  name: Any = None) -> Any:
        off = words[0]
        words[0] = (off + size + 15) & -16
        a = cls()
        a._block = block
        a.offset = off
        a.size = size
        a._frame = 1
        return a

    class Attr:
        __slots__ = ("cursor",)

    attr = Attr()

    def floor_attr(size: int, intent: Any = dl, usage: Any = None, alignment: int = 0,
                   name: Any = None) -> Any:
        off = attr.cursor
        attr.cursor = (off + size + 15) & -16
        a = cls()
        a._block = block
        a.offset = off
        a.size = size
        a._frame = 1
        return a

    def loop() -> None:
        for _ in range(N):
            pass

    def call() -> None:
        for _ in range(N):
            empty(C.SIZE, dl)

    def make() -> None:
        for _ in range(N):
            floor(C.SIZE, dl)

    def make_attr() -> None:
        attr.cursor = 0
        for _ in range(N):
            floor_attr(C.SIZE, dl)

    def make_row() -> None:
        words[0] = 0
        for _ in range(N):
            floor_row(C.SIZE, dl)

    def hot() -> None:
        for _ in range(N):
            alloc(C.SIZE, dl)
        gpu.end_frame()
        gpu.begin_frame()

    def frame() -> None:
        gpu.end_frame()
        gpu.begin_frame()

    rows = [("Python loop (`for _ in range(N)`)", loop, N),
            ("+ call of a 5-parameter Python function", call, N),
            ("+ the call makes and returns the allocation object (the floor)", make, N),
            ("+ it bumps a cursor kept in a Python attribute", make_attr, N),
            ("+ it bumps a cursor kept in a chunk row instead (memoryview words: the single "
             "state layout's floor)", make_row, N),
            ("`allocate_frame(256)` in a frame of 1000, end/begin_frame included (P8)", hot, N),
            ("`end_frame()` + `begin_frame()` alone, per frame", frame, 1)]
    return rows + _peers(ctx, gpu)


def _peers(ctx: Any, gpu: Any) -> list[tuple[str, Callable[[], Any], int]]:
    from framealloc.gpu import GpuMemoryIntent as Intent
    from ._raw import RawBuffers, VmaBuffers, vma_available
    raw = RawBuffers(ctx, gpu.memory_types_for(Intent.DEVICE_LOCAL)[0], C.SIZE)
    rows = [("raw vkCreateBuffer + vkAllocateMemory + bind + destroy",
             lambda: raw.create_destroy(N), N)]
    if vma_available():
        vma = VmaBuffers(ctx, C.SIZE)
        rows.append(("VMA vmaCreateBuffer + vmaDestroyBuffer", lambda: vma.create_destroy(N), N))
    return rows


def p9_rows(ctx: Any) -> list[tuple[str, Callable[[], Any], int]]:
    from numba import njit

    from framealloc.gpu import GpuAllocator, GpuConfig, GpuMemoryIntent as Intent
    from framealloc.gpu.blocks import load_kernels
    from framealloc.kernels import gpu_tlsf as K
    gpu = GpuAllocator.vulkan(GpuConfig(), context=ctx)
    dl = Intent.DEVICE_LOCAL
    persistent = gpu.allocate_persistent
    persistent(C.SIZE, dl).free()
    pool = next(iter(gpu._mem.pools.values()))
    nodes, hdr, totals = pool.nodes, pool.hdr, pool.totals
    alloc_ep, free_ep = load_kernels()[:2]

    @njit
    def kernels_only(nodes: Any, hdr: Any, totals: Any, n: int) -> None:
        for _ in range(n):
            i, _, _ = K.tlsf_alloc(nodes, hdr, totals, 256, 256, 0)
            K.tlsf_free(nodes, hdr, totals, i, 0)

    gpu._mem.drain()

    def in_njit() -> None:
        kernels_only(nodes, hdr, totals, N)

    def entry_points() -> None:
        for _ in range(N):
            node, _, _ = alloc_ep(nodes, hdr, totals, 256, 256, 0)
            free_ep(nodes, hdr, totals, node, 0)

    def reuse() -> None:
        for _ in range(N):
            persistent(C.SIZE, dl).free()

    def no_reuse() -> None:              # two sizes in turn: the freed range never matches
        for i in range(N):
            persistent(C.SIZE + (i & 1) * C.SIZE, dl).free()

    return [("TLSF alloc + free kernels inside one @njit loop", in_njit, N),
            ("both kernels called from Python (numba entry points, 3 structured arrays each)",
             entry_points, N),
            ("`allocate_persistent(256).free()` (P9: the freed range handed out again)", reuse,
             N),
            ("the same, sizes 256/512 in turn (alloc kernel call + queued free)", no_reuse, N)
            ] + _peers(ctx, gpu)


def upload_rows(ctx: Any) -> list[tuple[str, Callable[[], Any], int]]:
    from framealloc.gpu import GpuAllocator, GpuConfig
    from ._raw import RawCopy
    gpu = GpuAllocator.vulkan(GpuConfig(), context=ctx)
    cases = {c.name: c for c in C.upload_cases(ctx, gpu)}
    data = np.random.default_rng(1).integers(0, 255, C.NBYTES, dtype=np.uint8)
    other = np.empty_like(data)
    from framealloc.gpu import GpuMemoryIntent as Intent
    src = gpu.allocate_persistent(C.NBYTES, Intent.STAGING)
    dst = gpu.allocate_persistent(C.NBYTES, Intent.DEVICE_LOCAL)
    copy = RawCopy(ctx, src.buffer, src.offset, dst.buffer, dst.offset, C.NBYTES)
    lib = copy.lib

    more = np.empty_like(data)
    twin = data.copy()

    def two_host_copies() -> None:       # is the machine's memory bandwidth shared?
        import threading
        t = threading.Thread(target=np.copyto, args=(more, twin))
        t.start()
        np.copyto(other, data)
        t.join()

    def both() -> None:                  # the GPU copy and a host memcpy at the same time
        assert lib.vkQueueSubmit(copy.queue, 1, copy.submit, copy.fence[0]) == 0
        np.copyto(other, data)
        assert lib.vkWaitForFences(copy.dev, 1, copy.fence, 1, 10**10) == 0
        lib.vkResetFences(copy.dev, 1, copy.fence)

    return [("numpy copy of 64 MiB into mapped staging memory", cases[C.MEMCPY].fn, 1),
            ("bare vkCmdCopyBuffer of 64 MiB, submitted and waited for", cases[C.UPLOAD_BARE].fn,
             1),
            ("two 64 MiB numpy copies at once, in two threads", two_host_copies, 1),
            ("the bare copy with a 64 MiB host memcpy running meanwhile (the floor of a staged "
             "upload that overlaps its two copies)", both, 1),
            ("framealloc `upload` (begin_frame, 16 pieces of 4 MiB, end_frame, wait_idle)",
             cases[C.UPLOAD_FA].fn, 1)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=41)
    args = parser.parse_args(argv)
    from framealloc.gpu.vk import VulkanContext
    ctx = VulkanContext()
    print(f"GPU layers on {ctx.device_name}, {args.rounds} interleaved rounds")
    _time([("P8: a 256 B frame range from Python", p8_rows(ctx)),
           ("P9: a persistent 256 B range, allocate + free", p9_rows(ctx)),
           ("Staged upload of 64 MiB", upload_rows(ctx))], args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
