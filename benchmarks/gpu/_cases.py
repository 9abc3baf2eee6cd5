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

P8 = "P8: 256 B GPU buffer range from Python"
UPLOAD = "GPU: staged upload of 64 MiB"
N = 1000          # buffer ranges per P8 round (framealloc: one frame)
SIZE = 256
NBYTES = 64 << 20

FRAMEALLOC = "framealloc"
RAW = "vkCreateBuffer+vkAllocateMemory+bind+destroy"
VMA = "VMA vmaCreateBuffer+vmaDestroyBuffer (pyvma)"
HOT = "framealloc (allocate_frame only)"
TLSF = "framealloc persistent alloc+free"
UPLOAD_FA = "framealloc upload"
UPLOAD_BARE = "bare vkCmdCopyBuffer"
MEMCPY = "numpy copy into mapped memory"


@dataclass
class Case:
    group: str
    name: str
    fn: Callable[[], Any]
    ops: int
    unit: str
    close: Callable[[], None] = lambda: None


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
            case.fn()
