"""TypedPool: fixed-dtype record storage with a free-list stack and generations (particle systems).

A typed pool is a *slot table* (:mod:`framealloc.kernels.layout`): ``capacity`` records of one
dtype in ``pool.data``, a free-list stack of slot indices and a generation per slot, all in one
NRT buffer whose address lives in a numpy header row. Python and ``@njit`` code use the same
object and the same methods; inside @njit, ``acquire()`` + ``release(i)`` are a few loads and
stores (no call, no refcounting).

Indices and handles
-------------------
``acquire()`` returns a slot **index** ``i`` (``pool.data[i]`` is the record). An index is what a
particle kernel uses. To keep a reference across frames, take a **handle**: ``pool.handle(i)``
(or ``acquire_handle()``) returns ``(generation << 32) | i``, a positive Python/NumPy int. A slot's
generation is odd while it is live and steps on every acquire and release, so a handle of a slot
that was released (and maybe reused) since is detected: ``is_alive(h)`` is False, ``index(h)`` and
``release(h)`` raise :class:`~framealloc.StaleHandleError` (FA103). Every method that takes a slot
accepts either form: a handle is always ``>= 2**32``, an index always below. ``pool.index(h)``
turns a handle back into the index. Generations wrap after 2**30 reuses of one slot.

Growth
------
Under ``policy="grow"`` (default) an acquire on a full pool doubles the storage — also inside
@njit code (a cold call allocates the new buffer, copies records and generations, and releases the
old one). The records then live at a new address: **re-read** ``pool.data`` **after anything that
may grow the pool** (``acquire``, ``acquire_many``, ``reserve``). An array you took before keeps
the old buffer alive, so it never dangles, but it no longer is the pool's storage (writes to it are
lost). For storage that never moves use ``policy="error"`` (an acquire on a full pool raises
:class:`~framealloc.PoolExhaustedError`, FA105; ``try_acquire()`` returns None) with a capacity
that fits, or call ``reserve(n)`` up front.

Threads: each Python-level call is atomic (one compiled call under the GIL); compiled code is not
synchronised, so do not use one pool from ``nogil`` kernels in several threads at once, nor in
``prange`` bodies: use one pool per thread.

Tags and budgets: a pool made by ``alloc.typed_pool()`` charges every acquired record
(``itemsize`` bytes, kind ``"pool"``) to the calling thread's current tag and the budgets over it,
from Python and @njit; the tag is recorded per slot, so a release (from any thread) gives the bytes
back to the tag they were charged to. A hard budget makes ``acquire``/``acquire_many`` raise
:class:`~framealloc.BudgetExceededError` (FA154) and ``try_acquire`` return None, with the pool
unchanged. A standalone ``TypedPool(...)`` belongs to no allocator: no tags, no budgets.

Example
-------
>>> import numpy as np
>>> from framealloc.typed_pool import TypedPool
>>> P = np.dtype([("pos", "f4", 3), ("vel", "f4", 3), ("life", "f4")])
>>> pool = TypedPool(P, 1000)
>>> i = pool.acquire(); pool.data[i]["life"] = 2.0
>>> h = pool.handle(i); len(pool), pool.is_alive(h)
(1, True)
>>> pool.release(h); pool.is_alive(h)
False
>>> j = pool.acquire(); j == i, pool.is_alive(h)      # the slot is reused; the old handle is stale
(True, False)
"""
from __future__ import annotations

import functools
import itertools
import threading
import weakref
from dataclasses import dataclass

import numpy as np

from ._closing import Lease, guard_closed
from ._dtypes import resolve_dtype
from ._slots import (
    check_count,
    check_key,
    check_policy,
    kernels,
    nrt_bytes,
    nrt_drop,
    raise_acquire,
    raise_release,
)
from .errors import error
from .kernels import PYTHON_CLASSES
from .kernels import status as ST
from .kernels.layout import (
    H_ACTIVE,
    KIND_POOL,
    MAX_TYPED_SLOTS,
    POLICY_CLOSED,
    POOL_POLICIES,
    SLOT_MASK,
    TR_ACQUIRED,
    TR_ACQUIRED_BYTES,
    TR_GROWS,
    TR_PEAK_BYTES,
    TR_RELEASED,
    H,
    gen_offset,
    new_pool_headers,
    stack_offset,
    tag_offset,
    typed_buffer_bytes,
    words,
)
from .tags import charge_take

__all__ = ["TypedPool", "TypedPoolInfo"]

_ids = itertools.count(1)
_POLICY = int(H.POLICY)   # plain ints index the header memoryview faster than IntEnum members


@dataclass(frozen=True)
class TypedPoolInfo:
    """Counters of one typed pool (``pool.info()``); bytes are ``records * itemsize``."""

    name: str
    dtype: str
    capacity: int
    live: int
    peak: int
    acquired: int
    released: int
    grows: int
    reserved: int
    closed: bool


def org_owner(ref):
    """The SmartAlloc behind weak reference ``ref`` while it is alive and open, else None."""
    if ref is None:
        return None
    a = ref()
    if a is None or a._closed:
        return None
    return a


def native_org(ref, lease_addr: int) -> tuple:
    """The tail of a pool's unboxed tuple (:mod:`framealloc.kernels.leases`): the calling
    thread's arena rows and the org header of the pool's allocator, the pool's lease and the
    allocator's, and the allocator itself (the pool's kernels charge the allocator's tables, so
    a running call holds the allocator too). Without an allocator: zeroed rows/org (never
    charged), no allocator lease. FA015 if the allocator was closed."""
    a = ref() if ref is not None else None
    if a is None:
        return (_NULL or null_org()) + (lease_addr, 0, None)
    native = a._native_handle()
    return native[0], a._org.addr, lease_addr, native[-1], a


def closed_error(code: str, what: str) -> Exception:
    """The error of a call on a closed pool: FA015 when its allocator was closed, else FA109."""
    if code == "FA015":
        return error(ST.CLOSED, what=f"the SmartAlloc of {what}")
    return error(ST.POOL_CLOSED, what=what)


_NULL = None


def null_org() -> tuple[int, int]:
    """(rows, org) addresses unboxed by pools without an (open) allocator: zeroed, never
    charged (see :func:`framealloc.kernels.pool_kernels.null_org`)."""
    global _NULL
    if _NULL is None:
        _NULL = kernels().null_org()
    return _NULL


def release_tags(alloc, tags: np.ndarray, size: int) -> None:
    """Give back ``size`` bytes of kind "pool" for each entry of ``tags`` (the tags of released
    slots): one release per distinct tag, frees counted per slot."""
    if tags.size == 0 or (not tags.any() and not alloc._org.hdr[H_ACTIVE]):
        return
    ts, counts = np.unique(tags, return_counts=True)
    for t, c in zip(ts.tolist(), counts.tolist()):
        alloc._org_release(KIND_POOL, t, c * size)
        if t and c > 1:
            kernels().recount(alloc._org.addr, t, 0, c - 1)


def _close_header(hdr: np.ndarray, retired: np.ndarray | None, owner=None) -> None:
    """Finalizer: retire the pool's counters, give the live slots' bytes back to their tags and
    budgets, drop its buffer, mark the header closed."""
    h = hdr[0]
    if h[H.POLICY] == POLICY_CLOSED:
        return
    a = owner() if owner is not None else None
    if a is not None and h[H.MI]:
        cap, isz = int(h[H.CAP]), int(h[H.ITEMSIZE])
        buf = nrt_bytes(int(h[H.MI]), int(h[H.DATA]), typed_buffer_bytes(cap, isz))
        goff, toff = gen_offset(cap, isz), tag_offset(cap, isz)
        live = (buf[goff:goff + 4 * cap].view(np.int32) & 1) != 0
        tags = buf[toff:toff + 4 * cap].view(np.int32)[live]
        del buf
        release_tags(a, tags, isz)
    if retired is not None:
        live = int(h[H.SLOTS] - h[H.TOP])
        isz = int(h[H.ITEMSIZE])
        retired[TR_ACQUIRED] += h[H.ACQ]
        retired[TR_RELEASED] += h[H.ACQ] - live
        retired[TR_PEAK_BYTES] += h[H.PEAK] * isz
        retired[TR_GROWS] += h[H.GROWS]
        retired[TR_ACQUIRED_BYTES] += h[H.ACQ] * isz
    mi = int(h[H.MI])
    hdr[0, :] = 0
    h[H.POLICY] = POLICY_CLOSED
    nrt_drop(mi)


def _last_holder(ref, hdr, retired, owner_ref) -> None:
    """Nothing holds the pool's lease any more: release its storage."""
    pool = ref()
    if pool is not None:
        pool._release()
    else:
        _close_header(hdr, retired, owner_ref)


class TypedPool:
    """``capacity`` records of ``dtype`` with O(1) acquire/release, usable from Python and @njit.

    Parameters
    ----------
    dtype:
        Any fixed-size NumPy dtype; typically a structured (record) dtype.
    capacity:
        Slots allocated up front (0 allocates on the first acquire).
    policy:
        ``"grow"`` (default): a full pool doubles (see the module doc about re-reading
        ``data``); ``"error"``: a full pool raises FA105 and the storage never moves.
    name:
        Shown in stats.

    Storage is record-wise (array of structures): ``pool.data["pos"]`` is a strided view of one
    field, ``pool.data[i].pos`` a record's field inside @njit. The records of free slots keep
    whatever was last written (zeros before first use): check ``alive`` / ``live_indices()``.

    >>> import numpy as np
>>> from framealloc.typed_pool import TypedPool
    >>> pool = TypedPool(np.float64, 4, policy="error")
    >>> idx = pool.acquire_many(3); idx.tolist()
    [0, 1, 2]
    >>> pool.data[idx] = [1.0, 2.0, 3.0]; pool.release_many(idx[:2])
    >>> pool.live_indices().tolist(), len(pool)
    ([2], 1)
    """

    def __init__(self, dtype, capacity: int = 1024, *, policy: str = "grow", name: str = "",
                 _retired: np.ndarray | None = None, _owner=None):
        dt, isz, _ = resolve_dtype(dtype)
        cap = check_count(capacity, "capacity", MAX_TYPED_SLOTS)
        pol = check_policy(policy)
        self._dtype = dt
        self._itemsize = isz
        self._id = next(_ids)
        self.name = str(name) if name else f"TypedPool#{self._id}"
        self._header = new_pool_headers(1)     # POOL_HEADER records; _hdr: their int64 words
        self._hdr = words(self._header)
        h = self._hdr[0]
        h[H.ITEMSIZE] = isz
        h[H.POLICY] = pol
        h[H.MAXCAP] = MAX_TYPED_SLOTS
        h[H.OWNER] = self._id
        self._hdr_addr = int(self._hdr.ctypes.data)
        self._m = memoryview(self._hdr[0])
        # Closing (see framealloc._closing and framealloc.kernels.leases): the code a call on a
        # closed pool raises (None: open), the lease of compiled calls, and the lock that makes
        # reading the storage and releasing it exclusive.
        self._closed: str | None = None
        self._released = False
        self._lock = threading.RLock()
        # Placeholders: serial -1 makes the first use _refresh() the views of the storage.
        self._serial = -1
        self._data = self._gens = self._stack = self._tags = np.empty(0, np.int32)
        self._nbtype = None
        # The SmartAlloc whose tags and budgets this pool charges (weakly; None: standalone).
        self._owner_ref = weakref.ref(_owner) if _owner is not None else None
        self._retired = _retired
        self._lease = Lease(functools.partial(_last_holder, weakref.ref(self), self._hdr,
                                              _retired, self._owner_ref))
        self._finalizer = weakref.finalize(self, self._lease.drop)
        if cap:
            st = kernels().typed_grow(self._hdr_addr, cap)
            if st != ST.OK:
                self._finalizer()
                raise_acquire(st, self._what)

    # -- numba -----------------------------------------------------------------------------
    @property
    def _numba_type_(self):
        t = self._nbtype
        if t is None:
            from .kernels import ensure_registered

            ensure_registered()
            from .kernels.pools_njit import typed_pool_type

            t = self._nbtype = typed_pool_type(self._dtype)
        return t

    def _native_org(self) -> tuple:
        """What @njit code unboxes: the header address, then :func:`native_org`."""
        if self._closed:
            self._raise_closed()
        return (self._hdr_addr,) + native_org(self._owner_ref, self._lease.addr)

    def _native_exit(self) -> None:
        """A compiled call using this pool returned after its owner let go (or its allocator's
        did): release what is due."""
        self._lease.exit()
        a = self._owner_ref() if self._owner_ref is not None else None
        if a is not None:
            a._native_exit()

    def _raise_closed(self):
        raise closed_error(self._closed, self._what)

    # -- storage ---------------------------------------------------------------------------
    @property
    def _what(self) -> str:
        return f"typed pool {self.name!r}"

    def _refresh(self) -> None:
        # Locked: close() on another thread must not drop the buffer between reading its
        # address and the view taking its own reference.
        with self._lock:
            m = self._m
            cap, isz = m[H.CAP], self._itemsize
            if m[H.MI] == 0 and self._closed:
                # close() ran (on another thread) after this call passed its closed check and
                # released the storage: refuse as the call would have, not with an empty view.
                self._raise_closed()
            if m[H.MI] == 0:
                self._data = np.empty(0, self._dtype)
                self._gens = self._stack = self._tags = np.empty(0, np.int32)
            else:
                buf = nrt_bytes(m[H.MI], m[H.DATA], typed_buffer_bytes(cap, isz))
                self._data = buf[:cap * isz].view(self._dtype)
                goff, soff = gen_offset(cap, isz), stack_offset(cap, isz)
                toff = tag_offset(cap, isz)
                self._gens = buf[goff:goff + 4 * cap].view(np.int32)
                self._stack = buf[soff:soff + 4 * cap].view(np.int32)
                self._tags = buf[toff:toff + 4 * cap].view(np.int32)
            self._serial = m[H.SERIAL]

    @property
    def data(self) -> np.ndarray:
        """The records, ``capacity`` of them (live and free): index it with slot indices.

        Re-read it after anything that may grow the pool (the storage moves on growth).
        """
        if self._m[H.SERIAL] != self._serial:
            self._refresh()
        return self._data

    def _gen_view(self) -> np.ndarray:
        if self._m[H.SERIAL] != self._serial:
            self._refresh()
        return self._gens

    @property
    def dtype(self) -> np.dtype:
        """The record dtype."""
        return self._dtype

    @property
    def policy(self) -> str:
        """``"grow"`` or ``"error"`` (``"closed"`` once closed)."""
        p = self._m[H.POLICY]
        return "closed" if p == POLICY_CLOSED else POOL_POLICIES[p]

    @property
    def capacity(self) -> int:
        """Slots the storage holds now."""
        return self._m[H.CAP]

    @property
    def closed(self) -> bool:
        """Whether the pool (or its allocator) was closed."""
        return bool(self._closed)

    def __len__(self) -> int:
        """Live slots."""
        m = self._m
        return m[H.SLOTS] - m[H.TOP]

    # -- acquire / release -------------------------------------------------------------------
    def _take(self, try_: bool):
        """Acquire one slot: its handle, or None (``try_``: full, out of memory, or a hard
        budget refused). With an allocator, the tag and budgets are charged first."""
        r = self._owner_ref
        a = r() if r is not None else None
        if a is None or a._closed:
            h = kernels().py_typed_acquire(self._hdr_addr)
        elif self._m[_POLICY] == POLICY_CLOSED:
            h = -ST.POOL_CLOSED
        else:
            return charge_take(a, KIND_POOL, self._itemsize, try_, self._take_tagged, try_)
        if h < 0:
            if try_ and h == -ST.POOL_EXHAUSTED:
                return None
            raise_acquire(-h, self._what)
        return h

    def _take_tagged(self, tag: int, try_: bool):
        """One slot recording ``tag`` (charged by :func:`~framealloc.tags.charge_take`): its
        handle, None (``try_``: full or out of memory), or raises with nothing taken."""
        h = kernels().py_typed_acquire_tag(self._hdr_addr, tag)
        if h < 0:
            if try_ and h == -ST.POOL_EXHAUSTED:
                return None
            raise_acquire(-h, self._what)
        return h

    def acquire(self) -> int:
        """A free slot's index (``pool.data[i]``); grows or raises FA105 when full (policy).

        >>> import numpy as np
>>> from framealloc.typed_pool import TypedPool
        >>> pool = TypedPool(np.int32, 2)
        >>> pool.acquire(), pool.acquire(), pool.acquire(), pool.capacity
        (0, 1, 2, 16)
        """
        return self._take(False) & SLOT_MASK

    def try_acquire(self) -> int | None:
        """:meth:`acquire`, or None when the pool is full under policy "error" (or memory ran out).

        >>> import numpy as np
>>> from framealloc.typed_pool import TypedPool
        >>> pool = TypedPool(np.int32, 1, policy="error")
        >>> pool.try_acquire(), pool.try_acquire()
        (0, None)
        """
        h = self._take(True)
        return None if h is None else h & SLOT_MASK

    def acquire_handle(self) -> int:
        """Acquire a slot and return its handle ``(generation << 32) | index``."""
        return self._take(False)

    def acquire_many(self, n: int) -> np.ndarray:
        """``n`` slot indices (int64 array), all or nothing: under policy "error" FA105 when
        fewer than ``n`` are free (nothing acquired); under "grow" the pool grows once."""
        n = check_count(n, "n", MAX_TYPED_SLOTS)
        out = np.empty(n, np.int64)
        a = org_owner(self._owner_ref)
        if a is None or n == 0 or self._m[_POLICY] == POLICY_CLOSED:
            st = kernels().py_acquire_many(self._hdr_addr, out)
        else:
            return charge_take(a, KIND_POOL, n * self._itemsize, False, self._take_many, (out, a))
        if st != ST.OK:
            raise_acquire(st, self._what)
        return out

    def _take_many(self, tag: int, arg):
        """:meth:`acquire_many` charged to ``tag`` (one charge of ``len(out)`` slots' bytes,
        counted as ``len(out)`` allocations; ``arg``: ``(out, alloc)``): ``out``, or raises with
        nothing acquired."""
        out, a = arg
        n = out.shape[0]
        st = kernels().py_acquire_many_tag(self._hdr_addr, out, tag)
        if st != ST.OK:
            raise_acquire(st, self._what)
        if tag and n > 1:
            kernels().recount(a._org.addr, tag, n - 1, 0)
        return out

    def release(self, key: int) -> None:
        """Give slot ``key`` (an index or a handle) back.

        FA101 if the slot is not live (double release), FA103 for a stale handle, FA104 for an
        index out of range. Nothing changes on error.
        """
        k = check_key(key)
        r = self._owner_ref
        if r is None:
            st = kernels().py_release(self._hdr_addr, k)
        else:
            st, tag = kernels().py_release_tag(self._hdr_addr, k)
            if st == ST.OK:
                a = r()
                if a is not None and not a._closed:
                    a._org_release(KIND_POOL, tag, self._itemsize)
        if st != ST.OK:
            raise_release(st, k, self._what)

    def release_many(self, keys) -> None:
        """Release every index/handle in ``keys`` (an int array-like), all or nothing: if one is
        bad (double release, duplicate, stale, out of range), nothing is released."""
        arr = np.asarray(keys)
        if arr.size and (arr.dtype.kind not in "iu" or arr.dtype == np.uint64):
            raise error(ST.SLOT_RANGE, "type", what="release_many(keys): keys",
                        kind="an integer array", got=f"dtype {arr.dtype}")
        arr = np.ascontiguousarray(arr.reshape(-1), np.int64)
        if self._owner_ref is None:
            st, pos = kernels().py_release_many(self._hdr_addr, arr)
        else:
            tags = np.empty(arr.size, np.int32)
            st, pos = kernels().py_release_many_tag(self._hdr_addr, arr, tags)
            if st == ST.OK:
                a = org_owner(self._owner_ref)
                if a is not None:
                    release_tags(a, tags, self._itemsize)
        if st != ST.OK:
            raise_release(st, int(arr[pos]), self._what + f" (keys[{pos}]; nothing was released)")

    def clear(self) -> None:
        """Release every live slot."""
        self.release_many(self.live_indices())

    def reserve(self, capacity: int) -> None:
        """Grow the storage to hold at least ``capacity`` slots now (any policy).

        >>> import numpy as np
>>> from framealloc.typed_pool import TypedPool
        >>> pool = TypedPool(np.float32, 0, policy="error"); pool.reserve(100); pool.capacity
        100
        """
        cap = check_count(capacity, "capacity", MAX_TYPED_SLOTS)
        st = kernels().typed_grow(self._hdr_addr, cap)
        if st != ST.OK:
            raise_acquire(st, self._what)

    # -- lookups ----------------------------------------------------------------------------
    def _status(self, k: int) -> int:
        m = self._m
        slot = k & SLOT_MASK
        if k < 0 or slot >= m[H.CAP]:
            return ST.POOL_CLOSED if m[H.POLICY] == POLICY_CLOSED else ST.SLOT_RANGE
        g = int(self._gen_view()[slot])
        if not g & 1 or (k >> 32 and k >> 32 != g):
            return ST.STALE_HANDLE
        return ST.OK

    def is_alive(self, key: int) -> bool:
        """Whether ``key`` (index or handle) names a live slot (a stale handle: False)."""
        return self._status(check_key(key)) == ST.OK

    def index(self, key: int) -> int:
        """The slot index of a live handle (or index); FA103 if stale or not live, FA104 if out
        of range."""
        k = check_key(key)
        st = self._status(k)
        if st != ST.OK:
            raise_release(st, k, self._what)
        return k & SLOT_MASK

    def handle(self, index: int) -> int:
        """The handle ``(generation << 32) | index`` of a live slot (FA103 if not live)."""
        i = self.index(index)
        return (int(self._gens[i]) << 32) | i

    def generation(self, index: int) -> int:
        """The slot's generation (odd: live). FA104 if out of range."""
        k = check_key(index)
        slot = k & SLOT_MASK
        if k < 0 or slot >= self.capacity:
            raise_release(ST.SLOT_RANGE, k, self._what)
        return int(self._gen_view()[slot])

    @property
    def alive(self) -> np.ndarray:
        """Bool mask over ``data``: True where the slot is live (a new array each call)."""
        return (self._gen_view() & 1).astype(bool)

    def live_indices(self) -> np.ndarray:
        """Indices of the live slots, ascending (int64)."""
        return np.flatnonzero(self._gen_view() & 1).astype(np.int64)

    def info(self) -> TypedPoolInfo:
        """This pool's counters."""
        m = self._m
        live = m[H.SLOTS] - m[H.TOP]
        return TypedPoolInfo(
            name=self.name, dtype=str(self._dtype), capacity=m[H.CAP], live=live,
            peak=m[H.PEAK], acquired=m[H.ACQ], released=m[H.ACQ] - live, grows=m[H.GROWS],
            reserved=typed_buffer_bytes(m[H.CAP], self._itemsize) if m[H.MI] else 0,
            closed=self.closed)

    def close(self) -> None:
        """Close the pool: later calls raise FA109, and the storage is released (at once, or
        when the last compiled call using the pool returns). Arrays taken from ``data`` stay
        valid (they own a reference). Closing twice is harmless.

        >>> import numpy as np
        >>> from framealloc.typed_pool import TypedPool
        >>> pool = TypedPool(np.float64, 4); pool.close(); pool.closed
        True
        """
        self._close("FA109")

    def _close(self, code: str) -> None:
        """Close with ``code`` (FA109 by itself, FA015 with its allocator)."""
        with self._lock:
            if self._closed:
                return
            self._closed = code
        self._finalizer()     # drops the pool's own lease: _release() runs when it is free

    def _release(self) -> None:
        with self._lock:
            self._released = True
            _close_header(self._hdr, self._retired, self._owner_ref)
            self._serial = -1

    def __enter__(self) -> "TypedPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"TypedPool({self.name!r}, dtype={self._dtype}, live={len(self)}, "
                f"capacity={self.capacity}, policy={self.policy!r})")


guard_closed(TypedPool, ("closed", "dtype", "info", "policy"))

# The numba layer refuses these classes' Python-only names inside @njit (FA016).
PYTHON_CLASSES["TypedPool"] = TypedPool
