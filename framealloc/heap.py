"""Tracked heap arrays: ordinary numpy arrays whose bytes the allocator counts until they are gone.

``heap_array(shape, dtype)`` (alias ``heap_vec``) and ``heap_box(value)`` return plain
``numpy.ndarray`` objects that own their memory. The allocator keeps a weak reference to each: the
bytes count in ``stats().heap.current`` until the array *and every view of it* are garbage
collected (numpy views keep the owning array alive), then move to ``freed``. Nothing is ever freed
under your feet: the heap is NumPy's own allocator, only counted.

Inside @njit code use ``np.empty``: arrays created there are not tracked.

>>> import numpy as np, framealloc as fa
>>> alloc = fa.SmartAlloc()
>>> a = alloc.heap_array((100, 3), np.float32)
>>> alloc.stats().heap.current
1200
>>> del a
>>> alloc.stats().heap.current, alloc.stats().heap.freed
(0, 1200)
"""
from __future__ import annotations

import collections
import threading
import weakref
from dataclasses import dataclass

import numpy as np

from ._dtypes import check_nbytes, normalize_shape, resolve_dtype
from .pool_codes import PoolExhaustedError

__all__ = ["HeapTracker", "HeapCounters"]


class _HeapRef(weakref.ref):
    __slots__ = ("nbytes", "on_free")


@dataclass(frozen=True)
class HeapCounters:
    """Snapshot of a :class:`HeapTracker`'s counters."""

    current: int
    peak: int
    allocated: int
    freed: int
    allocations: int
    current_allocations: int


class HeapTracker:
    """Counts numpy arrays it hands out until they are garbage-collected (thread-safe)."""

    def __init__(self):
        # current, peak, allocated, freed, allocations, frees (int64, shared with stats)
        self.counters = np.zeros(6, np.int64)
        self._lock = threading.RLock()
        self._pending: collections.deque = collections.deque()
        pending = self._pending
        self._on_dead = lambda ref, _p=pending: _p.append(ref)
        self._refs: dict[int, _HeapRef] = {}   # id(ref) -> ref (arrays are unhashable)

    def track(self, arr: np.ndarray, on_free=None) -> np.ndarray:
        """Count ``arr`` (an array owning its data) until it is collected; returns it.

        ``on_free(nbytes)`` is called (from a later tracker call) once it is gone."""
        ref = _HeapRef(arr, self._on_dead)
        ref.nbytes = int(arr.nbytes)
        ref.on_free = on_free
        with self._lock:
            self._drain()
            self._refs[id(ref)] = ref
            c = self.counters
            c[0] += ref.nbytes
            c[2] += ref.nbytes
            c[4] += 1
            if c[0] > c[1]:
                c[1] = c[0]
        return arr

    def array(self, shape, dtype=np.float64, *, zero: bool = False, on_free=None) -> np.ndarray:
        """A tracked ``np.empty``/``np.zeros`` (FA004/5/6 for bad shapes and dtypes, FA105 when
        the memory is not there)."""
        dt, isz, _ = resolve_dtype(dtype)
        if shape == ():
            dims, count = (), 1
        else:
            dims, count = normalize_shape(shape)
        check_nbytes(count, isz)
        try:
            arr = np.zeros(dims, dt) if zero else np.empty(dims, dt)
        except MemoryError:
            raise PoolExhaustedError(f"out of memory for a {count * isz}-byte heap array",
                                     code="FA105") from None
        return self.track(arr, on_free)

    def box(self, value, on_free=None) -> np.ndarray:
        """A tracked copy of a scalar, record or array (C order)."""
        src = np.asarray(value)
        resolve_dtype(src.dtype)
        out = self.array(src.shape, src.dtype, on_free=on_free)
        out[...] = src
        return out

    def _drain(self) -> None:
        pending = self._pending
        callbacks = []
        while pending:
            ref = pending.popleft()
            if self._refs.get(id(ref)) is ref:
                del self._refs[id(ref)]
                c = self.counters
                c[0] -= ref.nbytes
                c[3] += ref.nbytes
                c[5] += 1
                if ref.on_free is not None:
                    callbacks.append((ref.on_free, ref.nbytes))
        for fn, n in callbacks:
            fn(n)

    def snapshot(self) -> HeapCounters:
        """Current counters (collected arrays accounted first)."""
        with self._lock:
            self._drain()
            c = self.counters.tolist()
        return HeapCounters(current=c[0], peak=c[1], allocated=c[2], freed=c[3],
                            allocations=c[4], current_allocations=c[4] - c[5])
