"""FrameVec and FrameMap inside @njit: numba types, boxing, constructors and methods.

A collection is a small struct of array views into its one frame allocation (FrameVec: the
length word and the elements; FrameMap: the length word, slot states, keys, values, plus the
capacity), all sharing the arena chunk's NRT meminfo. It crosses the Python/njit boundary by
unboxing those views from the Python object's attributes and boxing them back through
``framealloc.kernels.BOXERS`` (:func:`framealloc.collections._vec_from_parts` /
``_map_from_parts``, registered by that module): no copies, and both sides see the same length
word. Block layouts and hashing constants are in :mod:`framealloc.kernels.layout`; the state
machines the methods run (probe, insert, remove, push, pop...) are the numba-free functions of
:mod:`framealloc.kernels.collections`, which the Python API calls too and this module registers
for numba (see "Methods" below).

Constructors (``alloc.frame_vec``, ``alloc.frame_map``) make one bump through the allocation
intrinsic and carve the views with :func:`_vec_from_block` / :func:`_map_from_block`. Methods
are ``inline='always'`` overloads, so their array accesses are compiled into the caller where
numba's refcount pruning removes the reference counting of the views; every index is checked
against the storage's own length (never against the length word alone, which a stale
collection may have overwritten), so no call can read or write outside the collection.
"""
from __future__ import annotations

import inspect
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
from . import collections as kc
from .layout import HASH_FOLD, HASH_MUL, MAP_HEADER, _round_up, map_block, map_slots, vec_block
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


# The block geometry is layout.map_block's, compiled; only its table size needs another form
# (numba has no int.bit_length): the same power of two, found by doubling.
register_jitable(_round_up)
register_jitable(map_block)


@overload(map_slots)
def _ol_map_slots(capacity):
    def impl(capacity):
        need = capacity + capacity // 2 + 1
        slots = 2
        while slots < need:
            slots <<= 1
        return slots
    return impl


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
            slots, keys_off, vals_off, total, _ = map_block(cap, ksz, vsz, valign)
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
# * kernels: the state machines of framealloc.kernels.collections, registered here as plain
#   jitted functions (not inlined: compiled once per element type, not once per call site) over
#   _raw views (no reference counting); they return a status instead of raising;
# * attempts: inline jitables that take the views out of the struct, call a kernel and _keep the
#   struct alive past the last access; they return the kernel's status (a bool, or an index
#   with -1 for "none"), never raise;
# * methods: tiny inline='always' overloads over an attempt; the try_ form returns its status,
#   the raising form (made by _pair from the same attempt) raises the FA error. numba releases
#   the caller's references only for a `raise` in the caller's own code, so raising must not
#   happen inside a called function: everything between the method and the kernel is inlined.
# Bounds come from the storage's own length, never from the length word alone.

for _kernel in (kc.probe, kc.map_insert, kc.map_remove, kc.gather, kc.clamped_len, kc.vec_push,
                kc.vec_pop, kc.vec_extend, kc.vec_index):
    register_jitable(_kernel)


@overload(kc.home)
def _ol_home(k, mask):
    """The hash in uint64 arithmetic (wrapping), equal to the Python form for every key."""
    def impl(k, mask):
        h = np.uint64(k) * _MUL
        return np.intp((h ^ (h >> _FOLD)) & np.uint64(mask))
    return impl


def _pair(params, status, call, read=None, **fields):
    """``(tried, raised)``: the two njit implementations of a method pair, written once.

    ``call`` is the source of one kernel call over the struct's ``_raw`` views: it returns a
    status and never raises, either a bool (``read`` is None), or an index that is -1 for
    "none", at which ``read`` (source using the index ``at_``) is the result. ``tried`` returns
    the status (a bool), or the result or None; ``raised`` returns nothing or the result and
    raises the FA error of ``status`` where ``tried`` says no (the class and the message from
    the table of framealloc.errors; ``fields`` fill the message's details). Both take
    ``params``, the methods' parameters (the first one is the struct, kept alive by ``_keep``
    past the last access). Generated as source (with the names this module defines before the
    call), so that each method stays one flat inline function: an inline helper per method
    between the overload and the kernel made the first call of a small njit function using
    push/pop/insert/get/remove ~70% slower to compile.
    """
    args, obj = ", ".join(params), params[0]
    if read is None:
        src = (f"def tried({args}):\n"
               f"    ok = {call}\n"
               f"    _keep({obj})\n"
               f"    return ok\n"
               f"def raised({args}):\n"
               f"    ok = {call}\n"
               f"    _keep({obj})\n"
               f"    if not ok:\n"
               f"        raise E(M)\n")
    else:
        src = (f"def tried({args}):\n"
               f"    at_ = {call}\n"
               f"    if at_ < 0:\n"
               f"        return None\n"
               f"    x = {read}\n"
               f"    _keep({obj})\n"
               f"    return x\n"
               f"def raised({args}):\n"
               f"    at_ = {call}\n"
               f"    if at_ < 0:\n"
               f"        raise E(M)\n"
               f"    x = {read}\n"
               f"    _keep({obj})\n"
               f"    return x\n")
    E, M = raising(status, **fields)
    glb = dict(globals(), E=E, M=M)
    exec(src, glb)  # constant messages; the names of this module
    return glb["tried"], glb["raised"]


def _register_pair(typ, name, check, status, call, read=None, **fields):
    """Register the njit methods ``try_<name>`` and ``<name>`` of ``typ`` (see :func:`_pair`).

    ``check`` refuses bad arguments at typing time (it gets their numba types); its parameters
    are the methods' (what numba checks the implementations against, and inspect shows).
    """
    impls = _pair(list(inspect.signature(check).parameters), status, call, read, **fields)
    for impl, method in zip(impls, ("try_" + name, name)):
        def typing(*args, _impl=impl, **kws):
            check(*args, **kws)
            return _impl
        typing.__wrapped__ = check     # the signature numba and inspect see: the methods'
        overload_method(typ, method, inline="always")(typing)


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


# -- FrameVec ----------------------------------------------------------------------------------

def _check_push(v, value):
    _check_store(v.dtype, value, "FrameVec")


def _check_extend(v, values):
    if not (isinstance(values, types.Array) and values.ndim == 1):
        raise error(ST.BAD_VALUE, value=f"a {values}", dtype="the FrameVec's elements",
                    why=" (extend takes a 1-D NumPy array inside @njit)")
    _check_store(v.dtype, values.dtype, "FrameVec")


def _check_pop(v):
    pass


def _check_index(i):
    if not isinstance(i, types.Integer):
        raise error(ST.VEC_INDEX, "type", index=f"a {i}")


_register_pair(FrameVecType, "push", _check_push, ST.VEC_FULL,
               "kc.vec_push(_raw(v, 'hdr'), _raw(v, 'data'), value)")
_register_pair(FrameVecType, "extend", _check_extend, ST.VEC_FULL,
               "kc.vec_extend(_raw(v, 'hdr'), _raw(v, 'data'), values)",
               op="extend", room=" (room for fewer elements than given)")
_register_pair(FrameVecType, "pop", _check_pop, ST.VEC_EMPTY,
               "kc.vec_pop(_raw(v, 'hdr'), len(_raw(v, 'data')))", read="_raw(v, 'data')[at_]")
_, _vec_getitem = _pair(("v", "i"), ST.VEC_INDEX,
                        "kc.vec_index(_raw(v, 'hdr'), len(_raw(v, 'data')), i)",
                        read="_raw(v, 'data')[at_]")


@overload(len, inline="always")
def _ol_len(v):
    if _vec(v):
        def impl(v):
            n = kc.clamped_len(_raw(v, "hdr"), len(_raw(v, "data")))
            _keep(v)
            return n
        return impl
    if _map(v):
        def impl(v):
            n = kc.clamped_len(_raw(v, "hdr"), _raw(v, "cap"))
            _keep(v)
            return n
        return impl


@overload_attribute(FrameVecType, "capacity")  # not inlined: numba cannot inline an
# attribute of a value made by an inlined call in the same function (no lowering is found)
def _ol_vec_capacity(v):
    def impl(v):
        return len(_raw(v, "data"))
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
        return data[:kc.clamped_len(_raw(v, "hdr"), len(data))]
    return impl


@overload(operator.getitem, inline="always")
def _ol_vec_getitem(v, i):
    if _vec(v):
        _check_index(i)
        return _vec_getitem


@overload(operator.setitem)
def _ol_vec_setitem(v, i, value):
    # numba inlines no setitem: this raise goes through a call (see docs/collections.md).
    if _vec(v):
        _check_index(i)
        _check_store(v.dtype, value, "FrameVec")
        E, M = raising(ST.VEC_INDEX)

        def impl(v, i, value):
            data = _raw(v, "data")
            j = kc.vec_index(_raw(v, "hdr"), len(data), i)
            if j < 0:
                raise E(M)
            data[j] = value
            _keep(v)
        return impl


# -- FrameMap (the same kernels as framealloc.collections.FrameMap) ----------------------------

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


def _check_insert(m, key, value):
    _check_store(m.value_type, value, "FrameMap")


def _check_key(m, key):
    pass            # the key is checked where it is cast (_cast_key)


_INSERT = ("kc.map_insert(_raw(m, 'state'), _raw(m, 'keys'), _raw(m, 'vals'), _raw(m, 'hdr'), "
           "_raw(m, 'cap'), _cast_key(m, key), value)")
_register_pair(FrameMapType, "insert", _check_insert, ST.MAP_FULL, _INSERT)
_register_pair(FrameMapType, "remove", _check_key, ST.KEY_MISSING,
               "kc.map_remove(_raw(m, 'state'), _raw(m, 'keys'), _raw(m, 'vals'), _raw(m, 'hdr'), "
               "_cast_key(m, key))")
_, _map_setitem = _pair(("m", "key", "value"), ST.MAP_FULL, _INSERT)


@overload(operator.setitem)
def _ol_map_setitem(m, key, value):
    # numba inlines no setitem: this raise goes through a call (see docs/collections.md).
    if _map(m):
        _check_insert(m, key, value)
        return _map_setitem


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
        i, found = kc.probe(_raw(m, "state"), _raw(m, "keys"), _cast_key(m, key))
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
            i, found = kc.probe(_raw(m, "state"), _raw(m, "keys"), _cast_key(m, key))
            x = _raw(m, "vals")[i if found else 0]       # slot 0 always exists (slots >= 2)
            _keep(m)
            if not found:
                raise E(M)
            return x
        return impl


def _contains(m, key):
    def impl(m, key):
        found = kc.probe(_raw(m, "state"), _raw(m, "keys"), _cast_key(m, key))[1]
        _keep(m)
        return found
    return impl


overload_method(FrameMapType, "contains", inline="always")(_contains)


@overload(operator.contains, inline="always")
def _ol_in(m, key):
    if _map(m):
        return _contains(m, key)


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


@overload_method(FrameMapType, "keys")
def _ol_keys(m):
    def impl(m):
        return kc.gather(_field(m, "state"), _field(m, "keys"))
    return impl


@overload_method(FrameMapType, "values")
def _ol_values(m):
    def impl(m):
        return kc.gather(_field(m, "state"), _field(m, "vals"))
    return impl


@overload_method(FrameMapType, "items")
def _ol_items(m):
    def impl(m):
        state = _field(m, "state")
        return kc.gather(state, _field(m, "keys")), kc.gather(state, _field(m, "vals"))
    return impl
