"""UnifiedAllocator: one frame loop and one budget over a CPU SmartAlloc and a GPU allocator.

>>> import numpy as np
>>> import framealloc as fa
>>> from framealloc.gpu import GpuAllocator, UnifiedAllocator, UnifiedBudget
>>> unified = UnifiedAllocator(fa.SmartAlloc(), GpuAllocator.null(),
...                            budget=UnifiedBudget(hard=512 << 20))    # doctest: +SKIP
>>> with unified.frame():                                               # doctest: +SKIP
...     verts = unified.cpu.frame_array((256, 3), np.float32)
...     verts[:] = 1.0
...     staging = unified.create_staging_buffer(verts.nbytes)
...     staging.host_array(verts.shape, verts.dtype)[:] = verts
...     on_gpu = unified.transfer_to_gpu(staging)      # a real vkCmdCopyBuffer
...     cpu_bytes, gpu_bytes = unified.get_usage()

The CPU side only needs ``begin_frame()``, ``end_frame()`` and ``stats().total_current``.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy as np

from ..errors import warn
from .allocation import GpuAllocation
from .allocator import GpuAllocator
from .config import BudgetEvent
from .errors import (GpuConfigError, GpuStaleAllocationError, GpuTransferError,
                     UnifiedBudgetExceededError, UnifiedBudgetWarning)
from .intents import BufferUsage, GpuAllocRequirements, GpuLifetime, GpuMemoryIntent, check_size
from .transfer import as_bytes

__all__ = ["UnifiedAllocator", "UnifiedBudget", "StagingBuffer"]


@dataclass(frozen=True)
class UnifiedBudget:
    """Limits on CPU bytes (``SmartAlloc.stats().total_current``) plus GPU bytes
    (``GpuAllocator.current_bytes()``). Hard: :class:`UnifiedBudgetExceededError` (FA418);
    soft: :class:`UnifiedBudgetWarning` (FA419) once per crossing and ``on_soft``."""

    soft: int | None = None
    hard: int | None = None
    on_soft: Callable[[BudgetEvent], None] | None = None

    def __post_init__(self) -> None:
        for name in ("soft", "hard"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v <= 0):
                raise GpuConfigError(f"UnifiedBudget.{name} must be a positive int or None, "
                                     f"got {v!r}", code="FA417")
        if self.soft is not None and self.hard is not None and self.soft > self.hard:
            raise GpuConfigError(f"UnifiedBudget.soft ({self.soft}) is above hard "
                                 f"({self.hard})", code="FA417")


class StagingBuffer:
    """Host-visible GPU memory to fill from the CPU, then :meth:`UnifiedAllocator.transfer_to_gpu`.

    A STAGING allocation of the current frame (recycled once the GPU finished the frame).
    """

    __slots__ = ("allocation",)

    def __init__(self, allocation: GpuAllocation) -> None:
        self.allocation = allocation

    @property
    def size(self) -> int:
        return self.allocation.size

    @property
    def alive(self) -> bool:
        return self.allocation.alive

    def cpu_array(self) -> np.ndarray:
        """The whole buffer as a writable uint8 NumPy view."""
        return self.allocation.host_array(self.allocation.size, np.uint8)

    def host_array(self, shape: int | tuple[int, ...] | None = None, dtype: Any = np.uint8,
                   offset: int = 0) -> np.ndarray:
        """A typed writable view (see :meth:`GpuAllocation.host_array`)."""
        return self.allocation.host_array(shape, dtype, offset)

    def write(self, array: Any, offset: int = 0) -> None:
        """Copy ``array``'s bytes into the buffer at ``offset``."""
        data = np.ascontiguousarray(array).reshape(-1).view(np.uint8)
        self.allocation.host_array(data.size, np.uint8, offset)[:] = data

    def __repr__(self) -> str:
        return f"<StagingBuffer {self.size} B {'alive' if self.alive else 'stale'}>"


class UnifiedAllocator:
    """Joins a CPU allocator (``SmartAlloc``) and a :class:`GpuAllocator`.

    ``begin_frame``/``end_frame`` drive both; ``get_usage()`` returns ``(cpu_bytes,
    gpu_bytes)`` of memory currently held (both fall when memory is freed or frames end);
    ``budget`` limits their sum. ``owns_gpu=True`` closes the GPU allocator in :meth:`close`.
    """

    def __init__(self, cpu: Any, gpu: GpuAllocator, budget: UnifiedBudget | None = None, *,
                 owns_gpu: bool = False) -> None:
        for method in ("begin_frame", "end_frame", "stats"):
            if not callable(getattr(cpu, method, None)):
                raise GpuConfigError(f"the CPU allocator must have {method}() (a SmartAlloc); "
                                     f"got {type(cpu).__name__}", code="FA417")
        if not isinstance(gpu, GpuAllocator):
            raise GpuConfigError(f"gpu must be a GpuAllocator, got {type(gpu).__name__}",
                                 code="FA417")
        if budget is not None and not isinstance(budget, UnifiedBudget):
            raise GpuConfigError("budget must be a UnifiedBudget or None", code="FA417")
        self.cpu = cpu
        self.gpu = gpu
        self.budget = budget or UnifiedBudget()
        self._owns_gpu = owns_gpu
        self._soft_over = False

    # -- frames -----------------------------------------------------------------------------
    def begin_frame(self) -> int:
        """Begin a CPU frame and a GPU frame (may wait for the GPU); returns the GPU frame.

        The CPU frame begins first: when it cannot (a CPU frame already open, FA002; a closed
        allocator) nothing changes, and the GPU frames, whose recycling frees frame memory,
        do not advance. If the GPU frame then cannot begin, the CPU frame is ended again."""
        self.cpu.begin_frame()
        try:
            return self.gpu.begin_frame()
        except BaseException:
            self.cpu.end_frame()
            raise

    def end_frame(self) -> int:
        """End both frames (GPU first: its batched copies are submitted). Both are always
        ended; the first error is re-raised."""
        error: BaseException | None = None
        n = self.gpu.frame_number
        try:
            n = self.gpu.end_frame()
        except BaseException as e:  # noqa: BLE001 - re-raised below after the CPU frame ends
            error = e
        try:
            self.cpu.end_frame()
        except BaseException as e:  # noqa: BLE001
            error = error or e
        if error is not None:
            raise error
        self._check_soft(self._total())
        return n

    @contextlib.contextmanager
    def frame(self) -> Iterator[int]:
        """``with unified.frame():`` — begin_frame/end_frame of both allocators."""
        n = self.begin_frame()
        try:
            yield n
        finally:
            if self.gpu.in_frame:
                self.end_frame()

    # -- allocation and transfer --------------------------------------------------------------
    def create_staging_buffer(self, size: int) -> StagingBuffer:
        """Host-visible memory for this frame, to fill and pass to :meth:`transfer_to_gpu`."""
        n = check_size(size)
        self._check_budget(n)
        return StagingBuffer(self.gpu.allocate_frame(n, GpuMemoryIntent.STAGING,
                                                     BufferUsage.TRANSFER_SRC))

    def allocate_gpu(self, requirements: GpuAllocRequirements) -> GpuAllocation:
        """``gpu.allocate`` after checking the unified budget."""
        if not isinstance(requirements, GpuAllocRequirements):
            return self.gpu.allocate(requirements)   # raises FA403 with the right message
        self._check_budget(requirements.size)
        return self.gpu.allocate(requirements)

    def transfer_to_gpu(self, source: StagingBuffer | GpuAllocation | np.ndarray,
                        destination: GpuAllocation | None = None, *,
                        lifetime: GpuLifetime = GpuLifetime.FRAME,
                        dst_offset: int = 0) -> GpuAllocation:
        """Copy ``source`` into device-local memory with a GPU copy; return the destination.

        ``source`` is a :class:`StagingBuffer`, a host-visible allocation, or a NumPy array
        (uploaded through the staging ring). Without ``destination`` a DEVICE_LOCAL
        allocation of the source's size and ``lifetime`` is made. Raises FA412 when the copy
        cannot be done (stale staging buffer, destination too small, missing usage flags);
        never skips it. Everything is checked before a destination is made, and a destination
        made here is freed again when the copy then fails (Frame memory is recycled with its
        frame).
        """
        if isinstance(source, StagingBuffer):
            source = source.allocation
        if isinstance(source, GpuAllocation):
            if not source.alive:
                raise GpuTransferError(
                    "the staging buffer is stale (its frame was recycled or it was freed); "
                    "create and fill a new one in the current frame", code="FA412")
            nbytes = source.size
        else:
            data = as_bytes(source)              # FA412 for object arrays, before allocating
            nbytes = data.size
            if nbytes == 0:
                raise GpuTransferError("nothing to transfer: the array is empty", code="FA412")
        if destination is not None and not isinstance(destination, GpuAllocation):
            raise GpuTransferError(f"destination must be a GpuAllocation, got "
                                   f"{type(destination).__name__}", code="FA412")
        dsize = nbytes if destination is None else destination.size
        if isinstance(dst_offset, bool) or not hasattr(type(dst_offset), "__index__"):
            raise GpuTransferError(f"dst_offset must be an integer, got {dst_offset!r}",
                                   code="FA412")
        dst_offset = int(dst_offset)
        if dst_offset < 0 or dst_offset + nbytes > dsize:
            raise GpuTransferError(
                f"{nbytes} bytes at offset {dst_offset} do not fit the {dsize}-byte "
                "destination; pass a larger destination or a smaller offset", code="FA412")
        made = destination is None
        if destination is None:
            self._check_budget(nbytes)
            destination = self.gpu.allocate(GpuAllocRequirements(
                nbytes, GpuMemoryIntent.DEVICE_LOCAL, lifetime))
        try:
            try:
                if isinstance(source, GpuAllocation):
                    self.gpu.copy(source, destination, nbytes, dst_offset=dst_offset)
                else:
                    self.gpu.upload(destination, data, dst_offset)
            except GpuStaleAllocationError as e:
                raise GpuTransferError(f"cannot transfer: {e}", code="FA412") from e
        except BaseException:
            # The destination made here is not handed out: give it back (Frame memory is not
            # freed one by one; it is recycled with its frame).
            if made and destination.alive and destination.lifetime is not GpuLifetime.FRAME:
                self.gpu.free(destination)
            raise
        return destination

    # -- usage and budget -----------------------------------------------------------------------
    def get_usage(self) -> tuple[int, int]:
        """``(cpu_bytes, gpu_bytes)`` currently held; falls when memory is freed."""
        return int(self.cpu.stats().total_current), self.gpu.current_bytes()

    def _total(self) -> int:
        cpu, gpu = self.get_usage()
        return cpu + gpu

    def _check_budget(self, extra: int) -> None:
        b = self.budget
        if b.hard is None and b.soft is None:
            return
        total = self._total()
        if b.hard is not None and total + extra > b.hard:
            raise UnifiedBudgetExceededError(
                f"CPU+GPU usage {total} bytes plus {extra} requested would pass the unified hard "
                f"budget of {b.hard}; end frames, free memory or raise UnifiedBudget.hard",
                code="FA418")
        self._check_soft(total + extra)

    def _check_soft(self, total: int) -> None:
        b = self.budget
        if b.soft is None:
            return
        if total > b.soft and not self._soft_over:
            self._soft_over = True
            if b.on_soft is not None:
                b.on_soft(BudgetEvent("unified", total, b.soft))
            cfg = getattr(self.cpu, "config", None)
            warn(UnifiedBudgetWarning(
                f"CPU+GPU usage {total} bytes is above the unified soft budget of {b.soft}",
                code="FA419"), strict=bool(getattr(cfg, "strict", False)), stacklevel=3)
        elif total <= b.soft:
            self._soft_over = False

    # -- teardown -------------------------------------------------------------------------------
    def close(self) -> None:
        """Close the GPU allocator when this object owns it."""
        if self._owns_gpu:
            self.gpu.close()

    def __enter__(self) -> UnifiedAllocator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
