"""Tracked heap arrays: ordinary numpy arrays whose bytes the allocator counts until they are gone.

``heap_array(shape, dtype)`` (alias ``heap_vec``) and ``heap_box(value)`` return plain
``numpy.ndarray`` objects that own their memory. The allocator keeps a weak reference to each: the
bytes count in ``stats().heap.current`` until the array *and every view of it* are garbage
collected (numpy views keep the owning array alive), then move to ``freed``. Nothing is ever freed
under your feet: the heap is NumPy's own allocator, only counted.

Inside @njit code use ``np.empty``: arrays created there are not tracked.

Tags and budgets: the tracker of a SmartAlloc charges each array's ``nbytes`` (kind ``"heap"``) to
the calling thread's current tag and the budgets over it *before* allocating it (a hard budget
raises :class:`~framealloc.BudgetExceededError` FA154, nothing allocated), and gives them back to
that tag when the array is collected, whichever thread notices it. Heap arrays, ``heap_box``,
group allocations, ``pool_alloc`` heap fallbacks and retention promotions all come through here.

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
from typing import Callable
from dataclasses import dataclass

import numpy as np

from ._dtypes import box_source, check_nbytes, normalize_shape, resolve_dtype
from .kernels.layout import (
    HC_ALLOCATED as _ALLOC,
    HC_ALLOCATIONS as _N,
    HC_CURRENT as _CUR,
    HC_FREED as _FREED,
    HC_FREES as _FREES,
    HC_PEAK as _PEAK,
    HEAP_COUNTERS_DTYPE,
    KIND_HEAP,
    new_counters,
)
from .errors import PoolExhaustedError
from .tags import charge_take
from .typed_pool import org_owner

__all__ = ["HeapTracker", "HeapCounters"]


class _HeapRef(weakref.ref):
    __slots__ = ("nbytes", "on_free", "tag")   # tag: charged to (-1: nothing charged)
    nbytes: int
    on_free: Callable[[int], object] | None
    tag: int


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
    """Counts numpy arrays it hands out until they are garbage-collected (thread-safe).

    ``alloc``: the SmartAlloc whose tags and budgets the arrays are charged to (held weakly);
    None: only counted."""

    def __init__(self, alloc=None):
        # current, peak, allocated, freed, allocations, frees (int64, shared with stats)
        self.counters = new_counters(HEAP_COUNTERS_DTYPE)   # int64 words of the record
        self._lock = threading.RLock()
        self._pending: collections.deque[_HeapRef] = collections.deque()
        pending = self._pending
        self._on_dead = lambda ref, _p=pending: _p.append(ref)
        self._refs: dict[int, _HeapRef] = {}   # id(ref) -> ref (arrays are unhashable)
        self._owner_ref = weakref.ref(alloc) if alloc is not None else None

    def _charger(self):
        """The open allocator to charge (arrays already collected leave the budgets first), or
        None."""
        a = org_owner(self._owner_ref)
        if a is not None and self._pending:
            with self._lock:
                self._drain()
        return a

    def _uncharge(self, tag: int, nbytes: int) -> None:
        if tag >= 0:
            a = self._owner_ref()
            if a is not None:
                a._org_release(KIND_HEAP, tag, nbytes)

    def track(self, arr: np.ndarray, on_free=None) -> np.ndarray:
        """Count ``arr`` (an array owning its data) until it is collected; returns it.

        ``on_free(nbytes)`` is called (from a later tracker call) once it is gone. Its bytes are
        charged to the current tag and budgets (FA154 when a hard budget refuses: not tracked)."""
        a = self._charger()
        if a is None:
            return self._track(-1, (arr, on_free))
        return charge_take(a, KIND_HEAP, int(arr.nbytes), False, self._track, (arr, on_free))

    def _track(self, tag: int, arg) -> np.ndarray:
        """Count ``arr`` charged to ``tag`` (-1: none); ``arg``: ``(arr, on_free)``."""
        arr, on_free = arg
        ref = _HeapRef(arr, self._on_dead)
        ref.nbytes = int(arr.nbytes)
        ref.on_free = on_free
        ref.tag = tag
        with self._lock:
            self._drain()
            self._refs[id(ref)] = ref
            c = self.counters
            c[_CUR] += ref.nbytes
            c[_ALLOC] += ref.nbytes
            c[_N] += 1
            if c[_CUR] > c[_PEAK]:
                c[_PEAK] = c[_CUR]
        return arr

    def array(self, shape, dtype=np.float64, *, zero: bool = False, on_free=None) -> np.ndarray:
        """A tracked ``np.empty``/``np.zeros`` (FA004/5/6 for bad shapes and dtypes, FA105 when
        the memory is not there)."""
        dt, isz, _ = resolve_dtype(dtype)
        dims: tuple[int, ...]
        if shape == ():
            dims, count = (), 1
        else:
            dims, count = normalize_shape(shape)
        nbytes = check_nbytes(count, isz)
        a = self._charger()
        if a is None:
            return self._new(-1, (dims, dt, zero, on_free, nbytes))
        return charge_take(a, KIND_HEAP, nbytes, False, self._new,
                           (dims, dt, zero, on_free, nbytes))

    def _new(self, tag: int, arg) -> np.ndarray:
        """A new tracked array charged to ``tag`` (-1: none; ``arg``: ``(dims, dtype, zero,
        on_free, nbytes)``); FA105 when the memory is not there."""
        dims, dt, zero, on_free, nbytes = arg
        try:
            arr = np.zeros(dims, dt) if zero else np.empty(dims, dt)
        except MemoryError:
            raise PoolExhaustedError(f"out of memory for a {nbytes}-byte heap array",
                                     code="FA105") from None
        return self._track(tag, (arr, on_free))

    def box(self, value, on_free=None) -> np.ndarray:
        """A tracked copy of a scalar, record or array (C order)."""
        src = box_source(value)
        resolve_dtype(src.dtype)
        out = self.array(src.shape, src.dtype, on_free=on_free)
        out[...] = src
        return out

    def _drain(self) -> None:
        pending = self._pending
        callbacks = []
        charged = []
        while pending:
            ref = pending.popleft()
            if self._refs.get(id(ref)) is ref:
                del self._refs[id(ref)]
                c = self.counters
                c[_CUR] -= ref.nbytes
                c[_FREED] += ref.nbytes
                c[_FREES] += 1
                if ref.tag >= 0:
                    charged.append((ref.tag, ref.nbytes))
                if ref.on_free is not None:
                    callbacks.append((ref.on_free, ref.nbytes))
        for tag, n in charged:
            self._uncharge(tag, n)
        for fn, n in callbacks:
            fn(n)

    def snapshot(self) -> HeapCounters:
        """Current counters (collected arrays accounted first)."""
        with self._lock:
            self._drain()
            c = self.counters.tolist()
        return HeapCounters(current=c[_CUR], peak=c[_PEAK], allocated=c[_ALLOC], freed=c[_FREED],
                            allocations=c[_N], current_allocations=c[_N] - c[_FREES])
