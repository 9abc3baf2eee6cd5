"""Batches of GPU ranges: N sub-allocations in one kernel call, and the frame cursor that lends
a frame ring's bump pointer to @njit code.

>>> import numpy as np
>>> from framealloc.gpu import GpuAllocator, GpuMemoryIntent as I
>>> with GpuAllocator.null() as gpu:
...     with gpu.frame():
...         b = gpu.allocate_frame_batch(np.full(1000, 256), I.DEVICE_LOCAL)
...         first = b.descriptor(0)              # (buffer, offset, size) of range 0
...     meshes = gpu.allocate_batch([4096, 100, 65536])     # PERSISTENT, DEVICE_LOCAL
...     ok = bool(np.all(meshes.offsets % 16 == 0))
...     meshes.free()
>>> len(b), first.size, ok
(1000, 256, True)
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .allocation import BufferRange
from .errors import GpuDoubleFreeError, GpuSizeError, GpuStaleAllocationError

__all__ = ["GpuBatch", "FrameCursor", "as_sizes", "bad_size"]

_I64 = np.dtype(np.int64)


def as_sizes(sizes: Any, check_positive: bool = True) -> np.ndarray:
    """``sizes`` as a new contiguous 1-D int64 array of positive sizes, or FA401.

    Always a copy: the batch keeps it read-only, and neither freezes nor follows the caller's
    array. ``check_positive=False`` leaves the sign check of an int64 array to the caller's
    kernel.
    """
    if type(sizes) is np.ndarray and sizes.dtype == _I64 and sizes.ndim == 1 \
            and sizes.flags.c_contiguous:
        if check_positive and sizes.size and sizes.min() <= 0:
            return as_sizes(list(sizes))         # the slow path names the bad size
        return sizes.copy()
    try:
        arr = np.asarray(sizes)
    except Exception as e:          # pragma: no cover - numpy's own conversion errors
        raise GpuSizeError(f"sizes must be a 1-D array of integers: {e}", code="FA401") from e
    if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):
        raise GpuSizeError(
            f"sizes must be a 1-D array of integers, got shape {arr.shape} dtype {arr.dtype}; "
            "pass e.g. np.full(n, 256)", code="FA401")
    arr = np.array(arr, dtype=np.int64, order="C")     # a copy, even of an int64 array
    if arr.size and int(arr.min()) <= 0:
        bad_size(arr, int(np.argmin(arr)))
    return arr


def bad_size(sizes: np.ndarray, k: int) -> None:
    raise GpuSizeError(f"every size must be positive; sizes[{k}] is {int(sizes[k])}",
                       code="FA401")


class GpuBatch:
    """N ranges allocated in one call (:meth:`GpuAllocator.allocate_frame_batch`,
    :meth:`GpuAllocator.allocate_batch`).

    Range ``i`` is ``buffers[buffer_index[i]]`` at ``offsets[i]``, ``sizes[i]`` bytes long
    (read-only arrays). A batch of Frame ranges goes stale with its frame; a pooled batch lives
    until :meth:`free` (one kernel call for all its ranges).
    """

    __slots__ = ("offsets", "sizes", "buffer_index", "buffers", "_blocks", "_owner", "_frame",
                 "_pool", "_nodes", "_kind")

    def __init__(self, owner: Any, offsets: np.ndarray, sizes: np.ndarray,
                 buffer_index: np.ndarray, blocks: list, frame: int, kind: Any,
                 pool: Any = None, nodes: np.ndarray | None = None) -> None:
        for a in (offsets, sizes, buffer_index):     # arrays of its own (as_sizes copies)
            a.setflags(write=False)
        self.offsets = offsets
        self.sizes = sizes
        self.buffer_index = buffer_index
        self._blocks = blocks
        self.buffers = [None if b is None else b.buffer for b in blocks]
        self._owner = owner
        self._frame = frame
        self._kind = kind
        self._pool = pool
        self._nodes = nodes

    def __len__(self) -> int:
        return int(self.offsets.shape[0])

    @property
    def intent(self) -> Any:
        return self._kind.intent

    @property
    def lifetime(self) -> Any:
        return self._kind.lifetime

    @property
    def alive(self) -> bool:
        """False once freed, once its frame was recycled, or once the allocator was closed."""
        owner = self._owner
        if owner is None or owner._closed:
            return False
        return not (0 <= self._frame <= owner._recycled_frame)

    def _check_alive(self) -> None:
        if not self.alive:
            raise GpuStaleAllocationError(
                "this GPU batch was freed, its frame was recycled, or its allocator closed; "
                "allocate a new one", code="FA409")

    def descriptor(self, i: int) -> BufferRange:
        """``(buffer, offset, size)`` of range ``i``."""
        self._check_alive()
        return BufferRange(self.buffers[int(self.buffer_index[i])], int(self.offsets[i]),
                           int(self.sizes[i]))

    def free(self) -> None:
        """Free every range of a Persistent/Transient batch (deferred while the GPU may use
        them, like :meth:`GpuAllocation.free`). FA410 twice or on a Frame batch."""
        if self._pool is None:
            raise GpuDoubleFreeError(
                "Frame batches are not freed: their memory is recycled with the frame",
                code="FA410")
        if self._owner is None:
            raise GpuDoubleFreeError("this GPU batch was already freed", code="FA410")
        owner = self._owner
        owner._check_open()
        owner._free_batch(self._pool, self._nodes)
        self._owner = None

    def __repr__(self) -> str:
        return (f"<GpuBatch {len(self)} ranges {self._kind.intent.name} "
                f"{self._kind.lifetime.name} {'alive' if self.alive else 'stale'}>")


class FrameCursor:
    """A frame ring's bump pointer lent to @njit code (:meth:`GpuAllocator.frame_cursor`).

    ``state`` is the ring's row for the chunk ``buffer`` (a one-row view of its chunk table,
    ``framealloc.kernels.gpu_layout.CHUNK_DTYPE``: ``cursor``, ``limit``, ``mask``, ...), the
    one cursor of that chunk: ``framealloc.kernels.gpu_tlsf.frame_bump`` and
    ``frame_bump_batch`` bump it in place (offset arithmetic only). While the cursor is open,
    frame allocations of its intent from Python raise FA411; closing it (or ``end_frame``) takes
    the cursor back (the ring moves to a copy of its table), after which ``state`` is detached
    and bumping it changes nothing.
    """

    __slots__ = ("state", "buffer", "_ring", "_owner", "_block")

    def __init__(self, owner: Any, ring: Any) -> None:
        self._owner = owner
        self._ring = ring
        self._block = ring.block
        self.buffer = ring.block.buffer
        self.state = ring.lend()

    @property
    def open(self) -> bool:
        return self._ring is not None

    def close(self) -> None:
        ring, self._ring = self._ring, None
        if ring is not None:
            self._owner._return_cursor(ring)

    def __enter__(self) -> FrameCursor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
