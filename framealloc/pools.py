"""Pools, typed pools, heap arrays, groups, handles and streaming (the pool part of SmartAlloc).

Memory that outlives frames. Each feature lives in its own module; this part holds one
allocator's objects of the family, creates them on first use and implements SmartAlloc's
methods for them (nothing here imports numba until a pool needs
its kernels):

========================  =========================================  ==========================
method                    module                                     @njit
========================  =========================================  ==========================
``pool_alloc/pool_box``   :mod:`framealloc.pool` (PoolBox)           ``alloc.pools`` slot keys
``pools``                 :mod:`framealloc.pool` (SizeClassPools)    yes: acquire/release/view
``typed_pool``            :mod:`framealloc.typed_pool` (TypedPool)   yes: every method
``heap_array/heap_box``   :mod:`framealloc.heap`                     no (use ``np.empty``)
``create_group`` ...      :mod:`framealloc.groups`                   no (pass the arrays)
``handles``, ``compact``  :mod:`framealloc.handles`                  no (pass resolved views)
``streaming``             :mod:`framealloc.streaming`                no (pass ``access()`` views)
========================  =========================================  ==========================

Tags and budgets (:mod:`framealloc.tags`): size-class blocks and typed-pool records are kind
``"pool"`` (the block size / the itemsize), tracked heap arrays (``heap_*``, groups, ``pool_alloc``
heap fallbacks) kind ``"heap"`` (their ``nbytes``). Each is charged to the calling thread's tag and
budgets when it is taken (FA154 from a hard budget, nothing taken) and given back to that same tag
when it is freed, from any thread. Handles and streaming allocators are not tracked heap memory
and are not charged.
"""
from __future__ import annotations

import threading
import weakref
from dataclasses import asdict
from typing import Callable

import numpy as np

from .kernels.layout import (
    TR_ACQUIRED,
    TR_ACQUIRED_BYTES,
    TR_GROWS,
    TR_PEAK_BYTES,
    TYPED_RETIRED_DTYPE,
    new_counters,
)
from ._hooks import AllocPart

__all__ = ["PoolsPart"]

_init_lock = threading.Lock()


class _PoolState:
    """Per-SmartAlloc state of the pool family (created on first use)."""

    def __init__(self, alloc):
        from .groups import GroupRegistry
        from .heap import HeapTracker
        from .pool import SizeClassPools

        cfg = alloc.config
        # Each charges the allocator's tags and budgets (it holds the allocator weakly).
        self.heap = HeapTracker(alloc)
        self.pools = SizeClassPools(cfg.pool_size_classes, cfg.pool_page_size, owner=alloc._id,
                                    heap=self.heap, alloc=alloc)
        self.groups = GroupRegistry(self.heap)
        self.handles = None
        self.typed: list = []                   # weak references to TypedPools
        # The int64 words of a TYPED_RETIRED record: counters of the closed typed pools.
        self.typed_retired = new_counters(TYPED_RETIRED_DTYPE)
        self.streams: weakref.WeakSet = weakref.WeakSet()
        self.lock = threading.Lock()


class PoolsPart(AllocPart):
    """The pool family of one SmartAlloc (``alloc._pool_part``): size-class pools, typed pools,
    tracked heap, groups, handles, streaming allocators.

    State: a ``_PoolState`` made on first use (:meth:`state`); each object in it holds the
    allocator weakly and charges its tags and budgets through ``alloc._org_charge`` /
    ``_org_release``. Events: ``on_close`` closes the size-class pools and typed pools (each
    releases its memory when no compiled call uses it any more). Stats: :meth:`sections` (also
    read by the org part for the live pool and heap bytes).
    """

    def __init__(self, owner):
        self._owner = owner         # weak reference to the SmartAlloc
        self._st: _PoolState | None = None

    def state(self) -> _PoolState:
        """The family's objects (``pools``, ``heap``, ``groups``, ``handles``, ``typed``,
        ``streams``), made on first use."""
        st = self._st
        if st is None:
            with _init_lock:
                st = self._st
                if st is None:
                    st = self._st = _PoolState(self._owner())
        return st

    # -- size-class pools --------------------------------------------------------------------
    def pools(self):
        """The size-class pools (:class:`~framealloc.SizeClassPools`); pass them into @njit
        code for slot-level ``acquire(nbytes)`` / ``view(key, dtype, n)`` / ``release(key)``.

        >>> import numpy as np, framealloc as fa
        >>> alloc = fa.SmartAlloc()
        >>> alloc.pools.size_classes[:3]
        (16, 32, 64)
        """
        return (self._st or self.state()).pools

    def pool_alloc(self, dtype=np.float64, shape=(), *, zero: bool = False):
        """A :class:`~framealloc.PoolBox` holding an array of ``shape``/``dtype`` (one element
        by default) in the smallest size class that fits; beyond the largest class (4 KiB by
        default) the array comes from the tracked heap instead.

        >>> import numpy as np, framealloc as fa
        >>> alloc = fa.SmartAlloc()
        >>> box = alloc.pool_alloc(np.float32, 10, zero=True)
        >>> box.array.shape, box.size_class, float(box.array.sum())
        ((10,), 64, 0.0)
        >>> box.free()
        """
        return (self._st or self.state()).pools.box(dtype, shape, zero)

    def pool_box(self, value):
        """A :class:`~framealloc.PoolBox` holding a copy of a scalar, record or array.

        >>> import numpy as np, framealloc as fa
        >>> alloc = fa.SmartAlloc()
        >>> with alloc.pool_box(np.float64(2.5)) as b:
        ...     float(b.array)
        2.5
        """
        from ._dtypes import box_source

        src = box_source(value)
        box = (self._st or self.state()).pools.box(src.dtype, src.shape)
        box.array[...] = src
        return box

    def pool_free(self, box) -> None:
        """Free a PoolBox of this allocator (FA102 for another allocator's, FA101 if freed)."""
        from .pool import PoolBox
        from .errors import ForeignFreeError

        if not isinstance(box, PoolBox) or box._pools is not self.state().pools:
            raise ForeignFreeError("this PoolBox belongs to another allocator; free it with "
                                   "box.free() or its own SmartAlloc", code="FA102")
        box.free()

    def trim(self) -> int:
        """Give empty size-class pages back; returns the bytes released."""
        return self.state().pools.trim()

    # -- typed pools -------------------------------------------------------------------------
    def typed_pool(self, dtype, capacity: int = 1024, *, policy: str = "grow", name: str = ""):
        """A :class:`~framealloc.TypedPool` of ``capacity`` records, counted in ``stats()``.

        >>> import numpy as np, framealloc as fa
        >>> P = np.dtype([("pos", "f4", 3), ("life", "f4")])
        >>> alloc = fa.SmartAlloc()
        >>> pool = alloc.typed_pool(P, 100)
        >>> i = pool.acquire(); alloc.stats().typed_pools.current_allocations
        1
        """
        from .typed_pool import TypedPool

        st = self.state()
        pool = TypedPool(dtype, capacity, policy=policy, name=name, _retired=st.typed_retired,
                         _owner=self._owner())
        with st.lock:
            st.typed = [r for r in st.typed if r() is not None]
            st.typed.append(weakref.ref(pool))
        return pool

    # -- what the behaviour filter reads ------------------------------------------------------
    def short_box_streak(self, tid: int) -> tuple[int, int]:
        """FA511's counter for thread ``tid``: ``(last frame in which a pool box made in that
        frame was freed, frames in a row that did so)``; ``(-1, 0)`` without pools."""
        st = self._st
        return (-1, 0) if st is None else st.pools._short_box_streak(tid)

    def typed_pools(self) -> list:
        """The open typed pools this allocator made."""
        st = self._st
        if st is None:
            return []
        return [p for p in (r() for r in list(st.typed)) if p is not None and not p.closed]

    # -- heap --------------------------------------------------------------------------------
    def heap_array(self, shape, dtype=np.float64, *, zero: bool = False) -> np.ndarray:
        """A tracked ``np.empty(shape, dtype)`` (``zero=True``: ``np.zeros``): counted in
        ``stats().heap`` until it and its views are garbage-collected."""
        return (self._st or self.state()).heap.array(shape, dtype, zero=zero)

    def heap_vec(self, shape, dtype=np.float64, *, zero: bool = False) -> np.ndarray:
        """Alias of :meth:`heap_array`."""
        return (self._st or self.state()).heap.array(shape, dtype, zero=zero)

    def heap_box(self, value) -> np.ndarray:
        """A tracked heap copy of a scalar, record or array.

        >>> import numpy as np, framealloc as fa
        >>> alloc = fa.SmartAlloc()
        >>> b = alloc.heap_box([1, 2, 3]); b.tolist(), alloc.stats().heap.current
        ([1, 2, 3], 24)
        """
        return (self._st or self.state()).heap.box(value)

    # -- groups ------------------------------------------------------------------------------
    def create_group(self, name: str = "") -> int:
        """A new allocation group id (see :mod:`framealloc.groups`)."""
        return self.state().groups.create(name)

    def group_alloc(self, group: int, shape, dtype=np.float64, *, zero: bool = False) -> np.ndarray:
        """A tracked heap array owned by ``group`` (FA112 unknown, FA113 freed group)."""
        return self.state().groups.alloc(group, shape, dtype, zero=zero)

    def group_box(self, group: int, value) -> np.ndarray:
        """A tracked heap copy of ``value`` owned by ``group``."""
        return self.state().groups.box(group, value)

    def free_group(self, group: int) -> int:
        """Drop every array of ``group`` at once; returns the bytes it held."""
        return self.state().groups.free(group)

    def group_stats(self, group: int):
        """:class:`~framealloc.groups.GroupInfo` of one group."""
        return self.state().groups.info(group)

    # -- relocatable handles -----------------------------------------------------------------
    def handles(self):
        """This allocator's :class:`~framealloc.HandleHeap` of relocatable blocks."""
        st = self.state()
        if st.handles is None:
            from .handles import HandleHeap

            with st.lock:
                if st.handles is None:
                    st.handles = HandleHeap()._link_owner(self._owner())
        return st.handles

    def compact(self) -> int:
        """Compact the relocatable handles (``alloc.handles.compact()``); returns bytes moved."""
        return self.handles().compact()

    # -- streaming ---------------------------------------------------------------------------
    def streaming(self, budget: int, *, on_evict: Callable[[int], None] | None = None,
                  name: str = ""):
        """A :class:`~framealloc.StreamingAllocator` of ``budget`` bytes, counted in stats."""
        from .streaming import StreamingAllocator

        s = StreamingAllocator(budget, on_evict=on_evict, name=name)._link_owner(self._owner())
        st = self.state()
        with st.lock:
            st.streams.add(s)
        return s

    # -- stats -------------------------------------------------------------------------------
    def sections(self) -> dict:
        """The pool-family sections of :class:`~framealloc.AllocStats` (empty until used)."""
        from .stats import (
            GroupStats,
            HandleStats,
            HeapStats,
            PoolStats,
            StreamingStats,
            TypedPoolStats,
        )

        st = self._st
        if st is None:
            return {}
        pools = st.pools
        infos = pools.info()
        cur = sum(i.live * i.size for i in infos)
        alloc_b = sum(i.acquired * i.size for i in infos)
        pool = PoolStats(
            current=cur, peak=sum(i.peak * i.size for i in infos), allocated=alloc_b,
            freed=alloc_b - cur, allocations=sum(i.acquired for i in infos),
            current_allocations=sum(i.live for i in infos),
            reserved=sum(i.pages * i.page_bytes for i in infos),
            pages=sum(i.pages for i in infos), pages_trimmed=sum(i.pages_trimmed for i in infos),
            heap_fallbacks=pools.heap_fallbacks, heap_fallback_bytes=pools.heap_fallback_bytes,
            deferred_frees=pools.deferred_frees,
            classes=[{"size": i.size, "live": i.live, "peak": i.peak, "acquired": i.acquired,
                      "pages": i.pages} for i in infos])

        with st.lock:
            live_pools = [p for p in (r() for r in st.typed) if p is not None and not p.closed]
        tinfo = [p.info() for p in live_pools]
        isz = [p.dtype.itemsize for p in live_pools]
        r = st.typed_retired.tolist()
        tcur = sum(i.live * s for i, s in zip(tinfo, isz))
        talloc = sum(i.acquired * s for i, s in zip(tinfo, isz)) + r[TR_ACQUIRED_BYTES]
        typed = TypedPoolStats(
            current=tcur, peak=sum(i.peak * s for i, s in zip(tinfo, isz)) + r[TR_PEAK_BYTES],
            allocated=talloc, freed=talloc - tcur,
            allocations=sum(i.acquired for i in tinfo) + r[TR_ACQUIRED],
            current_allocations=sum(i.live for i in tinfo),
            reserved=sum(i.reserved for i in tinfo), capacity=sum(i.capacity for i in tinfo),
            grows=sum(i.grows for i in tinfo) + r[TR_GROWS], pools=len(tinfo),
            per_pool=[asdict(i) for i in tinfo])

        h = st.heap.snapshot()
        heap = HeapStats(current=h.current, peak=h.peak, allocated=h.allocated, freed=h.freed,
                         allocations=h.allocations, current_allocations=h.current_allocations)

        g = st.groups
        live_groups = g.live()
        held = sum(i.bytes for i in live_groups)
        groups = GroupStats(groups=len(live_groups), created=g.created,
                            freed_groups=g.freed_groups,
                            allocations=sum(i.allocations for i in live_groups), current=held,
                            freed=g.freed_bytes)

        handles = HandleStats()
        if st.handles is not None:
            hi = st.handles.info()
            handles = HandleStats(live=hi.live, current=hi.bytes, pinned=hi.pinned,
                                  reserved=hi.reserved, segments=hi.segments,
                                  compactions=hi.compactions, moved_bytes=hi.moved_bytes,
                                  allocations=hi.allocations, frees=hi.frees,
                                  allocated=hi.allocated_bytes, freed=hi.freed_bytes)

        sinfo = [s.info() for s in list(st.streams)]
        streaming = StreamingStats(
            allocators=len(sinfo), budget=sum(i.budget for i in sinfo),
            current=sum(i.used for i in sinfo), peak=sum(i.peak for i in sinfo),
            allocated=sum(i.reserved_total for i in sinfo), assets=sum(i.assets for i in sinfo),
            ready=sum(i.ready for i in sinfo), evictions=sum(i.evictions for i in sinfo),
            evicted_bytes=sum(i.evicted_bytes for i in sinfo))
        return dict(pool=pool, typed_pools=typed, heap=heap, groups=groups, handles=handles,
                    streaming=streaming)

    def on_close(self) -> None:
        """Release the size-class pages and typed-pool storage now (for ``close()``)."""
        st = self._st
        if st is None:
            return
        st.pools._close("FA015")
        for r in st.typed:
            p = r()
            if p is not None:
                p._close("FA015")
