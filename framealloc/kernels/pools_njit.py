"""TypedPool and SizeClassPools inside @njit: numba types, unboxing and the methods.

Both objects unbox to the address of their header row(s) (plus the Python object for boxing), so
passing them costs one method call (``_native_org()``). ``pool.acquire()`` + ``pool.release(i)``
do their work in kernels cached by numba and inlined by LLVM (a few loads and stores, growth and
tag/budget charges in cold calls), with only their raises in the caller; the other methods are
``inline="always"`` overloads over the slot-table intrinsics of
:mod:`framealloc.kernels.pool_kernels`.

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
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba import njit
from numba.core.typing.templates import AttributeTemplate
from numba.extending import (
    infer_getattr,
    intrinsic,
    lower_getattr,
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
from numba.np.arrayobj import make_array, populate_array

from ..errors import error
from .pool_kernels import (
    acquire_many_into,
    TAKE_CLASS,
    TAKE_MANY,
    TAKE_TYPED,
    acquire_org,
    i32s,
    i64s,
    no_keys,
    org_busy,
    release_busy,
    release_many_org,
    slot_acquire,
    slot_release,
    slot_status,
    slot_uncharge,
    worker_row,
    words,
)
from . import status as ST
from ._intrinsics import hot_call
from .leases import box_parent, refuse_in_generators, unbox_leased
from .njit_api import raising, resolve_numba_dtype, status_raiser
from .layout import (
    CLASS_SHIFT,
    MAX_CLASSES,
    POOL_HDR_BYTES as HDR_BYTES,
    SLOT_MASK,
    H,
)

__all__ = ["TypedPoolType", "typed_pool_type", "SizeClassPoolsType", "size_class_pools_type"]


# ---------------------------------------------------------------------------------------------
# Views

def resolve_nb_dtype(ty):
    """numba element type of a dtype argument (np.float32, np.dtype(...), a record)."""
    return resolve_numba_dtype(ty)[0]


@intrinsic
def make_view(typingctx, data, meminfo, n, dtype):
    """A 1-D C array of ``n`` elements at address ``data`` that holds a reference to ``meminfo``
    (0: none, for views that never leave the kernel)."""
    nb = resolve_nb_dtype(dtype)
    arrty = types.Array(nb, 1, "C")
    sig = arrty(types.intp, types.intp, types.intp, dtype)

    def codegen(context, builder, signature, args):
        d, mi, count, _ = args
        ary = make_array(arrty)(context, builder)
        itemsize = context.get_abi_sizeof(context.get_data_type(nb))
        intp = cgutils.intp_t
        populate_array(ary, data=builder.inttoptr(d, context.get_data_type(nb).as_pointer()),
                       shape=[count], strides=[ir.Constant(intp, itemsize)],
                       itemsize=ir.Constant(intp, itemsize),
                       meminfo=builder.inttoptr(mi, cgutils.voidptr_t))
        value = ary._getvalue()
        context.nrt.incref(builder, arrty, value)
        return value

    return sig, codegen



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

def raise_acquire(status):
    """Raise the FA error of a failed acquire/grow ``status`` (no-op for OK)."""


def raise_release(status):
    """Raise the FA error of a failed release or index/handle lookup ``status`` (no-op for OK)."""


# The slot kernels return no other statuses: the last one is raised without a test.
_acquire_impl_raise = status_raiser((ST.POOL_CLOSED, ST.BUDGET_EXCEEDED, ST.POOL_EXHAUSTED), None)
_release_impl_raise = status_raiser((ST.POOL_CLOSED, ST.SLOT_RANGE, ST.DOUBLE_FREE,
                                     ST.STALE_HANDLE), None)


@overload(raise_acquire, inline="always")
def _ol_raise_acquire(status):
    return _acquire_impl_raise


@overload(raise_release, inline="always")
def _ol_raise_release(status):
    return _release_impl_raise


# ---------------------------------------------------------------------------------------------
# TypedPool: the per-element methods (acquire, acquire_handle, try_acquire, release) do their
# work in kernels cached by numba, called ``alwaysinline`` (``hot_call``: the slot pop/push, a
# few loads and stores), so a user's kernel compiles only the method's few lines and its
# ``raise`` statements, which stay in the user's function (numba then releases the live arrays).
# ``data`` is lowered by hand. Before: ~5 s of nested inline overloads on a first call.

@njit(cache=True)
def _typed_acquire_k(hdr, rows, org):
    """The handle of a newly acquired slot, or ``-status`` (tags/budgets: charged first)."""
    if org_busy(rows, org):
        return acquire_org(hdr, worker_row(rows), TAKE_TYPED, no_keys())
    return slot_acquire(hdr, 0)


@njit(cache=True)
def _typed_release_k(hdr, org, key):
    """Release ``key``: its status; a charged slot gives its bytes back."""
    st = slot_release(hdr, key)
    if st == ST.OK and release_busy(hdr, key, org):
        slot_uncharge(hdr, org, key)
    return st


_I = types.int64


def _lower_data(context, builder, typ, val):
    """``pool.data``: a view of the slot array holding a reference to its memory."""
    p = cgutils.create_struct_proxy(typ)(context, builder, value=val)
    nb = typ.dtype
    arrty = types.Array(nb, 1, "C")

    def word(i):
        ptr = builder.inttoptr(builder.add(p.hdr, ir.Constant(cgutils.intp_t, 8 * int(i))),
                               cgutils.intp_t.as_pointer())
        return builder.load(ptr)

    ary = make_array(arrty)(context, builder)
    itemsize = context.get_abi_sizeof(context.get_data_type(nb))
    intp = cgutils.intp_t
    populate_array(ary, data=builder.inttoptr(word(H.DATA), context.get_data_type(nb).as_pointer()),
                   shape=[word(H.CAP)], strides=[ir.Constant(intp, itemsize)],
                   itemsize=ir.Constant(intp, itemsize),
                   meminfo=builder.inttoptr(word(H.MI), cgutils.voidptr_t))
    value = ary._getvalue()
    context.nrt.incref(builder, arrty, value)
    return value


class _TypedPoolData(AttributeTemplate):
    key = TypedPoolType

    def resolve_data(self, ty):
        return types.Array(ty.dtype, 1, "C")


infer_getattr(_TypedPoolData)
lower_getattr(TypedPoolType, "data")(_lower_data)

def _typed(name, **kw):
    return overload_method(TypedPoolType, name, inline="always", **kw)


def _check_int(ty, what):
    """Typing-time check of an index/handle/key argument: FA104, raised as the FA error itself
    (see the typing helpers of :mod:`framealloc.kernels.njit_api`)."""
    if not isinstance(ty, types.Integer):
        raise error(ST.SLOT_RANGE, "type", what=what, got=f"a {ty}")


def _check_count(ty, what):
    """Typing-time check of a count or byte size argument: FA106."""
    if not isinstance(ty, types.Integer):
        raise error(ST.BAD_POOL_SIZE, name=what, got=f", got a {ty}")


def _give_back(hdr, org, key):
    """Release ``key`` (a status); a tagged slot, or any slot while budgets are on, gives its
    bytes back in a cold call."""


@overload(_give_back, inline="always")
def _ol_give_back(hdr, org, key):
    def impl(hdr, org, key):
        st = slot_release(hdr, key)
        if st == ST.OK and release_busy(hdr, key, org):
            slot_uncharge(hdr, org, key)
        return st
    return impl


@_typed("acquire")
def _tp_acquire(pool):
    def impl(pool):
        h = hot_call(_typed_acquire_k, (pool._hdr, pool._rows, pool._org))
        if h < 0:
            raise_acquire(-h)
        return h & SLOT_MASK
    return impl


@_typed("acquire_handle")
def _tp_acquire_handle(pool):
    def impl(pool):
        h = hot_call(_typed_acquire_k, (pool._hdr, pool._rows, pool._org))
        if h < 0:
            raise_acquire(-h)
        return h
    return impl


@_typed("try_acquire")
def _tp_try_acquire(pool):
    def impl(pool):
        h = hot_call(_typed_acquire_k, (pool._hdr, pool._rows, pool._org))
        if h < 0:
            if h == -ST.POOL_CLOSED:
                raise_acquire(-h)
            return None
        return h & SLOT_MASK
    return impl


@_typed("release")
def _tp_release(pool, key):
    _check_int(key, "the index or handle")

    def impl(pool, key):
        st = hot_call(_typed_release_k, (pool._hdr, pool._org, np.int64(key)))
        if st != ST.OK:
            raise_release(st)
    return impl


@_typed("acquire_many")
def _tp_acquire_many(pool, n):
    _check_count(n, "acquire_many(n): n")
    E, M = raising(ST.BAD_POOL_SIZE, name="acquire_many(n): n")

    def impl(pool, n):
        if n < 0:
            raise E(M)
        out = np.empty(n, np.int64)
        if org_busy(pool._rows, pool._org):
            st = -acquire_org(pool._hdr, worker_row(pool._rows), TAKE_MANY, out)
        else:
            st = acquire_many_into(pool._hdr, out)
        if st != ST.OK:
            raise_acquire(st)
        return out
    return impl


@_typed("release_many")
def _tp_release_many(pool, keys):
    if not (isinstance(keys, types.Array) and keys.ndim == 1
            and isinstance(keys.dtype, types.Integer)):
        raise error(ST.SLOT_RANGE, "type", what="release_many(keys): keys",
                    kind="a 1-D integer array", got=keys)

    def impl(pool, keys):
        st = release_many_org(pool._hdr, pool._org, keys)[0]
        if st != ST.OK:
            raise_release(st)
    return impl


@_typed("is_alive")
def _tp_is_alive(pool, key):
    _check_int(key, "the index or handle")

    def impl(pool, key):
        return slot_status(pool._hdr, key) == ST.OK
    return impl


@_typed("index")
def _tp_index(pool, key):
    _check_int(key, "the index or handle")

    def impl(pool, key):
        st = slot_status(pool._hdr, key)
        if st != ST.OK:
            raise_release(st)
        return key & SLOT_MASK
    return impl


@_typed("handle")
def _tp_handle(pool, key):
    _check_int(key, "the index")

    def impl(pool, key):
        st = slot_status(pool._hdr, key)
        if st != ST.OK:
            raise_release(st)
        h = words(pool._hdr)
        i = key & SLOT_MASK
        return (np.int64(i32s(h[H.GEN], h[H.CAP])[i]) << 32) | i
    return impl


@_typed("generation")
def _tp_generation(pool, key):
    _check_int(key, "the index")
    E, M = raising(ST.SLOT_RANGE)

    def impl(pool, key):
        h = words(pool._hdr)
        i = key & SLOT_MASK
        if key < 0 or i >= h[H.CAP]:
            raise E(M)
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


def _acquire_impl(try_):
    neg_e, neg_m = raising(ST.BAD_POOL_SIZE, name="nbytes")
    big_e, big_m = raising(ST.TOO_BIG_FOR_CLASSES)

    def impl(pools, nbytes):
        busy = org_busy(pools._rows, pools._org)   # first: its thread-id call leaves loops
        if nbytes < 0:
            raise neg_e(neg_m)
        c = _class_for(pools._hdr, pools._n, nbytes)
        if c < 0:
            raise big_e(big_m)
        if busy:
            h = acquire_org(pools._hdr + c * HDR_BYTES, worker_row(pools._rows), TAKE_CLASS,
                            no_keys())
        else:
            h = slot_acquire(pools._hdr + c * HDR_BYTES, 1)
        if h < 0:
            if try_ and h != -ST.POOL_CLOSED:
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
    E, M = raising(ST.FOREIGN_FREE)

    def impl(pools, key):
        c = (key >> CLASS_SHIFT) & (MAX_CLASSES * 2 - 1)
        if key < 0 or c >= pools._n:
            raise E(M)
        st = _give_back(pools._hdr + c * HDR_BYTES, pools._org, key & _LOCAL_MASK)
        if st != ST.OK:
            raise_release(st)
    return impl


@_classes("view")
def _sc_view(pools, key, dtype, count=1):
    _check_int(key, "the slot key")
    if not (isinstance(count, (types.Omitted, types.Integer)) or count == 1):
        raise error(ST.VIEW_TOO_BIG, "type", got=count)
    isz = numpy_support.as_dtype(resolve_nb_dtype(dtype)).itemsize
    foreign_e, foreign_m = raising(ST.FOREIGN_FREE)
    fit_e, fit_m = raising(ST.VIEW_TOO_BIG)

    def impl(pools, key, dtype, count=1):
        c = (key >> CLASS_SHIFT) & (MAX_CLASSES * 2 - 1)
        if key < 0 or c >= pools._n:
            raise foreign_e(foreign_m)
        row = pools._hdr + c * HDR_BYTES
        local = key & _LOCAL_MASK
        st = slot_status(row, local)
        if st != ST.OK:
            raise_release(st)
        h = words(row)
        csize = h[H.ITEMSIZE]
        if count < 0 or count > csize // isz:      # no count * isz: it would wrap
            raise fit_e(fit_m)
        slot = local & SLOT_MASK
        page = slot // h[H.BPP]
        pt = i64s(h[H.PT], 2 * h[H.PT_CAP])
        return make_view(pt[2 * page] + (slot - page * h[H.BPP]) * csize, pt[2 * page + 1], count,
                         dtype)
    return impl
