"""Allocator statistics, in the PyTorch/CuPy vocabulary (current / peak / allocated / freed)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

__all__ = ["FrameStats", "ThreadFrameStats", "AllocStats", "PoolStats", "TypedPoolStats",
           "HeapStats", "GroupStats", "HandleStats", "StreamingStats"]


def _positions(rows: np.ndarray) -> np.ndarray:
    """Bytes consumed in each row's open frame (0 where no frame is open)."""
    return np.where(rows["frame_open"] != 0, rows["used_before"] + rows["cursor"], 0)


@dataclass(frozen=True)
class FrameStats:
    """Frame-arena counters summed over the rows they cover.

    Attributes
    ----------
    current: bytes in use by open frames (alignment padding included).
    peak: highest ``current`` each arena row reached, summed over rows (exact for one thread).
    allocated: bytes ever handed out by frames, rolled-back ones included.
    freed: ``allocated - current``: bytes released by end_frame and rollbacks.
    allocations: allocations ever made (``current_allocations`` in open frames).
    reserved: bytes of arena chunks held.
    chunks_grown: chunks added because a frame outgrew its chunk (incl. the end-of-frame resize).
    heap_fallbacks / heap_fallback_bytes: requests served by the "heap" policy.
    frames: frames begun (the most on any row).
    rollbacks: checkpoint rollbacks.
    """

    current: int = 0
    peak: int = 0
    allocated: int = 0
    freed: int = 0
    allocations: int = 0
    current_allocations: int = 0
    reserved: int = 0
    chunks_grown: int = 0
    heap_fallbacks: int = 0
    heap_fallback_bytes: int = 0
    frames: int = 0
    rollbacks: int = 0

    @classmethod
    def from_rows(cls, rows: np.ndarray) -> "FrameStats":
        pos = _positions(rows)
        open_counts = np.where(rows["frame_open"] != 0, rows["count"], 0)
        current = int(pos.sum())
        allocated = int(rows["allocated_total"].sum()) + current
        return cls(
            current=current,
            peak=int(np.maximum(rows["peak"], pos).sum()),
            allocated=allocated,
            freed=allocated - current,
            allocations=int(rows["count_total"].sum() + open_counts.sum()),
            current_allocations=int(open_counts.sum()),
            reserved=int(rows["reserved_bytes"].sum()),
            chunks_grown=int(rows["chunks_grown"].sum()),
            heap_fallbacks=int(rows["heap_fallbacks"].sum()),
            heap_fallback_bytes=int(rows["heap_fallback_bytes"].sum()),
            frames=int(rows["frame_number"].max()) if rows.size else 0,
            rollbacks=int(rows["rollbacks"].sum()),
        )


@dataclass(frozen=True)
class ThreadFrameStats:
    """Frame counters of one Python thread (its row plus its prange workers' rows)."""

    slot: int
    thread_id: int | None
    thread_name: str
    in_frame: bool
    frame_number: int
    frame: FrameStats

    @classmethod
    def from_rows(cls, slot: int, ident, name: str, rows: np.ndarray) -> "ThreadFrameStats":
        return cls(slot, ident, name, bool(rows["frame_open"][0]), int(rows["frame_number"][0]),
                   FrameStats.from_rows(rows))


@dataclass(frozen=True)
class PoolStats:
    """Size-class pools (``pool_alloc``, ``pool_box``, ``alloc.pools``); bytes are block bytes.

    Attributes
    ----------
    current / peak: bytes of blocks in use now / at most (peak summed over classes).
    allocated / freed: bytes of blocks ever handed out / given back.
    allocations / current_allocations: blocks ever handed out / in use now.
    reserved: bytes of pages held; pages / pages_trimmed: pages held / returned by ``trim()``.
    heap_fallbacks / heap_fallback_bytes: requests above the largest class (served by the heap,
    counted in ``heap``). deferred_frees: freed boxes whose block waits for a view to go.
    classes: per class ``{size, live, peak, acquired, pages}``.
    """

    current: int = 0
    peak: int = 0
    allocated: int = 0
    freed: int = 0
    allocations: int = 0
    current_allocations: int = 0
    reserved: int = 0
    pages: int = 0
    pages_trimmed: int = 0
    heap_fallbacks: int = 0
    heap_fallback_bytes: int = 0
    deferred_frees: int = 0
    classes: list = field(default_factory=list)


@dataclass(frozen=True)
class TypedPoolStats:
    """Typed pools made by ``alloc.typed_pool`` (closed ones included in the totals).

    current / peak: bytes of live records now / each pool's peak summed; allocated / freed:
    bytes of records acquired / released; allocations / current_allocations: records acquired
    ever / live now; reserved: bytes of storage held (records + generations + free stacks);
    capacity: slots held; grows: storage growths; pools: open pools; per_pool: their counters.
    """

    current: int = 0
    peak: int = 0
    allocated: int = 0
    freed: int = 0
    allocations: int = 0
    current_allocations: int = 0
    reserved: int = 0
    capacity: int = 0
    grows: int = 0
    pools: int = 0
    per_pool: list = field(default_factory=list)


@dataclass(frozen=True)
class HeapStats:
    """Tracked heap arrays (``heap_array``/``heap_vec``/``heap_box``, groups, pool fallbacks):
    bytes count until the array and all its views are garbage-collected."""

    current: int = 0
    peak: int = 0
    allocated: int = 0
    freed: int = 0
    allocations: int = 0
    current_allocations: int = 0


@dataclass(frozen=True)
class GroupStats:
    """Allocation groups: groups alive, their arrays and bytes (also counted in ``heap``)."""

    groups: int = 0
    created: int = 0
    freed_groups: int = 0
    allocations: int = 0
    current: int = 0
    freed: int = 0


@dataclass(frozen=True)
class HandleStats:
    """Relocatable handles (``alloc.handles``)."""

    live: int = 0
    current: int = 0
    pinned: int = 0
    reserved: int = 0
    segments: int = 0
    compactions: int = 0
    moved_bytes: int = 0
    allocations: int = 0
    frees: int = 0


@dataclass(frozen=True)
class StreamingStats:
    """Streaming allocators of this SmartAlloc, summed: budget, bytes reserved now (current),
    peak (summed per allocator), evictions."""

    allocators: int = 0
    budget: int = 0
    current: int = 0
    peak: int = 0
    allocated: int = 0
    assets: int = 0
    ready: int = 0
    evictions: int = 0
    evicted_bytes: int = 0


@dataclass(frozen=True)
class AllocStats:
    """What :meth:`SmartAlloc.stats` returns; ``to_dict()`` is JSON-serialisable.

    Sections per kind (``frame``, ``pool``, ``typed_pools``, ``heap``, ``scratch``, ``groups``,
    ``handles``, ``streaming``), per thread (``threads``), per tag (``tags``: path ->
    :class:`~framealloc.TagStats`), per phase (``phases``), budgets (``budgets``: name ->
    :class:`~framealloc.BudgetStats`, ``budget_events``, ``num_budget_hits`` hard refusals,
    ``num_soft_budget_events``) and ``num_ooms`` (frame allocations refused for want of memory).
    """

    frame: FrameStats
    threads: list = field(default_factory=list)
    pool: PoolStats = field(default_factory=PoolStats)
    typed_pools: TypedPoolStats = field(default_factory=TypedPoolStats)
    heap: HeapStats = field(default_factory=HeapStats)
    groups: GroupStats = field(default_factory=GroupStats)
    handles: HandleStats = field(default_factory=HandleStats)
    streaming: StreamingStats = field(default_factory=StreamingStats)
    scratch: Any = None
    scratch_pools: dict = field(default_factory=dict)
    tags: dict = field(default_factory=dict)
    phases: dict = field(default_factory=dict)
    budgets: dict = field(default_factory=dict)
    budget_events: list = field(default_factory=list)
    num_budget_hits: int = 0
    num_soft_budget_events: int = 0
    num_ooms: int = 0

    @property
    def total_current(self) -> int:
        """Bytes in live allocations now (PyTorch's "allocated" sense): open frames, pool blocks,
        live typed-pool records, tracked heap arrays, live handles and streaming reservations.
        It falls when frames end and when memory is freed."""
        return (self.frame.current + self.pool.current + self.typed_pools.current
                + self.heap.current + self.handles.current + self.streaming.current
                + getattr(self.scratch, "current", 0))

    @property
    def total_reserved(self) -> int:
        """Bytes of CPU memory the allocator holds (PyTorch's "reserved"): frame chunks, pool
        pages, typed-pool storage, live heap arrays, handle segments and streaming reservations
        (frame heap fallbacks are not tracked after release)."""
        return (self.frame.reserved + self.pool.reserved + self.typed_pools.reserved
                + self.heap.current + self.handles.reserved + self.streaming.current)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["total_current"] = self.total_current
        d["total_reserved"] = self.total_reserved
        return d
