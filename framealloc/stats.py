"""Allocator statistics, in the PyTorch/CuPy vocabulary (current / peak / allocated / freed)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import ClassVar, Iterable

import numpy as np

from .scratch import ScratchStats

__all__ = ["FrameStats", "ThreadFrameStats", "AllocStats", "PoolStats", "TypedPoolStats",
           "HeapStats", "GroupStats", "HandleStats", "StreamingStats"]


def _positions(rows: np.ndarray) -> np.ndarray:
    """Bytes consumed in each row's open frame (0 where no frame is open)."""
    return np.where(rows["frame_open"] != 0, rows["used_before"] + rows["cursor"], 0)


@dataclass(frozen=True)
class FrameStats:
    """Frame-arena counters of one thread, of the ended threads, or of all of them (summed).

    Attributes
    ----------
    current: bytes in use by open frames (alignment padding included).
    peak: highest ``current`` each arena row reached, summed over the live threads' rows (the
        rows may have peaked at different times); for the ended threads, the highest any one of
        their rows reached.
    allocated: bytes ever handed out by frames, rolled-back ones included.
    freed: ``allocated - current``: bytes released by end_frame, rollbacks and ended threads.
    allocations: allocations ever made (``current_allocations`` in open frames).
    reserved: bytes of arena chunks held.
    chunks_grown: chunks added because a frame outgrew its chunk (incl. the end-of-frame resize).
    heap_fallbacks / heap_fallback_bytes: requests served by the "heap" policy.
    frames_ended: frames ended, summed over threads (ended threads included): by ``end_frame``,
        or released because their thread ended with the frame open. A thread's own count is
        :attr:`ThreadFrameStats.frame_number` (``alloc.frame_number`` on that thread).
    frames_open: frames open now (one at most per thread), so frames begun is
        ``frames_ended + frames_open``.
    rollbacks: checkpoint rollbacks.

    Every field is a sum over threads: ``stats().frame`` is the sum of the ``frame`` of each
    entry of ``stats().threads``.

    >>> import framealloc as fa
    >>> alloc = fa.SmartAlloc()
    >>> for _ in range(3):
    ...     with alloc.frame():
    ...         _ = alloc.frame_array(10)
    >>> alloc.begin_frame()
    >>> f = alloc.stats().frame
    >>> f.frames_ended, f.frames_open, f.allocated, f.freed
    (3, 1, 240, 240)
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
    frames_ended: int = 0
    frames_open: int = 0
    rollbacks: int = 0

    @classmethod
    def from_rows(cls, rows: np.ndarray) -> "FrameStats":
        """The counters of one thread slot's worker rows (or of the ended threads' row).

        Every worker row of a slot counts each frame, so frames are read from the first row.
        """
        pos = _positions(rows)
        open_counts = np.where(rows["frame_open"] != 0, rows["count"], 0)
        current = int(pos.sum())
        allocated = int(rows["allocated_total"].sum()) + current
        frames_open = int(rows["frame_open"][0] != 0) if rows.size else 0
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
            frames_ended=int(rows["frame_number"][0]) - frames_open if rows.size else 0,
            frames_open=frames_open,
            rollbacks=int(rows["rollbacks"].sum()),
        )

    @classmethod
    def total(cls, parts: Iterable["FrameStats"]) -> "FrameStats":
        """Every counter summed over ``parts`` (the threads' sections).

        >>> t = FrameStats.total([FrameStats(current=8, frames_ended=2),
        ...                       FrameStats(frames_ended=1, frames_open=1)])
        >>> t.current, t.frames_ended, t.frames_open
        (8, 3, 1)
        """
        parts = list(parts)
        return cls(**{f.name: sum(getattr(p, f.name) for p in parts) for f in fields(cls)})


@dataclass(frozen=True)
class ThreadFrameStats:
    """Frame counters of one Python thread (its row plus its prange workers' rows), or of every
    thread that has ended (``ended=True``).

    Ended threads keep their place in the totals: when a thread ends, its slot is given back for
    reuse and its counters move into one entry with ``ended=True``, ``slot`` and ``thread_id``
    None and ``threads`` the number of threads that ended (it appears once a thread has ended).
    So summing ``frame`` over ``stats().threads`` gives ``stats().frame``, and summing
    ``frame_number`` gives the frames begun on every thread.

    Attributes
    ----------
    slot: the thread's slot (None for the ended threads).
    thread_id: ``threading.get_ident()`` of the thread (None for the ended threads).
    thread_name: the thread's name (``"<ended threads>"``).
    in_frame: whether the thread has a frame open.
    frame_number: frames begun on the thread (``alloc.frame_number`` there; for the ended
        threads, the sum of theirs).
    frame: the thread's :class:`FrameStats`.
    ended: True for the entry of the ended threads.
    threads: threads the entry covers (1 for a live thread).

    >>> import threading, framealloc as fa
    >>> alloc = fa.SmartAlloc()
    >>> def work():
    ...     with alloc.frame():
    ...         _ = alloc.frame_array(4)
    >>> t = threading.Thread(target=work); t.start(); t.join()
    >>> with alloc.frame():
    ...     _ = alloc.frame_array(2)
    >>> [(e.ended, e.threads, e.frame_number, e.frame.allocated) for e in alloc.stats().threads]
    [(False, 1, 1, 16), (True, 1, 1, 32)]
    """

    slot: int | None
    thread_id: int | None
    thread_name: str
    in_frame: bool
    frame_number: int
    frame: FrameStats
    ended: bool = False
    threads: int = 1

    @classmethod
    def from_rows(cls, slot: int, ident, name: str, rows: np.ndarray) -> "ThreadFrameStats":
        return cls(slot, ident, name, bool(rows["frame_open"][0]), int(rows["frame_number"][0]),
                   FrameStats.from_rows(rows))

    @classmethod
    def from_retired(cls, retired: np.ndarray, threads: int) -> "ThreadFrameStats":
        """The entry of the ``threads`` ended threads, from the row their counters moved to."""
        frame = FrameStats.from_rows(retired)
        return cls(None, None, "<ended threads>", False, frame.frames_ended, frame, ended=True,
                   threads=threads)


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
    bytes count until the array and all its views are garbage-collected.

    ``reserved`` (derived, not an argument) is ``current``: a live heap array holds its bytes.
    """

    current: int = 0
    peak: int = 0
    allocated: int = 0
    freed: int = 0
    allocations: int = 0
    current_allocations: int = 0
    reserved: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "reserved", self.current)


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
    """Relocatable handles (``alloc.handles``).

    live / pinned: live handles / pinned ones; current: their bytes; allocated / freed: bytes of
    handles ever allocated / freed (``allocated - freed == current``); reserved: bytes of the
    segments held (freed blocks stay there until ``compact()``); segments, compactions,
    moved_bytes (by compactions), allocations and frees (handles).
    """

    live: int = 0
    current: int = 0
    pinned: int = 0
    reserved: int = 0
    segments: int = 0
    compactions: int = 0
    moved_bytes: int = 0
    allocations: int = 0
    frees: int = 0
    allocated: int = 0
    freed: int = 0


@dataclass(frozen=True)
class StreamingStats:
    """Streaming allocators of this SmartAlloc, summed: budget, bytes of the assets held now
    (current), peak (summed per allocator), bytes ever reserved for assets (allocated), evictions.

    Derived (not arguments): ``freed`` is ``allocated - current`` (bytes of evicted and released
    assets) and ``reserved`` is ``current`` (the assets' buffers are the memory held).
    """

    allocators: int = 0
    budget: int = 0
    current: int = 0
    peak: int = 0
    allocated: int = 0
    assets: int = 0
    ready: int = 0
    evictions: int = 0
    evicted_bytes: int = 0
    freed: int = field(init=False, default=0)
    reserved: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "freed", self.allocated - self.current)
        object.__setattr__(self, "reserved", self.current)


@dataclass(frozen=True)
class TransparentStats:
    """Counters of one thread's transparent allocations (while its scopes were open).

    ``served``/``served_bytes``: allocations carved from chunks; ``large``: requests above the
    threshold; ``outside``: requests while no frame was open (both went to numba's allocator);
    ``chunks_new``: chunks taken; ``rewinds``: times a chunk with nothing alive was reused from
    its start; ``retired_live``: chunks let go while arrays in them were still alive (they are
    freed by the last of those arrays); ``nomem``: chunk allocations that failed; ``numpy``: of
    ``served``, the allocations made by NumPy's handler (``numpy=True`` scopes);
    ``over_budget``: requests a hard budget over the allocator's frame memory refused (they went
    to numba's allocator, or libc's for NumPy; the budget counts a hard hit).
    """

    served: int = 0
    served_bytes: int = 0
    large: int = 0
    outside: int = 0
    chunks_new: int = 0
    rewinds: int = 0
    retired_live: int = 0
    nomem: int = 0
    numpy: int = 0
    over_budget: int = 0


@dataclass(frozen=True)
class AllocStats:
    """What :meth:`SmartAlloc.stats` returns; ``to_dict()`` is JSON-serialisable.

    Sections per kind of memory (:attr:`KINDS`: ``frame``, ``pool``, ``typed_pools``, ``heap``,
    ``scratch``, ``handles``, ``streaming``; every byte is counted in exactly one of them), views
    of bytes a kind already counts (:attr:`VIEWS`: ``groups``, whose arrays are heap arrays), per
    thread (``threads``: a :class:`ThreadFrameStats` per live thread plus one for the threads that
    ended, so they sum to ``frame``), per scratch pool (``scratch_pools``), per tag (``tags``:
    path -> :class:`~framealloc.TagStats`), per phase (``phases``), budgets (``budgets``: name ->
    :class:`~framealloc.BudgetStats`, ``budget_events``, ``num_budget_hits`` hard refusals,
    ``num_soft_budget_events``), ``num_ooms`` (frame allocations refused for want of memory) and
    ``transparent`` (a :class:`TransparentStats`: the counters of the
    ``fa.transparent(alloc)`` scopes over this allocator, every thread, open scopes included; not
    a kind: those arrays live in the mode's own chunks, and tags and budgets do not see them).

    The totals ``total_current``, ``total_reserved``, ``total_allocated`` and ``total_freed``
    are the sums of that field over every kind section (each kind has all four fields).

    >>> import numpy as np, framealloc as fa
    >>> alloc = fa.SmartAlloc()
    >>> box = alloc.pool_alloc(np.float64, 2)                    # a 16-byte pool block
    >>> arr = alloc.heap_array(100, np.uint8)
    >>> s = alloc.stats()
    >>> s.total_current == sum(getattr(s, k).current for k in s.KINDS) == 116
    True
    >>> s.to_dict()["total_reserved"] == s.total_reserved
    True
    """

    #: The sections that are kinds of memory: the totals sum their fields.
    KINDS: ClassVar[tuple] = ("frame", "pool", "typed_pools", "heap", "scratch", "handles",
                              "streaming")
    #: Sections whose bytes a kind already counts (summing them too would count bytes twice).
    VIEWS: ClassVar[tuple] = ("groups",)
    #: The byte fields every kind has, each summed by a ``total_<field>`` property.
    TOTALS: ClassVar[tuple] = ("current", "reserved", "allocated", "freed")
    #: The sections that make up each kind that tags and budgets count
    #: (``kernels.layout.KIND_NAMES``; ``frame`` is computed from the arena rows).
    TAG_KINDS: ClassVar[dict] = {"pool": ("pool", "typed_pools"), "heap": ("heap",),
                                 "scratch": ("scratch",)}

    frame: FrameStats
    threads: list = field(default_factory=list)
    pool: PoolStats = field(default_factory=PoolStats)
    typed_pools: TypedPoolStats = field(default_factory=TypedPoolStats)
    heap: HeapStats = field(default_factory=HeapStats)
    groups: GroupStats = field(default_factory=GroupStats)
    handles: HandleStats = field(default_factory=HandleStats)
    streaming: StreamingStats = field(default_factory=StreamingStats)
    scratch: ScratchStats = field(default_factory=ScratchStats)
    scratch_pools: dict = field(default_factory=dict)
    tags: dict = field(default_factory=dict)
    phases: dict = field(default_factory=dict)
    budgets: dict = field(default_factory=dict)
    budget_events: list = field(default_factory=list)
    num_budget_hits: int = 0
    num_soft_budget_events: int = 0
    num_ooms: int = 0
    transparent: TransparentStats = field(default_factory=TransparentStats)

    def _total(self, name: str) -> int:
        return sum(getattr(getattr(self, kind), name) for kind in self.KINDS)

    @property
    def total_current(self) -> int:
        """Bytes in live allocations now (PyTorch's "allocated" sense), over every kind: open
        frames, pool blocks, live typed-pool records, tracked heap arrays, scratch pools' used
        bytes, live handles and streaming assets. It falls when frames end and memory is freed.
        (Frame "heap" policy fallbacks are counted apart, in ``frame.heap_fallback_bytes``.)"""
        return self._total("current")

    @property
    def total_reserved(self) -> int:
        """Bytes of CPU memory the allocator holds (PyTorch's "reserved"), over every kind: frame
        chunks, pool pages, typed-pool storage, live heap arrays, scratch pool buffers, handle
        segments and streaming assets."""
        return self._total("reserved")

    @property
    def total_allocated(self) -> int:
        """Bytes ever handed out, over every kind (``total_allocated - total_freed ==
        total_current``)."""
        return self._total("allocated")

    @property
    def total_freed(self) -> int:
        """Bytes ever given back, over every kind (frames ended and rolled back, blocks and
        records released, heap arrays collected, scratch resets, handles freed, assets evicted or
        released)."""
        return self._total("freed")

    def to_dict(self) -> dict:
        """Every section as plain dicts and lists, plus ``total_<field>`` for each of
        :attr:`TOTALS`."""
        d = asdict(self)
        for name in self.TOTALS:
            d[f"total_{name}"] = self._total(name)
        return d

    def _repr_html_(self) -> str:
        """Jupyter's view: the kinds table and the tag tree (framealloc.report)."""
        from .report import stats_html
        return stats_html(self)
