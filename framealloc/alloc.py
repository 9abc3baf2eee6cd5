"""SmartAlloc: the allocator object users hold in Python and pass into their @njit functions."""
from __future__ import annotations

import functools
import itertools
import os
import sys
import threading
import weakref
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Callable, ContextManager, Iterator, NamedTuple

import numpy as np

from ._closing import Lease, guard_closed
from ._dtypes import (
    MAX_BYTES,
    box_source,
    check_align,
    check_nbytes,
    normalize_shape,
    resolve_dtype,
)
from ._hooks import LISTENER_ORDER, check_open, listeners
from . import creation as _creation
from . import expressions as _expressions
from .checkpoints import SCOPE_BIT, SCOPE_TYPE_MESSAGE, FrameCheckpoint, FrameScope, ScopeBlock
from .collections import CollectionsPart, FrameLayout, FrameMap, FrameVec
from .config import AllocConfig, config_with_options
from .debug import VIEW_TAKING, DebugPart, checked
from .errors import ConfigError, error
from . import history as _history
from .behaviour import NEVER, BehaviourEvent, BehaviourPart
from .history import FrameHistory
from .kernels.layout import F, new_arena_block, new_checkpoint_block, new_native_table
from .kernels import PYTHON_CLASSES
from .kernels import status as ST
from .phases import PhaseBlock, PhasesPart, PhaseStats
from .pools import PoolsPart
from .retention import Importance, PromotionResult, RetentionPart, RetentionPolicy
from .scratch import ScratchPart, ScratchPool, ScratchStats
from .stats import AllocStats, FrameStats, ThreadFrameStats
from .tags import BudgetEvent, OrgPart

if TYPE_CHECKING:
    from .snapshot import Snapshot
    from .coordination import TransferHandle

__all__ = ["SmartAlloc", "CheckpointGuard", "SpeculativeResult", "FAILED"]

_ids = itertools.count(1)


_arena_kernels = None


def _kernels():
    """The njit kernels module (imports numba on first use, never at framealloc import)."""
    global _arena_kernels
    if _arena_kernels is None:
        from .kernels import arena
        _arena_kernels = arena
    return _arena_kernels


# Plain-int word indices of the row fields the Python paths read (IntEnum indexing is slower).
_BASE, _MEMINFO, _CAPACITY = int(F.base), int(F.meminfo), int(F.capacity)
_FRAME_OPEN, _FRAME_NUMBER = int(F.frame_open), int(F.frame_number)


def _numba_workers() -> int:
    """How many numba worker threads (``numba.config.NUMBA_NUM_THREADS``) there can be."""
    if "numba" in sys.modules:
        from numba.core import config
        return int(config.NUMBA_NUM_THREADS)
    env = os.environ.get("NUMBA_NUM_THREADS")
    if env:
        return int(env)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


class _ThreadArena:
    """Per-Python-thread view of one thread slot: fast-path caches over the shared state rows.

    The record the frame-event protocol passes to the parts (``ta``, see
    :mod:`framealloc._hooks`): ``slot``, ``tid`` (never reused), ``m`` (the slot's first arena
    row as int64 words, indices :data:`framealloc.kernels.layout.F`), ``row_addr``/``handle``
    (addresses for the kernels), ``ob`` (the row's organisation block, from the org part),
    ``tags`` (the tag stack of Python ``push_tag`` calls, the org part's), ``ext`` (the
    per-thread state of the frame listeners, one entry per part) and ``check_at`` (the frame
    number at whose end Python's ``end_frame`` runs the behaviour filter; see
    :mod:`framealloc.behaviour`).
    """

    __slots__ = ("slot", "tid", "m", "row_addr", "cps_addr", "handle", "native", "base",
                 "chunk", "views", "ident", "name", "ext", "tags", "ob", "lock", "check_at",
                 "__weakref__")

    def __init__(self, frames: "FramesPart", slot: int, tid: int, org_block: np.ndarray):
        self.slot = slot
        self.tid = tid
        row0 = frames.rows[slot, 0:1]
        self.m = memoryview(row0.view(np.int64)).cast("B").cast("q")
        self.row_addr = row0.ctypes.data
        self.cps_addr = frames.cps[slot].ctypes.data
        self.handle = (frames.rows[slot].ctypes.data, self.cps_addr, frames.workers,
                       frames.config.checkpoint_slots, frames.owner_id, tid)
        # What @njit code unboxes (kernels.njit_api): the slot's addresses, then the lease.
        self.native: tuple | None = None
        self.lock = frames.lock   # held while this thread reads the row's chunk (vs. close())
        self.base = 0
        self.chunk: np.ndarray | None = None
        # dtype -> (typed view of the whole chunk or None, itemsize, natural alignment, np.dtype)
        self.views: dict = {}
        t = threading.current_thread()
        self.ident, self.name = t.ident, t.name
        # Per-thread state of the frame listeners (phases, retention): empty, the frame events
        # skip this thread's listeners (see framealloc._hooks).
        self.ext: dict = {}
        self.tags: list = []      # Python tag stack (framealloc.tags)
        self.ob = memoryview(org_block).cast("B").cast("q")   # this thread's organisation block
        bf = frames.config.behaviour
        self.check_at = bf.check_every if bf is not None else NEVER

    def refresh_chunk(self) -> None:
        """Re-read the current chunk after it changed (growth, consolidation, first use).

        Under the allocator's lock: between reading the row's meminfo and taking a reference to
        it, ``close()`` on another thread must not drop the row's own reference.
        """
        from numba.core.runtime import nrt

        with self.lock:
            m = self.m
            self.views = {}
            self.base = m[_BASE]
            if m[_MEMINFO] == 0:
                self.chunk = None
                return
            owner = nrt.MemInfo(m[_MEMINFO])   # takes over one reference...
            owner.acquire()                     # ...so give the row its own back
            raw = np.frombuffer(owner, np.uint8)
            off = m[_BASE] - raw.ctypes.data
            self.chunk = raw[off:off + m[_CAPACITY]]

    def forget_chunk(self) -> None:
        """Drop the cached views of the chunk (the allocator was closed)."""
        self.chunk, self.views, self.base = None, {}, 0

    def view_spec(self, dtype) -> tuple:
        """Resolve ``dtype`` and cache a typed view of the current chunk for it."""
        dt, isz, natural = resolve_dtype(dtype)
        tv = None
        if self.chunk is not None:
            tv = self.chunk[:self.chunk.size - self.chunk.size % isz].view(dt)
        spec = (tv, isz, natural, dt, self.chunk)
        try:
            self.views[dtype] = spec
        except TypeError:  # unhashable dtype spec (e.g. a list of fields): not cached
            pass
        return spec


def _release_rows(rows: np.ndarray, lock=None) -> None:
    """Drop the references the arena rows hold on their chunks and heap fallbacks (``close()``,
    a finished thread's slot, or the allocator's finalizer).

    The rows are emptied before any reference is dropped, and ``lock`` (the allocator's) is held,
    so two releases of the same rows (``close()`` racing a thread's end) never drop one twice.
    """
    if lock is not None:
        with lock:
            _release_rows(rows)
        return
    import ctypes

    from numba.core.runtime import nrt

    mis = rows["meminfo"].ravel()
    mis = mis[mis != 0].tolist()
    heads = rows["heap_list"].ravel()
    heads = heads[heads != 0].tolist()
    rows["heap_list"] = 0
    rows["meminfo"] = 0
    rows["base"] = 0
    rows["capacity"] = 0
    rows["reserved_bytes"] = 0
    rows["frame_open"] = 0
    rows["limit"] = -1
    for mi in mis:
        nrt.MemInfo(int(mi))  # takes over the row's reference and drops it
    for mi in heads:
        while mi:  # each fallback's first word links to the previous one
            owner = nrt.MemInfo(int(mi))
            mi = ctypes.c_int64.from_address(owner.data).value
            del owner


#: Counters a thread's rows carry into the allocator's totals when the thread ends.
_CUMULATIVE = ("allocated_total", "count_total", "chunks_grown", "heap_fallbacks",
               "heap_fallback_bytes", "rollbacks")


def _release_slot(rows: np.ndarray, retired: np.ndarray, slot: int, lock,
                  ntab: np.ndarray) -> None:
    """A thread ended: keep its history in ``retired``, free its chunks, give its slot back."""
    with lock:
        ntab["ident"][1 + slot] = 0     # compiled code no longer finds the slot by its thread ident
        _release_slot_locked(rows, retired, slot)


def _release_slot_locked(rows: np.ndarray, retired: np.ndarray, slot: int) -> None:
    block = rows[slot:slot + 1]
    open_ = block["frame_open"] != 0
    if open_.any() and "numba" in sys.modules:
        from .kernels import org   # its open frame's bytes leave their tags and budgets
        org.release_rows(rows[slot].ctypes.data, rows.shape[1])
    pos = np.where(open_, block["used_before"] + block["cursor"], 0)
    retired["allocated_total"] += int(pos.sum())
    retired["count_total"] += int(np.where(open_, block["count"], 0).sum())
    for name in _CUMULATIVE:
        retired[name] += int(block[name].sum())
    retired["peak"] = max(int(retired["peak"][0]), int(np.maximum(block["peak"], pos).max()))
    # Frames begun on the slot (every worker row counts each one, so read the first), and in
    # the retired row ``owner`` counts the threads that ended.
    retired["frame_number"] += int(block["frame_number"][0, 0])
    retired["owner"] += 1
    keep = block[["policy", "chunk_size", "org"]].copy()
    _release_rows(block)
    block[...] = np.zeros(1, rows.dtype)
    block["policy"] = keep["policy"]
    block["chunk_size"] = keep["chunk_size"]
    block["org"] = keep["org"]
    block["limit"] = -1


def _last_holder(alloc_ref, state: dict) -> None:
    """Nothing holds the allocator's lease any more (see :class:`framealloc._closing.Lease`):
    release its memory. ``state`` is the allocator's ``__dict__``, alive until now."""
    alloc = alloc_ref()
    if alloc is not None:
        alloc._release()
        return
    # Garbage-collected without close(): drop the memory; nobody reads the counters any more.
    with state["_lock"]:
        for on_collected in state["_on_collected"]:
            on_collected()
        _release_rows(state["_rows"])


class SpeculativeResult(NamedTuple):
    """What :meth:`SmartAlloc.speculative` returns: whether ``fn`` succeeded, and its value."""

    ok: bool
    value: Any


class _Failed:
    """Return :data:`FAILED` from a function run by ``speculative`` to roll its allocations back."""

    _instance = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "framealloc.FAILED"


FAILED = _Failed()


class CheckpointGuard:
    """Context manager from :meth:`SmartAlloc.checkpoint_guard`: rolls back on exit unless
    :meth:`commit` was called; always rolls back when the block raises."""

    __slots__ = ("_alloc", "checkpoint", "committed")

    def __init__(self, alloc: "SmartAlloc"):
        self._alloc = alloc
        self.checkpoint: FrameCheckpoint | None = None
        self.committed = False

    def __enter__(self) -> "CheckpointGuard":
        self.checkpoint = self._alloc.frame_checkpoint()
        return self

    def commit(self) -> None:
        """Keep the allocations made inside the block."""
        self.committed = True

    def __exit__(self, exc_type, exc, tb) -> None:
        cp = self.checkpoint
        assert cp is not None, "CheckpointGuard.__exit__ without __enter__"
        if self.committed and exc_type is None:
            self._alloc._forget_checkpoint(cp)
        else:
            self._alloc.rollback_to(cp)


class _Tls(threading.local):
    """Each thread's ``arena`` (and native-table sentinel). A subclass of threading.local so that
    task frames (framealloc.integrations.tasks) can switch it, once, to a class whose ``arena``
    is chosen by the running asyncio task."""


class _NtabEntry:
    """Clears a thread's native-table entry when the thread's local storage goes."""

    __slots__ = ("tab", "row")

    def __init__(self, tab: np.ndarray, row: int):
        self.tab, self.row = tab["ident"], row

    def __del__(self):
        self.tab[self.row] = 0


class FramesPart:
    """The frame arenas of one SmartAlloc: an arena row per thread slot and prange worker, the
    checkpoint stacks, each Python thread's :class:`_ThreadArena`, and the Python fast path of
    frame allocation.

    Interface: ``rows`` / ``cps`` (the state arrays: :data:`~framealloc.kernels.layout.
    ARENA_DTYPE` rows and checkpoint entries), ``retired`` (counters of threads that ended),
    ``tls`` (``tls.arena``: the calling thread's arena once attached), ``arenas`` (slot ->
    live arena), ``lock``, ``workers``, ``config``, ``owner_id``, ``released``; :meth:`arena`,
    :meth:`attach`, :meth:`alloc` (bound as ``SmartAlloc._alloc``), :meth:`begin`,
    :meth:`open_arena`, :meth:`end`, :meth:`checkpoint`, :meth:`rollback`,
    :meth:`forget_checkpoint`, :meth:`stats`, :meth:`refuse`, :meth:`release`.

    It asks the org part (``org``, wired by SmartAlloc) for the organisation blocks of a slot
    when a thread attaches, and hands it budget refusals and events from the slow path.
    """

    org: OrgPart       # wired by SmartAlloc.__init__ once the org part exists (it needs this one)

    def __init__(self, owner, config: AllocConfig, owner_id: int):
        self._owner = owner          # weak reference to the SmartAlloc (its closing interface)
        self.config = config
        self.owner_id = owner_id
        self.workers = _numba_workers()
        self.rows = new_arena_block(config.max_threads, self.workers)
        self.rows["policy"] = config.policy_code
        self.rows["chunk_size"] = (config.frame_chunk_size if config.on_frame_exhausted == "grow"
                                   else config.frame_capacity)
        self.cps = new_checkpoint_block(config.max_threads, self.workers,
                                        config.checkpoint_slots)
        # Counters of threads that have ended (their rows are reused), so totals stay exact.
        self.retired = np.zeros(1, self.rows.dtype)
        self.tls = _Tls()
        self._thread_ids = itertools.count(1)
        # Guards slot attachment and every release of row memory (close(), a thread's end).
        # Re-entrant: a thread's end can be noticed by the garbage collector while it is held.
        self.lock = threading.RLock()
        self.arenas: "weakref.WeakValueDictionary[int, _ThreadArena]" = \
            weakref.WeakValueDictionary()
        # What compiled code unboxes without running Python (layout NATIVE, kernels.njit_api).
        self.ntab = new_native_table(config.max_threads)
        self.released = False
        # Task frames are in use (framealloc.integrations.tasks): compiled calls unbox through
        # _native_handle() (which asks tls.arena), never through the native table.
        self.task_mode = False

    # -- threads -----------------------------------------------------------------------------
    def attach(self, bind: bool = True) -> _ThreadArena:
        """Give the calling thread a slot (FA012 when every slot is taken) and its arena;
        ``bind=False``: an arena that is not the thread's own (a task arena)."""
        with self.lock:
            check_open(self._owner)
            owners = self.rows["owner"][:, 0]
            free = np.flatnonzero(owners == 0)
            if free.size == 0:
                raise ConfigError(f"more than max_threads={self.config.max_threads} threads use "
                                  "this allocator; raise AllocConfig.max_threads", code="FA012")
            slot = int(free[0])
            tid = next(self._thread_ids)
            blocks = self.org.attach_slot(slot)
            self.rows["owner"][slot, :] = tid
        ta = _ThreadArena(self, slot, tid, blocks[0])
        if bind:
            self.tls.arena = ta
        self.arenas[slot] = ta
        weakref.finalize(ta, _release_slot, self.rows, self.retired, slot, self.lock,
                         self.ntab)
        return ta

    def arena(self) -> _ThreadArena:
        """The calling thread's arena (attached on first use)."""
        try:
            return self.tls.arena
        except AttributeError:
            return self.attach()

    # -- frames ------------------------------------------------------------------------------
    def begin(self) -> _ThreadArena:
        """Open a frame on the calling thread (FA002 if one is open); returns its arena."""
        try:
            ta = self.tls.arena
        except AttributeError:
            ta = self.attach()
        st = (_arena_kernels or _kernels()).begin_frame(ta.row_addr, self.workers)
        if st:
            raise error(st)          # FA002: a frame is open
        return ta

    def open_arena(self) -> _ThreadArena:
        """The calling thread's arena, whose frame is open (FA003 if none is)."""
        try:
            ta = self.tls.arena
        except AttributeError:
            ta = self.attach()
        if not ta.m[_FRAME_OPEN]:
            raise error(ST.END_NO_BEGIN)
        return ta

    def end(self, ta: _ThreadArena) -> None:
        """End the open frame of ``ta`` in O(1) (FA003 if none is open)."""
        st = (_arena_kernels or _kernels()).end_frame(ta.row_addr, self.workers)
        if st:
            raise error(st)

    # -- frame allocation ----------------------------------------------------------------------
    def alloc(self, shape, dtype, align, zero: bool, try_: bool):
        """The Python fast path: validate, bump in the thread's row, slice a cached typed view."""
        try:
            ta = self.tls.arena
        except AttributeError:
            ta = self.attach()
        m = ta.m
        # m[0..3] are cursor, limit, base, count: literal indices on this hot path (no global
        # lookups), held to the layout by the "hot fields moved" assertion in kernels/layout.py.
        if m[2] != ta.base:             # the chunk changed (growth, first use, resize)
            ta.refresh_chunk()
        try:
            tv, isz, a, dt, chunk = ta.views[dtype]
        except (KeyError, TypeError):   # first use of this dtype on this chunk, or unhashable
            tv, isz, a, dt, chunk = ta.view_spec(dtype)
        if type(shape) is int and shape >= 0:
            count, dims = shape, None
        else:
            dims, count = normalize_shape(shape)
        nbytes = count * isz
        if nbytes > MAX_BYTES:
            check_nbytes(count, isz)
        if align is not None:
            a = check_align(align, a)
        # Chunk bases are CHUNK_ALIGN (4096)-aligned, so aligning the offset aligns the address.
        off = (m[0] + a - 1) & -a
        end = off + nbytes
        if end > m[1]:
            return self.alloc_slow(ta, dt, count, dims, nbytes, a, zero, try_)
        m[0] = end
        m[3] += 1
        # ``tv`` and ``chunk`` are this dtype's cached views of the chunk: they hold references,
        # so the result stays valid memory even if close() runs on another thread meanwhile.
        if tv is not None and off % isz == 0:
            i = off // isz
            out = tv[i:i + count]
        else:
            out = chunk[off:end].view(dt)
        if dims is not None:
            out = out.reshape(dims)
        if zero:
            chunk[off:end] = 0
        return out

    def alloc_slow(self, ta, dt, count, dims, nbytes, a, zero, try_):
        from numba.core.runtime import nrt

        out = None
        # Under the lock: close() on another thread cannot release the row's chunk between the
        # kernel's answer and the view taking its own reference.
        with self.lock:
            if self._owner()._closed:
                ta.forget_chunk()
                self._owner()._raise_closed()
            status, data, mi = _kernels().slow_alloc(ta.row_addr, nbytes, a, 0)
            if status == ST.HEAP:
                owner = nrt.MemInfo(mi)  # a wrapper over the row's reference...
                owner.acquire()          # ...plus one of its own (the row drops its at end_frame)
                raw = np.frombuffer(owner, np.uint8)
                off = data - raw.ctypes.data
                out = raw[off:off + nbytes].view(dt)
                out = out.reshape(dims) if dims is not None else out
                if zero:
                    out[...] = np.zeros((), dt)
                return out
            if status == ST.OK:
                if ta.base != ta.m[_BASE]:
                    ta.refresh_chunk()
                off = data - ta.base
                chunk = ta.chunk
                out = chunk[off:off + nbytes].view(dt)
                if dims is not None:
                    out = out.reshape(dims)
                if zero:
                    chunk[off:off + nbytes] = 0
        if status != ST.OK:
            if status == ST.BUDGET_EXCEEDED:
                return self.org.budget_refused(ta, nbytes, try_)
            if status == ST.FRAME_EXHAUSTED and try_:
                return None
            raise error(status, request=f" by a {nbytes}-byte request")
        self.org.deliver_events()
        return out

    # -- checkpoints -------------------------------------------------------------------------
    def checkpoint(self) -> FrameCheckpoint:
        """A checkpoint of the calling thread's frame."""
        ta = self.arena()
        res = _kernels().checkpoint(ta.row_addr, ta.cps_addr, self.config.checkpoint_slots)
        if res[0] != ST.OK:
            raise error(res[0])
        return FrameCheckpoint(self.owner_id, ta.tid, 0, *res[1:])

    def token_arena(self, tok: Any, cls: type[Any], **bad_type) -> _ThreadArena:
        """The calling thread's arena, after the checks every rollback-like call makes on its
        token ``tok`` (a :class:`FrameCheckpoint` or :class:`FrameScope`, the ``cls`` expected):
        its type (FA010, ``bad_type`` for the message), allocator (FA009) and thread (FA011)."""
        if not isinstance(tok, cls):
            raise error(ST.STALE_CHECKPOINT, "type", got=type(tok).__name__, **bad_type)
        ta = self.arena()
        if tok.owner != self.owner_id:
            raise error(ST.FOREIGN_CHECKPOINT)
        if tok.thread != ta.tid or tok.worker != 0:
            raise error(ST.WRONG_THREAD)
        return ta

    def pop(self, kernel, tok) -> None:
        """Run the rollback-like ``kernel`` on the calling thread's row for token ``tok`` (its
        checks made by :meth:`token_arena`); raise its refusal."""
        ta = self.arena()
        status = kernel(ta.row_addr, ta.cps_addr, self.config.checkpoint_slots, tok.frame,
                        tok.serial, tok.position, tok.chunk_seq, tok.cursor, tok.index)
        if status != ST.OK:
            raise error(status)

    def rollback(self, cp: FrameCheckpoint) -> _ThreadArena:
        """Roll the calling thread's frame back to ``cp``; returns its arena."""
        ta = self.token_arena(cp, FrameCheckpoint)
        self.pop(_kernels().rollback, cp)
        return ta

    def scope_begin(self) -> FrameScope:
        """A scope of the calling thread's frame (a checkpoint marked as a scope)."""
        ta = self.arena()
        res = _kernels().scope_begin(ta.row_addr, ta.cps_addr, self.config.checkpoint_slots)
        if res[0] != ST.OK:
            raise error(res[0])
        return FrameScope(self.owner_id, ta.tid, 0, *res[1:])

    def scope_end(self, s: FrameScope) -> tuple[_ThreadArena, FrameCheckpoint]:
        """End scope ``s`` (roll back and pop); returns the arena and the plain checkpoint."""
        ta = self.token_arena(s, FrameScope, **SCOPE_TYPE_MESSAGE)
        self.pop(_kernels().scope_end, s)
        return ta, FrameCheckpoint(*s[:4], s.serial & ~SCOPE_BIT, *s[5:])

    def forget_checkpoint(self, cp: FrameCheckpoint) -> None:
        """Release ``cp`` without rolling back (a committed guard, a successful speculation)."""
        ta = self.arena()
        if cp.owner == self.owner_id and cp.thread == ta.tid and cp.frame == ta.m[_FRAME_NUMBER]:
            _kernels().release_checkpoint(ta.row_addr, cp.serial, cp.index)

    # -- stats and closing -----------------------------------------------------------------------
    def stats(self) -> tuple[list, FrameStats, int]:
        """(threads, their frame totals, heap-fallback bytes ever) for :meth:`SmartAlloc.stats`:
        each live thread, then one entry for every thread that ended."""
        rows = self.rows
        threads = []
        for slot in np.flatnonzero(rows["owner"][:, 0] != 0).tolist():
            ta = self.arenas.get(slot)
            threads.append(ThreadFrameStats.from_rows(
                slot, ta.ident if ta else None, ta.name if ta else "", rows[slot]))
        ended = int(self.retired["owner"][0])
        if ended:
            threads.append(ThreadFrameStats.from_retired(self.retired, ended))
        frame = FrameStats.total(t.frame for t in threads)
        fallback = int(rows["heap_fallback_bytes"].sum()
                       + self.retired["heap_fallback_bytes"].sum())
        return threads, frame, fallback

    def refuse(self) -> None:
        """``close()`` (lock held): the Python fast paths of every thread now take the slow path,
        which refuses, and compiled calls unbox afresh."""
        self.rows["limit"] = -1
        self.ntab["ident"][1:] = 0
        for ta in list(self.arenas.values()):
            ta.native = None

    def release(self) -> None:
        """Drop the rows' chunks and every thread's cached views (lock held)."""
        self.released = True
        _release_rows(self.rows)
        for ta in list(self.arenas.values()):
            ta.forget_chunk()


def _doc_of(implementation):
    """Give a SmartAlloc delegation the docstring of the part method that implements it (the
    text and its examples live once, next to the code; doctest runs them in the part's module)."""
    def adopt(fn):
        fn.__doc__ = implementation.__doc__
        return fn
    return adopt


class SmartAlloc:
    """Frame/pool/heap allocator for NumPy and Numba.

    Every Python thread gets its own frame arena inside this allocator (lazily, on first use);
    inside ``@njit(parallel=True)`` code each prange worker gets its own sub-arena. Pass the
    object itself to your ``@njit`` functions: the same method names work there, at native speed.

    Parameters
    ----------
    config:
        Sizes and policies; ``None`` uses :class:`AllocConfig` defaults.
    **options:
        :class:`AllocConfig` fields, a shorthand: ``SmartAlloc(max_threads=8)`` is
        ``SmartAlloc(AllocConfig(max_threads=8))``. With a ``config`` too, they replace that
        config's fields (``dataclasses.replace``). Another name raises
        :class:`~framealloc.ConfigError` (FA013) that lists the valid ones.

    Example
    -------
    >>> import numpy as np, framealloc as fa
    >>> alloc = fa.SmartAlloc()
    >>> for _ in range(3):
    ...     with alloc.frame():
    ...         pos = alloc.frame_array((100, 3), np.float32)
    ...         pos[:] = 1.0
    >>> alloc.frame_number
    3
    >>> fa.SmartAlloc(max_threads=8, on_frame_exhausted="error").config.max_threads
    8
    """

    # Composition (see framealloc._hooks): the parts below hold the state; every public method
    # is a one-line delegation to one of them, or (frames, checkpoints, stats, closing) the
    # glue that runs the frame-event protocol around the frames part.
    #
    # The allocator's internal interface, used by its pools, collections, scratch pools and
    # compiled code (and read by tests): ``_alloc`` (the frame bump of the calling thread),
    # ``_arena``/``_attach``, ``_tls``, ``_rows``/``_cps`` (arena state), ``_lock``, ``_org``
    # (the tag/budget tables) with ``_org_charge``/``_org_release`` (charge a kind's bytes to
    # the calling thread's tag and budgets, give them back), ``_native_handle``/``_native_exit``
    # (kernels.leases), ``_closed``/``_raise_closed`` (framealloc._closing), ``_id``.

    def __init__(self, config: AllocConfig | None = None, **options: Any):
        config = config_with_options(config, options)
        self.config = config
        self._id = next(_ids)
        me = weakref.ref(self)      # parts hold the allocator weakly: no reference cycle
        frames = self._frame_part = FramesPart(me, config, self._id)
        pools = self._pool_part = PoolsPart(me)
        scratch = self._scratch_part = ScratchPart(me, config, self._id)
        org = self._org_part = OrgPart(me, config, frames, pools, scratch)
        frames.org = org
        self._phase_part = PhasesPart(me, frames, org, (_FRAME_OPEN, _FRAME_NUMBER))
        self._retention_part = RetentionPart(me, frames)
        self._collection_part = CollectionsPart(me, frames)
        self._behaviour_part = BehaviourPart(
            me, config, frames, org, pools, scratch, self._retention_part) \
            if config.behaviour is not None else None
        # The internal interface (see above): the parts' state and fast paths, bound once.
        self._rows, self._cps, self._tls, self._lock = frames.rows, frames.cps, frames.tls, \
            frames.lock
        self._org = org.tables
        self._alloc, self._arena, self._attach = frames.alloc, frames.arena, frames.attach
        self._org_charge, self._org_release = org.charge, org.release
        self._org_refund = org.refund
        self._ntab = frames.ntab.ctypes.data   # the native table's address (kernels.njit_api)
        # The frame-event protocol: each event's listeners, in LISTENER_ORDER.
        parts = [getattr(self, name) for name in LISTENER_ORDER]
        self._on_begin = listeners(parts, "after_begin_frame")
        self._on_before_end = listeners(parts, "before_end_frame")
        self._on_after_end = listeners(parts, "after_end_frame")
        self._on_rollback = listeners(parts, "after_rollback")
        self._on_close = listeners(parts, "on_close")
        self._on_release = listeners(parts, "on_release")
        self._on_collected = listeners(parts, "on_collected")
        # close() sets _closed at once; the memory goes (_released) when the allocator's own
        # reference to its lease is dropped and no compiled code holds one (framealloc._closing).
        self._closed = False
        self._released = False
        self._lease = Lease(functools.partial(_last_holder, me, self.__dict__))
        # (The partial holds the allocator weakly: garbage collection still finds it.)
        self._finalizer = weakref.finalize(self, self._lease.drop)
        if config.debug:
            # Debug mode (framealloc.debug): the debug paths bound on the instances, and a class
            # whose numba type compiles poisoning code; nothing else tests the flag.
            self._debug_part = DebugPart(me, frames, org.tables)
            self._debug_part.install(self, frames, self._collection_part)
            self.__class__ = _DebugSmartAlloc

    # -- numba -------------------------------------------------------------------------------
    @property
    def _numba_type_(self):
        # First contact with numba: register the typing, then make this a plain class attribute
        # (numba's dispatcher reads it on every call).
        from .kernels import ensure_registered
        t = ensure_registered()
        SmartAlloc._numba_type_ = t
        return t

    def _native_handle(self) -> tuple:
        """Addresses of the calling thread's slot and the lease, read when this object is passed
        to @njit code (:mod:`framealloc.kernels.leases`)."""
        try:
            native = self._tls.arena.native
        except AttributeError:
            native = None
        if native is None or self._closed:
            native = self._native_slow()
        return native

    def _native_slow(self) -> tuple:
        with self._lock:
            if self._closed:
                self._raise_closed()
            ta = self._arena()
            ta.native = ta.handle + (self._lease.addr,)
            if self._frame_part.task_mode:     # the arena depends on the task: no table entry
                return ta.native
            # Publish the handle for this thread ident; the entry is cleared when the thread's
            # state goes (the sentinel below lives only in this thread's local storage, so it
            # dies before the ident can be reused), at close() and when the slot is released.
            tab = self._frame_part.ntab
            tab[1 + ta.slot] = (threading.get_ident(),) + ta.native   # NATIVE_DTYPE's order
            self._tls.ntab_entry = _NtabEntry(tab, 1 + ta.slot)
            return ta.native

    def _native_exit(self) -> None:
        """A compiled call holding this allocator returned after close(): release if it was the
        last one (see framealloc.kernels.leases)."""
        self._lease.exit()

    def _raise_closed(self):
        raise error(ST.CLOSED)

    # -- frames ------------------------------------------------------------------------------
    def begin_frame(self) -> None:
        """Open a frame on the calling thread (FA002 if one is open).

        >>> import framealloc as fa
        >>> alloc = fa.SmartAlloc(); alloc.begin_frame(); alloc.in_frame
        True
        """
        if self._closed:
            self._raise_closed()
        ta = self._frame_part.begin()
        if ta.ext and self._on_begin:
            for listener in self._on_begin:
                listener(ta)

    def end_frame(self) -> None:
        """Close the calling thread's frame in O(1): every frame allocation is released at once.

        Views handed out stay valid memory (they keep the chunk alive) but alias the next
        frame's allocations, as with any frame allocator. FA003 if no frame is open.

        >>> import framealloc as fa
        >>> alloc = fa.SmartAlloc(); alloc.begin_frame(); alloc.end_frame(); alloc.in_frame
        False
        """
        if self._closed:
            self._raise_closed()
        frames = self._frame_part
        ta = frames.arena()
        if ta.ext:
            frames.open_arena()      # FA003 before any listener runs
            for listener in self._on_before_end:
                listener(ta)
            frames.end(ta)
            for listener in self._on_after_end:
                listener(ta)
        else:
            frames.end(ta)           # the kernel refuses (FA003) when no frame is open
        if ta.m[_FRAME_NUMBER] >= ta.check_at:   # the behaviour filter's turn (NEVER: off)
            self._behaviour_part.due(ta)  # type: ignore[union-attr]

    @contextmanager
    def frame(self) -> Iterator["SmartAlloc"]:
        """``with alloc.frame():`` opens a frame and always closes it, even on exceptions.

        >>> import numpy as np, framealloc as fa
        >>> alloc = fa.SmartAlloc()
        >>> with alloc.frame():
        ...     a = alloc.frame_zeros(4, np.int32)
        >>> alloc.in_frame
        False
        """
        self.begin_frame()
        try:
            yield self
        finally:
            if not self._closed:   # close() inside the block already released everything
                self.end_frame()

    def task_frame(self, *, chunk_size: int | None = None):
        """``async with alloc.task_frame():`` gives the current asyncio task a frame arena of
        its own for the block (FA182 outside a task); see
        :mod:`framealloc.integrations.tasks`.

        >>> import asyncio, numpy as np, framealloc as fa
        >>> alloc = fa.SmartAlloc()
        >>> async def job():
        ...     async with alloc.task_frame():
        ...         return alloc.frame_zeros(3, np.int32).sum()
        >>> int(asyncio.run(job()))
        0
        """
        from .integrations.tasks import TaskFrame
        return TaskFrame(self, chunk_size)

    @property
    def frame_number(self) -> int:
        """Frames begun on the calling thread with this allocator."""
        return self._arena().m[_FRAME_NUMBER]

    @property
    def in_frame(self) -> bool:
        """Whether the calling thread has an open frame."""
        return bool(self._arena().m[_FRAME_OPEN])

    # -- frame allocation ----------------------------------------------------------------------
    def frame_array(self, shape, dtype=np.float64, *, align: int | None = None,
                    zero: bool = False) -> np.ndarray:
        """An uninitialised array in the current frame, like ``np.empty(shape, dtype)``.

        Parameters
        ----------
        shape: int or tuple of ints.
        dtype: any fixed-size NumPy dtype, numeric or structured.
        align: alignment of the data address in bytes, a power of two up to 4096; default the
            dtype's natural alignment.
        zero: fill with zeros (see :meth:`frame_zeros`).

        >>> import numpy as np, framealloc as fa
        >>> alloc = fa.SmartAlloc()
        >>> with alloc.frame():
        ...     a = alloc.frame_array((2, 3), np.float32, align=64)
        ...     (a.shape, a.dtype.name, a.ctypes.data % 64)
        ((2, 3), 'float32', 0)
        """
        return self._alloc(shape, dtype, align, zero, False)

    def try_frame_array(self, shape, dtype=np.float64, *, align: int | None = None,
                        zero: bool = False) -> np.ndarray | None:
        """:meth:`frame_array`, but None instead of ArenaExhaustedError when memory runs out."""
        return self._alloc(shape, dtype, align, zero, True)

    def frame_zeros(self, shape, dtype=np.float64, *, align: int | None = None) -> np.ndarray:
        """A zero-filled array in the current frame, like ``np.zeros``."""
        return self._alloc(shape, dtype, align, True, False)

    def try_frame_zeros(self, shape, dtype=np.float64, *,
                        align: int | None = None) -> np.ndarray | None:
        """:meth:`frame_zeros`, or None when memory runs out."""
        return self._alloc(shape, dtype, align, True, True)

    def frame_alloc(self, dtype=np.float64) -> np.ndarray:
        """One element of ``dtype`` as a 0-d array (``a[()] = x``; a record for structured dtypes).

        >>> import numpy as np, framealloc as fa
        >>> alloc = fa.SmartAlloc()
        >>> with alloc.frame():
        ...     x = alloc.frame_alloc(np.int64); x[()] = 7; int(x)
        7
        """
        return self._alloc((), dtype, None, False, False)

    def try_frame_alloc(self, dtype=np.float64) -> np.ndarray | None:
        """:meth:`frame_alloc`, or None when memory runs out."""
        return self._alloc((), dtype, None, False, True)

    def frame_slice(self, dtype, n: int) -> np.ndarray:
        """``n`` uninitialised elements of ``dtype`` (1-D)."""
        return self._alloc(n, dtype, None, False, False)

    def try_frame_slice(self, dtype, n: int) -> np.ndarray | None:
        """:meth:`frame_slice`, or None when memory runs out."""
        return self._alloc(n, dtype, None, False, True)

    def frame_alloc_batch(self, dtype, n: int) -> np.ndarray:
        """``n`` records (or scalars) of ``dtype`` in one bump: the particle-system batch.

        >>> import numpy as np, framealloc as fa
        >>> P = np.dtype([("pos", "f4", 3), ("vel", "f4", 3), ("life", "f4")])
        >>> alloc = fa.SmartAlloc()
        >>> with alloc.frame():
        ...     ps = alloc.frame_alloc_batch(P, 1000)
        ...     ps["life"] = 1.0
        ...     ps.shape
        (1000,)
        """
        return self._alloc(n, dtype, None, False, False)

    def try_frame_alloc_batch(self, dtype, n: int) -> np.ndarray | None:
        """:meth:`frame_alloc_batch`, or None when memory runs out."""
        return self._alloc(n, dtype, None, False, True)

    def frame_alloc_2(self, dtype=np.float64) -> np.ndarray:
        """An array of two elements of ``dtype`` (a pair; write through ``p[0]``, ``p[1]``).

        Unpacking (``a, b = ...``) works; for numeric dtypes it yields copies of the values,
        for record dtypes writable record views.
        """
        return self._alloc(2, dtype, None, False, False)

    def frame_alloc_4(self, dtype=np.float64) -> np.ndarray:
        """Four elements of ``dtype``."""
        return self._alloc(4, dtype, None, False, False)

    def frame_alloc_8(self, dtype=np.float64) -> np.ndarray:
        """Eight elements of ``dtype``."""
        return self._alloc(8, dtype, None, False, False)

    def try_frame_alloc_2(self, dtype=np.float64) -> np.ndarray | None:
        """:meth:`frame_alloc_2`, or None when memory runs out."""
        return self._alloc(2, dtype, None, False, True)

    def try_frame_alloc_4(self, dtype=np.float64) -> np.ndarray | None:
        """:meth:`frame_alloc_4`, or None when memory runs out."""
        return self._alloc(4, dtype, None, False, True)

    def try_frame_alloc_8(self, dtype=np.float64) -> np.ndarray | None:
        """:meth:`frame_alloc_8`, or None when memory runs out."""
        return self._alloc(8, dtype, None, False, True)

    def frame_box(self, value) -> np.ndarray:
        """Copy a scalar, record or array into the frame; returns the frame copy.

        >>> import numpy as np, framealloc as fa
        >>> alloc = fa.SmartAlloc()
        >>> with alloc.frame():
        ...     b = alloc.frame_box(np.arange(3.0)); b.tolist()
        [0.0, 1.0, 2.0]
        """
        src = box_source(value)
        out = self._alloc(src.shape, src.dtype, None, False, False)
        out[...] = src
        return out

    def try_frame_box(self, value) -> np.ndarray | None:
        """:meth:`frame_box`, or None when memory runs out."""
        src = box_source(value)
        out = self._alloc(src.shape, src.dtype, None, False, True)
        if out is not None:
            out[...] = src
        return out

    # -- NumPy's creation vocabulary in the frame (framealloc.creation; @njit: same names) ----
    def frame_empty_like(self, a, dtype=None) -> np.ndarray:
        """An uninitialised frame array of ``a``'s shape and dtype (or ``dtype``), like
        ``np.empty_like`` (always C-contiguous).

        >>> import numpy as np, framealloc as fa
        >>> alloc = fa.SmartAlloc()
        >>> with alloc.frame():
        ...     b = alloc.frame_empty_like(np.ones((2, 3), np.float32))
        ...     (b.shape, b.dtype.name)
        ((2, 3), 'float32')
        """
        return _creation.empty_like(self._alloc, a, dtype, False, False)

    def try_frame_empty_like(self, a, dtype=None) -> np.ndarray | None:
        """:meth:`frame_empty_like`, or None when memory runs out."""
        return _creation.empty_like(self._alloc, a, dtype, False, True)

    def frame_zeros_like(self, a, dtype=None) -> np.ndarray:
        """A zero-filled frame array of ``a``'s shape and dtype, like ``np.zeros_like``.

        >>> import numpy as np, framealloc as fa
        >>> alloc = fa.SmartAlloc()
        >>> with alloc.frame():
        ...     alloc.frame_zeros_like(np.arange(3)).tolist()
        [0, 0, 0]
        """
        return _creation.empty_like(self._alloc, a, dtype, True, False)

    def try_frame_zeros_like(self, a, dtype=None) -> np.ndarray | None:
        """:meth:`frame_zeros_like`, or None when memory runs out."""
        return _creation.empty_like(self._alloc, a, dtype, True, True)

    def frame_full(self, shape, fill_value, dtype=None) -> np.ndarray:
        """A frame array filled with ``fill_value``, like ``np.full`` (dtype: the fill value's
        when omitted, so ``frame_full(3, 1)`` is int64 and ``frame_full(3, 1.0)`` float64).

        >>> import numpy as np, framealloc as fa
        >>> alloc = fa.SmartAlloc()
        >>> with alloc.frame():
        ...     f = alloc.frame_full((2, 2), 7, np.int32)
        ...     (f.tolist(), f.dtype.name)
        ([[7, 7], [7, 7]], 'int32')
        """
        return _creation.full(self._alloc, shape, fill_value, dtype, False)

    def try_frame_full(self, shape, fill_value, dtype=None) -> np.ndarray | None:
        """:meth:`frame_full`, or None when memory runs out."""
        return _creation.full(self._alloc, shape, fill_value, dtype, True)

    def frame_full_like(self, a, fill_value, dtype=None) -> np.ndarray:
        """A frame array of ``a``'s shape and dtype filled with ``fill_value``, like
        ``np.full_like`` (the value is cast to the dtype: ``2.7`` in an int array is 2).

        >>> import numpy as np, framealloc as fa
        >>> alloc = fa.SmartAlloc()
        >>> with alloc.frame():
        ...     alloc.frame_full_like(np.arange(3), 2.7).tolist()
        [2, 2, 2]
        """
        return _creation.full_like(self._alloc, a, fill_value, dtype, False)

    def try_frame_full_like(self, a, fill_value, dtype=None) -> np.ndarray | None:
        """:meth:`frame_full_like`, or None when memory runs out."""
        return _creation.full_like(self._alloc, a, fill_value, dtype, True)

    def frame_copy(self, a) -> np.ndarray:
        """A C-contiguous copy of ``a`` in the frame, like ``np.copy`` / ``a.copy()``.

        >>> import numpy as np, framealloc as fa
        >>> alloc = fa.SmartAlloc()
        >>> with alloc.frame():
        ...     c = alloc.frame_copy(np.arange(6).reshape(2, 3).T)
        ...     (c.tolist(), c.flags.c_contiguous)
        ([[0, 3], [1, 4], [2, 5]], True)
        """
        return _creation.copy(self._alloc, a, False)

    def try_frame_copy(self, a) -> np.ndarray | None:
        """:meth:`frame_copy`, or None when memory runs out."""
        return _creation.copy(self._alloc, a, True)

    def frame_arange(self, start, stop=None, step=None, dtype=None) -> np.ndarray:
        """Evenly spaced values in the frame, like ``np.arange`` (same length, values, dtype).

        >>> import numpy as np, framealloc as fa
        >>> alloc = fa.SmartAlloc()
        >>> with alloc.frame():
        ...     (alloc.frame_arange(4).tolist(), alloc.frame_arange(1, 2, 0.25).tolist())
        ([0, 1, 2, 3], [1.0, 1.25, 1.5, 1.75])
        """
        return _creation.arange(self._alloc, start, stop, step, dtype, False)

    def try_frame_arange(self, start, stop=None, step=None, dtype=None) -> np.ndarray | None:
        """:meth:`frame_arange`, or None when memory runs out."""
        return _creation.arange(self._alloc, start, stop, step, dtype, True)

    def frame_concatenate(self, arrays, axis=0) -> np.ndarray:
        """Join arrays along an existing axis into the frame, like ``np.concatenate``
        (``axis=None``: flattened first; dtype ``np.result_type`` of the arrays).

        >>> import numpy as np, framealloc as fa
        >>> alloc = fa.SmartAlloc()
        >>> with alloc.frame():
        ...     alloc.frame_concatenate((np.zeros((1, 2)), np.ones((2, 2)))).tolist()
        [[0.0, 0.0], [1.0, 1.0], [1.0, 1.0]]
        """
        return _creation.concatenate(self._alloc, arrays, axis, False)

    def try_frame_concatenate(self, arrays, axis=0) -> np.ndarray | None:
        """:meth:`frame_concatenate`, or None when memory runs out."""
        return _creation.concatenate(self._alloc, arrays, axis, True)

    def frame_stack(self, arrays, axis=0) -> np.ndarray:
        """Join same-shaped arrays along a new axis into the frame, like ``np.stack``.

        >>> import numpy as np, framealloc as fa
        >>> alloc = fa.SmartAlloc()
        >>> with alloc.frame():
        ...     alloc.frame_stack((np.arange(2), np.arange(2) + 5), axis=1).tolist()
        [[0, 5], [1, 6]]
        """
        return _creation.stack(self._alloc, arrays, axis, False)

    def try_frame_stack(self, arrays, axis=0) -> np.ndarray | None:
        """:meth:`frame_stack`, or None when memory runs out."""
        return _creation.stack(self._alloc, arrays, axis, True)

    def frame_take(self, a, indices, axis=None) -> np.ndarray:
        """Elements of ``a`` at ``indices`` (fancy indexing ``a[idx]`` is ``axis=0``), like
        ``np.take``; indices from -n to n - 1, FA020 otherwise.

        >>> import numpy as np, framealloc as fa
        >>> alloc = fa.SmartAlloc()
        >>> with alloc.frame():
        ...     alloc.frame_take(np.arange(10) * 10, np.array([3, -1])).tolist()
        [30, 90]
        """
        return _creation.take(self._alloc, a, indices, axis, False)

    def try_frame_take(self, a, indices, axis=None) -> np.ndarray | None:
        """:meth:`frame_take`, or None when memory runs out."""
        return _creation.take(self._alloc, a, indices, axis, True)

    def frame_compress(self, condition, a, axis=None) -> np.ndarray:
        """The slices of ``a`` where the 1-D ``condition`` is true, like ``np.compress``:
        boolean-mask indexing ``A[labels == i]`` is ``frame_compress(labels == i, A, axis=0)``.

        >>> import numpy as np, framealloc as fa
        >>> alloc = fa.SmartAlloc()
        >>> A = np.arange(6).reshape(3, 2)
        >>> with alloc.frame():
        ...     alloc.frame_compress(np.array([1, 0, 2]) > 0, A, axis=0).tolist()
        [[0, 1], [4, 5]]
        """
        return _creation.compress(self._alloc, condition, a, axis, False)

    def try_frame_compress(self, condition, a, axis=None) -> np.ndarray | None:
        """:meth:`frame_compress`, or None when memory runs out."""
        return _creation.compress(self._alloc, condition, a, axis, True)

    def frame_nonzero(self, a) -> tuple:
        """The indices of the non-zero elements of ``a``, one frame array per dimension, like
        ``np.nonzero`` (int64 / np.intp).

        >>> import numpy as np, framealloc as fa
        >>> alloc = fa.SmartAlloc()
        >>> with alloc.frame():
        ...     [ix.tolist() for ix in alloc.frame_nonzero(np.array([[0, 3], [4, 0]]))]
        [[0, 1], [1, 0]]
        """
        return _creation.nonzero(self._alloc, a, False)

    def try_frame_nonzero(self, a) -> tuple | None:
        """:meth:`frame_nonzero`, or None when memory runs out."""
        return _creation.nonzero(self._alloc, a, True)

    def frame_where(self, condition) -> tuple:
        """``np.where(condition)`` with one argument: :meth:`frame_nonzero` of ``condition``.

        >>> import numpy as np, framealloc as fa
        >>> alloc = fa.SmartAlloc()
        >>> with alloc.frame():
        ...     alloc.frame_where(np.array([1.0, -2.0, 3.0]) > 0)[0].tolist()
        [0, 2]
        """
        return _creation.nonzero(self._alloc, condition, False, "frame_where")

    def try_frame_where(self, condition) -> tuple | None:
        """:meth:`frame_where`, or None when memory runs out."""
        return _creation.nonzero(self._alloc, condition, True, "frame_where")

    def frame_eval(self, fn: Callable[..., Any], *args) -> np.ndarray:
        """``fn`` applied elementwise over the broadcast ``args`` (arrays or scalars), into a new
        frame array, in one loop: ``frame_eval(f, a, b)`` with ``f(x, y) = x - y * y`` is
        ``a - b * b`` without the temporaries. ``fn``: an ``@njit`` scalar function (or a plain
        one, compiled once per function), or a NumPy ufunc. Same call inside @njit (where ``fn``
        may also be a ``lambda``). FA020 for shapes that do not broadcast.

        >>> import numpy as np, framealloc as fa
        >>> from numba import njit
        >>> @njit
        ... def f(x, y):
        ...     return x - y * y
        >>> alloc = fa.SmartAlloc()
        >>> with alloc.frame():
        ...     r = alloc.frame_eval(f, np.arange(4.0), 2.0)
        ...     (r.tolist(), r.dtype.name)
        ([-4.0, -3.0, -2.0, -1.0], 'float64')
        """
        return _expressions.evaluate(self._alloc, fn, args, False)

    def try_frame_eval(self, fn: Callable[..., Any], *args) -> np.ndarray | None:
        """:meth:`frame_eval`, or None when memory runs out."""
        return _expressions.evaluate(self._alloc, fn, args, True)

    # -- checkpoints -------------------------------------------------------------------------
    def frame_checkpoint(self) -> FrameCheckpoint:
        """Remember the current point of this thread's frame (see :meth:`rollback_to`)."""
        return self._frame_part.checkpoint()

    def rollback_to(self, cp: FrameCheckpoint) -> None:
        """Free every frame allocation made since ``cp`` (their views alias later allocations).

        FA009 for a checkpoint of another allocator, FA011 for another thread's, FA010 for one
        from an older frame or already rolled past.
        """
        ta = self._frame_part.rollback(cp)
        if ta.ext:
            for listener in self._on_rollback:
                listener(ta, cp)

    def _forget_checkpoint(self, cp: FrameCheckpoint) -> None:
        self._frame_part.forget_checkpoint(cp)

    def checkpoint_guard(self) -> CheckpointGuard:
        """``with alloc.checkpoint_guard() as g:`` rolls back at the end unless ``g.commit()``.

        >>> import numpy as np, framealloc as fa
        >>> alloc = fa.SmartAlloc()
        >>> with alloc.frame():
        ...     with alloc.checkpoint_guard():
        ...         _ = alloc.frame_array(100)
        ...     alloc.stats().frame.current
        0
        """
        return CheckpointGuard(self)

    def scope(self) -> ScopeBlock:
        """``with alloc.scope():`` frees every frame allocation made inside the block at its end
        (also when it raises). Scopes nest; @njit code writes ``s = alloc.scope_begin()`` ...
        ``alloc.scope_end(s)``. FA001 outside a frame.

        >>> import numpy as np, framealloc as fa
        >>> alloc = fa.SmartAlloc()
        >>> with alloc.frame():
        ...     out = alloc.frame_array(4)
        ...     with alloc.scope():
        ...         tmp = alloc.frame_array(1000)
        ...         with alloc.scope():
        ...             tmp2 = alloc.frame_array(1000)
        ...         out[:] = 1.0
        ...     alloc.stats().frame.current
        32
        """
        return ScopeBlock(self)

    def scope_begin(self) -> FrameScope:
        """Open a scope in this thread's frame; end it with :meth:`scope_end` (see :meth:`scope`).

        >>> import framealloc as fa
        >>> alloc = fa.SmartAlloc()
        >>> with alloc.frame():
        ...     s = alloc.scope_begin()
        ...     _ = alloc.frame_array(8)
        ...     alloc.scope_end(s)
        ...     alloc.stats().frame.current
        0
        """
        return self._frame_part.scope_begin()

    def scope_end(self, s: FrameScope) -> None:
        """End scope ``s``: free the frame allocations made since :meth:`scope_begin` (their views
        alias later allocations) and close it. FA023 while a scope begun inside it is still open
        (nothing changes), FA010 when it ended already, FA009/FA011 for another allocator's or
        thread's scope."""
        ta, cp = self._frame_part.scope_end(s)
        if ta.ext:
            for listener in self._on_rollback:
                listener(ta, cp)

    def speculative(self, fn: Callable[..., Any], *args, **kwargs) -> SpeculativeResult:
        """Run ``fn(*args, **kwargs)``; roll its frame allocations back if it raises (the
        exception propagates) or returns :data:`framealloc.FAILED`.

        >>> import framealloc as fa
        >>> alloc = fa.SmartAlloc()
        >>> with alloc.frame():
        ...     r = alloc.speculative(lambda: fa.FAILED if alloc.frame_array(10)[0] != 0 else 1)
        ...     alloc.stats().frame.current <= 80
        True
        """
        if not callable(fn):
            raise error(ST.NOT_CALLABLE, call="speculative(fn, ...)", got=repr(fn),
                        example="speculative(step, x)")
        cp = self.frame_checkpoint()
        try:
            value = fn(*args, **kwargs)
        except BaseException:
            self.rollback_to(cp)
            raise
        if value is FAILED:
            self.rollback_to(cp)
            return SpeculativeResult(False, None)
        self._forget_checkpoint(cp)
        return SpeculativeResult(True, value)

    # -- thread coordination -------------------------------------------------------------------
    def frame_box_for_transfer(self, value) -> "TransferHandle":
        """Copy frame data (any array-like) into a tracked heap array another thread can
        :meth:`~framealloc.TransferHandle.receive` exactly once, after this frame has ended.

        >>> import numpy as np, framealloc as fa
        >>> alloc = fa.SmartAlloc()
        >>> with alloc.frame():
        ...     h = alloc.frame_box_for_transfer(alloc.frame_zeros(3, np.int8))
        >>> h.receive().tolist(), h.received
        ([0, 0, 0], True)
        """
        from .coordination import TransferHandle

        return TransferHandle(self.heap_box(value), threading.get_ident())

    # -- tags and budgets (framealloc.tags) ----------------------------------------------------
    @_doc_of(OrgPart.tag_id)
    def tag_id(self, path: str) -> int:
        return self._org_part.tag_id(path)

    @_doc_of(OrgPart.tag_name)
    def tag_name(self, tag_id: int) -> str:
        return self._org_part.tag_name(tag_id)

    @property
    @_doc_of(OrgPart.current_tag)
    def current_tag(self) -> str:
        return self._org_part.current_tag()

    @property
    @_doc_of(OrgPart.current_tag_id)
    def current_tag_id(self) -> int:
        return self._org_part.current_tag_id()

    @_doc_of(OrgPart.push_tag)
    def push_tag(self, name: str) -> int:
        return self._org_part.push_tag(name)

    @_doc_of(OrgPart.pop_tag)
    def pop_tag(self) -> None:
        self._org_part.pop_tag(5)   # FA155 warnings point at the caller (past the FA015 guard)

    @_doc_of(OrgPart.tag)
    def tag(self, name: str) -> ContextManager[int]:
        return self._org_part.tag(name)

    @_doc_of(OrgPart.with_tag)
    def with_tag(self, name: str, fn: Callable[..., Any], *args, **kwargs) -> Any:
        return self._org_part.with_tag(name, fn, *args, **kwargs)

    @_doc_of(OrgPart.set_budget)
    def set_budget(self, soft: int | None = None, hard: int | None = None, *,
                   kind: str = "total", on_soft: Callable[[BudgetEvent], Any] | None = None
                   ) -> None:
        self._org_part.set_budget(soft, hard, kind=kind, on_soft=on_soft)

    @_doc_of(OrgPart.set_tag_budget)
    def set_tag_budget(self, name: str, soft: int | None = None, hard: int | None = None, *,
                       on_soft: Callable[[BudgetEvent], Any] | None = None) -> None:
        self._org_part.set_tag_budget(name, soft, hard, on_soft=on_soft)

    @_doc_of(OrgPart.set_thread_frame_budget)
    def set_thread_frame_budget(self, soft: int | None = None, hard: int | None = None, *,
                                on_soft: Callable[[BudgetEvent], Any] | None = None) -> None:
        self._org_part.set_thread_frame_budget(soft, hard, on_soft=on_soft)

    @_doc_of(OrgPart.thread_counters)
    def _thread_counters(self, ta=None) -> tuple[int, int]:
        return self._org_part.thread_counters(ta)

    # -- phases (framealloc.phases) --------------------------------------------------------------
    @_doc_of(PhasesPart.begin_phase)
    def begin_phase(self, name: str) -> None:
        self._phase_part.begin_phase(name)

    @_doc_of(PhasesPart.end_phase)
    def end_phase(self, name: str | None = None) -> PhaseStats:
        return self._phase_part.end_phase(name)

    @_doc_of(PhasesPart.phase)
    def phase(self, name: str) -> PhaseBlock:
        return self._phase_part.phase(name)

    @property
    @_doc_of(PhasesPart.current_phase)
    def current_phase(self) -> str:
        return self._phase_part.current_phase()

    @_doc_of(PhasesPart.phase_stats)
    def phase_stats(self, frame: str = "last") -> dict:
        return self._phase_part.phase_stats(frame)

    @_doc_of(PhasesPart.section)
    def _phase_section(self) -> dict:
        return self._phase_part.section()

    # -- scratch pools (framealloc.scratch) ------------------------------------------------------
    @_doc_of(ScratchPart.scratch_pool)
    def scratch_pool(self, name: str, capacity: int | None = None) -> ScratchPool:
        return self._scratch_part.scratch_pool(name, capacity)

    @_doc_of(ScratchPart.get_scratch_pool)
    def get_scratch_pool(self, name: str) -> ScratchPool | None:
        return self._scratch_part.get_scratch_pool(name)

    @_doc_of(ScratchPart.scratch_pools)
    def scratch_pools(self) -> dict[str, ScratchStats]:
        return self._scratch_part.scratch_pools()

    @_doc_of(ScratchPart.scratch_array)
    def scratch_array(self, sid: int, shape, dtype=np.float64, *, align: int | None = None,
                      zero: bool = False) -> np.ndarray:
        return self._scratch_part.scratch_array(sid, shape, dtype, align=align, zero=zero)

    @_doc_of(ScratchPart.try_scratch_array)
    def try_scratch_array(self, sid: int, shape, dtype=np.float64, *, align: int | None = None,
                          zero: bool = False) -> np.ndarray | None:
        return self._scratch_part.try_scratch_array(sid, shape, dtype, align=align, zero=zero)

    @_doc_of(ScratchPart.scratch_zeros)
    def scratch_zeros(self, sid: int, shape, dtype=np.float64, *,
                      align: int | None = None) -> np.ndarray:
        return self._scratch_part.scratch_zeros(sid, shape, dtype, align=align)

    @_doc_of(ScratchPart.try_scratch_zeros)
    def try_scratch_zeros(self, sid: int, shape, dtype=np.float64, *,
                          align: int | None = None) -> np.ndarray | None:
        return self._scratch_part.try_scratch_zeros(sid, shape, dtype, align=align)

    @_doc_of(ScratchPart.scratch_reset)
    def scratch_reset(self, sid: int) -> None:
        self._scratch_part.scratch_reset(sid)

    @_doc_of(ScratchPart.scratch_used)
    def scratch_used(self, sid: int) -> int:
        return self._scratch_part.scratch_used(sid)

    @_doc_of(ScratchPart.state)
    def _scratch_state(self, create: bool = False):
        return self._scratch_part.state(create)

    @_doc_of(ScratchPart.section)
    def _scratch_section(self) -> dict:
        return self._scratch_part.section()

    # -- retention (framealloc.retention) --------------------------------------------------------
    @_doc_of(RetentionPart.frame_retained)
    def frame_retained(self, value_or_dtype, policy: RetentionPolicy, shape=()) -> np.ndarray:
        return self._retention_part.frame_retained(value_or_dtype, policy, shape)

    @_doc_of(RetentionPart.frame_with_importance)
    def frame_with_importance(self, value_or_dtype, importance: Importance,
                              shape=()) -> np.ndarray:
        return self._retention_part.frame_with_importance(value_or_dtype, importance, shape)

    @property
    @_doc_of(RetentionPart.retained_in_frame)
    def retained_in_frame(self) -> int:
        return self._retention_part.retained_in_frame()

    @_doc_of(RetentionPart.end_frame_with_promotions)
    def end_frame_with_promotions(self) -> PromotionResult:
        return self._retention_part.end_frame_with_promotions()

    @property
    @_doc_of(RetentionPart.last_promotions)
    def last_promotions(self) -> PromotionResult | None:
        return self._retention_part.last_promotions()

    # -- pools, typed pools, heap, groups, handles, streaming (framealloc.pools) --------------
    @property
    @_doc_of(PoolsPart.pools)
    def pools(self):
        return self._pool_part.pools()

    @_doc_of(PoolsPart.pool_alloc)
    def pool_alloc(self, dtype=np.float64, shape=(), *, zero: bool = False):
        return self._pool_part.pool_alloc(dtype, shape, zero=zero)

    @_doc_of(PoolsPart.pool_box)
    def pool_box(self, value):
        return self._pool_part.pool_box(value)

    @_doc_of(PoolsPart.pool_free)
    def pool_free(self, box) -> None:
        self._pool_part.pool_free(box)

    @_doc_of(PoolsPart.trim)
    def trim(self) -> int:
        return self._pool_part.trim()

    @_doc_of(PoolsPart.typed_pool)
    def typed_pool(self, dtype, capacity: int = 1024, *, policy: str = "grow", name: str = ""):
        return self._pool_part.typed_pool(dtype, capacity, policy=policy, name=name)

    @_doc_of(PoolsPart.heap_array)
    def heap_array(self, shape, dtype=np.float64, *, zero: bool = False) -> np.ndarray:
        return self._pool_part.heap_array(shape, dtype, zero=zero)

    @_doc_of(PoolsPart.heap_vec)
    def heap_vec(self, shape, dtype=np.float64, *, zero: bool = False) -> np.ndarray:
        return self._pool_part.heap_vec(shape, dtype, zero=zero)

    @_doc_of(PoolsPart.heap_box)
    def heap_box(self, value) -> np.ndarray:
        return self._pool_part.heap_box(value)

    @_doc_of(PoolsPart.create_group)
    def create_group(self, name: str = "") -> int:
        return self._pool_part.create_group(name)

    @_doc_of(PoolsPart.group_alloc)
    def group_alloc(self, group: int, shape, dtype=np.float64, *, zero: bool = False) -> np.ndarray:
        return self._pool_part.group_alloc(group, shape, dtype, zero=zero)

    @_doc_of(PoolsPart.group_box)
    def group_box(self, group: int, value) -> np.ndarray:
        return self._pool_part.group_box(group, value)

    @_doc_of(PoolsPart.free_group)
    def free_group(self, group: int) -> int:
        return self._pool_part.free_group(group)

    @_doc_of(PoolsPart.group_stats)
    def group_stats(self, group: int):
        return self._pool_part.group_stats(group)

    @property
    @_doc_of(PoolsPart.handles)
    def handles(self):
        return self._pool_part.handles()

    @_doc_of(PoolsPart.compact)
    def compact(self) -> int:
        return self._pool_part.compact()

    @_doc_of(PoolsPart.streaming)
    def streaming(self, budget: int, *, on_evict: Callable[[int], None] | None = None,
                  name: str = ""):
        return self._pool_part.streaming(budget, on_evict=on_evict, name=name)

    @_doc_of(PoolsPart.on_close)
    def _close_pools(self) -> None:
        self._pool_part.on_close()

    # -- frame collections (framealloc.collections) ----------------------------------------------
    @_doc_of(CollectionsPart.frame_vec)
    def frame_vec(self, dtype, capacity: int) -> FrameVec:
        return self._collection_part.frame_vec(dtype, capacity)

    @_doc_of(CollectionsPart.try_frame_vec)
    def try_frame_vec(self, dtype, capacity: int) -> FrameVec | None:
        return self._collection_part.try_frame_vec(dtype, capacity)

    @_doc_of(CollectionsPart.frame_map)
    def frame_map(self, key_dtype, value_dtype, capacity: int) -> FrameMap:
        return self._collection_part.frame_map(key_dtype, value_dtype, capacity)

    @_doc_of(CollectionsPart.try_frame_map)
    def try_frame_map(self, key_dtype, value_dtype, capacity: int) -> FrameMap | None:
        return self._collection_part.try_frame_map(key_dtype, value_dtype, capacity)

    @_doc_of(CollectionsPart.frame_layout)
    def frame_layout(self, fields: dict | None = None, /, **kwfields) -> FrameLayout:
        return self._collection_part.frame_layout(fields, **kwfields)

    # -- stats -------------------------------------------------------------------------------
    def stats(self) -> AllocStats:
        """Counters of this allocator: per kind, per thread, per tag, per phase, budgets.
        See :class:`AllocStats`; ``stats().to_dict()`` is JSON-serialisable.

        ``threads`` lists each live thread, then (once a thread has ended) one entry for every
        thread that ended; ``frame`` is their sum.

        >>> import framealloc as fa
        >>> alloc = fa.SmartAlloc()
        >>> with alloc.frame():
        ...     _ = alloc.frame_array(8)
        >>> s = alloc.stats()
        >>> s.frame.frames_ended, s.frame == fa.FrameStats.total(t.frame for t in s.threads)
        (1, True)
        """
        threads, frame, fallback_bytes = self._frame_part.stats()
        sections = self._pool_part.sections()
        sections.update(self._scratch_part.section())
        sections.update(self._phase_part.section())
        # What each kind holds, as tags count it (frame heap fallbacks included).
        org = self._org_part
        fb_live = int(org.frame_live_per_tag().sum())
        fb_alloc = frame.allocated + fallback_bytes
        kinds = {"frame": (fb_live, fb_alloc, fb_alloc - fb_live, frame.allocations)}
        for name, keys in AllocStats.TAG_KINDS.items():
            parts = [sections[k] for k in keys if sections.get(k) is not None]
            kinds[name] = (sum(p.current for p in parts), sum(p.allocated for p in parts),
                           sum(p.freed for p in parts), sum(p.allocations for p in parts))
        sections.update(org.sections(kinds))
        # Transparent frames (framealloc.transparent), if that module was ever loaded.
        tp = sys.modules.get("framealloc.transparent")
        if tp is not None:
            sections["transparent"] = tp.alloc_counters(self)
        return AllocStats(frame=frame, threads=threads, num_ooms=org.num_ooms(), **sections)

    def history(self, thread_slot: int | None = None) -> FrameHistory:
        """The last ``AllocConfig.history`` frames of the calling thread (or of the thread in
        slot ``thread_slot``), oldest first: per frame its bytes, allocations, peak, heap
        fallbacks, other kinds' bytes, budget events, bytes per tag and time. Frames begun and
        ended inside @njit code are there too. Empty with ``AllocConfig(history=0)``.

        >>> import numpy as np, framealloc as fa
        >>> alloc = fa.SmartAlloc()
        >>> for n in range(3):
        ...     with alloc.frame():
        ...         _ = alloc.frame_array(10 * (n + 1), np.uint8)
        >>> alloc.history()["frame_bytes"].tolist()
        [10, 20, 30]
        """
        if thread_slot is not None and (isinstance(thread_slot, bool) or not isinstance(
                thread_slot, (int, np.integer)) or not 0 <= thread_slot < self.config.max_threads):
            raise error(ST.BAD_DIAG_ARG, what="thread_slot", value=repr(thread_slot)[:60],
                        fix=f"pass None or a slot between 0 and {self.config.max_threads - 1}")
        if thread_slot is None:
            ta = getattr(self._tls, "arena", None)
            if ta is None:
                return _history.read(self._org_part, self._frame_part, -1, 0)
            thread_slot = ta.slot
        return _history.read(self._org_part, self._frame_part, int(thread_slot),
                             self.config.history)

    def snapshot(self, label: str = "") -> "Snapshot":
        """This allocator now: statistics, each live thread's frame history, configuration and
        the diagnostics with their codes, as a :class:`~framealloc.Snapshot` (save it as JSON,
        diff two with ``-``, render it with ``to_html()``; see ``docs/diagnostics.md``).

        >>> import numpy as np, framealloc as fa
        >>> alloc = fa.SmartAlloc()
        >>> with alloc.frame():
        ...     _ = alloc.frame_array(10, np.uint8)
        >>> alloc.snapshot("demo").stats["frame"]["allocated"]
        10
        """
        from .snapshot import capture
        return capture(self, label)

    def check_behaviour(self, warn: bool = True) -> list[BehaviourEvent]:
        """Run the behaviour filter now over every thread (FA510-FA516, see
        :class:`~framealloc.BehaviourFilter` and ``docs/diagnostics.md``) and return what it
        reports: each behaviour once per window of its length. ``warn``: also issue each as a
        :class:`~framealloc.BehaviourWarning` (raised under ``strict``). Python's ``end_frame``
        runs it every ``check_every`` frames by itself; call this after frames ended in @njit
        code. ``[]`` when the filter is off (``AllocConfig(behaviour=None)``).

        >>> import numpy as np, framealloc as fa
        >>> alloc = fa.SmartAlloc(on_frame_exhausted="heap", frame_capacity=4096,
        ...                       behaviour=fa.BehaviourFilter(heap_fallback_frames=3))
        >>> for _ in range(3):
        ...     with alloc.frame():
        ...         _ = alloc.frame_array(5000, np.uint8)
        >>> [e.code for e in alloc.check_behaviour(warn=False)]
        ['FA513']
        """
        part = self._behaviour_part
        if part is None:
            return []
        found = part.check_all()
        if warn:
            part.report(found)
        return found

    @property
    def behaviour_events(self) -> list[BehaviourEvent]:
        """The behaviour filter's reports so far (the last 256), oldest first; snapshots list
        them with their codes.

        >>> import framealloc as fa
        >>> fa.SmartAlloc().behaviour_events
        []
        """
        part = self._behaviour_part
        return [] if part is None else list(part.events)

    def trace(self, path) -> ContextManager["SmartAlloc"]:
        """``with alloc.trace("run.json"):`` writes the frames the calling thread ends in the
        block as Chrome trace-event JSON (Perfetto UI, chrome://tracing): frames as slices,
        bytes per kind and per tag as counters, budget events as instants. Read from the frame
        history at exit: nothing is added per frame (see :mod:`framealloc.trace`).

        >>> import os, tempfile, framealloc as fa
        >>> alloc = fa.SmartAlloc()
        >>> with alloc.trace(os.path.join(tempfile.mkdtemp(), "t.json")):
        ...     alloc.begin_frame(); alloc.end_frame()
        """
        from .trace import trace
        return trace(self, path)

    def close(self) -> None:
        """Close the allocator: every later call raises FA015, and its memory is released.

        Arrays handed out stay valid (each holds a reference to its chunk), and reading the
        final counters still works (:meth:`stats`). The allocator's pools, typed pools and
        scratch pools close with it.

        Threads: compiled (@njit) calls that received this allocator (or one of its pools)
        and are still running on other threads keep working with valid memory until they
        return; the memory is released when the last of them returns. A new call, from Python
        or a new compiled call, raises FA015 at once. Closing twice is harmless.

        >>> import framealloc as fa
        >>> alloc = fa.SmartAlloc()
        >>> alloc.close()
        >>> try:
        ...     alloc.begin_frame()
        ... except fa.FrameStateError as e:
        ...     print(e.code)
        FA015
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._frame_part.refuse()   # every thread's Python fast path now refuses
        for on_close in self._on_close:   # the pools this allocator made close with it
            on_close()
        self._finalizer()     # drops the allocator's own lease: _release() runs when it is free

    def _release(self) -> None:
        """Release the memory of a closed allocator (no compiled code holds its lease): the
        scratch pools (compiled code reaches them through the allocator), then the arenas."""
        with self._lock:
            for on_release in self._on_release:
                on_release()
            self._released = True
            self._frame_part.release()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called.

        >>> import framealloc as fa
        >>> alloc = fa.SmartAlloc(); alloc.close(); alloc.closed
        True
        """
        return self._closed

    def __enter__(self) -> "SmartAlloc":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"SmartAlloc(policy={self.config.on_frame_exhausted!r}, "
                f"threads={int((self._rows['owner'][:, 0] != 0).sum())}, "
                f"workers={self._frame_part.workers})")


#: What keeps working after close(): reading the final counters and the calling thread's
#: current state (read-only: the use-after-close table checks that they change nothing).
_READ_AFTER_CLOSE = ("closed", "stats", "history", "snapshot", "behaviour_events", "scratch_pools",
                     "current_phase", "current_tag", "current_tag_id", "frame_number", "in_frame",
                     "tag_name", "last_promotions")
#: Hot paths that refuse after close() by themselves (the row's limit is -1, so a frame
#: allocation falls to its slow path, which raises FA015; begin/end_frame check first).
_SELF_CHECKED = tuple(
    f"{p}{n}" for p in ("", "try_") for n in (
        "frame_array", "frame_zeros", "frame_alloc", "frame_slice", "frame_alloc_batch",
        "frame_alloc_2", "frame_alloc_4", "frame_alloc_8", "frame_box")
) + ("begin_frame", "end_frame")

guard_closed(SmartAlloc, _READ_AFTER_CLOSE, _SELF_CHECKED)


class _DebugSmartAlloc(SmartAlloc):
    """The class of a SmartAlloc made with ``AllocConfig(debug=True)`` (``SmartAlloc(...)``
    returns it; see :mod:`framealloc.debug`): its numba type is ``SmartAlloc[debug]``, and the
    methods that take arrays refuse other threads' frame views (FA022)."""

    @property
    def _numba_type_(self):
        from .kernels import ensure_registered
        from .kernels.njit_api import smart_alloc_debug_type

        ensure_registered()
        _DebugSmartAlloc._numba_type_ = smart_alloc_debug_type
        return smart_alloc_debug_type


for _name in VIEW_TAKING:
    setattr(_DebugSmartAlloc, _name, checked(getattr(SmartAlloc, _name), _name))
_DebugSmartAlloc.__name__ = _DebugSmartAlloc.__qualname__ = "SmartAlloc"

# The numba layer refuses these classes' Python-only names inside @njit (FA016).
PYTHON_CLASSES["SmartAlloc"] = SmartAlloc
