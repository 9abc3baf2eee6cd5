"""FrameVec and FrameMap inside @njit: numba types, boxing, constructors and methods.

A collection is a small struct of array views into its one frame allocation (FrameVec: the
length word and the elements; FrameMap: the length word, slot states, keys, values, plus the
capacity), all sharing the arena chunk's NRT meminfo. It crosses the Python/njit boundary by
unboxing those views from the Python object's attributes and boxing them back through
``framealloc.kernels.BOXERS`` (:func:`framealloc.collections._vec_from_parts` /
``_map_from_parts``, registered by that module): no copies, and both sides see the same length
word. Block layouts and hashing constants are in :mod:`framealloc.kernels.layout`.

Constructors (``alloc.frame_vec``, ``alloc.frame_map``) make one bump through the allocation
intrinsic and carve the views with :func:`_vec_from_block` / :func:`_map_from_block`. Methods
are ``inline='always'`` overloads, so their array accesses are compiled into the caller where
numba's refcount pruning removes the reference counting of the views; every index is checked
against the storage's own length (never against the length word alone, which a stale
collection may have overwritten), so no call can read or write outside the collection.
"""
from __future__ import annotations

import operator

import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.core.imputils import impl_ret_borrowed
from numba.core.ir_utils import _add_alias, alias_func_extensions
from numba.extending import (
    NativeValue,
    box,
    intrinsic,
    models,
    overload,
    overload_attribute,
    overload_method,
    register_jitable,
    register_model,
    unbox,
)
from numba.np import numpy_support
from numba.np.arrayobj import make_array, populate_array

from .._dtypes import MAX_BYTES, natural_alignment
from ..errors import CollectionValueError, UnsupportedDtypeError, error
from .registry import BOXERS
from . import status as ST
from .layout import HASH_FOLD, HASH_MUL, MAP_HEADER, vec_block
from .njit_api import SmartAllocType, frame_new, raising, resolve_numba_dtype

__all__ = ["FrameVecType", "FrameMapType", "vec_type", "map_type"]

_HDR = types.Array(types.int64, 1, "C")
_STATE = types.Array(types.uint8, 1, "C")

_MUL = np.uint64(HASH_MUL)
_FOLD = np.uint64(HASH_FOLD)


# ---------------------------------------------------------------------------------------------
# Types and data models

class FrameVecType(types.Type):
    """numba type of :class:`framealloc.FrameVec` of one element type."""

    def __init__(self, dtype):
        self.dtype = dtype
        self.data_type = types.Array(dtype, 1, "C")
        super().__init__(name=f"FrameVec({dtype})")


class FrameMapType(types.Type):
    """numba type of :class:`framealloc.FrameMap` of one key and value type."""

    def __init__(self, key_type, value_type):
        self.key_type = key_type
        self.value_type = value_type
        self.keys_type = types.Array(key_type, 1, "C")
        self.vals_type = types.Array(value_type, 1, "C")
        super().__init__(name=f"FrameMap({key_type}, {value_type})")


def _members(t):
    if isinstance(t, FrameVecType):
        return [("hdr", _HDR), ("data", t.data_type)]
    return [("hdr", _HDR), ("state", _STATE), ("keys", t.keys_type), ("vals", t.vals_type),
            ("cap", types.intp)]


@register_model(FrameVecType)
@register_model(FrameMapType)
class _CollectionModel(models.StructModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, _members(fe_type))


def _collection_field(obj, name):
    return isinstance(obj, (FrameVecType, FrameMapType)) and isinstance(name, types.StringLiteral)


@intrinsic
def _field(typingctx, obj, name):
    """Member ``name`` (a literal) of a FrameVec/FrameMap struct: a new reference to the view.

    Methods use this instead of attribute access because numba's dead-code elimination treats
    ``data = vec.data`` of a *local* struct as unrelated to ``vec`` and would drop a later
    ``data[i] = x``; the alias rule registered below ties the result to the struct.
    """
    if not _collection_field(obj, name):
        return None
    field = name.literal_value
    fty = dict(_members(obj))[field]
    sig = fty(obj, name)

    def codegen(context, builder, signature, args):
        proxy = cgutils.create_struct_proxy(obj)(context, builder, value=args[0])
        return impl_ret_borrowed(context, builder, fty, getattr(proxy, field))

    return sig, codegen


def _alias_first_arg(lhs, args, alias_map, arg_aliases):
    _add_alias(lhs, args[0].name, alias_map, arg_aliases)


@intrinsic
def _raw(typingctx, obj, name):
    """Member ``name`` of a FrameVec/FrameMap struct as a view that owns no reference.

    No NRT reference counting at all (its meminfo is NULL), which keeps probe loops free of
    atomic operations that numba's refcount pruning cannot pair across loops. Only valid while
    the struct is alive: every method that uses it ends with :func:`_keep` on the struct, so
    numba cannot release the struct (possibly the last owner of a retired chunk) before the
    method's last access. It never escapes a method.
    """
    if not _collection_field(obj, name):
        return None
    field = name.literal_value
    fty = dict(_members(obj))[field]
    sig = fty(obj, name)

    def codegen(context, builder, signature, args):
        proxy = cgutils.create_struct_proxy(obj)(context, builder, value=args[0])
        value = getattr(proxy, field)
        if not isinstance(fty, types.Array):
            return value
        ary = make_array(fty)(context, builder, value=value)
        ary.meminfo = cgutils.get_null_value(ary.meminfo.type)
        ary.parent = cgutils.get_null_value(ary.parent.type)
        return ary._getvalue()

    return sig, codegen


@intrinsic
def _keep(typingctx, obj):
    """A use of ``obj`` that generates no code: keeps it alive up to this point."""
    sig = types.void(obj)

    def codegen(context, builder, signature, args):
        return context.get_dummy_value()

    return sig, codegen


alias_func_extensions[("_field", __name__)] = _alias_first_arg
alias_func_extensions[("_raw", __name__)] = _alias_first_arg

_vec_types: dict = {}
_map_types: dict = {}


def vec_type(dt: np.dtype) -> FrameVecType:
    """The numba type of a FrameVec of NumPy dtype ``dt`` (cached)."""
    t = _vec_types.get(dt)
    if t is None:
        t = _vec_types[dt] = FrameVecType(numpy_support.from_dtype(dt))
    return t


def map_type(kdt: np.dtype, vdt: np.dtype) -> FrameMapType:
    """The numba type of a FrameMap with NumPy key/value dtypes (cached)."""
    t = _map_types.get((kdt, vdt))
    if t is None:
        t = _map_types[(kdt, vdt)] = FrameMapType(numpy_support.from_dtype(kdt),
                                                  numpy_support.from_dtype(vdt))
    return t


# ---------------------------------------------------------------------------------------------
# Boxing: the Python objects hold the same views

def _unbox_members(typ, obj, c, members):
    proxy = cgutils.create_struct_proxy(typ)(c.context, c.builder)
    is_error = cgutils.false_bit
    for name, ty in members:
        attr = c.pyapi.object_getattr_string(obj, "_" + name)
        native = c.unbox(ty, attr)
        c.pyapi.decref(attr)
        setattr(proxy, name, native.value)
        is_error = c.builder.or_(is_error, native.is_error)
    return proxy, is_error


@unbox(FrameVecType)
def _unbox_vec(typ, obj, c):
    proxy, is_error = _unbox_members(typ, obj, c, [("hdr", _HDR), ("data", typ.data_type)])
    return NativeValue(proxy._getvalue(), is_error=is_error)


@unbox(FrameMapType)
def _unbox_map(typ, obj, c):
    proxy, is_error = _unbox_members(typ, obj, c, [("hdr", _HDR), ("state", _STATE),
                                                   ("keys", typ.keys_type),
                                                   ("vals", typ.vals_type)])
    cap = c.pyapi.object_getattr_string(obj, "_cap")
    proxy.cap = c.pyapi.long_as_longlong(cap)
    c.pyapi.decref(cap)
    return NativeValue(proxy._getvalue(), is_error=is_error)


def _box_call(c, fn, objs):
    """``fn(*objs)`` (stealing the references of ``objs``); NULL if any of them is NULL."""
    ok = cgutils.true_bit
    for o in objs:
        ok = c.builder.and_(ok, cgutils.is_not_null(c.builder, o))
    out = cgutils.alloca_once_value(c.builder, cgutils.get_null_value(c.pyapi.pyobj))
    with c.builder.if_then(ok, likely=True):
        fnobj = c.pyapi.unserialize(c.pyapi.serialize_object(fn))
        c.builder.store(c.pyapi.call_function_objargs(fnobj, objs), out)
        c.pyapi.decref(fnobj)
    for o in objs:
        c.pyapi.decref(o)  # Py_XDECREF: NULL-safe
    return c.builder.load(out)


@box(FrameVecType)
def _box_vec(typ, val, c):
    proxy = cgutils.create_struct_proxy(typ)(c.context, c.builder, value=val)
    # Boxing an array steals its reference: the struct's two references go to the Python views.
    return _box_call(c, BOXERS["FrameVec"],
                     [c.box(_HDR, proxy.hdr), c.box(typ.data_type, proxy.data)])


@box(FrameMapType)
def _box_map(typ, val, c):
    proxy = cgutils.create_struct_proxy(typ)(c.context, c.builder, value=val)
    return _box_call(c, BOXERS["FrameMap"], [
        c.box(_HDR, proxy.hdr), c.box(_STATE, proxy.state), c.box(typ.keys_type, proxy.keys),
        c.box(typ.vals_type, proxy.vals), c.pyapi.long_from_ssize_t(proxy.cap)])


# ---------------------------------------------------------------------------------------------
# Constructors: one frame allocation, carved into views that share its meminfo

def _carve(context, builder, arrty, addr, n, itemsize, meminfo):
    """A 1-D C view of ``n`` items at address ``addr``, holding a new reference to ``meminfo``."""
    intp = cgutils.intp_t
    ary = make_array(arrty)(context, builder)
    data = builder.inttoptr(addr, context.get_data_type(arrty.dtype).as_pointer())
    populate_array(ary, data=data, shape=[n], strides=[ir.Constant(intp, itemsize)],
                   itemsize=ir.Constant(intp, itemsize), meminfo=meminfo)
    value = ary._getvalue()
    context.nrt.incref(builder, arrty, value)
    return value


# Typing-time refusals raise the FA error itself (see the typing helpers of njit_api).

def _element(dtype):
    nb, npdt = resolve_numba_dtype(dtype)
    if npdt.subdtype is not None:
        raise error(ST.BAD_COLLECTION_DTYPE, dtype=f"element dtype {npdt}")
    return nb, npdt


def _key_element(dtype):
    try:
        nb, npdt = resolve_numba_dtype(dtype, "key dtype")
    except UnsupportedDtypeError:
        nb = npdt = None
    if npdt is None or npdt.kind not in "iu":
        raise error(ST.BAD_COLLECTION_DTYPE, "key", dtype=dtype)
    return nb, np.dtype(f"{npdt.kind}{npdt.itemsize}")


def _block_type(raw):
    """The uint8 block argument (an Optional one is unwrapped by numba at the call)."""
    return raw.type if isinstance(raw, types.Optional) else raw


@intrinsic
def _vec_from_block(typingctx, raw, capacity, dtype):
    """The FrameVec over a fresh uint8 block: length word zeroed, ``capacity`` elements after."""
    nb, npdt = _element(dtype)
    vecty = FrameVecType(nb)
    data_off, _ = vec_block(npdt.itemsize, natural_alignment(npdt))
    sig = vecty(_block_type(raw), capacity, dtype)

    def codegen(context, builder, signature, args):
        intp = cgutils.intp_t
        src = make_array(signature.args[0])(context, builder, value=args[0])
        cap = context.cast(builder, args[1], signature.args[1], types.intp)
        addr = builder.ptrtoint(src.data, intp)
        builder.store(ir.Constant(intp, 0), builder.inttoptr(addr, intp.as_pointer()))
        vec = cgutils.create_struct_proxy(vecty)(context, builder)
        vec.hdr = _carve(context, builder, _HDR, addr, ir.Constant(intp, 1), 8, src.meminfo)
        vec.data = _carve(context, builder, vecty.data_type,
                          builder.add(addr, ir.Constant(intp, data_off)), cap, npdt.itemsize,
                          src.meminfo)
        return vec._getvalue()

    return sig, codegen


@intrinsic
def _map_from_block(typingctx, raw, capacity, slots, keys_off, vals_off, key_dtype, value_dtype):
    """The FrameMap over a fresh uint8 block: header and slot states zeroed."""
    knb, kdt = _key_element(key_dtype)
    vnb, vdt = _element(value_dtype)
    mapty = FrameMapType(knb, vnb)
    sig = mapty(_block_type(raw), capacity, slots, keys_off, vals_off, key_dtype, value_dtype)

    def codegen(context, builder, signature, args):
        intp = cgutils.intp_t
        src = make_array(signature.args[0])(context, builder, value=args[0])
        cap, nslots, koff, voff = [context.cast(builder, v, t, types.intp)
                                   for v, t in zip(args[1:5], signature.args[1:5])]
        addr = builder.ptrtoint(src.data, intp)
        cgutils.memset(builder, src.data, builder.add(nslots, ir.Constant(intp, MAP_HEADER)), 0)
        m = cgutils.create_struct_proxy(mapty)(context, builder)
        m.hdr = _carve(context, builder, _HDR, addr, ir.Constant(intp, 1), 8, src.meminfo)
        m.state = _carve(context, builder, _STATE, builder.add(addr, ir.Constant(intp, MAP_HEADER)),
                         nslots, 1, src.meminfo)
        m.keys = _carve(context, builder, mapty.keys_type, builder.add(addr, koff), nslots,
                        kdt.itemsize, src.meminfo)
        m.vals = _carve(context, builder, mapty.vals_type, builder.add(addr, voff), nslots,
                        vdt.itemsize, src.meminfo)
        m.cap = cap
        return m._getvalue()

    return sig, codegen


def _capacity_arg(capacity):
    if not isinstance(capacity, types.Integer):
        raise error(ST.BAD_CAPACITY, got=f", got a {capacity}")


@register_jitable
def _map_geometry(cap, ksz, vsz, valign):
    """(slots, keys offset, values offset, total bytes): ``collections.map_block`` in njit."""
    need = cap + cap // 2 + 1
    slots = 2
    while slots < need:
        slots <<= 1
    keys_off = (MAP_HEADER + slots + ksz - 1) & -ksz
    vals_off = (keys_off + slots * ksz + valign - 1) & -valign
    return slots, keys_off, vals_off, vals_off + slots * vsz


def _register_vec_ctor(name, try_):
    @overload_method(SmartAllocType, name, inline="always")
    def _ol(alloc, dtype, capacity):
        nb, npdt = _element(dtype)
        _capacity_arg(capacity)
        isz = npdt.itemsize
        data_off, align = vec_block(isz, natural_alignment(npdt))
        maxcap = (MAX_BYTES - data_off) // isz
        E, M = raising(ST.BAD_CAPACITY)

        def impl(alloc, dtype, capacity):
            cap = np.int64(capacity)
            if cap < 0 or cap > maxcap:
                raise E(M)
            raw = frame_new(alloc, data_off + cap * isz, np.uint8, align, False, try_)
            if raw is None:
                return None
            return _vec_from_block(raw, cap, dtype)
        return impl


def _register_map_ctor(name, try_):
    @overload_method(SmartAllocType, name, inline="always")
    def _ol(alloc, key_dtype, value_dtype, capacity):
        _, kdt = _key_element(key_dtype)
        _, vdt = _element(value_dtype)
        _capacity_arg(capacity)
        ksz, vsz, valign = kdt.itemsize, vdt.itemsize, natural_alignment(vdt)
        align = max(8, ksz, valign)
        maxcap = (MAX_BYTES - MAP_HEADER) // (3 * (1 + ksz + vsz))
        E, M = raising(ST.BAD_CAPACITY)

        def impl(alloc, key_dtype, value_dtype, capacity):
            cap = np.int64(capacity)
            if cap < 0 or cap > maxcap:
                raise E(M)
            slots, keys_off, vals_off, total = _map_geometry(cap, ksz, vsz, valign)
            raw = frame_new(alloc, total, np.uint8, align, False, try_)
            if raw is None:
                return None
            return _map_from_block(raw, cap, slots, keys_off, vals_off, key_dtype, value_dtype)
        return impl


_register_vec_ctor("frame_vec", False)
_register_vec_ctor("try_frame_vec", True)
_register_map_ctor("frame_map", False)
_register_map_ctor("try_frame_map", True)


# ---------------------------------------------------------------------------------------------
# Methods
#
# Split for speed of compilation and execution, and for leak-free errors:
# * workers: plain jitted functions over _raw views (no reference counting; compiled once per
#   element type, not once per call site) that return a status instead of raising;
# * methods: tiny inline='always' overloads that take the views, call the worker, _keep the
#   struct alive past the last access, and raise. numba releases the caller's references only
#   for a `raise` in the caller's own code, so raising must not happen inside a called function.
# Bounds come from the storage's own length, never from the length word alone.

def _check_store(elem, value, what):
    """Typing-time check that ``value`` can be stored as ``elem`` (FA139 otherwise)."""
    if isinstance(elem, types.Record):
        ok = value == elem
    elif isinstance(elem, (types.NPDatetime, types.NPTimedelta)):
        ok = type(value) is type(elem)
    else:
        ok = isinstance(value, (types.Number, types.Boolean))
    if not ok:
        raise error(ST.BAD_VALUE, value=f"a {value}", dtype=f"{elem} in a {what}")


def _vec(v):
    return isinstance(v, FrameVecType)


def _map(m):
    return isinstance(m, FrameMapType)


@register_jitable
def _clamped_len(hdr, cap):
    n = hdr[0]
    if n < 0:
        return 0
    return n if n <= cap else cap


@register_jitable
def _vpush(hdr, data, value):
    n = hdr[0]
    if not np.uint64(n) < np.uint64(len(data)):
        return False
    data[n] = value
    hdr[0] = n + 1
    return True


@register_jitable
def _vpop(hdr, cap):
    """The index of the last element, which is removed; -1 when empty."""
    n = hdr[0] - 1
    if not np.uint64(n) < np.uint64(cap):
        return -1
    hdr[0] = n
    return n


@register_jitable
def _vextend(hdr, data, values):
    n = hdr[0]
    k = len(values)
    if n < 0 or n > len(data) or k > len(data) - n:
        return False
    data[n:n + k] = values
    hdr[0] = n + k
    return True


@register_jitable
def _vindex(hdr, cap, i):
    """``i`` (negative: from the end) as an index below the length; -1 when out of range."""
    n = _clamped_len(hdr, cap)
    j = i + n if i < 0 else i
    return j if np.uint64(j) < np.uint64(n) else -1


@overload(len, inline="always")
def _ol_len(v):
    if _vec(v):
        def impl(v):
            n = _clamped_len(_raw(v, "hdr"), len(_raw(v, "data")))
            _keep(v)
            return n
        return impl
    if _map(v):
        def impl(v):
            n = _clamped_len(_raw(v, "hdr"), _raw(v, "cap"))
            _keep(v)
            return n
        return impl


@overload_attribute(FrameVecType, "capacity")  # not inlined: numba cannot inline an
# attribute of a value made by an inlined call in the same function (no lowering is found)
def _ol_vec_capacity(v):
    def impl(v):
        return len(_raw(v, "data"))
    return impl


@overload_method(FrameVecType, "try_push", inline="always")
def _ol_try_push(v, value):
    _check_store(v.dtype, value, "FrameVec")

    def impl(v, value):
        ok = _vpush(_raw(v, "hdr"), _raw(v, "data"), value)
        _keep(v)
        return ok
    return impl


@overload_method(FrameVecType, "push", inline="always")
def _ol_push(v, value):
    _check_store(v.dtype, value, "FrameVec")
    E, M = raising(ST.VEC_FULL)

    def impl(v, value):
        ok = _vpush(_raw(v, "hdr"), _raw(v, "data"), value)
        _keep(v)
        if not ok:
            raise E(M)
    return impl


@overload_method(FrameVecType, "pop", inline="always")
def _ol_pop(v):
    E, M = raising(ST.VEC_EMPTY)

    def impl(v):
        data = _raw(v, "data")
        i = _vpop(_raw(v, "hdr"), len(data))
        if i < 0:
            raise E(M)
        x = data[i]
        _keep(v)
        return x
    return impl


@overload_method(FrameVecType, "try_pop", inline="always")
def _ol_try_pop(v):
    def impl(v):
        data = _raw(v, "data")
        i = _vpop(_raw(v, "hdr"), len(data))
        if i < 0:
            return None
        x = data[i]
        _keep(v)
        return x
    return impl


def _extend_check(v, values):
    if not (isinstance(values, types.Array) and values.ndim == 1):
        raise error(ST.BAD_VALUE, value=f"a {values}", dtype="the FrameVec's elements",
                    why=" (extend takes a 1-D NumPy array inside @njit)")
    _check_store(v.dtype, values.dtype, "FrameVec")


@overload_method(FrameVecType, "try_extend", inline="always")
def _ol_try_extend(v, values):
    _extend_check(v, values)

    def impl(v, values):
        ok = _vextend(_raw(v, "hdr"), _raw(v, "data"), values)
        _keep(v)
        return ok
    return impl


@overload_method(FrameVecType, "extend", inline="always")
def _ol_extend(v, values):
    _extend_check(v, values)
    E, M = raising(ST.VEC_FULL, op="extend", room=" (room for fewer elements than given)")

    def impl(v, values):
        ok = _vextend(_raw(v, "hdr"), _raw(v, "data"), values)
        _keep(v)
        if not ok:
            raise E(M)
    return impl


@overload_method(FrameVecType, "clear", inline="always")
def _ol_vec_clear(v):
    def impl(v):
        _raw(v, "hdr")[0] = 0
        _keep(v)
    return impl


@overload_method(FrameVecType, "as_array", inline="always")
def _ol_as_array(v):
    def impl(v):
        data = _field(v, "data")        # a real view: it owns a reference and may escape
        return data[:_clamped_len(_raw(v, "hdr"), len(data))]
    return impl


def _check_index(i):
    if not isinstance(i, types.Integer):
        raise error(ST.VEC_INDEX, "type", index=f"a {i}")


@overload(operator.getitem, inline="always")
def _ol_vec_getitem(v, i):
    if _vec(v):
        _check_index(i)
        E, M = raising(ST.VEC_INDEX)

        def impl(v, i):
            data = _raw(v, "data")
            j = _vindex(_raw(v, "hdr"), len(data), i)
            if j < 0:
                raise E(M)
            x = data[j]
            _keep(v)
            return x
        return impl


@overload(operator.setitem)
def _ol_vec_setitem(v, i, value):
    # numba inlines no setitem: this raise goes through a call (see docs/collections.md).
    if _vec(v):
        _check_index(i)
        _check_store(v.dtype, value, "FrameVec")
        E, M = raising(ST.VEC_INDEX)

        def impl(v, i, value):
            data = _raw(v, "data")
            j = _vindex(_raw(v, "hdr"), len(data), i)
            if j < 0:
                raise E(M)
            data[j] = value
            _keep(v)
        return impl


# ---------------------------------------------------------------------------------------------
# FrameMap (the same algorithm as framealloc.collections.FrameMap)

def _cast_key(m, key):
    """``key`` in the map's key type (njit only); FA137 when it does not fit."""


@overload(_cast_key, inline="always")
def _ol_cast_key(m, key):
    # Checked in the key's own signedness, so there are no mixed-sign comparisons.
    if not isinstance(key, types.Integer):
        raise error(ST.BAD_KEY, "type", key=f"a {key}")
    kt = m.key_type
    E, M = raising(ST.BAD_KEY)
    dst = np.iinfo(numpy_support.as_dtype(kt))
    src = np.iinfo(numpy_support.as_dtype(key))
    if src.min >= dst.min and src.max <= dst.max:
        def impl(m, key):
            return kt(key)
    elif key.signed:
        lo, hi = np.int64(max(src.min, dst.min)), np.int64(min(src.max, dst.max))

        def impl(m, key):
            if np.int64(key) < lo or np.int64(key) > hi:
                raise E(M)
            return kt(key)
    else:
        hi = np.uint64(min(src.max, dst.max))

        def impl(m, key):
            if np.uint64(key) > hi:
                raise E(M)
            return kt(key)
    return impl


@register_jitable
def _home(k, mask):
    h = np.uint64(k) * _MUL
    return np.intp((h ^ (h >> _FOLD)) & np.uint64(mask))


@register_jitable
def _mfind(state, keys, k):
    """(slot, found): the key's slot, or the empty slot where it would go (-1: none, which only
    a stale table can show)."""
    mask = len(state) - 1
    i = _home(k, mask)
    for _ in range(mask + 1):
        if state[i] == 0:
            return i, False
        if keys[i] == k:
            return i, True
        i = (i + 1) & mask
    return -1, False


@register_jitable
def _minsert(state, keys, vals, hdr, cap, k, value):
    i, found = _mfind(state, keys, k)
    if found:
        vals[i] = value
        return True
    n = hdr[0]
    if i < 0 or not np.uint64(n) < np.uint64(cap):
        return False
    vals[i] = value
    keys[i] = k
    state[i] = 1
    hdr[0] = n + 1
    return True


@register_jitable
def _mremove(state, keys, vals, hdr, k):
    i, found = _mfind(state, keys, k)
    if not found:
        return False
    # Backward-shift deletion: pull later entries of the probe run into the gap when their home
    # slot is not inside (gap, entry], so every lookup still ends at an empty slot.
    mask = len(state) - 1
    j = i
    for _ in range(mask):
        j = (j + 1) & mask
        if state[j] == 0:
            break
        if ((j - _home(keys[j], mask)) & mask) >= ((j - i) & mask):
            keys[i] = keys[j]
            vals[i] = vals[j]
            i = j
    state[i] = 0
    hdr[0] = max(hdr[0] - 1, 0)
    return True


@overload_method(FrameMapType, "try_insert", inline="always")
def _ol_try_insert(m, key, value):
    _check_store(m.value_type, value, "FrameMap")

    def impl(m, key, value):
        ok = _minsert(_raw(m, "state"), _raw(m, "keys"), _raw(m, "vals"), _raw(m, "hdr"),
                      _raw(m, "cap"), _cast_key(m, key), value)
        _keep(m)
        return ok
    return impl


def _insert(m, key, value):
    _check_store(m.value_type, value, "FrameMap")
    E, M = raising(ST.MAP_FULL)

    def impl(m, key, value):
        ok = _minsert(_raw(m, "state"), _raw(m, "keys"), _raw(m, "vals"), _raw(m, "hdr"),
                      _raw(m, "cap"), _cast_key(m, key), value)
        _keep(m)
        if not ok:
            raise E(M)
    return impl


overload_method(FrameMapType, "insert", inline="always")(_insert)


@overload(operator.setitem)
def _ol_map_setitem(m, key, value):
    # numba inlines no setitem: this raise goes through a call (see docs/collections.md).
    if _map(m):
        return _insert(m, key, value)


@overload_method(FrameMapType, "get", inline="always")
def _ol_get(m, key, default=None):
    no_default = default is None or isinstance(default, (types.NoneType, types.Omitted))
    if not no_default:
        try:
            _check_store(m.value_type, default, "FrameMap")
        except CollectionValueError:
            raise error(ST.BAD_VALUE, value=f"a {default} default", dtype=f"{m.value_type}",
                        why=" (get(key, default) takes a value of the map's type, or None)") \
                from None

    def impl(m, key, default=None):
        i, found = _mfind(_raw(m, "state"), _raw(m, "keys"), _cast_key(m, key))
        x = _raw(m, "vals")[i if found else 0]       # slot 0 always exists (slots >= 2)
        _keep(m)
        if found:
            return x
        return None if no_default else default
    return impl


@overload(operator.getitem, inline="always")
def _ol_map_getitem(m, key):
    if _map(m):
        E, M = raising(ST.KEY_MISSING)

        def impl(m, key):
            i, found = _mfind(_raw(m, "state"), _raw(m, "keys"), _cast_key(m, key))
            x = _raw(m, "vals")[i if found else 0]       # slot 0 always exists (slots >= 2)
            _keep(m)
            if not found:
                raise E(M)
            return x
        return impl


def _contains(m, key):
    def impl(m, key):
        found = _mfind(_raw(m, "state"), _raw(m, "keys"), _cast_key(m, key))[1]
        _keep(m)
        return found
    return impl


overload_method(FrameMapType, "contains", inline="always")(_contains)


@overload(operator.contains, inline="always")
def _ol_in(m, key):
    if _map(m):
        return _contains(m, key)


@overload_method(FrameMapType, "try_remove", inline="always")
def _ol_try_remove(m, key):
    def impl(m, key):
        ok = _mremove(_raw(m, "state"), _raw(m, "keys"), _raw(m, "vals"), _raw(m, "hdr"),
                      _cast_key(m, key))
        _keep(m)
        return ok
    return impl


@overload_method(FrameMapType, "remove", inline="always")
def _ol_remove(m, key):
    E, M = raising(ST.KEY_MISSING)

    def impl(m, key):
        ok = _mremove(_raw(m, "state"), _raw(m, "keys"), _raw(m, "vals"), _raw(m, "hdr"),
                      _cast_key(m, key))
        _keep(m)
        if not ok:
            raise E(M)
    return impl


@overload_method(FrameMapType, "clear", inline="always")
def _ol_map_clear(m):
    def impl(m):
        _raw(m, "state")[:] = 0
        _raw(m, "hdr")[0] = 0
        _keep(m)
    return impl


@overload_attribute(FrameMapType, "capacity")  # not inlined (see FrameVec.capacity)
def _ol_map_capacity(m):
    def impl(m):
        return _raw(m, "cap")
    return impl


@register_jitable
def _gather(state, src):
    n = 0
    for i in range(len(state)):
        if state[i] != 0:
            n += 1
    out = np.empty(n, src.dtype)
    j = 0
    for i in range(len(state)):
        if state[i] != 0:
            out[j] = src[i]
            j += 1
    return out


@overload_method(FrameMapType, "keys")
def _ol_keys(m):
    def impl(m):
        return _gather(_field(m, "state"), _field(m, "keys"))
    return impl


@overload_method(FrameMapType, "values")
def _ol_values(m):
    def impl(m):
        return _gather(_field(m, "state"), _field(m, "vals"))
    return impl


@overload_method(FrameMapType, "items")
def _ol_items(m):
    def impl(m):
        state = _field(m, "state")
        return _gather(state, _field(m, "keys")), _gather(state, _field(m, "vals"))
    return impl
