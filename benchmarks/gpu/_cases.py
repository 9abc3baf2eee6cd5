"""The GPU benchmark cases, shared by the pytest-benchmark suite and ``report.py``.

Each case is a callable doing ``ops`` operations; ``setup`` has already warmed it up (first
touch of staging memory, ring chunks grown to the frame's peak).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from framealloc.gpu import GpuAllocator, GpuConfig, GpuMemoryIntent as Intent

from ._raw import RawBuffers, RawCopy, VmaBuffers, vma_available
from .rows import (BATCH, FRAMEALLOC, HOT, MEMCPY, P8, P9, P10, POOL_BATCH, RAW,  # noqa: F401
                   TLSF, UPLOAD, UPLOAD_BARE, UPLOAD_FA, VMA)

N = 1000          # buffer ranges per P8 round (framealloc: one frame)
SIZE = 256
NBYTES = 64 << 20


@dataclass
class Case:
    group: str
    name: str
    fn: Callable[[], Any]
    ops: int
    unit: str
    close: Callable[[], None] = lambda: None
    setup: Callable[[], None] | None = None       # untimed, before each round


def p8_cases(ctx: Any, gpu: GpuAllocator) -> list[Case]:
    """framealloc frame allocation (a whole frame per round) and its competitors."""
    alloc = gpu.allocate_frame
    device_local = Intent.DEVICE_LOCAL

    def frame() -> None:
        for _ in range(N):
            alloc(SIZE, device_local)
        gpu.end_frame()
        gpu.begin_frame()

    def hot() -> None:          # allocations only, into the frame left open by frame()
        for _ in range(N):
            alloc(SIZE, device_local)

    # Its own allocator that never begins a frame, so each free is immediate (with frames in
    # use, frees wait for the GPU to finish the frame, which is not what this case measures).
    frameless = GpuAllocator.vulkan(GpuConfig(), context=ctx)

    def tlsf() -> None:
        persistent = frameless.allocate_persistent
        for _ in range(N):
            persistent(SIZE, device_local).free()

    raw = RawBuffers(ctx, gpu.memory_types_for(Intent.DEVICE_LOCAL)[0], SIZE)
    cases = [Case(P8, FRAMEALLOC, frame, N, "buffer"),
             Case(P8, RAW, lambda: raw.create_destroy(N), N, "buffer")]
    if vma_available():
        vma = VmaBuffers(ctx, SIZE)
        cases.append(Case(P8, VMA, lambda: vma.create_destroy(N), N, "buffer", vma.close))
    cases += [Case(P8, HOT, hot, N, "buffer"), Case(P8, TLSF, tlsf, N, "buffer", frameless.close)]
    return cases


def persistent_cases(ctx: Any) -> list[Case]:
    """P9: a persistent range allocated and freed (the TLSF kernels) vs a VkBuffer + memory
    per buffer and VMA. framealloc's allocator never begins a frame, so each free is immediate
    (with frames in use a free waits for the GPU to finish the frame)."""
    gpu = GpuAllocator.vulkan(GpuConfig(), context=ctx)
    persistent = gpu.allocate_persistent
    device_local = Intent.DEVICE_LOCAL

    def tlsf() -> None:
        for _ in range(N):
            persistent(SIZE, device_local).free()

    raw = RawBuffers(ctx, gpu.memory_types_for(Intent.DEVICE_LOCAL)[0], SIZE)
    cases = [Case(P9, TLSF, tlsf, N, "buffer", gpu.close),
             Case(P9, RAW, lambda: raw.create_destroy(N), N, "buffer")]
    if vma_available():
        vma = VmaBuffers(ctx, SIZE)
        cases.append(Case(P9, VMA, lambda: vma.create_destroy(N), N, "buffer", vma.close))
    return cases


def batch_cases(ctx: Any) -> list[Case]:
    """P10: N frame ranges in one ``allocate_frame_batch`` call (the frame's end and the next
    begin are untimed set-up), and N persistent ranges allocated and freed as one batch."""
    gpu = GpuAllocator.vulkan(GpuConfig(), context=ctx)
    frameless = GpuAllocator.vulkan(GpuConfig(), context=ctx)
    sizes = np.full(N, SIZE, np.int64)
    gpu.begin_frame()

    def next_frame() -> None:
        gpu.end_frame()
        gpu.begin_frame()

    def close() -> None:
        gpu.end_frame()
        gpu.close()
        frameless.close()

    return [Case(P10, BATCH, lambda: gpu.allocate_frame_batch(sizes, Intent.DEVICE_LOCAL), N,
                 "range", close, next_frame),
            Case(P10, POOL_BATCH, lambda: frameless.allocate_batch(sizes).free(), N, "range")]


def upload_cases(ctx: Any, gpu: GpuAllocator) -> list[Case]:
    """64 MiB staged upload (host array -> device-local, fenced) vs the bare GPU copy."""
    dst = gpu.allocate_persistent(NBYTES, Intent.DEVICE_LOCAL)
    data = np.random.default_rng(0).integers(0, 255, NBYTES, dtype=np.uint8)

    def upload() -> None:
        gpu.begin_frame()
        gpu.upload(dst, data)
        gpu.end_frame()
        gpu.wait_idle()

    src = gpu.allocate_persistent(NBYTES, Intent.STAGING)
    bare_dst = gpu.allocate_persistent(NBYTES, Intent.DEVICE_LOCAL)
    view = src.host_array()
    view[:] = data
    copy = RawCopy(ctx, src.buffer, src.offset, bare_dst.buffer, bare_dst.offset, NBYTES)
    return [Case(UPLOAD, UPLOAD_FA, upload, 1, "upload"),
            Case(UPLOAD, UPLOAD_BARE, copy.run, 1, "upload", copy.close),
            Case(UPLOAD, MEMCPY, lambda: np.copyto(view, data), 1, "upload")]


def warm_up(cases: list[Case], times: int = 3) -> None:
    for case in cases:
        for _ in range(times):
            if case.setup is not None:
                case.setup()
            case.fn()
