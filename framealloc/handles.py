"""Relocatable handles: generation-checked references to blocks that compaction may move.

``h = alloc.handles.alloc(shape, dtype)`` returns an int handle ``(generation << 32) | index``;
``alloc.handles.resolve(h)`` returns the block's current numpy view. ``compact()`` copies every
unpinned live block into one new, tightly packed segment and drops segments that hold no pinned
block, so fragmentation from freed blocks goes away; handles stay valid (their table entry is
updated), pinned blocks (``pin(h)`` ... ``unpin(h)``, nesting) never move.

Safety: blocks are bump-allocated in segments and freed space is only reclaimed by compaction into
a *new* segment, so no view ever aliases another block: a view resolved before ``compact()`` keeps
its old segment alive and still reads the old copy (writes to it no longer reach the handle).
**Re-resolve after compaction**, or pin what you keep views of. A freed handle raises
:class:`~framealloc.StaleHandleError` (FA114). Python-level only: resolve in Python and pass the
view into @njit code.

>>> import numpy as np, framealloc as fa
>>> heap = fa.SmartAlloc().handles
>>> a = heap.alloc(100, np.float64); b = heap.alloc(10, np.int32)
>>> heap.resolve(b)[:] = 7
>>> heap.free(a); moved = heap.compact()
>>> heap.resolve(b).tolist() == [7] * 10, moved
(True, 40)
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from ._closing import ClosesWithOwner, guard_closed
from ._dtypes import check_nbytes, normalize_shape, resolve_dtype
from ._slots import check_count, check_key
from .errors import HandleError, PoolExhaustedError, StaleHandleError
from .kernels.layout import HANDLE_SLOT_DTYPE

__all__ = ["HandleHeap", "HandleHeapInfo"]

_ALIGN = 16       # block alignment inside segments (the largest natural alignment)
_SEG_ALIGN = 64


@dataclass(frozen=True)
class HandleHeapInfo:
    """Counters of a :class:`HandleHeap`."""

    live: int
    bytes: int
    pinned: int
    reserved: int
    segments: int
    compactions: int
    moved_bytes: int
    allocations: int
    frees: int
    allocated_bytes: int = 0
    freed_bytes: int = 0


class _Segment:
    __slots__ = ("buf", "cursor", "sealed")

    def __init__(self, nbytes: int):
        raw = np.empty(nbytes + _SEG_ALIGN, np.uint8)
        off = (-raw.ctypes.data) % _SEG_ALIGN
        self.buf = raw[off:off + nbytes]
        self.cursor = 0
        self.sealed = False


def _new_table(n: int) -> np.ndarray:
    table = np.zeros(n, HANDLE_SLOT_DTYPE)
    table["seg"] = -1
    return table


def _round(n: int) -> int:
    return (n + _ALIGN - 1) & -_ALIGN


class HandleHeap(ClosesWithOwner):
    """A heap of relocatable blocks addressed by generation-checked handles (thread-safe).

    Parameters
    ----------
    segment_bytes: size of each bump segment (larger requests get a segment of their own).
    """

    def __init__(self, segment_bytes: int = 1 << 20):
        self._segment_bytes = max(check_count(segment_bytes, "segment_bytes"), _ALIGN)
        self._lock = threading.RLock()
        n = 64
        self._set_table(_new_table(n))
        self._dtype: list = [None] * n
        self._shape: list = [None] * n
        self._free = list(range(n - 1, -1, -1))
        self._segments: dict[int, _Segment] = {}
        self._seg_live: dict[int, int] = {}       # live blocks per segment
        self._next_seg = 0
        self._current: _Segment | None = None
        self._current_id = -1
        self.compactions = 0
        self.moved_bytes = 0
        self.allocations = 0
        self.frees = 0
        self.allocated_bytes = 0
        self.freed_bytes = 0

    # -- table -----------------------------------------------------------------------------
    def _set_table(self, table: np.ndarray) -> None:
        # The table is HANDLE_SLOT records (framealloc.kernels.layout); the methods use a view per
        # field: segment id per slot, offset, bytes, pins, generation (odd: live).
        self._table = table
        self._seg, self._off, self._nbytes, self._pins, self._gen = (
            table[f] for f in ("seg", "off", "nbytes", "pins", "gen"))

    def _grow_table(self) -> None:
        n = self._seg.size
        self._set_table(np.concatenate([self._table, _new_table(n)]))
        self._dtype += [None] * n
        self._shape += [None] * n
        self._free = list(range(2 * n - 1, n - 1, -1)) + self._free

    def _slot(self, h) -> int:
        k = check_key(h)
        i = k & 0xFFFFFFFF
        if k < 0 or i >= self._gen.size or not self._gen[i] & 1 or self._gen[i] != k >> 32:
            raise StaleHandleError(f"handle {k} is stale (freed) or not from this handle heap",
                                   code="FA114")
        return i

    def _new_segment(self, nbytes: int) -> tuple[int, _Segment]:
        sid = self._next_seg
        self._next_seg += 1
        try:
            seg = _Segment(nbytes)
        except MemoryError:
            raise PoolExhaustedError(f"out of memory for a {nbytes}-byte handle segment",
                                     code="FA105") from None
        self._segments[sid] = seg
        self._seg_live[sid] = 0
        return sid, seg

    # -- API -------------------------------------------------------------------------------
    def alloc(self, shape, dtype=np.float64, *, zero: bool = False) -> int:
        """A block of ``shape``/``dtype``; returns its handle."""
        dt, isz, _ = resolve_dtype(dtype)
        dims, count = ((), 1) if shape == () else normalize_shape(shape)
        nbytes = check_nbytes(count, isz)
        size = _round(max(nbytes, 1))
        with self._lock:
            seg = self._current
            if seg is None or seg.sealed or seg.cursor + size > seg.buf.size:
                if seg is not None:
                    seg.sealed = True
                sid, seg = self._new_segment(max(self._segment_bytes, size))
                self._current = seg
                self._current_id = sid
            if not self._free:
                self._grow_table()
            i = self._free.pop()
            off = seg.cursor
            seg.cursor += size
            self._seg[i] = self._current_id
            self._seg_live[self._current_id] += 1
            self._off[i] = off
            self._nbytes[i] = nbytes
            self._pins[i] = 0
            self._gen[i] = (self._gen[i] + 1) & 0x7FFFFFFF
            self._dtype[i] = dt
            self._shape[i] = dims
            self.allocations += 1
            self.allocated_bytes += nbytes
            if zero:
                seg.buf[off:off + nbytes] = 0
            return (int(self._gen[i]) << 32) | i

    def resolve(self, h: int) -> np.ndarray:
        """The block's current view (valid until the next ``compact()`` unless pinned)."""
        with self._lock:
            i = self._slot(h)
            seg = self._segments[int(self._seg[i])]
            off, n = int(self._off[i]), int(self._nbytes[i])
            return seg.buf[off:off + n].view(self._dtype[i]).reshape(self._shape[i])

    def is_valid(self, h: int) -> bool:
        """Whether ``h`` is a live handle of this heap."""
        try:
            with self._lock:
                self._slot(h)
            return True
        except StaleHandleError:
            return False

    def pin(self, h: int) -> None:
        """Keep the block where it is during compactions until the matching ``unpin``."""
        with self._lock:
            self._pins[self._slot(h)] += 1

    def unpin(self, h: int) -> None:
        """Undo one ``pin`` (FA115 if not pinned)."""
        with self._lock:
            i = self._slot(h)
            if self._pins[i] == 0:
                raise HandleError(f"handle {h} is not pinned", code="FA115")
            self._pins[i] -= 1

    def is_pinned(self, h: int) -> bool:
        with self._lock:
            return bool(self._pins[self._slot(h)])

    def free(self, h: int) -> None:
        """End the handle (FA116 if pinned, FA114 if stale). Its bytes are reclaimed by the next
        ``compact()``; views resolved earlier stay valid memory."""
        with self._lock:
            i = self._slot(h)
            if self._pins[i]:
                raise HandleError(f"handle {h} is pinned; unpin it before freeing",
                                  code="FA116")
            self._gen[i] = (self._gen[i] + 1) & 0x7FFFFFFF
            self.freed_bytes += int(self._nbytes[i])
            self._unuse(int(self._seg[i]))
            self._seg[i] = -1
            self._dtype[i] = self._shape[i] = None
            self._free.append(i)
            self.frees += 1

    def _unuse(self, sid: int) -> None:
        """One block fewer in segment ``sid``; drop the segment when it is empty and sealed."""
        self._seg_live[sid] -= 1
        if self._seg_live[sid] == 0 and sid != self._current_id:
            del self._segments[sid]
            del self._seg_live[sid]

    def compact(self) -> int:
        """Move every unpinned live block into one new packed segment; returns bytes moved."""
        with self._lock:
            live = np.flatnonzero((self._gen & 1) == 1)
            movable = live[self._pins[live] == 0]
            sizes = [_round(max(int(self._nbytes[i]), 1)) for i in movable.tolist()]
            total = sum(sizes)
            moved = 0
            if total:
                sid, dst = self._new_segment(total)
                for i, size in zip(movable.tolist(), sizes):
                    old = int(self._seg[i])
                    src = self._segments[old]
                    off, n = int(self._off[i]), int(self._nbytes[i])
                    dst.buf[dst.cursor:dst.cursor + n] = src.buf[off:off + n]
                    self._seg[i] = sid
                    self._seg_live[sid] += 1
                    self._current_id = sid       # keeps ``old`` droppable, ``sid`` kept
                    self._unuse(old)
                    self._off[i] = dst.cursor
                    dst.cursor += size
                    moved += n
                dst.sealed = True
            for seg in self._segments.values():
                seg.sealed = True
            self._current, self._current_id = None, -1
            for sid in [k for k, v in self._seg_live.items() if v == 0]:
                del self._segments[sid]
                del self._seg_live[sid]
            self.compactions += 1
            self.moved_bytes += moved
            return moved

    def __len__(self) -> int:
        return int(((self._gen & 1) == 1).sum())

    def info(self) -> HandleHeapInfo:
        with self._lock:
            live = (self._gen & 1) == 1
            return HandleHeapInfo(
                live=int(live.sum()), bytes=int(self._nbytes[live].sum()),
                pinned=int((self._pins[live] > 0).sum()),
                reserved=sum(s.buf.size for s in self._segments.values()),
                segments=len(self._segments), compactions=self.compactions,
                moved_bytes=self.moved_bytes, allocations=self.allocations, frees=self.frees,
                allocated_bytes=self.allocated_bytes, freed_bytes=self.freed_bytes)


guard_closed(HandleHeap, ("info", "is_valid", "is_pinned"))
