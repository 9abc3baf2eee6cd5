"""Frame collections (FrameVec, FrameMap) and frame layouts (the collections part of SmartAlloc).

Everything here lives in the calling thread's frame arena: a :class:`FrameVec` or
:class:`FrameMap` is *one* frame allocation (header, then storage), made through the same bump as
``frame_array`` (from Python) or the allocation intrinsic (inside ``@njit``), and a
:class:`FrameLayout` is a fixed list of frame allocations whose views are reused when they land
where they landed last frame.

Aliasing (the same rule as every frame allocation): after ``end_frame()`` or a rollback past its
creation, a collection's memory (its length too) belongs to whatever is allocated there next.
Using it then is never unsafe in memory terms -- its views keep the arena chunk alive and every
index is checked against the storage's own bounds -- but it reads and writes someone else's
data. Create collections in each frame; keep nothing from one frame to the next.

The state machines (probe, insert, remove, push, pop...) are :mod:`framealloc.kernels.collections`,
which this module calls and the njit methods compile; the numba side (typing, boxing, the njit
methods) is :mod:`framealloc.kernels.collections_njit`.
"""
from __future__ import annotations

import keyword
import operator
import struct
import weakref
from _thread import get_ident
from collections import namedtuple
from typing import Iterator

import numpy as np

from ._dtypes import MAX_BYTES, check_align, check_nbytes, normalize_shape, resolve_dtype
from ._hooks import AllocPart
from .errors import LayoutError, error
from .kernels import BOXERS, PYTHON_CLASSES
from .kernels import status as ST
from .kernels.collections import map_insert, map_remove, probe, vec_extend, vec_index
from .kernels.layout import (  # noqa: F401 - map_block, map_slots, vec_block: the block layouts
    MAP_HEADER,
    VEC_HEADER,
    F,
    map_block,
    map_slots,
    vec_block,
)

__all__ = ["FrameVec", "FrameMap", "FrameLayout", "CollectionsPart"]

#: Policy code of on_frame_exhausted="error" in the arena rows (framealloc.kernels.arena).
_POLICY_ERROR = 1


def _round_up(n: int, a: int) -> int:
    return (n + a - 1) & -a


# ---------------------------------------------------------------------------------------------
# Element and key dtypes (the block layouts are in framealloc.kernels.layout)

def element_dtype(dtype, role: str = "element") -> tuple[np.dtype, int, int]:
    """``(dtype, itemsize, natural alignment)`` of a collection element/value dtype.

    FA006 for object/unsized dtypes (as for ``frame_array``), FA136 for subarray dtypes.
    """
    try:
        probe = np.dtype(dtype)
    except TypeError:
        probe = None  # resolve_dtype explains what is wrong (FA006)
    if probe is not None and probe.subdtype is not None:
        dt = probe
        raise error(ST.BAD_COLLECTION_DTYPE, dtype=f"{role} dtype {dt}",
                    example=f", e.g. [('v', {dt.subdtype[0].str!r}, {dt.subdtype[1]})]")
    return resolve_dtype(dtype)


def key_dtype_of(dtype) -> np.dtype:
    """The native-byte-order integer dtype of FrameMap keys; FA136 for anything else."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt is None or dt.kind not in "iu" or dt.fields is not None or dt.subdtype is not None:
        raise error(ST.BAD_COLLECTION_DTYPE, "key", dtype=repr(dtype))
    return np.dtype(f"{dt.kind}{dt.itemsize}")


def _check_capacity(capacity, fixed: int, per_item: int) -> int:
    if isinstance(capacity, bool):
        capacity = None  # bools are ints to Python, never a capacity
    try:
        cap = operator.index(capacity)
    except TypeError:
        cap = -1
    if cap < 0 or fixed + cap * per_item > MAX_BYTES:
        raise error(ST.BAD_CAPACITY, got=f", got {capacity!r}")
    return cap


def _store_error(value, dtype, exc) -> Exception:
    return error(ST.BAD_VALUE, value=repr(value), dtype=str(dtype), why=f": {exc}")


# ---------------------------------------------------------------------------------------------
# FrameVec

def _vec_from_parts(hdr: np.ndarray, data: np.ndarray) -> "FrameVec":
    """Wrap a header (int64[1]) and storage view; also how njit code boxes a FrameVec."""
    v = object.__new__(FrameVec)
    v._hdr = hdr
    v._data = data
    v._m = memoryview(hdr)
    v._cap = data.shape[0]
    return v


class FrameVec:
    """A bounded vector in the frame arena, from ``alloc.frame_vec(dtype, capacity)``.

    Push/pop/len/clear/index/as-array, in Python and inside ``@njit`` code with the same names
    (pass it in, or make it there with ``alloc.frame_vec``; it can be returned to Python). Its
    length and elements live in frame memory, so both worlds see every change.

    It never grows: ``push`` on a full vec raises :class:`CollectionFullError` (FA131),
    ``try_push`` returns False. ``pop`` on an empty vec raises :class:`CollectionEmptyError`
    (FA132), ``try_pop`` returns None. Like any frame allocation it dies with its frame (see the
    module docstring for the aliasing rule).

    Example
    -------
    >>> import numpy as np, framealloc as fa
    >>> alloc = fa.SmartAlloc()
    >>> with alloc.frame():
    ...     v = alloc.frame_vec(np.int32, 4)
    ...     for i in range(4):
    ...         v.push(i * i)
    ...     full = v.try_push(99)
    ...     (len(v), int(v.pop()), v.as_array().tolist(), full)
    (4, 9, [0, 1, 4], False)
    """

    __slots__ = ("_hdr", "_data", "_m", "_cap", "__weakref__")
    _hdr: np.ndarray       # int64[1]: the length
    _data: np.ndarray      # the storage, ``capacity`` elements
    _m: memoryview         # of _hdr
    _cap: int

    def __init__(self, *args, **kwargs):
        raise TypeError("create a FrameVec with alloc.frame_vec(dtype, capacity)")

    @property
    def _numba_type_(self):
        from .kernels import ensure_registered

        ensure_registered()
        from .kernels.collections_njit import vec_type

        return vec_type(self._data.dtype)

    # -- size ------------------------------------------------------------------------------
    def __len__(self) -> int:
        # kernels.collections.clamped_len, written out (the call made len() ~20% slower): a
        # stale header (the frame ended) may hold anything; report a length within bounds.
        n = self._m[0]
        return n if 0 <= n <= self._cap else (0 if n < 0 else self._cap)

    @property
    def capacity(self) -> int:
        """The most elements the vec holds."""
        return self._cap

    @property
    def dtype(self) -> np.dtype:
        """The element dtype."""
        return self._data.dtype

    # -- push / pop ------------------------------------------------------------------------
    def push(self, value) -> None:
        """Append ``value``; :class:`CollectionFullError` (FA131) when the vec is full."""
        if not self.try_push(value):
            raise error(ST.VEC_FULL, room=f" (capacity {self._cap})")

    def try_push(self, value) -> bool:
        """Append ``value``; False (and no change) when the vec is full."""
        # kernels.collections.vec_push, written out: through the call, push and pop (4-line
        # bodies) were 15-20% slower from Python.
        m = self._m
        n = m[0]
        if not 0 <= n < self._cap:
            return False
        try:
            self._data[n] = value
        except (TypeError, ValueError, OverflowError) as exc:
            raise _store_error(value, self._data.dtype, exc) from None
        m[0] = n + 1
        return True

    def extend(self, values) -> None:
        """Append every element of ``values`` (array-like); FA131, and no change, if they do not
        all fit."""
        if not self.try_extend(values):
            raise error(ST.VEC_FULL, op="extend",
                        room=f" (room for {self._cap - len(self)} more elements, not "
                             f"{len(np.asarray(values).reshape(-1))})")

    def try_extend(self, values) -> bool:
        """Append every element of ``values``; False (and no change) if they do not all fit."""
        try:
            src = np.asarray(values, dtype=self._data.dtype).reshape(-1)
        except (TypeError, ValueError, OverflowError) as exc:
            raise _store_error(values, self._data.dtype, exc) from None
        return vec_extend(self._m, self._data, src)

    def pop(self):
        """Remove and return the last element; :class:`CollectionEmptyError` (FA132) if empty."""
        m = self._m         # kernels.collections.vec_pop, written out (see try_push)
        n = m[0] - 1
        if not 0 <= n < self._cap:
            raise error(ST.VEC_EMPTY)
        m[0] = n
        return self._item(n)

    def try_pop(self):
        """Remove and return the last element, or None when the vec is empty."""
        m = self._m         # kernels.collections.vec_pop, written out (see try_push)
        n = m[0] - 1
        if not 0 <= n < self._cap:
            return None
        m[0] = n
        return self._item(n)

    def _item(self, i: int):
        x = self._data[i]
        # A record is a view into the slot, which the next push overwrites: hand out a copy.
        return x.copy() if isinstance(x, np.void) else x

    def clear(self) -> None:
        """Remove every element (O(1))."""
        self._m[0] = 0

    # -- access ----------------------------------------------------------------------------
    def as_array(self) -> np.ndarray:
        """The ``len(vec)`` elements as an array view (writes go to the vec; it does not follow
        later pushes)."""
        return self._data[:len(self)]

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        a = self.as_array()
        if dtype is not None and np.dtype(dtype) != a.dtype:
            return a.astype(dtype)
        return a.copy() if copy else a

    def _index(self, i) -> int:
        if isinstance(i, bool):
            i = None
        try:
            i = operator.index(i)
        except TypeError:
            raise error(ST.VEC_INDEX, "type", index=repr(i)) from None
        j = vec_index(self._m, self._cap, i)
        if j < 0:
            raise error(ST.VEC_INDEX, index=f" {i}", length=f" (length {len(self)})")
        return j

    def __getitem__(self, i):
        if isinstance(i, slice):
            return self.as_array()[i]
        return self._item(self._index(i))

    def __setitem__(self, i, value) -> None:
        if isinstance(i, slice):
            self.as_array()[i] = value
            return
        j = self._index(i)
        try:
            self._data[j] = value
        except (TypeError, ValueError, OverflowError) as exc:
            raise _store_error(value, self._data.dtype, exc) from None

    def __iter__(self) -> Iterator:
        return iter(self.as_array())

    def __repr__(self) -> str:
        return f"FrameVec(dtype={self._data.dtype}, len={len(self)}, capacity={self._cap})"


# ---------------------------------------------------------------------------------------------
# FrameMap

def _map_from_parts(hdr: np.ndarray, state: np.ndarray, keys: np.ndarray, vals: np.ndarray,
                    capacity: int) -> "FrameMap":
    """Wrap a FrameMap's views; also how njit code boxes a FrameMap."""
    m = object.__new__(FrameMap)
    m._hdr, m._state, m._keys, m._vals = hdr, state, keys, vals
    m._m = memoryview(hdr)
    m._st = memoryview(state)
    m._ks = memoryview(keys)
    m._cap = int(capacity)
    m._mask = state.shape[0] - 1
    info = np.iinfo(keys.dtype)
    m._lo, m._hi = int(info.min), int(info.max)
    return m


# How compiled code boxes the collections it returns (framealloc.kernels.collections_njit).
BOXERS["FrameVec"] = _vec_from_parts
BOXERS["FrameMap"] = _map_from_parts


class FrameMap:
    """A bounded hash map with integer keys in the frame arena, from
    ``alloc.frame_map(key_dtype, value_dtype, capacity)``.

    Open addressing (linear probing, deletion by backward shift, so no tombstones build up) over
    a power-of-two table with more than ``1.5 * capacity`` slots. Python and ``@njit`` code use
    the same names and share the table: insert/get/contains/remove/len/items, ``m[k]``,
    ``m[k] = v``, ``k in m``.

    Updating a key the map holds never fails. Inserting a new key when ``len(m) == capacity``
    raises :class:`CollectionFullError` (FA134); ``try_insert`` returns False. ``m[k]`` and
    ``remove(k)`` of a missing key raise :class:`FrameMapKeyError` (FA135, a KeyError);
    ``get(k, default)`` and ``try_remove`` do not. Keys must be integers that fit the key dtype
    (FA137). Like any frame allocation it dies with its frame (see the module docstring).

    Example
    -------
    >>> import numpy as np, framealloc as fa
    >>> alloc = fa.SmartAlloc()
    >>> with alloc.frame():
    ...     m = alloc.frame_map(np.int64, np.float32, 3)
    ...     m[10] = 1.5
    ...     m.insert(-4, 2.0)
    ...     m[10] = 3.0                      # an update: never fails
    ...     full = not (m.try_insert(1, 0) and m.try_insert(2, 0))
    ...     (len(m), float(m[10]), 7 in m, m.get(7, -1.0), full)
    (3, 3.0, False, -1.0, True)
    """

    __slots__ = ("_hdr", "_state", "_keys", "_vals", "_m", "_st", "_ks", "_cap", "_mask", "_lo",
                 "_hi", "__weakref__")
    _hdr: np.ndarray       # int64[1]: the length
    _state: np.ndarray     # per slot: empty or full
    _keys: np.ndarray
    _vals: np.ndarray
    _m: memoryview         # of _hdr
    _st: memoryview        # of _state
    _ks: memoryview        # of _keys
    _cap: int
    _mask: int             # table size - 1
    _lo: int               # the key dtype's range
    _hi: int

    def __init__(self, *args, **kwargs):
        raise TypeError("create a FrameMap with alloc.frame_map(key_dtype, value_dtype, capacity)")

    @property
    def _numba_type_(self):
        from .kernels import ensure_registered

        ensure_registered()
        from .kernels.collections_njit import map_type

        return map_type(self._keys.dtype, self._vals.dtype)

    # -- size ------------------------------------------------------------------------------
    def __len__(self) -> int:
        n = self._m[0]      # kernels.collections.clamped_len, written out (see FrameVec)
        return n if 0 <= n <= self._cap else (0 if n < 0 else self._cap)

    @property
    def capacity(self) -> int:
        """The most keys the map holds."""
        return self._cap

    @property
    def key_dtype(self) -> np.dtype:
        """The key dtype (an integer dtype in native byte order)."""
        return self._keys.dtype

    @property
    def value_dtype(self) -> np.dtype:
        """The value dtype."""
        return self._vals.dtype

    # -- probing ---------------------------------------------------------------------------
    def _key(self, key) -> int:
        if isinstance(key, (bool, np.bool_)):
            k = None
        else:
            try:
                k = operator.index(key)
            except TypeError:
                k = None
        if k is None:
            raise error(ST.BAD_KEY, "type", key=repr(key))
        if not self._lo <= k <= self._hi:
            raise error(ST.BAD_KEY, key=f"key {k}", dtype=f" {self._keys.dtype}")
        return k

    def _find(self, k: int) -> tuple[int, bool]:
        """(slot, found): the key's slot, or the empty slot where it would go (-1: no empty
        slot, which only a stale table can show)."""
        return probe(self._st, self._ks, k)

    def _value(self, i: int):
        x = self._vals[i]
        return x.copy() if isinstance(x, np.void) else x

    # -- insert / get / remove -------------------------------------------------------------
    def try_insert(self, key, value) -> bool:
        """Insert or update ``key``; False (and no change) when it is new and the map is full."""
        k = self._key(key)
        try:
            # The kernel stores the value before anything else: a failed store changes nothing.
            return map_insert(self._st, self._ks, self._vals, self._m, self._cap, k, value)
        except (TypeError, ValueError, OverflowError) as exc:
            raise _store_error(value, self._vals.dtype, exc) from None

    def insert(self, key, value) -> None:
        """Insert or update ``key``; :class:`CollectionFullError` (FA134) when it is new and the
        map holds ``capacity`` keys."""
        if not self.try_insert(key, value):
            raise error(ST.MAP_FULL, cap=f" ({self._cap} keys)", key=f"key {key!r}")

    __setitem__ = insert

    def get(self, key, default=None):
        """The value of ``key``, or ``default`` when the map does not hold it."""
        i, found = probe(self._st, self._ks, self._key(key))
        return self._value(i) if found else default

    def __getitem__(self, key):
        i, found = probe(self._st, self._ks, self._key(key))
        if not found:
            raise error(ST.KEY_MISSING, key=f"key {key!r}")
        return self._value(i)

    def contains(self, key) -> bool:
        """Whether the map holds ``key``."""
        return probe(self._st, self._ks, self._key(key))[1]

    __contains__ = contains

    def try_remove(self, key) -> bool:
        """Remove ``key``; False when the map does not hold it."""
        return map_remove(self._st, self._ks, self._vals, self._m, self._key(key))

    def remove(self, key) -> None:
        """Remove ``key``; :class:`FrameMapKeyError` (FA135) when the map does not hold it."""
        if not self.try_remove(key):
            raise error(ST.KEY_MISSING, key=f"key {key!r}")

    def __delitem__(self, key) -> None:
        self.remove(key)

    def clear(self) -> None:
        """Remove every key (O(slots))."""
        self._state[...] = 0
        self._m[0] = 0

    # -- bulk ------------------------------------------------------------------------------
    def items(self) -> tuple[np.ndarray, np.ndarray]:
        """``(keys, values)``: two new arrays (copies) in table order, not insertion order."""
        live = self._state != 0
        return self._keys[live], self._vals[live]

    def keys(self) -> np.ndarray:
        """The keys, a new array in table order."""
        return self._keys[self._state != 0]

    def values(self) -> np.ndarray:
        """The values, a new array in table order (the same order as :meth:`keys`)."""
        return self._vals[self._state != 0]

    def __iter__(self) -> Iterator[int]:
        return iter(self.keys().tolist())

    def __repr__(self) -> str:
        return (f"FrameMap(key_dtype={self._keys.dtype}, value_dtype={self._vals.dtype}, "
                f"len={len(self)}, capacity={self._cap})")


# ---------------------------------------------------------------------------------------------
# Frame layouts

_NO_CACHE = (None, 0, -1, None, 0, 0, None)
#: Landing places (thread, offset) whose views a layout keeps for reuse; a layout allocated
#: several times per frame, or by several threads, finds each one's views again.
_REUSE_SLOTS = 8


class FrameLayout:
    """A fixed set of named frame arrays, declared once with ``alloc.frame_layout(...)``.

    ``layout.alloc()`` makes the arrays in the current frame, exactly as the same sequence of
    ``alloc.frame_array(shape, dtype, align=...)`` calls would (same offsets, same cursor and
    allocation count afterwards, so ``stats()`` cannot tell the difference), and returns them as
    a named tuple. When they land where they landed the previous time -- same thread, same arena
    chunk, same starting offset, frame open -- the views made then are returned again: the
    per-frame cost is a few word compares and two stores instead of building numpy arrays.
    Views made at other landing places (a layout allocated twice per frame, or by several
    threads) are kept too, up to 8, and found again by a slower lookup.

    Aliasing is the same as for any frame allocation: after ``end_frame()`` the arrays belong to
    the next frame's allocations. A reused view is the *same object* as last frame's (old
    references see the new frame's data, as they would see whatever was allocated there), so do
    not change views in place (``v.shape = ...``, ``v.dtype = ...``, ``v.flags.writeable = ...``):
    reshape into new arrays instead.

    Example
    -------
    >>> import numpy as np, framealloc as fa
    >>> alloc = fa.SmartAlloc()
    >>> N = 1000
    >>> layout = alloc.frame_layout(pos=((N, 3), np.float32), vel=((N, 3), np.float32),
    ...                             ids=(N, np.int32))
    >>> for frame in range(3):
    ...     with alloc.frame():
    ...         s = layout.alloc()
    ...         s.pos[:] = 0.0
    ...         s.ids[:] = np.arange(N)
    >>> (s.pos.shape, s.ids.dtype.name, alloc.stats().frame.allocations)
    ((1000, 3), 'int32', 9)
    """

    __slots__ = ("_c", "_owner", "_fields", "_names", "_type", "_reuse", "__weakref__")

    def __init__(self, owner, fields: dict):
        if not fields:
            raise LayoutError("a frame layout needs at least one field: "
                              "alloc.frame_layout(pos=((n, 3), np.float32), ...)", code="FA138")
        specs = []
        for name, spec in fields.items():
            if (not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name)
                    or name.startswith("_")):
                raise LayoutError(f"layout field name {name!r} must be an identifier that does "
                                  "not start with an underscore", code="FA138")
            if not isinstance(spec, tuple) or len(spec) not in (2, 3):
                raise LayoutError(f"layout field {name}={spec!r} must be (shape, dtype) or "
                                  "(shape, dtype, align)", code="FA138")
            shape, dtype = spec[0], spec[1]
            dims, count = normalize_shape(shape)
            dt, isz, natural = resolve_dtype(dtype)
            align = check_align(spec[2], natural) if len(spec) == 3 else natural
            specs.append((dims, dt, align, check_nbytes(count, isz)))
        self._owner = owner
        self._fields = tuple(specs)
        self._names = tuple(fields)
        # Field names known at run time only: mypy cannot type this namedtuple.
        self._type = namedtuple("FrameLayoutViews", self._names)  # type: ignore[misc]
        self._c = _NO_CACHE
        self._reuse: dict = {}

    @property
    def names(self) -> tuple[str, ...]:
        """The field names, in declaration order."""
        return self._names

    @property
    def nbytes(self) -> int:
        """Bytes the layout takes from a frame starting at offset 0 (alignment padding included)."""
        c = 0
        for _, _, a, nb in self._fields:
            c = _round_up(c, a) + nb
        return c

    def alloc(self):
        """Allocate the layout's arrays in the current frame; returns them as a named tuple.

        Raises what ``frame_array`` raises: :class:`~framealloc.FrameStateError` (FA001) outside
        a frame, :class:`~framealloc.ArenaExhaustedError` (FA008) under the "error" policy (then
        nothing is allocated).
        """
        # The fast path: this thread's row words [cursor, limit, base, count] are exactly what
        # they were after the last allocation here (the cached views keep that chunk alive, so
        # no other chunk can have its base; limit == capacity means the frame is open).
        head, key, ident, m, end, count, views = self._c
        if head == key and get_ident() == ident:
            m[0] = end
            m[3] = count
            return views
        return self._alloc_miss()

    def _alloc_miss(self):
        owner = self._owner
        try:
            ta = owner._tls.arena
        except AttributeError:
            ta = owner._attach()
        m = ta.m
        if m[F.base] != ta.base:
            ta.refresh_chunk()
        start, limit, base, count = m[0], m[1], m[2], m[3]
        offsets = []
        c = start
        for _, _, a, nb in self._fields:
            off = (c + a - 1) & -a
            offsets.append(off)
            c = off + nb
        end = c
        chunk = ta.chunk    # read once: close() on another thread may drop the cache
        if end > limit or chunk is None:
            # Not in a frame, no chunk yet, or the layout does not fit the chunk: the
            # allocations one by one (growth, heap fallback, errors) and nothing cached.
            return self._alloc_each(owner, ta)
        mi = m[F.meminfo]
        reuse = self._reuse
        hit = reuse.get((ta.tid, start))
        if hit is not None and hit[0]() is ta and hit[1] == base and hit[2] == mi:
            views = hit[3]
        else:
            views = self._type(*[chunk[off:off + nb].view(dt).reshape(dims)
                                 for off, (dims, dt, _, nb) in zip(offsets, self._fields)])
            if len(reuse) >= _REUSE_SLOTS:
                reuse.clear()
            # A weak reference: a thread's arena slot is released when the thread ends.
            reuse[(ta.tid, start)] = (weakref.ref(ta), base, mi, views)
        n = count + len(self._fields)
        m[0] = end
        m[3] = n
        # One tuple, assigned at once: another thread never sees half of a cache.
        self._c = (m[0:4], memoryview(struct.pack("4q", start, limit, base, count)).cast("q"),
                   get_ident(), m, end, n, views)
        return views

    def _alloc_each(self, owner, ta):
        m = ta.m
        if m[F.frame_open] and m[F.policy] == _POLICY_ERROR:
            # Refuse up front what the one-by-one path would refuse half-way.
            has_chunk = m[F.meminfo] != 0
            c = m[0] if has_chunk else 0
            cap = m[F.capacity] if has_chunk else m[F.chunk_size]
            for _, _, a, nb in self._fields:
                c = _round_up(c, a) + nb
            if c > cap:
                raise error(ST.FRAME_EXHAUSTED,
                            request=f" by a {self.nbytes}-byte layout "
                                    f"({cap - (m[0] if has_chunk else 0)} bytes left)")
        saved = m.tobytes()
        seq, mi = m[F.chunk_seq], m[F.meminfo]
        views = []
        try:
            for dims, dt, a, _ in self._fields:
                views.append(owner._alloc(dims, dt, a, False, False))
        except BaseException:
            # Undo the allocations made before the failure (possible while the chunk is the
            # same one; a failed growth leaves the row as it was).
            if m[F.chunk_seq] == seq and m[F.meminfo] == mi:
                m.cast("B")[:] = saved
            raise
        return self._type(*views)

    def __repr__(self) -> str:
        fields = ", ".join(f"{n}=({d}, {dt})"
                           for n, (d, dt, _, _) in zip(self._names, self._fields))
        return f"FrameLayout({fields})"


# ---------------------------------------------------------------------------------------------
# The collections part of a SmartAlloc

class CollectionsPart(AllocPart):
    """Bounded collections and layouts in the frame arena, of one SmartAlloc
    (``alloc._collection_part``). No state of its own and no frame events: each collection is
    one allocation from the frames part's Python fast path (:meth:`FramesPart.alloc
    <framealloc.alloc.FramesPart.alloc>`); a :class:`FrameLayout` keeps its allocator."""

    def __init__(self, owner, frames):
        self._owner = owner         # weak reference to the SmartAlloc
        self._alloc = frames.alloc  # the calling thread's frame bump

    def frame_vec(self, dtype, capacity: int) -> FrameVec:
        """A :class:`FrameVec` of up to ``capacity`` elements of ``dtype`` in the current frame.

        Parameters
        ----------
        dtype: any fixed-size NumPy dtype (numeric, bool, datetime, record); not object,
            unsized (FA006) or subarray dtypes (FA136).
        capacity: the most elements it will hold (FA130 if negative or not an integer).

        One frame allocation (an 8-byte length, then the elements), so FA001 outside a frame
        and FA008 under the "error" policy, as for ``frame_array``. Also ``alloc.frame_vec`` in
        ``@njit`` code.

        >>> import numpy as np, framealloc as fa
        >>> alloc = fa.SmartAlloc()
        >>> with alloc.frame():
        ...     v = alloc.frame_vec(np.float64, 100)
        ...     v.push(1.5); v.push(2.5)
        ...     float(v.as_array().sum())
        4.0
        """
        return self._frame_vec(dtype, capacity, False)

    def try_frame_vec(self, dtype, capacity: int) -> FrameVec | None:
        """:meth:`frame_vec`, or None when the frame arena runs out of memory."""
        return self._frame_vec(dtype, capacity, True)

    def _frame_vec(self, dtype, capacity, try_):
        dt, isz, natural = element_dtype(dtype)
        data_off, align = vec_block(isz, natural)
        cap = _check_capacity(capacity, data_off, isz)
        raw = self._alloc(data_off + cap * isz, np.uint8, align, False, try_)
        if raw is None:
            return None
        hdr = raw[:VEC_HEADER].view(np.int64)
        hdr[0] = 0
        return _vec_from_parts(hdr, raw[data_off:].view(dt))

    def frame_map(self, key_dtype, value_dtype, capacity: int) -> FrameMap:
        """A :class:`FrameMap` of up to ``capacity`` integer keys in the current frame.

        Parameters
        ----------
        key_dtype: an integer dtype (int8 ... uint64), FA136 otherwise.
        value_dtype: any fixed-size NumPy dtype (numeric, bool, datetime, record).
        capacity: the most keys it will hold (FA130 if negative or not an integer). The table
            has a power of two of slots above ``1.5 * capacity``.

        One frame allocation (header, slot states, keys, values), so FA001 outside a frame and
        FA008 under the "error" policy. Also ``alloc.frame_map`` in ``@njit`` code.

        >>> import numpy as np, framealloc as fa
        >>> alloc = fa.SmartAlloc()
        >>> with alloc.frame():
        ...     cells = alloc.frame_map(np.int64, np.int32, 64)
        ...     for cell in (3, 5, 3, 3):
        ...         cells[cell] = cells.get(cell, 0) + 1
        ...     sorted(zip(cells.keys().tolist(), cells.values().tolist()))
        [(3, 3), (5, 1)]
        """
        return self._frame_map(key_dtype, value_dtype, capacity, False)

    def try_frame_map(self, key_dtype, value_dtype, capacity: int) -> FrameMap | None:
        """:meth:`frame_map`, or None when the frame arena runs out of memory."""
        return self._frame_map(key_dtype, value_dtype, capacity, True)

    def _frame_map(self, key_dtype, value_dtype, capacity, try_):
        kdt = key_dtype_of(key_dtype)
        vdt, vsz, valign = element_dtype(value_dtype, "value")
        ksz = kdt.itemsize
        cap = _check_capacity(capacity, MAP_HEADER, 3 * (1 + ksz + vsz))
        slots, keys_off, vals_off, total, align = map_block(cap, ksz, vsz, valign)
        raw = self._alloc(total, np.uint8, align, False, try_)
        if raw is None:
            return None
        raw[:MAP_HEADER + slots] = 0
        return _map_from_parts(raw[:MAP_HEADER].view(np.int64)[:1],
                               raw[MAP_HEADER:MAP_HEADER + slots],
                               raw[keys_off:keys_off + slots * ksz].view(kdt),
                               raw[vals_off:total].view(vdt), cap)

    def frame_layout(self, fields: dict | None = None, /, **kwfields) -> FrameLayout:
        """Declare a :class:`FrameLayout`: named arrays made together in each frame.

        Parameters
        ----------
        fields, **kwfields: ``name=(shape, dtype)`` or ``name=(shape, dtype, align)``, in the
            order they are laid out (a mapping may be passed first, e.g. for names that are not
            keywords). Shapes, dtypes and alignments are validated now, as ``frame_array``
            would (FA004-FA007, FA014); malformed declarations raise FA138.

        Declaring allocates nothing; ``layout.alloc()`` does, in the current frame.

        >>> import numpy as np, framealloc as fa
        >>> alloc = fa.SmartAlloc()
        >>> layout = alloc.frame_layout(grid=((64, 64), np.int32), mass=(500, np.float64, 64))
        >>> layout.names, layout.nbytes
        (('grid', 'mass'), 20384)
        """
        merged = dict(fields) if fields is not None else {}
        merged.update(kwfields)
        return FrameLayout(self._owner(), merged)


# The numba layer refuses these classes' Python-only names inside @njit (FA016).
PYTHON_CLASSES["FrameVec"] = FrameVec
PYTHON_CLASSES["FrameMap"] = FrameMap
