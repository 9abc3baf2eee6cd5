"""TypedPool and SizeClassPools inside @njit: numba types, unboxing and the methods.

Both objects unbox to the address of their header row(s) (plus the Python object for boxing), so
passing them costs one method call (``_native_org()``), and every method is an ``inline="always"``
overload over the slot-table intrinsics of :mod:`framealloc.kernels.pool_kernels`:
``pool.acquire()`` + ``pool.release(i)`` compile to a few loads and stores, with growth, raises and
tag/budget charges in cold blocks.

Tags and budgets: a pool made by a SmartAlloc (``alloc.typed_pool()``, ``alloc.pools``) also
unboxes the calling thread's arena rows (``rows``) and the allocator's organisation header
(``org``); a standalone pool unboxes zeroed ones (``pool_kernels.null_org()``) and never
charges. Untagged, unbudgeted acquires test two words and call nothing; the others charge
through :func:`framealloc.kernels.org.charge` in a cold call and raise FA154
(``BudgetExceededError``) when a hard budget refuses (``try_acquire`` returns None), with the
pool unchanged.
"""
from __future__ import annotations

import numpy as np
from numba import types
from numba.extending import (
    register_jitable,
    box,
    make_attribute_wrapper,
    models,
    overload,
    overload_attribute,
    overload_method,
    register_model,
    unbox,
)
from numba.np import numpy_support

from ..errors import AllocSizeError
from ..org_codes import BudgetExceededError
from ..pool_codes import (
    DoubleFreeError,
    ForeignFreeError,
    PoolError,
    PoolExhaustedError,
    PoolIndexError,
    StaleHandleError,
)
from .pool_kernels import (
    acquire_many_into,
    acquire_many_org,
    class_acquire_org,
    i32s,
    i64s,
    make_view,
    org_busy,
    release_busy,
    release_many_org,
    resolve_nb_dtype,
    slot_acquire,
    slot_release,
    slot_status,
    slot_uncharge,
    typed_acquire_org,
    worker_row,
    words,
)
from .leases import box_parent, refuse_in_generators, unbox_leased
from .layout import CLASS_SHIFT, MAX_CLASSES, POOL_HDR_BYTES as HDR_BYTES, SLOT_MASK, H
from .pool_state import (
    ST_BUDGET,
    ST_CLOSED,
    ST_NOT_LIVE,
    ST_OK,
    ST_RANGE,
)

__all__ = ["TypedPoolType", "typed_pool_type", "SizeClassPoolsType", "size_class_pools_type"]

_CLASS_MASK = (MAX_CLASSES * 2 - 1) << CLASS_SHIFT   # 6 bits of class index in a key
_LOCAL_MASK = ~_CLASS_MASK


# ---------------------------------------------------------------------------------------------
# Types and models

class TypedPoolType(types.Type):
    """numba type of a :class:`framealloc.TypedPool` of records/scalars of ``dtype``."""

    def __init__(self, dtype):
        self.dtype = dtype
        super().__init__(name=f"TypedPool[{dtype}]")


class SizeClassPoolsType(types.Type):
    """numba type of :class:`framealloc.SizeClassPools` (``alloc.pools``)."""

    def __init__(self):
        super().__init__(name="SizeClassPools")


size_class_pools_type = SizeClassPoolsType()
refuse_in_generators(TypedPoolType, SizeClassPoolsType)   # before the methods' templates
_typed_types: dict = {}


def typed_pool_type(dtype: np.dtype) -> TypedPoolType:
    """The numba type of a TypedPool of ``dtype`` (one per dtype)."""
    try:
        return _typed_types[dtype]
    except KeyError:
        t = _typed_types[dtype] = TypedPoolType(numpy_support.from_dtype(dtype))
        return t


@register_model(TypedPoolType)
class _TypedPoolModel(models.StructModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, [("hdr", types.intp), ("rows", types.intp),
                                        ("org", types.intp), ("parent", types.pyobject)])


@register_model(SizeClassPoolsType)
class _SizeClassPoolsModel(models.StructModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, [("hdr", types.intp), ("n", types.intp),
                                        ("rows", types.intp), ("org", types.intp),
                                        ("parent", types.pyobject)])


for _t in (TypedPoolType, SizeClassPoolsType):
    for _f in ("hdr", "rows", "org"):
        make_attribute_wrapper(_t, _f, "_" + _f)
make_attribute_wrapper(SizeClassPoolsType, "n", "_n")


def _unbox_native(typ, obj, c, fields):
    """Unbox ``obj`` into the struct of ``typ`` from ``obj._native_org()``: ints in the order of
    ``fields`` (header address(es), then the calling thread's arena rows and the allocator's org
    header, 0 and 0 without an allocator), then the pool's lease and its allocator's (0: none),
    and the allocator itself, kept alive until the call returns (:mod:`.leases`)."""
    return unbox_leased(typ, obj, c, "_native_org", fields, 2)


@unbox(TypedPoolType)
def _unbox_typed(typ, obj, c):
    return _unbox_native(typ, obj, c, ("hdr", "rows", "org"))


@unbox(SizeClassPoolsType)
def _unbox_classes(typ, obj, c):
    return _unbox_native(typ, obj, c, ("hdr", "n", "rows", "org"))


box(TypedPoolType)(box_parent)
box(SizeClassPoolsType)(box_parent)


# ---------------------------------------------------------------------------------------------
# Raising by status: inline overloads, so the ``raise`` lands in the user's function, where numba
# releases the live arrays (a raise in a callee or an intrinsic would leak them).

_M_FULL = ("FA105: pool exhausted (policy 'error' or slot limit) or out of memory; create it "
           "larger, call pool.reserve(n) from Python, or use try_acquire()")
_M_CLOSED = "FA109: the pool was closed"
_M_RANGE = "FA104: slot index out of range of the pool"
_M_NOT_LIVE = ("FA101: double release: the slot is not live (released already or never "
               "acquired)")
_M_NOT_LIVE_LOOKUP = "FA103: the slot is not live (released, or never acquired)"
_M_STALE = "FA103: stale handle: the slot was released and reused since"
_M_BUDGET = ("FA154: a hard budget refuses this pool allocation (see alloc.stats().budgets); "
             "free memory, raise the limit, or use try_acquire()")


def raise_acquire(status):
    """Raise the FA error of a failed acquire/grow ``status`` (no-op for ST_OK)."""


def raise_release(status):
    """Raise the FA error of a failed release ``status`` (no-op for ST_OK)."""


def raise_lookup(status):
    """Raise the FA error of a failed index/handle lookup ``status`` (no-op for ST_OK)."""


@overload(raise_acquire, inline="always")
def _ol_raise_acquire(status):
    def impl(status):
        if status != ST_OK:
            if status == ST_CLOSED:
                raise PoolError(_M_CLOSED)
            if status == ST_BUDGET:
                raise BudgetExceededError(_M_BUDGET)
            raise PoolExhaustedError(_M_FULL)
    return impl


def _release_raiser(not_live_exc, not_live_msg):
    def impl(status):
        if status != ST_OK:
            if status == ST_CLOSED:
                raise PoolError(_M_CLOSED)
            if status == ST_RANGE:
                raise PoolIndexError(_M_RANGE)
            if status == ST_NOT_LIVE:
                raise not_live_exc(not_live_msg)
            raise StaleHandleError(_M_STALE)
    return impl


@overload(raise_release, inline="always")
def _ol_raise_release(status):
    return _release_raiser(DoubleFreeError, _M_NOT_LIVE)


@overload(raise_lookup, inline="always")
def _ol_raise_lookup(status):
    return _release_raiser(StaleHandleError, _M_NOT_LIVE_LOOKUP)


# ---------------------------------------------------------------------------------------------
# TypedPool methods

def _typed(name, **kw):
    return overload_method(TypedPoolType, name, inline="always", **kw)


def _check_int(ty, what):
    """Typing-time check of an index/handle/key argument: FA104, raised as the FA error itself
    (see the typing helpers of :mod:`framealloc.kernels.njit_api`)."""
    if not isinstance(ty, types.Integer):
        raise PoolIndexError(f"FA104: {what} must be an integer inside @njit, got {ty}; pass the "
                             "int that acquire() (or acquire_handle()) returned")


def _check_count(ty, what):
    """Typing-time check of a count or byte size argument: FA106."""
    if not isinstance(ty, types.Integer):
        raise AllocSizeError(f"FA106: {what} must be an integer inside @njit, got {ty}; pass a "
                             "non-negative int")


def _typed_take(pool):
    """The handle of a newly acquired slot, or ``-status``: no call unless a tag or a budget is
    on (then the cold :func:`typed_acquire_org` charges first)."""


def _give_back(hdr, org, key):
    """Release ``key`` (a status); a tagged slot, or any slot while budgets are on, gives its
    bytes back in a cold call."""


@overload(_typed_take, inline="always")
def _ol_typed_take(pool):
    def impl(pool):
        if org_busy(pool._rows, pool._org):
            return typed_acquire_org(pool._hdr, worker_row(pool._rows))
        return slot_acquire(pool._hdr, 0)
    return impl


@overload(_give_back, inline="always")
def _ol_give_back(hdr, org, key):
    def impl(hdr, org, key):
        st = slot_release(hdr, key)
        if st == ST_OK and release_busy(hdr, key, org):
            slot_uncharge(hdr, org, key)
        return st
    return impl


@_typed("acquire")
def _tp_acquire(pool):
    def impl(pool):
        h = _typed_take(pool)
        if h < 0:
            raise_acquire(-h)
        return h & SLOT_MASK
    return impl


@_typed("acquire_handle")
def _tp_acquire_handle(pool):
    def impl(pool):
        h = _typed_take(pool)
        if h < 0:
            raise_acquire(-h)
        return h
    return impl


@_typed("try_acquire")
def _tp_try_acquire(pool):
    def impl(pool):
        h = _typed_take(pool)
        if h < 0:
            if h == -ST_CLOSED:
                raise PoolError(_M_CLOSED)
            return None
        return h & SLOT_MASK
    return impl


@_typed("release")
def _tp_release(pool, key):
    _check_int(key, "the index or handle")

    def impl(pool, key):
        st = _give_back(pool._hdr, pool._org, key)
        if st != ST_OK:
            raise_release(st)
    return impl


@_typed("acquire_many")
def _tp_acquire_many(pool, n):
    _check_count(n, "acquire_many(n): n")

    def impl(pool, n):
        if n < 0:
            raise AllocSizeError("FA106: acquire_many(n) needs n >= 0")
        out = np.empty(n, np.int64)
        if org_busy(pool._rows, pool._org):
            st = acquire_many_org(pool._hdr, worker_row(pool._rows), out)
        else:
            st = acquire_many_into(pool._hdr, out)
        if st != ST_OK:
            raise_acquire(st)
        return out
    return impl


@_typed("release_many")
def _tp_release_many(pool, keys):
    if not (isinstance(keys, types.Array) and keys.ndim == 1
            and isinstance(keys.dtype, types.Integer)):
        raise PoolIndexError(f"FA104: release_many takes a 1-D integer array inside @njit, got "
                             f"{keys}; pass the array acquire_many(n) returned")

    def impl(pool, keys):
        st = release_many_org(pool._hdr, pool._org, keys)[0]
        if st != ST_OK:
            raise_release(st)
    return impl


@_typed("is_alive")
def _tp_is_alive(pool, key):
    _check_int(key, "the index or handle")

    def impl(pool, key):
        return slot_status(pool._hdr, key) == ST_OK
    return impl


@_typed("index")
def _tp_index(pool, key):
    _check_int(key, "the index or handle")

    def impl(pool, key):
        st = slot_status(pool._hdr, key)
        if st != ST_OK:
            raise_lookup(st)
        return key & SLOT_MASK
    return impl


@_typed("handle")
def _tp_handle(pool, key):
    _check_int(key, "the index")

    def impl(pool, key):
        st = slot_status(pool._hdr, key)
        if st != ST_OK:
            raise_lookup(st)
        h = words(pool._hdr)
        i = key & SLOT_MASK
        return (np.int64(i32s(h[H.GEN], h[H.CAP])[i]) << 32) | i
    return impl


@_typed("generation")
def _tp_generation(pool, key):
    _check_int(key, "the index")

    def impl(pool, key):
        h = words(pool._hdr)
        i = key & SLOT_MASK
        if key < 0 or i >= h[H.CAP]:
            raise PoolIndexError(_M_RANGE)
        return np.int64(i32s(h[H.GEN], h[H.CAP])[i])
    return impl


@_typed("live_indices")
def _tp_live_indices(pool):
    def impl(pool):
        h = words(pool._hdr)
        n = h[H.SLOTS] - h[H.TOP]
        out = np.empty(n, np.int64)
        gens = i32s(h[H.GEN], h[H.CAP])
        k = 0
        for i in range(h[H.CAP]):
            if gens[i] & 1:
                out[k] = i
                k += 1
        return out
    return impl


@overload_attribute(TypedPoolType, "data", inline="always")
def _tp_data(pool):
    dt = numpy_support.as_dtype(pool.dtype)

    def impl(pool):
        h = words(pool._hdr)
        return make_view(h[H.DATA], h[H.MI], h[H.CAP], dt)
    return impl


@overload_attribute(TypedPoolType, "alive")
def _tp_alive(pool):
    def impl(pool):
        h = words(pool._hdr)
        gens = i32s(h[H.GEN], h[H.CAP])
        out = np.empty(h[H.CAP], np.bool_)
        for i in range(h[H.CAP]):
            out[i] = (gens[i] & 1) != 0
        return out
    return impl


@overload_attribute(TypedPoolType, "capacity", inline="always")
def _tp_capacity(pool):
    def impl(pool):
        return words(pool._hdr)[H.CAP]
    return impl


@overload(len)
def _tp_len(pool):
    if isinstance(pool, TypedPoolType):
        def impl(pool):
            h = words(pool._hdr)
            return h[H.SLOTS] - h[H.TOP]
        return impl


# ---------------------------------------------------------------------------------------------
# SizeClassPools methods: slot keys are (generation << 32) | (class << 26) | slot

def _classes(name, **kw):
    return overload_method(SizeClassPoolsType, name, inline="always", **kw)


@register_jitable
def _class_for(hdr, n, nbytes):
    """Index of the smallest class of at least ``nbytes`` bytes, or -1."""
    for c in range(n):
        if nbytes <= words(hdr + c * HDR_BYTES)[H.ITEMSIZE]:
            return c
    return -1


_M_NEG = "FA106: nbytes must be >= 0"
_M_TOO_BIG = ("FA111: request larger than the largest size class; use np.empty in @njit code "
              "(or add a class to AllocConfig.pool_size_classes)")
_M_FOREIGN = "FA102: not a slot key of these size-class pools"
_M_FIT = "FA107: the view does not fit the slot's size class (or count < 0)"


def _acquire_impl(try_):
    def impl(pools, nbytes):
        busy = org_busy(pools._rows, pools._org)   # first: its thread-id call leaves loops
        if nbytes < 0:
            raise AllocSizeError(_M_NEG)
        c = _class_for(pools._hdr, pools._n, nbytes)
        if c < 0:
            raise AllocSizeError(_M_TOO_BIG)
        if busy:
            h = class_acquire_org(pools._hdr + c * HDR_BYTES, worker_row(pools._rows))
        else:
            h = slot_acquire(pools._hdr + c * HDR_BYTES, 1)
        if h < 0:
            if try_ and h != -ST_CLOSED:
                return None
            raise_acquire(-h)
        return h | (c << CLASS_SHIFT)
    return impl


@_classes("acquire")
def _sc_acquire(pools, nbytes):
    _check_count(nbytes, "acquire(nbytes): nbytes")
    return _acquire_impl(False)


@_classes("try_acquire")
def _sc_try_acquire(pools, nbytes):
    _check_count(nbytes, "try_acquire(nbytes): nbytes")
    return _acquire_impl(True)


@_classes("release")
def _sc_release(pools, key):
    _check_int(key, "the slot key")

    def impl(pools, key):
        c = (key >> CLASS_SHIFT) & (MAX_CLASSES * 2 - 1)
        if key < 0 or c >= pools._n:
            raise ForeignFreeError(_M_FOREIGN)
        st = _give_back(pools._hdr + c * HDR_BYTES, pools._org, key & _LOCAL_MASK)
        if st != ST_OK:
            raise_release(st)
    return impl


@_classes("view")
def _sc_view(pools, key, dtype, count=1):
    _check_int(key, "the slot key")
    if not (isinstance(count, (types.Omitted, types.Integer)) or count == 1):
        raise AllocSizeError(f"FA107: view(key, dtype, count): count must be an integer inside "
                             f"@njit, got {count}; pass a non-negative int")
    isz = numpy_support.as_dtype(resolve_nb_dtype(dtype)).itemsize

    def impl(pools, key, dtype, count=1):
        c = (key >> CLASS_SHIFT) & (MAX_CLASSES * 2 - 1)
        if key < 0 or c >= pools._n:
            raise ForeignFreeError(_M_FOREIGN)
        row = pools._hdr + c * HDR_BYTES
        local = key & _LOCAL_MASK
        st = slot_status(row, local)
        if st != ST_OK:
            raise_lookup(st)
        h = words(row)
        csize = h[H.ITEMSIZE]
        if count < 0 or count > csize // isz:      # no count * isz: it would wrap
            raise AllocSizeError(_M_FIT)
        slot = local & SLOT_MASK
        page = slot // h[H.BPP]
        pt = i64s(h[H.PT], 2 * h[H.PT_CAP])
        return make_view(pt[2 * page] + (slot - page * h[H.BPP]) * csize, pt[2 * page + 1], count,
                         dtype)
    return impl
