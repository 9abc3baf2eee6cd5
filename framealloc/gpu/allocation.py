"""A GPU allocation: a (buffer, offset, size) range of a device-memory block.

>>> import numpy as np
>>> from framealloc.gpu import GpuAllocator, GpuMemoryIntent
>>> with GpuAllocator.null() as gpu:
...     a = gpu.allocate_persistent(64, GpuMemoryIntent.DYNAMIC)
...     v = a.host_array((4, 4), np.float32)      # a NumPy view of the mapped memory
...     v[:] = 1.5
...     a.flush()                                 # no-op on coherent memory
...     buffer, offset, size = a.descriptor()     # what a VkDescriptorBufferInfo needs
...     a.free()
>>> size
64
"""
from __future__ import annotations

import operator
from typing import Any, NamedTuple

import numpy as np

from .blocks import KIND_DEDICATED
from .errors import (GpuDoubleFreeError, GpuNotMappableError, GpuStaleAllocationError,
                     GpuViewError)
from .intents import BufferUsage, GpuLifetime, GpuMemoryIntent

__all__ = ["GpuAllocation", "AllocKind", "BufferRange"]

_FRAME = GpuLifetime.FRAME


class AllocKind(NamedTuple):
    """What an allocation is for; shared by all allocations made with the same request shape."""

    intent: GpuMemoryIntent
    lifetime: GpuLifetime
    usage: BufferUsage
    name: str | None


class BufferRange(NamedTuple):
    """``(buffer, offset, size)``: what ``VkDescriptorBufferInfo`` and bind calls take."""

    buffer: Any
    offset: int
    size: int


class GpuAllocation:
    """A range of GPU memory handed out by :class:`~framealloc.gpu.GpuAllocator`.

    ``buffer`` is the backend's buffer handle (a ``VkBuffer`` for Vulkan) shared by every
    allocation of the same block; ``offset`` and ``size`` locate this range in it.

    Frame allocations stay valid until their frame is recycled (``frames_in_flight`` frames
    after it ended); Persistent and Transient ones until :meth:`free`. Using a stale
    allocation raises :class:`~framealloc.gpu.GpuStaleAllocationError` (FA409).
    """

    __slots__ = ("_block", "offset", "size", "_kind", "_frame", "_node", "__weakref__")

    _block: Any
    offset: int
    size: int
    _kind: AllocKind
    _frame: int
    _node: int          # the range's row in its TLSF pool's node table (pooled ranges only)

    # -- description ------------------------------------------------------------------------
    @property
    def intent(self) -> GpuMemoryIntent:
        return self._kind.intent

    @property
    def lifetime(self) -> GpuLifetime:
        return self._kind.lifetime

    @property
    def usage(self) -> BufferUsage:
        return self._kind.usage

    @property
    def name(self) -> str | None:
        return self._kind.name

    @property
    def frame(self) -> int | None:
        """The frame number a Frame allocation belongs to (None for other lifetimes)."""
        return self._frame if self._frame >= 0 else None

    @property
    def allocator(self) -> Any:
        return self._block.owner if self._block is not None else None

    @property
    def buffer(self) -> Any:
        """The backend buffer handle (``VkBuffer``) this range lives in."""
        return self._check_alive().buffer

    @property
    def memory_type_index(self) -> int:
        return self._check_alive().memory_type

    @property
    def dedicated(self) -> bool:
        """True when this allocation has a device-memory object of its own."""
        return self._check_alive().kind == KIND_DEDICATED

    @property
    def host_visible(self) -> bool:
        """True when :meth:`host_array` works (intent Staging, Readback or Dynamic)."""
        return self._kind.intent.host_access

    @property
    def coherent(self) -> bool:
        """True when host writes need no :meth:`flush` (and GPU writes no :meth:`invalidate`)."""
        return self._check_alive().coherent

    @property
    def alive(self) -> bool:
        """False once freed, once its frame was recycled, or once the allocator was closed."""
        block = self._block
        if block is None:
            return False
        owner = block.owner
        if owner._closed:
            return False
        return not (0 <= self._frame <= owner._recycled_frame)

    def _check_alive(self) -> Any:
        block = self._block
        if block is None:
            raise GpuStaleAllocationError(
                "this GPU allocation was freed; allocate a new one", code="FA409")
        owner = block.owner
        if owner._closed:
            raise GpuStaleAllocationError(
                "the GpuAllocator that made this allocation is closed", code="FA409")
        if 0 <= self._frame <= owner._recycled_frame:
            raise GpuStaleAllocationError(
                f"this Frame allocation belongs to frame {self._frame}, which the GPU has "
                f"finished and the allocator has recycled (now frame {owner.frame_number}); "
                "allocate again in the current frame or use lifetime PERSISTENT", code="FA409")
        return block

    def descriptor(self) -> BufferRange:
        """``(buffer, offset, size)`` for descriptor writes and vertex/index buffer binds."""
        return BufferRange(self._check_alive().buffer, self.offset, self.size)

    # -- host access --------------------------------------------------------------------------
    def host_array(self, shape: int | tuple[int, ...] | None = None, dtype: Any = np.uint8,
                   offset: int = 0) -> np.ndarray:
        """A writable NumPy view of the mapped memory (usable inside ``@njit`` code).

        ``shape=None`` covers the rest of the allocation from ``offset`` with whole elements.
        The view keeps the mapping alive: it can never point at unmapped memory. On
        non-coherent memory call :meth:`flush` after writing (``upload``/``readback`` do
        their own flushing).
        """
        block = self._check_alive()
        if not self._kind.intent.host_access:
            raise GpuNotMappableError(
                f"{self._kind.intent.name} memory is not host-accessible (so code behaves the "
                "same on every GPU); use gpu.upload()/gpu.readback(), or allocate with intent "
                "STAGING, READBACK or DYNAMIC", code="FA408")
        try:
            dt = np.dtype(dtype)
        except TypeError as e:
            raise GpuViewError(f"not a NumPy dtype: {dtype!r}", code="FA415") from e
        if dt.hasobject or dt.itemsize == 0:
            raise GpuViewError(
                f"dtype {dt} cannot live in GPU memory (object or unsized dtype); use numeric, "
                "boolean, fixed-size string or structured dtypes", code="FA415")
        off = _as_index(offset, "offset")
        if off < 0 or off > self.size:
            raise GpuViewError(f"offset {off} is outside the allocation of {self.size} bytes",
                               code="FA415")
        if shape is None:
            shape_t: tuple[int, ...] = ((self.size - off) // dt.itemsize,)
        else:
            shape_t = (_as_index(shape, "shape"),) if not isinstance(shape, tuple) else \
                tuple(_as_index(s, "shape") for s in shape)
            if any(s < 0 for s in shape_t):
                raise GpuViewError(f"negative shape {shape_t}", code="FA415")
        nbytes = int(np.prod(shape_t, dtype=np.int64)) * dt.itemsize
        if off + nbytes > self.size:
            raise GpuViewError(
                f"a {shape_t} {dt} view at offset {off} needs {nbytes} bytes but only "
                f"{self.size - off} remain in this {self.size}-byte allocation", code="FA415")
        start = self.offset + off
        if (block.handle.host_address + start) % dt.alignment:
            raise GpuViewError(
                f"offset {off} is not aligned to {dt.alignment} bytes as {dt} needs; "
                "use an offset that is a multiple of it", code="FA415")
        return block.array[start:start + nbytes].view(dt).reshape(shape_t)

    def flush(self, offset: int = 0, size: int | None = None) -> None:
        """Make host writes of ``[offset, offset+size)`` visible to the GPU (non-coherent
        memory); a no-op on coherent memory."""
        self._host_range_op(offset, size, flush=True)

    def invalidate(self, offset: int = 0, size: int | None = None) -> None:
        """Make GPU writes visible to the host before reading (non-coherent memory)."""
        self._host_range_op(offset, size, flush=False)

    def _host_range_op(self, offset: int, size: int | None, flush: bool) -> None:
        block = self._check_alive()
        if not self._kind.intent.host_access:
            raise GpuNotMappableError(
                f"{self._kind.intent.name} memory is not host-accessible; nothing to "
                f"{'flush' if flush else 'invalidate'}", code="FA408")
        off = _as_index(offset, "offset")
        n = self.size - off if size is None else _as_index(size, "size")
        if off < 0 or n < 0 or off + n > self.size:
            raise GpuViewError(
                f"range [{off}, {off + n}) is outside the allocation of {self.size} bytes",
                code="FA415")
        if block.coherent or n == 0:
            return
        block.owner._mem.flush_or_invalidate(block, self.offset + off, n, flush)

    # -- release ------------------------------------------------------------------------------
    def free(self) -> None:
        """Release a Persistent or Transient allocation (Frame memory goes at frame end).

        When frames are in use the range is reused only after the GPU finished the current
        frame. Freeing twice raises :class:`~framealloc.gpu.GpuDoubleFreeError` (FA410).

        A TLSF range is queued in its pool (a list append): the TLSF kernel frees 64 queued
        ranges in one call, or fewer as soon as an allocation would not fit otherwise or
        anything reads statistics, dumps or budgets, so a freed range is reusable at once.
        """
        block = self._block
        if block is None:
            raise GpuDoubleFreeError("this GPU allocation was already freed", code="FA410")
        pool = block.pool
        if pool is not None:                   # hot path: a TLSF range, queued for the kernel
            owner = block.owner
            if not owner._closed:
                self._block = None
                q = pool.queued
                q.append((self._node, self.size, self.offset, block, self._kind))
                if len(q) >= 64:      # one tlsf_free_batch call per 64 frees (TlsfPool)
                    owner._mem.drain_pool(pool)
                return
        block.owner.free(self)

    def __enter__(self) -> GpuAllocation:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._kind.lifetime is not _FRAME and self._block is not None \
                and not self._block.owner._closed:
            self.free()

    def __repr__(self) -> str:
        state = "alive" if self.alive else "stale"
        name = f" {self._kind.name!r}" if self._kind.name else ""
        return (f"<GpuAllocation{name} {self._kind.intent.name} {self._kind.lifetime.name} "
                f"offset={self.offset} size={self.size} {state}>")


def frame_allocation_class(kind: AllocKind) -> type[GpuAllocation]:
    """A GpuAllocation subclass whose ``_kind`` is ``kind`` for every instance.

    Each frame ring makes its allocations with its own subclass, so the hot path stores one
    attribute less; ``isinstance(a, GpuAllocation)`` still holds.
    """
    return type("GpuAllocation", (GpuAllocation,), {"__slots__": (), "_kind": kind,
                                                    "__module__": __name__})


def _as_index(value: Any, what: str) -> int:
    if isinstance(value, bool) or not hasattr(type(value), "__index__"):
        raise GpuViewError(f"{what} must be an integer, got {value!r}", code="FA415")
    return operator.index(value)
