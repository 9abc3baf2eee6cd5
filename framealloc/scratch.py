"""Named scratch pools: bump arenas that persist across frames until ``reset()``.

A scratch pool is one fixed block of memory (``capacity`` bytes, a single NRT allocation made
when the pool is created) with a bump cursor. Allocations stay valid across frames; ``reset()``
makes all of the pool's memory reusable at once. Pools are registered by name on their
SmartAlloc: ``alloc.scratch_pool("physics", MiB(4))`` creates the pool the first time and
returns the same pool afterwards (``alloc.scratch_pool("physics")`` finds it anywhere in the
program); ``alloc.scratch_pools()`` is the registry with each pool's counters.

Inside ``@njit`` code, pass the SmartAlloc and the pool's integer ``id``:
``alloc.scratch_array(sid, shape, dtype)``, ``try_scratch_array``, ``scratch_zeros``,
``scratch_reset(sid)``, ``scratch_used(sid)`` (the same methods exist in Python).

Lifetime of views
-----------------
Views are ordinary numpy arrays that hold a reference to the pool's buffer, exactly like frame
views: they stay valid memory after ``reset()``, after ``alloc.close()`` and after the allocator
is gone. After a ``reset()`` they alias the pool's later allocations (write one, the other
changes), as with any arena: drop them, or copy what must survive (``np.array(view)``).

Threads
-------
A pool is shared by name, but like a typed pool it is meant to be used by one thread at a time:
its cursor is not synchronised (no locks on the hot path), so two threads (or ``prange``
workers) allocating from one pool at once may receive overlapping memory. Give each thread its
own pool (e.g. ``f"physics-{worker}"``) or serialise access yourself.

Budgets and tags
----------------
Every allocation is attributed to the calling thread's current tag and charged to the budgets
that apply (kind ``"scratch"``) before the bump; the bytes charged are the bytes the bump
consumes (alignment padding included), so per tag they add up to ``pool.used``. ``reset()``
gives every tag its bytes back. A hard budget refusal raises ``BudgetExceededError`` (FA154), or
makes the ``try_`` forms return None; nothing changes then.

State layout
------------
The counters of every pool of a SmartAlloc live in one table (``MAX_SCRATCH_POOLS`` rows of
``SCRATCH_POOL_DTYPE``, :mod:`framealloc.kernels.layout`), read and written in place, as int64
words (the ``S_*`` indices), by the Python methods and the @njit kernels
(:mod:`framealloc.kernels.scratch`; the reset, ``settle``, is one function that both run); a
second table (``SCRATCH_TAGS``, ``[MAX_SCRATCH_POOLS, AllocConfig.max_tags]`` words) holds the
bytes each tag holds in each pool.
@njit code finds an allocator's table through a process-wide registry (one row per allocator
that has scratch pools: owner id, table address), checked against the allocator passed in: a
pool id names its owner, its registry row and its table row, so a foreign, stale or made-up id
is refused (FA160), never followed.

Example
-------
>>> import numpy as np, framealloc as fa
>>> alloc = fa.SmartAlloc()
>>> nav = alloc.scratch_pool("navmesh", fa.KiB(64))
>>> for frame in range(3):
...     with alloc.frame():
...         if frame == 0:
...             grid = nav.zeros((32, 32), np.float32)     # built once, used every frame
...         grid[frame, frame] = 1.0
>>> float(grid.sum()), nav.used
(3.0, 4096)
>>> alloc.scratch_pool("navmesh") is nav, alloc.scratch_pools()["navmesh"].allocations
(True, 1)
>>> nav.reset(); nav.used
0
"""
from __future__ import annotations

import operator
import threading
import weakref
from dataclasses import dataclass

import numpy as np

from ._closing import guard_closed
from ._dtypes import (
    MAX_BYTES,
    box_source,
    check_align,
    check_nbytes,
    normalize_shape,
    resolve_dtype,
)
from ._hooks import AllocPart
from .errors import ScratchError, ScratchFullError, error
from .kernels import status as ST
from .tags import charge_take
from .kernels.layout import (
    KIND_SCRATCH,
    MAX_SCRATCH_POOLS,
    R_OWNER,
    R_TABLE,
    REG_CAP,
    S_BASE,
    S_CAP,
    S_COUNT,
    S_COUNT_RESET,
    S_CURSOR,
    S_FREED,
    S_ID,
    S_LIMIT,
    S_MI,
    S_NTAGS,
    S_PEAK,
    S_RESETS,
    S_STATE,
    S_TAGS,
    SCRATCH_POOL_DTYPE,
    SID_INDEX_MASK,
    SID_OWNER_SHIFT,
    SID_SLOT_SHIFT,
    STATE_CLOSED,
    STATE_OPEN,
    registry_lock as _reg_lock,
    scratch_registry as _registry,
    scratch_tags_dtype,
    words,
)

__all__ = ["ScratchPart", "ScratchPool", "ScratchStats"]

# ---------------------------------------------------------------------------------------------
# State layout: framealloc.kernels.layout (SCRATCH_POOL_DTYPE, SCRATCH_TAGS, SCRATCH_REGISTRY_DTYPE)

MAX_NAME = 128

_init_lock = threading.Lock()


_scratch_kernels = _settle = None


def _kernels():
    """:mod:`framealloc.kernels.scratch`, imported on first use (it loads numba)."""
    global _scratch_kernels, _settle
    if _scratch_kernels is None:
        from .kernels import scratch
        _scratch_kernels, _settle = scratch, scratch.settle
    return _scratch_kernels


def _give_back(alloc, kind: int, tag: int, nbytes: int) -> None:
    """``release`` of :func:`~framealloc.kernels.scratch.settle` from Python: a tag's bytes go
    back through the allocator's charge interface."""
    alloc._org_release(kind, tag, nbytes)


# ---------------------------------------------------------------------------------------------
# Stats


class _PoolChanged(Exception):
    """A scratch allocation's charge ran code that used or closed the pool: start again."""


@dataclass(frozen=True)
class ScratchStats:
    """Counters of one scratch pool (``pool.stats()``) or of all of an allocator's (totals).

    Attributes
    ----------
    name: the pool's name ("" for totals).
    current: bytes in use now (the cursor: alignment padding included).
    peak: highest ``current`` (totals: the sum of the pools' peaks, an upper bound).
    allocated: bytes ever handed out; freed: bytes released by ``reset()`` (and ``close()``),
        so ``allocated - freed == current``.
    allocations: allocations ever made; current_allocations: made since the last reset.
    resets: ``reset()`` calls.
    capacity: bytes of the pool(s); reserved: bytes of memory held now (0 once closed).
    pools: pools counted (1 for one pool).

    >>> import framealloc as fa
    >>> from dataclasses import asdict
    >>> pool = fa.SmartAlloc().scratch_pool("tmp", 1024)
    >>> _ = pool.array(10, "f8"); pool.reset(); _ = pool.array(3, "i1")
    >>> s = pool.stats(); (s.current, s.peak, s.allocated, s.freed, s.allocations, s.resets)
    (3, 80, 83, 80, 2, 1)
    >>> asdict(s)["capacity"]
    1024
    """

    name: str = ""
    current: int = 0
    peak: int = 0
    allocated: int = 0
    freed: int = 0
    allocations: int = 0
    current_allocations: int = 0
    resets: int = 0
    capacity: int = 0
    reserved: int = 0
    pools: int = 0

    @classmethod
    def from_row(cls, name: str, row: np.ndarray) -> "ScratchStats":
        r = row.tolist()
        cur = r[S_CURSOR]
        return cls(name=name, current=cur, peak=max(r[S_PEAK], cur), allocated=r[S_FREED] + cur,
                   freed=r[S_FREED], allocations=r[S_COUNT],
                   current_allocations=r[S_COUNT] - r[S_COUNT_RESET], resets=r[S_RESETS],
                   capacity=r[S_CAP], reserved=r[S_CAP] if r[S_STATE] == STATE_OPEN else 0,
                   pools=1)


def _total(stats) -> ScratchStats:
    s = list(stats)
    return ScratchStats(**{f: sum(getattr(x, f) for x in s)
                           for f in ScratchStats.__dataclass_fields__ if f != "name"})


# ---------------------------------------------------------------------------------------------
# Per-allocator state


def _release_scratch(table: np.ndarray, reg_slot: int, owner: int) -> None:
    """Finalizer (close or garbage collection): drop the buffers, keep the counters."""
    from ._slots import nrt_drop

    for i in np.flatnonzero(table[:, S_STATE] == STATE_OPEN).tolist():
        r = table[i]
        mi = int(r[S_MI])
        r[S_LIMIT] = -1
        r[S_STATE] = STATE_CLOSED
        r[S_MI] = 0
        r[S_BASE] = 0
        nrt_drop(mi)
    reg = _registry()
    with _reg_lock:
        if reg[reg_slot, R_OWNER] == owner:
            reg[reg_slot] = 0


class _ScratchState:
    """Per-SmartAlloc scratch state: the tables, the name index, a registry row."""

    def __init__(self, max_tags: int, owner_id: int):
        # The int64 words of a SCRATCH_POOL table and of a SCRATCH_TAGS table (their .base).
        self.table = words(np.zeros(MAX_SCRATCH_POOLS, SCRATCH_POOL_DTYPE))
        self.table[:, S_LIMIT] = -1
        self.tags = words(np.zeros(MAX_SCRATCH_POOLS, scratch_tags_dtype(max_tags)))
        self.no_tags = bytes(self.tags.shape[1] * 8)   # the bytes of a tag row with no bytes
        self.index: dict[str, int] = {}
        self.names: list[str] = []
        self.handles: "weakref.WeakValueDictionary[int, ScratchPool]" = \
            weakref.WeakValueDictionary()
        self.lock = threading.RLock()
        self.owner = owner_id
        reg = _registry()
        with _reg_lock:
            free = np.flatnonzero(reg[:, R_OWNER] == 0)
            if free.size == 0:
                raise ScratchError(f"more than {REG_CAP} allocators hold scratch pools at once; "
                                   "close allocators you no longer use", code="FA162")
            self.slot = int(free[0])
            reg[self.slot, R_OWNER] = self.owner
            reg[self.slot, R_TABLE] = self.table.ctypes.data
        # Called when the allocator's memory is released (framealloc.alloc._last_holder): not
        # at the allocator's garbage collection, since compiled code may still hold its lease.
        self.finalizer = weakref.finalize(self, _release_scratch, self.table, self.slot,
                                          self.owner)

    def sid(self, index: int) -> int:
        return (self.owner << SID_OWNER_SHIFT) | (self.slot << SID_SLOT_SHIFT) | index


def _words_of(row: np.ndarray) -> memoryview:
    """The int64 words of one table row, as a memoryview (fast item access from Python)."""
    return memoryview(row).cast("B").cast("q")


def _check_name(name) -> str:
    if not isinstance(name, str) or not name or len(name) > MAX_NAME or not name.isprintable():
        raise ScratchError(f"a scratch pool name must be a non-empty printable str of at most "
                           f"{MAX_NAME} characters, got {name!r}", code="FA160")
    return name


def _check_capacity(capacity) -> int:
    if isinstance(capacity, bool):
        cap = None
    else:
        try:
            cap = operator.index(capacity)
        except TypeError:
            cap = None
    if cap is None or not 1 <= cap <= MAX_BYTES:
        raise ScratchError(f"a scratch pool capacity must be an int number of bytes between 1 "
                           f"and {MAX_BYTES}, got {capacity!r}", code="FA160")
    return cap


# ---------------------------------------------------------------------------------------------
# The pool


class ScratchPool:
    """A named bump arena of one SmartAlloc: allocations persist across frames until
    :meth:`reset`. Get one with :meth:`SmartAlloc.scratch_pool
    <framealloc.SmartAlloc.scratch_pool>`.

    Use it from one thread at a time (see the module documentation). Views stay valid memory
    after ``reset()`` and ``close()`` but alias the pool's later allocations after a reset.

    >>> import numpy as np, framealloc as fa
    >>> alloc = fa.SmartAlloc()
    >>> pool = alloc.scratch_pool("ai", 4096)
    >>> a = pool.array((4, 4), np.float32, align=64)
    >>> (a.shape, a.ctypes.data % 64, pool.used, pool.capacity, pool.name)
    ((4, 4), 0, 64, 4096, 'ai')
    """

    __slots__ = ("_owner", "_state", "_index", "_m", "_tm", "_buf", "_views", "__weakref__")

    def __init__(self, alloc, state: _ScratchState, index: int):
        self._owner = alloc
        self._state = state
        self._index = index
        self._m = _words_of(state.table[index])
        self._tm = _words_of(state.tags[index])
        self._buf: np.ndarray | None = None
        # dtype -> (typed view of the whole buffer or None, itemsize, natural alignment, dtype)
        self._views: dict = {}

    # -- identity --------------------------------------------------------------------------
    @property
    def name(self) -> str:
        """The pool's name."""
        return self._state.names[self._index]

    @property
    def id(self) -> int:
        """Integer id for @njit code: ``alloc.scratch_array(pool.id, shape, dtype)``."""
        return self._m[S_ID]

    @property
    def capacity(self) -> int:
        """Bytes the pool holds."""
        return self._m[S_CAP]

    @property
    def used(self) -> int:
        """Bytes in use since the last reset (alignment padding included).

        >>> import framealloc as fa
        >>> pool = fa.SmartAlloc().scratch_pool("u", 100)
        >>> _ = pool.array(1, "i1"); _ = pool.array(1, "f8"); pool.used
        16
        """
        return self._m[S_CURSOR]

    @property
    def available(self) -> int:
        """``capacity - used`` (an allocation may need up to ``align - 1`` bytes of padding)."""
        m = self._m
        return m[S_CAP] - m[S_CURSOR] if m[S_STATE] == STATE_OPEN else 0

    @property
    def closed(self) -> bool:
        """Whether the allocator was closed (its scratch pools with it)."""
        return self._closed

    @property
    def _closed(self) -> bool:
        return self._owner._closed or self._m[S_STATE] != STATE_OPEN

    def _raise_closed(self):
        self._owner._raise_closed()

    # -- allocation ------------------------------------------------------------------------
    def array(self, shape, dtype=np.float64, *, align: int | None = None,
              zero: bool = False) -> np.ndarray:
        """An uninitialised array in the pool, like ``np.empty(shape, dtype)``.

        Parameters
        ----------
        shape: int or tuple of ints.
        dtype: any fixed-size NumPy dtype, numeric or structured.
        align: alignment of the data address in bytes, a power of two up to 4096; default the
            dtype's natural alignment.
        zero: fill with zeros (see :meth:`zeros`).

        Raises ScratchFullError (FA161, a MemoryError) when the pool has too few bytes left;
        FA004/FA005/FA014 for bad shapes, FA006 for unsupported dtypes, FA007 for bad
        alignments; nothing changes on error.

        >>> import numpy as np, framealloc as fa
        >>> pool = fa.SmartAlloc().scratch_pool("a", 256)
        >>> x = pool.array(8, np.int32); x[:] = 7; int(x.sum())
        56
        >>> try:
        ...     pool.array(1000, np.int32)
        ... except fa.ScratchFullError as e:
        ...     print(e.code, pool.used)
        FA161 32
        """
        return self._alloc(shape, dtype, align, zero, False)

    def try_array(self, shape, dtype=np.float64, *, align: int | None = None,
                  zero: bool = False) -> np.ndarray | None:
        """:meth:`array`, but None instead of raising when the pool is full (or a hard budget
        refuses).

        >>> import framealloc as fa
        >>> pool = fa.SmartAlloc().scratch_pool("t", 64)
        >>> pool.try_array(8, "f8") is None, pool.try_array(1, "f8") is None
        (False, True)
        """
        return self._alloc(shape, dtype, align, zero, True)

    def zeros(self, shape, dtype=np.float64, *, align: int | None = None) -> np.ndarray:
        """A zero-filled array in the pool, like ``np.zeros``.

        >>> import framealloc as fa
        >>> fa.SmartAlloc().scratch_pool("z", 64).zeros((2, 2), "i2").tolist()
        [[0, 0], [0, 0]]
        """
        return self._alloc(shape, dtype, align, True, False)

    def try_zeros(self, shape, dtype=np.float64, *, align: int | None = None) -> np.ndarray | None:
        """:meth:`zeros`, or None when the pool is full."""
        return self._alloc(shape, dtype, align, True, True)

    def box(self, value) -> np.ndarray:
        """Copy a scalar, record or array into the pool; returns the copy (0-d for scalars).

        >>> import numpy as np, framealloc as fa
        >>> pool = fa.SmartAlloc().scratch_pool("b", 64)
        >>> pool.box(np.arange(3)).tolist(), float(pool.box(2.5))
        ([0, 1, 2], 2.5)
        """
        src = box_source(value)
        out = self._alloc(src.shape, src.dtype, None, False, False)
        out[...] = src
        return out

    def try_box(self, value) -> np.ndarray | None:
        """:meth:`box`, or None when the pool is full."""
        src = box_source(value)
        out = self._alloc(src.shape, src.dtype, None, False, True)
        if out is not None:
            out[...] = src
        return out

    def _view_spec(self, dtype) -> tuple:
        dt, isz, natural = resolve_dtype(dtype)
        m = self._m
        tv = buf = None
        # Locked: releasing the pools (close()) must not drop the buffer between reading its
        # address and the view taking its own reference.
        with self._state.lock:
            if m[S_STATE] == STATE_OPEN:
                if self._buf is None:
                    from ._slots import nrt_bytes
                    self._buf = nrt_bytes(m[S_MI], m[S_BASE], m[S_CAP])
                buf = self._buf
                tv = buf[:buf.size - buf.size % isz].view(dt)
        spec = (tv, isz, natural, dt, buf)
        try:
            self._views[dtype] = spec
        except TypeError:  # unhashable dtype spec (e.g. a list of fields): not cached
            pass
        return spec

    def _alloc(self, shape, dtype, align, zero: bool, try_: bool):
        """The Python fast path: validate, charge the tag/budgets, bump, slice a cached view."""
        m = self._m
        try:
            tv, isz, a, dt, buf = self._views[dtype]
        except (KeyError, TypeError):
            tv, isz, a, dt, buf = self._view_spec(dtype)
        if type(shape) is int and shape >= 0:
            count, dims = shape, None
        else:
            dims, count = normalize_shape(shape)
        nbytes = count * isz
        if nbytes > MAX_BYTES:
            check_nbytes(count, isz)
        if align is not None:
            a = check_align(align, a)
        cur = m[S_CURSOR]
        off = (cur + a - 1) & -a          # the base is 4096-aligned: offset alignment = address
        end = off + nbytes
        if end > m[S_LIMIT]:
            return self._refuse(nbytes, off, try_)
        try:
            if charge_take(self._owner, KIND_SCRATCH, end - cur, try_, self._bump,
                           (cur, end)) is None:
                return None
        except _PoolChanged:
            return self._alloc(shape, dtype, align, zero, try_)
        # ``tv``/``buf`` are local references to the pool's buffer: the result stays valid
        # memory even if the allocator is closed meanwhile on another thread.
        if tv is not None and off % isz == 0:
            i = off // isz
            out = tv[i:i + count]
        else:
            out = buf[off:end].view(dt)
        if dims is not None:
            out = out.reshape(dims)
        if zero:
            buf[off:end] = 0
        return out

    def _bump(self, tag: int, arg) -> int:
        """The take of :meth:`_alloc` (``arg``: the cursor and the end seen before the charge):
        count the bytes for ``tag`` and move the cursor. If the charge ran code (a budget
        callback) that used or closed this pool, nothing is taken and :meth:`_alloc` starts
        again (the charge refunded by ``charge_take``)."""
        cur, end = arg
        m = self._m
        if m[S_CURSOR] != cur or end > m[S_LIMIT]:
            raise _PoolChanged
        self._tm[tag] += end - cur
        m[S_CURSOR] = end
        m[S_COUNT] += 1
        return end

    def _refuse(self, nbytes: int, off: int, try_: bool):
        m = self._m
        if m[S_STATE] != STATE_OPEN:
            self._owner._raise_closed()
        if try_:
            return None
        raise error(ST.SCRATCH_FULL, name=f" {self.name!r}",
                    usage=f": {nbytes} bytes requested at offset {off}, {m[S_CURSOR]} of "
                          f"{m[S_CAP]} bytes in use")

    # -- reset and counters ----------------------------------------------------------------
    def reset(self) -> None:
        """Make all of the pool's memory reusable (O(tags)); every tag gets its bytes back.

        Views handed out stay valid memory (they keep the buffer alive) but alias the pool's
        later allocations.

        >>> import framealloc as fa
        >>> pool = fa.SmartAlloc().scratch_pool("r", 64)
        >>> a = pool.array(8, "f8"); a[:] = 1; pool.reset()
        >>> b = pool.array(8, "f8"); b[:] = 2; float(a[0])     # a aliases b now
        2.0
        """
        owner = self._owner
        tags: memoryview | tuple[()] = self._tm
        if self._tm.tobytes() == self._state.no_tags:
            tags = ()      # no tag holds bytes: skip settle's loop over the tags (at C speed)
        if (_settle or _kernels().settle)(self._m, tags, _give_back, owner, 1):
            owner._raise_closed()

    def stats(self) -> ScratchStats:
        """This pool's counters (see :class:`ScratchStats`)."""
        return ScratchStats.from_row(self.name, self._state.table[self._index])

    def __eq__(self, other) -> bool:
        return isinstance(other, ScratchPool) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"used={self.used}"
        return f"ScratchPool({self.name!r}, capacity={self.capacity}, {state})"


# ---------------------------------------------------------------------------------------------
# The scratch part of a SmartAlloc


class ScratchPart(AllocPart):
    """Named scratch pools of one SmartAlloc (``alloc._scratch_part``).

    State: a ``_ScratchState`` (pool table, per-tag byte table, name index, a registry row),
    made when the first pool is created (:meth:`state`). Events: ``on_release`` releases every
    pool's memory when the allocator's memory goes (counters kept, tags given back);
    ``on_collected`` only drops the buffers. Stats: :meth:`section` (also read by the org part
    for the live scratch bytes). Pools charge through the allocator's charge interface
    (``alloc._org_charge`` / ``_org_release``).
    """

    def __init__(self, owner, config, owner_id: int):
        self._owner = owner           # weak reference to the SmartAlloc
        self._max_tags = config.max_tags
        self._owner_id = owner_id
        self._st: _ScratchState | None = None

    def state(self, create: bool = False) -> _ScratchState | None:
        """The scratch state (tables, names, registry row); None before the first pool unless
        ``create``."""
        st = self._st
        if st is None and create:
            with _init_lock:
                st = self._st
                if st is None:
                    st = self._st = _ScratchState(self._max_tags, self._owner_id)
        return st

    def _scratch_handle(self, st: _ScratchState, index: int) -> ScratchPool:
        pool = st.handles.get(index)
        if pool is None:
            pool = st.handles[index] = ScratchPool(self._owner(), st, index)
        return pool

    def scratch_pool(self, name: str, capacity: int | None = None) -> ScratchPool:
        """The scratch pool called ``name``, created with ``capacity`` bytes on first use.

        Parameters
        ----------
        name: a non-empty printable str (at most 128 characters).
        capacity: bytes of the pool; needed to create it. Asking for an existing pool with no
            capacity or with its own capacity returns it; any other capacity raises FA160.

        Raises ScratchError (FA160) for a bad name or capacity, an unknown name without a
        capacity, or a capacity that differs from the existing pool's; FA162 past 256 pools;
        ScratchFullError (FA161) if the memory cannot be allocated. FA015 after ``close()``.

        >>> import framealloc as fa
        >>> alloc = fa.SmartAlloc()
        >>> p = alloc.scratch_pool("physics", fa.KiB(16))
        >>> alloc.scratch_pool("physics") is p, alloc.scratch_pool("physics", 16384) is p
        (True, True)
        >>> alloc.scratch_pool("render")
        Traceback (most recent call last):
        ...
        framealloc.errors.ScratchError: FA160: no scratch pool named 'render' ...
        """
        self._check_open()
        name = _check_name(name)
        cap = None if capacity is None else _check_capacity(capacity)
        st = self.state(create=cap is not None)
        if st is None:
            raise error(ST.BAD_SCRATCH, "name", name=repr(name))
        with st.lock:
            index = st.index.get(name)
            if index is not None:
                have = int(st.table[index, S_CAP])
                if cap is not None and cap != have:
                    raise ScratchError(f"scratch pool {name!r} exists with capacity {have}, not "
                                       f"{cap}; pools never resize (use another name)",
                                       code="FA160")
                return self._scratch_handle(st, index)
            if cap is None:
                raise error(ST.BAD_SCRATCH, "name", name=repr(name))
            if len(st.names) >= MAX_SCRATCH_POOLS:
                raise ScratchError(f"an allocator holds at most {MAX_SCRATCH_POOLS} scratch "
                                   "pools; reuse pools by name", code="FA162")
            self._check_open()
            index = len(st.names)
            mi, base = _kernels().new_buffer(cap)
            if mi == 0:
                raise ScratchFullError(f"could not allocate {cap} bytes for scratch pool "
                                       f"{name!r}", code="FA161")
            r = st.table[index]
            r[S_BASE] = base
            r[S_MI] = mi
            r[S_CAP] = cap
            r[S_ID] = st.sid(index)
            r[S_TAGS] = st.tags[index].ctypes.data
            r[S_NTAGS] = st.tags.shape[1]
            r[S_STATE] = STATE_OPEN
            r[S_LIMIT] = cap
            st.names.append(name)
            st.index[name] = index
            return self._scratch_handle(st, index)

    def get_scratch_pool(self, name: str) -> ScratchPool | None:
        """The scratch pool called ``name``, or None if there is none (never creates one).

        >>> import framealloc as fa
        >>> alloc = fa.SmartAlloc()
        >>> alloc.get_scratch_pool("fx") is None
        True
        >>> p = alloc.scratch_pool("fx", 1024); alloc.get_scratch_pool("fx") is p
        True
        """
        self._check_open()
        name = _check_name(name)
        st = self.state()
        if st is None:
            return None
        with st.lock:
            index = st.index.get(name)
            return None if index is None else self._scratch_handle(st, index)

    def scratch_pools(self) -> dict[str, ScratchStats]:
        """The registry: every scratch pool's name and counters, in creation order.

        >>> import framealloc as fa
        >>> alloc = fa.SmartAlloc()
        >>> _ = alloc.scratch_pool("a", 100).array(3, "f4")
        >>> {k: (v.current, v.capacity) for k, v in alloc.scratch_pools().items()}
        {'a': (12, 100)}
        """
        st = self.state()
        if st is None:
            return {}
        with st.lock:
            names = list(st.names)
        return {n: ScratchStats.from_row(n, st.table[i]) for i, n in enumerate(names)}

    def section(self) -> dict:
        """The scratch sections of :meth:`~framealloc.SmartAlloc.stats`: totals and per-pool
        counters."""
        pools = self.scratch_pools()
        return {"scratch": _total(pools.values()), "scratch_pools": pools}

    # -- by id (the same methods work inside @njit) ------------------------------------------
    def _scratch_by_id(self, sid) -> ScratchPool:
        self._check_open()
        st = self.state()
        try:
            k = operator.index(sid) if not isinstance(sid, bool) else None
        except TypeError:
            k = None
        if st is not None and k is not None and k >= 0:
            index = k & SID_INDEX_MASK
            if index < len(st.names) and st.sid(index) == k:
                return self._scratch_handle(st, index)
        raise error(ST.BAD_SCRATCH, sid=repr(sid))

    def scratch_array(self, sid: int, shape, dtype=np.float64, *, align: int | None = None,
                      zero: bool = False) -> np.ndarray:
        """``ScratchPool.array`` of the pool with id ``sid`` (``pool.id``); works in @njit.

        >>> import numpy as np, framealloc as fa
        >>> from numba import njit
        >>> alloc = fa.SmartAlloc()
        >>> sid = alloc.scratch_pool("k", 1024).id
        >>> @njit
        ... def fill(alloc, sid, n):
        ...     a = alloc.scratch_array(sid, n, np.float32)
        ...     a[:] = 2.0
        ...     return a
        >>> fill(alloc, sid, 4).tolist(), alloc.scratch_used(sid)
        ([2.0, 2.0, 2.0, 2.0], 16)
        """
        return self._scratch_by_id(sid)._alloc(shape, dtype, align, zero, False)

    def try_scratch_array(self, sid: int, shape, dtype=np.float64, *, align: int | None = None,
                          zero: bool = False) -> np.ndarray | None:
        """:meth:`scratch_array`, or None when the pool is full (or a hard budget refuses)."""
        return self._scratch_by_id(sid)._alloc(shape, dtype, align, zero, True)

    def scratch_zeros(self, sid: int, shape, dtype=np.float64, *,
                      align: int | None = None) -> np.ndarray:
        """A zero-filled :meth:`scratch_array`."""
        return self._scratch_by_id(sid)._alloc(shape, dtype, align, True, False)

    def try_scratch_zeros(self, sid: int, shape, dtype=np.float64, *,
                          align: int | None = None) -> np.ndarray | None:
        """:meth:`scratch_zeros`, or None when the pool is full."""
        return self._scratch_by_id(sid)._alloc(shape, dtype, align, True, True)

    def scratch_reset(self, sid: int) -> None:
        """``ScratchPool.reset`` of the pool with id ``sid``."""
        self._scratch_by_id(sid).reset()

    def scratch_used(self, sid: int) -> int:
        """``ScratchPool.used`` of the pool with id ``sid``."""
        return self._scratch_by_id(sid).used

    # -- events --------------------------------------------------------------------------------
    def on_release(self) -> None:
        """Release every pool's memory now; counters stay (current becomes 0, as after a reset
        that is not counted as one)."""
        st = self._st
        if st is None:
            return
        alloc = self._owner()
        with st.lock:
            for i in np.flatnonzero(st.table[:, S_STATE] == STATE_OPEN).tolist():
                # The reset's settlement, not counted as a reset; tags get their bytes back.
                _kernels().settle(_words_of(st.table[i]), _words_of(st.tags[i]), _give_back,
                                  alloc, 0)
            st.finalizer()
            for pool in list(st.handles.values()):
                pool._buf, pool._views = None, {}

    def on_collected(self) -> None:
        """The allocator was collected without ``close()``: drop the buffers."""
        st = self._st
        if st is not None:
            st.finalizer()


guard_closed(ScratchPool, ("closed", "name", "id", "capacity", "used", "available", "stats"))
