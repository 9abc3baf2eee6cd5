"""SmartAlloc inside @njit: the numba type, its unboxing, the allocation intrinsic and the methods.

A SmartAlloc passed to an @njit function unboxes to a small struct of addresses: the arena rows
and checkpoint stacks of the *calling Python thread's* slot (chosen on the Python side, because
``numba.get_thread_id()`` is 0 for every Python thread outside a parallel region), plus the worker
count. Inside ``prange`` bodies, ``numba.get_thread_id()`` picks the worker's own row of that slot.

The hot path is :func:`_view_plan`'s code, emitted into the caller: load cursor/limit/base of the
row, align, one fused check (size sanity + fits + frame open, because ``limit`` is -1 outside a
frame), bump, and build the array view over the chunk with the chunk's NRT meminfo (so the view
keeps the chunk alive after the allocator is gone). Everything else is a cold, out-of-line call of
a cached kernel (:func:`framealloc.kernels.arena.slow_alloc`, :func:`_fail` for the raise). The
frame methods are typed by templates and lowered by hand (``_AllocMethods``, ``_FrameMethods``,
``_CheckpointMethods``), so a user's kernel compiles none of this module's code.
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.core.errors import TypingError
from numba.core import utils
from numba.core.typing.templates import (
    AttributeTemplate,
    bound_function,
    fold_arguments,
    signature,
)
from numba.extending import (
    box,
    infer_getattr,
    intrinsic,
    lower_builtin,
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

from .._dtypes import MAX_ALIGN, natural_alignment
from ..checkpoints import FrameCheckpoint, FrameScope
from ..errors import error, message
from . import arena as K
from . import org as O
from ._intrinsics import call_cached, cold_call, thread_id
from .leases import box_parent, refuse_in_generators, unbox_leased
from .layout import CHECKPOINT_DTYPE, F, ROW_BYTES
from . import status as ST

__all__ = ["SmartAllocType", "smart_alloc_type", "smart_alloc_debug_type"]

_MAX_NJIT_NDIM = 8
_I = types.intp


class SmartAllocType(types.Type):
    """numba type of :class:`framealloc.SmartAlloc` arguments.

    ``debug``: the type of an allocator in debug mode (``AllocConfig(debug=True)``). It is a
    separate type, so a function called with one is compiled separately: its ``end_frame`` and
    ``rollback_to`` poison the frame's memory and its frame allocations record their site, while
    the code compiled for every other allocator tests no flag."""

    def __init__(self, debug: bool = False):
        self.debug = debug
        super().__init__(name="SmartAlloc[debug]" if debug else "SmartAlloc")


smart_alloc_type = SmartAllocType()
smart_alloc_debug_type = SmartAllocType(debug=True)
refuse_in_generators(SmartAllocType)   # first: before the methods' own templates


@register_model(SmartAllocType)
class _SmartAllocModel(models.StructModel):
    def __init__(self, dmm, fe_type):
        members = [
            ("rows", types.intp),      # address of this thread slot's first arena row
            ("cps", types.intp),       # address of this thread slot's checkpoint stacks
            ("workers", types.intp),   # rows per slot (numba worker threads)
            ("depth", types.intp),     # checkpoint stack depth
            ("owner", types.intp),     # allocator id (checkpoint ownership)
            ("slot", types.intp),      # id of the Python thread's arena (FrameCheckpoint.thread)
            ("parent", types.pyobject),
        ]
        super().__init__(dmm, fe_type, members)


for _name in ("rows", "cps", "workers", "depth", "owner", "slot"):
    make_attribute_wrapper(SmartAllocType, _name, "_" + _name)

_NATIVE_FIELDS = ("rows", "cps", "workers", "depth", "owner", "slot")


@unbox(SmartAllocType)
def _unbox(typ, obj, c):
    """The calling thread's slot and the allocator's lease, held until the call returns
    (:mod:`.leases`): read from the allocator's native table (``obj._ntab``, kept by
    ``_native_handle()``, which only runs on a thread's first call)."""
    return unbox_leased(typ, obj, c, "_native_handle", _NATIVE_FIELDS, 1, table_attr="_ntab")


@box(SmartAllocType)
def _box(typ, val, c):
    return box_parent(typ, val, c)


# ---------------------------------------------------------------------------------------------
# Codegen helpers

def _worker_row(context, builder, alloc_val):
    """(row address, worker index, the thread slot's first row) of the current thread's arena
    row."""
    alloc = cgutils.create_struct_proxy(smart_alloc_type)(context, builder, value=alloc_val)
    tid = thread_id(builder)
    row = builder.add(alloc.rows, builder.mul(tid, ir.Constant(cgutils.intp_t, ROW_BYTES)))
    return row, tid, alloc.rows


def _load_field(builder, row_addr, field):
    ptr = builder.inttoptr(builder.add(row_addr, ir.Constant(cgutils.intp_t, 8 * int(field))),
                           cgutils.intp_t.as_pointer())
    return builder.load(ptr)


def _store_field(builder, row_addr, field, value):
    ptr = builder.inttoptr(builder.add(row_addr, ir.Constant(cgutils.intp_t, 8 * int(field))),
                           cgutils.intp_t.as_pointer())
    builder.store(value, ptr)


@njit(cache=True)
def _call_slow_alloc(row, first, nbytes, align, size_status):
    if row != first:    # a prange worker's row joins its thread's frame on first use
        K.join_frame(row, first)
    return K.slow_alloc(row, nbytes, align, size_status)


# ---------------------------------------------------------------------------------------------
# Typing helpers
#
# A call that can never compile raises its FA error itself, not numba's TypingError: numba passes
# exceptions that are not NumbaErrors straight out of type inference (numba/core/types/
# functions.py, ``if not isinstance(e, errors.NumbaError): raise e``), so the user reads the code
# and what to do in the first line, instead of ~200 lines of overload resolution with the message
# buried inside (or dropped). Only for conditions that hold whatever the literalness of the
# arguments: numba first types a call with its literal arguments made plain, and retries with the
# literals only after a NumbaError. Where a literal is needed (a dtype string, ``zero=``), the
# plain type raises TypingError (carrying FA017), so that numba retries with the literal; only a
# value that is really not a constant ends in numba's long report.

def _no_literal(what, ty):
    """TypingError for a plain type where a literal is needed (numba retries with the literal)."""
    return TypingError(message(ST.NOT_CONSTANT, what=what, got=f", got a {ty} variable"))


def resolve_numba_dtype(ty, what="dtype"):
    """numba element type of a dtype argument: np.float32, np.dtype(...), a dtype string."""
    if isinstance(ty, types.NumberClass):
        nb = ty.instance_type
    elif isinstance(ty, types.DType):
        nb = ty.dtype
    elif isinstance(ty, types.StringLiteral):
        try:
            nb = numpy_support.from_dtype(np.dtype(ty.literal_value))
        except Exception:
            raise error(ST.BAD_DTYPE, dtype=f"{what} {ty.literal_value!r}") from None
    elif isinstance(ty, types.UnicodeType):
        raise _no_literal(f"a {what} string", ty)
    elif isinstance(ty, (types.NPDatetime, types.NPTimedelta)) or isinstance(ty, types.Record):
        nb = ty
    elif isinstance(ty, types.TypeRef) and isinstance(ty.instance_type, (
            types.Record, types.NPDatetime, types.NPTimedelta)):
        nb = ty.instance_type       # what ``typeof(value).dtype`` gives inside an overload
    else:
        raise error(ST.BAD_DTYPE, "argument", what=what, ty=ty)
    try:
        npdt = numpy_support.as_dtype(nb)
    except Exception:
        raise error(ST.BAD_DTYPE, dtype=f"{what} {nb}") from None
    if npdt.hasobject or npdt.itemsize == 0 or npdt.subdtype is not None:
        raise error(ST.BAD_DTYPE, dtype=f"{what} {npdt} (object, unsized or subarray)")
    return nb, npdt


def _shape_ndim(shape, what="shape"):
    if isinstance(shape, types.Integer):
        return 1
    if isinstance(shape, types.BaseTuple) and all(isinstance(t, types.Integer) for t in shape):
        if len(shape) > _MAX_NJIT_NDIM:
            raise error(ST.BAD_SHAPE, what=what, ndim=len(shape),
                        most=f"{_MAX_NJIT_NDIM} inside @njit")
        return len(shape)
    hint = " (a tuple, not a list)" if isinstance(shape, (types.List, types.ListType)) else ""
    raise error(ST.BAD_SIZE, "type", what=what, shape=f"{shape}{hint}")


def _literal_align(align, natural):
    """Constant alignment from an ``align=`` argument type, or None when it is a runtime value."""
    if align is None or isinstance(align, (types.NoneType, types.Omitted)):
        return natural
    if isinstance(align, types.IntegerLiteral):
        a = align.literal_value
        if a <= 0 or a & (a - 1) or a > MAX_ALIGN:
            raise error(ST.BAD_ALIGN, value=f"={a}")
        return max(a, natural)
    if isinstance(align, types.Integer):
        return None
    raise error(ST.BAD_ALIGN, value=f" of type {align}")


# ---------------------------------------------------------------------------------------------
# The allocation intrinsic

FLAG_ZERO = 1


def _c(v):
    return ir.Constant(cgutils.intp_t, v)


class _Request:
    """What the allocation intrinsic computed about a request, before touching the row."""

    def __init__(self, nbytes, align, bad, ovf, bad_align):
        self.nbytes = nbytes        # itemsize * prod(dims) (wrapped when ``ovf``)
        self.align = align          # the alignment used: max(natural, the user's)
        self.bad = bad              # i1: the request is invalid (sent to the cold path)
        self.ovf = ovf              # i1: the size overflowed or passed MAX_BYTES
        self.bad_align = bad_align  # i1: the user's alignment is invalid (None: constant)


def _emit_request(context, builder, dims, itemsize, natural, const_align, align_val, align_ty):
    """Size and alignment of a request, with one flag for anything invalid (no diagnosis here)."""
    i1 = ir.IntType(1)
    # nbytes = itemsize * prod(dims), with unsigned overflow detection (negatives overflow).
    nbytes = _c(itemsize)
    ovf = ir.Constant(i1, 0)
    for d in dims:
        res = builder.umul_with_overflow(nbytes, d)
        nbytes = builder.extract_value(res, 0)
        ovf = builder.or_(ovf, builder.extract_value(res, 1))
    ovf = builder.or_(ovf, builder.icmp_unsigned(">", nbytes, _c(K.MAX_BYTES)))
    bad = ovf
    if len(dims) > 1:  # a zero dimension hides a negative one from the size checks
        any_dim = dims[0]
        for d in dims[1:]:
            any_dim = builder.or_(any_dim, d)
        bad = builder.or_(bad, builder.icmp_signed("<", any_dim, _c(0)))
    bad_align = None
    if const_align is not None:
        a = _c(const_align)
    else:
        user_a = context.cast(builder, align_val, align_ty, types.intp)
        a = builder.select(builder.icmp_signed(">", user_a, _c(natural)), user_a, _c(natural))
        # Validate what the user passed (not the max with the natural alignment).
        bad_align = builder.or_(
            builder.icmp_unsigned(">", builder.sub(user_a, _c(1)), _c(MAX_ALIGN - 1)),
            builder.icmp_unsigned("!=", builder.and_(user_a, builder.sub(user_a, _c(1))), _c(0)))
        bad = builder.or_(bad, bad_align)
    return _Request(nbytes, a, bad, ovf, bad_align)


def _emit_cold_call(context, builder, row, first, dims, req):
    """The cold path: diagnose the request and call :func:`~framealloc.kernels.arena.slow_alloc`
    out of line (grow, fall back, lease budgets, or refuse). Returns (status, data, meminfo);
    status 0 also for ``HEAP`` (a success: the row owns the fallback until end_frame)."""
    neg = ir.Constant(ir.IntType(1), 0)
    for d in dims:
        neg = builder.or_(neg, builder.icmp_signed("<", d, _c(0)))
    size_status = builder.select(neg, _c(ST.BAD_SIZE),
                                 builder.select(req.ovf, _c(ST.SIZE_OVERFLOW), _c(0)))
    if req.bad_align is not None:
        size_status = builder.select(
            builder.and_(builder.icmp_signed("==", size_status, _c(0)), req.bad_align),
            _c(ST.BAD_ALIGN), size_status)
    slow_sig = types.UniTuple(types.intp, 3)(types.intp, types.intp, types.intp, types.intp,
                                             types.intp)
    res = call_cached(context, builder, _call_slow_alloc, slow_sig,
                      [row, first, req.nbytes, req.align, size_status], inline=False)
    status, data, mi = cgutils.unpack_tuple(builder, res, 3)
    is_heap = builder.icmp_signed("==", status, _c(ST.HEAP))
    return builder.select(is_heap, _c(0), status), data, mi


def _emit_view(context, builder, arrty, nb, itemsize, dims, data, mi, nbytes, zero):
    """A C-contiguous array over ``data`` holding a new reference to ``mi``."""
    ary = make_array(arrty)(context, builder)
    strides, acc = [], _c(itemsize)
    for d in reversed(dims):
        strides.append(acc)
        acc = builder.mul(acc, d)
    strides.reverse()
    populate_array(ary, data=builder.inttoptr(data, context.get_data_type(nb).as_pointer()),
                   shape=dims, strides=strides, itemsize=_c(itemsize),
                   meminfo=builder.inttoptr(mi, cgutils.voidptr_t))
    value = ary._getvalue()
    # Unconditional, so numba's refcount pruning can pair it with the view's decref.
    context.nrt.incref(builder, arrty, value)
    if zero:
        cgutils.memset(builder, builder.inttoptr(data, cgutils.voidptr_t), nbytes, 0)
    return value


def _view_plan(shape, dtype, align, zero, debug=False):
    """Typing of a frame allocation: ``(array type, emit)`` where ``emit(context, builder,
    alloc_val, shape_val, align_val)`` emits the bump and returns ``(status, view)``.

    ``align`` is a type (a literal 0 for the dtype's natural alignment). On a non-zero status
    (an ``ST_*`` code) the view is a null array and the caller raises (see :func:`_fail`).
    ``debug`` (a debug allocator's type): a successful allocation also records its site
    (:func:`_emit_site`).
    """
    nb, npdt = resolve_numba_dtype(dtype)
    ndim = _shape_ndim(shape)
    natural = natural_alignment(npdt)
    const_align = natural if (isinstance(align, types.IntegerLiteral)
                              and align.literal_value == 0) else _literal_align(align, natural)
    arrty = types.Array(nb, ndim, "C")
    itemsize = npdt.itemsize

    def emit(context, builder, alloc_val, shape_val, align_val):
        dims = ([shape_val] if ndim == 1 and isinstance(shape, types.Integer)
                else cgutils.unpack_tuple(builder, shape_val, ndim))
        dims = [context.cast(builder, d, t, types.intp) for d, t in
                zip(dims, [shape] if isinstance(shape, types.Integer) else list(shape))]
        req = _emit_request(context, builder, dims, itemsize, natural, const_align,
                            align_val, align)
        row, tid, first = _worker_row(context, builder, alloc_val)
        # The hot path: one bounds check (it also catches "no frame": limit is -1 then, and a bad
        # request), the bump, the view. Everything else is the cold call, out of line.
        cursor = _load_field(builder, row, F.cursor)
        off = builder.and_(builder.add(cursor, builder.sub(req.align, _c(1))),
                           builder.neg(req.align))
        end = builder.add(off, req.nbytes)
        limit = _load_field(builder, row, F.limit)
        cold = builder.or_(req.bad, builder.icmp_signed(">", end, limit))
        data_slot = cgutils.alloca_once(builder, cgutils.intp_t)
        mi_slot = cgutils.alloca_once(builder, cgutils.intp_t)
        status_slot = cgutils.alloca_once_value(builder, _c(0))
        with builder.if_else(cold, likely=False) as (slow, fast):
            with fast:
                _store_field(builder, row, F.cursor, end)
                count = _load_field(builder, row, F.count)
                _store_field(builder, row, F.count, builder.add(count, _c(1)))
                builder.store(builder.add(_load_field(builder, row, F.base), off), data_slot)
                builder.store(_load_field(builder, row, F.meminfo), mi_slot)
            with slow:
                status, data, mi = _emit_cold_call(context, builder, row, first, dims, req)
                builder.store(status, status_slot)
                builder.store(data, data_slot)
                builder.store(mi, mi_slot)
        status = builder.load(status_slot)
        out = cgutils.alloca_once(builder, context.get_value_type(arrty))
        with builder.if_else(builder.icmp_signed("==", status, _c(0)), likely=True) as (ok, bad):
            with ok:
                builder.store(_emit_view(context, builder, arrty, nb, itemsize, dims,
                                         builder.load(data_slot), builder.load(mi_slot),
                                         req.nbytes, zero), out)
            with bad:
                builder.store(cgutils.get_null_value(context.get_value_type(arrty)), out)
        if debug:
            with builder.if_then(builder.icmp_signed("==", status, _c(0))):
                _emit_site(context, builder, alloc_val, row, tid, req.nbytes)
        return status, builder.load(out)

    return arrty, emit


def _site_name(llvm_name: str) -> str:
    """``module.function`` from the Itanium-mangled name numba gives a compiled function
    (``_ZN8__main__4stepB2v1B...E...``: length-prefixed parts, then ABI tags); the mangled name
    itself when it does not parse."""
    import re

    parts, rest = [], llvm_name[3:] if llvm_name.startswith("_ZN") else ""
    while rest[:1].isdigit():
        digits = re.match(r"\d+", rest).group()
        n, rest = int(digits), rest[len(digits):]
        parts.append(rest[:n])
        rest = rest[n:]
    if not parts:
        return llvm_name
    # numba writes characters that are not identifier characters as _XX (hex)
    name = re.sub(r"_([0-9a-f]{2})", lambda g: chr(int(g.group(1), 16)), ".".join(parts))
    if parts[-1].startswith("__numba_parfor_gufunc"):
        return "a prange loop body"     # numba names those by address, not by their function
    if name == "<dynamic>.impl":
        # The out-of-line bodies of the creation calls (kernels.creation_njit), compiled once
        # for all their callers: the caller is not known here.
        return "a frame_* creation call (frame_full, frame_copy, ...)"
    return name


def _emit_site(context, builder, alloc_val, row, tid, nbytes):
    """Debug mode: count this allocation under the name of the compiled function being lowered
    (a constant string in its own code, so the address stays valid when the function comes from
    numba's cache), out of line (:func:`~framealloc.kernels.arena.record_site`)."""
    s = cgutils.create_struct_proxy(smart_alloc_type)(context, builder, value=alloc_val)
    name = context.insert_const_string(builder.module, _site_name(builder.function.name))
    call_cached(context, builder, K.record_site, types.none(_I, _I, _I, _I, _I),
                [row, tid, s.workers, builder.ptrtoint(name, cgutils.intp_t), nbytes],
                inline=False)


@intrinsic
def _frame_view(typingctx, alloc, shape, dtype, align, flags):
    """Bump-allocate an array of ``shape``/``dtype`` in the current frame: ``(status, view)``
    (:func:`_view_plan`); ``flags`` (a literal) holds FLAG_ZERO."""
    if not isinstance(alloc, SmartAllocType):
        return None
    if not isinstance(flags, types.IntegerLiteral):
        raise TypingError("flags must be a literal")
    arrty, emit = _view_plan(shape, dtype, align, bool(flags.literal_value & FLAG_ZERO),
                             alloc.debug)
    retty = types.Tuple((types.intp, arrty))
    sig = retty(alloc, shape, dtype, align, flags)

    def codegen(context, builder, signature, args):
        alloc_val, shape_val, _, align_val, _ = args
        status, out = emit(context, builder, alloc_val, shape_val, align_val)
        return context.make_tuple(builder, retty, [status, out])

    return sig, codegen


#: What compiled code knows of the allocator on the calling worker (fields by name in njit code).
NativeHandle = namedtuple("NativeHandle", (
    "rows",      # address of this thread slot's first arena row
    "cps",       # address of this thread slot's checkpoint stacks
    "workers",   # rows per slot (numba worker threads)
    "depth",     # checkpoint stack depth
    "owner",     # allocator id (checkpoint ownership)
    "thread",    # id of the Python thread's arena (FrameCheckpoint.thread)
    "row",       # address of this worker's arena row
    "worker",    # this worker's index (numba.get_thread_id())
))
_NATIVE_HANDLE_TYPE = types.NamedUniTuple(types.intp, len(NativeHandle._fields), NativeHandle)
#: Bytes of one worker's checkpoint stack entry (CHECKPOINT record).
_CP_BYTES = CHECKPOINT_DTYPE.itemsize


@intrinsic
def _native(typingctx, alloc):
    """The calling worker's view of the allocator, a :class:`NativeHandle`."""
    if not isinstance(alloc, SmartAllocType):
        return None
    sig = _NATIVE_HANDLE_TYPE(alloc)

    def codegen(context, builder, signature, args):
        s = cgutils.create_struct_proxy(smart_alloc_type)(context, builder, value=args[0])
        row, tid, _ = _worker_row(context, builder, args[0])
        return context.make_tuple(builder, signature.return_type,
                                  [s.rows, s.cps, s.workers, s.depth, s.owner, s.slot, row, tid])

    return sig, codegen


def status_raiser(statuses, otherwise=ST.INTERNAL, **fields):
    """The body of an njit ``raise_...(status)`` overload, built from the table of
    :mod:`framealloc.errors`: one ``if status == N: raise E(M)`` per status of ``statuses``, with
    the code's exception class and message (``fields`` fill the messages' details, the table's
    defaults the rest: the messages are constants), nothing for OK, and ``otherwise`` for any
    other status (None: the last of ``statuses`` is raised without a test, for callers that can
    only get those statuses; one raise fewer to compile at every call site).

    Use it as an ``inline="always"`` overload, so that the ``raise`` lands in the caller's own
    code, where numba releases the caller's live arrays (a raise from inside a callee or from
    codegen would leak them).
    """
    lines = ["def impl(status):", "    if status == 0:", "        return"]
    glb = {}
    last = (*statuses, otherwise) if otherwise is not None else statuses
    for i, st in enumerate(last):
        exc = error(st, **fields)
        glb[f"E{i}"], glb[f"M{i}"] = type(exc), str(exc)
        if i < len(last) - 1:
            lines += [f"    if status == {int(st)}:", f"        raise E{i}(M{i})"]
        else:
            lines.append(f"    raise E{i}(M{i})")
    exec("\n".join(lines), glb)  # one `if` per status, with constant messages
    return glb["impl"]


def raising(status, case=None, **fields):
    """``(exception class, message)`` of ``status`` from the table, for a ``raise E(M)`` written
    in an overload's njit implementation (both are constants there)."""
    exc = error(status, case, **fields)
    return type(exc), str(exc)


#: The statuses of the frame and org kernels: what :func:`_fail` raises (with the scratch ones).
FRAME_STATUSES = (ST.NO_FRAME, ST.BEGIN_TWICE, ST.END_NO_BEGIN, ST.BAD_SIZE, ST.SIZE_OVERFLOW,
                  ST.BAD_ALIGN, ST.FRAME_EXHAUSTED, ST.FOREIGN_CHECKPOINT, ST.STALE_CHECKPOINT,
                  ST.WRONG_THREAD, ST.BUDGET_EXCEEDED, ST.TAG_UNKNOWN, ST.TAG_UNBALANCED,
                  ST.TAG_LOG_FULL, ST.SCOPE_ORDER)


def _raise_any(status):
    """Raise the FA error of a non-zero status of the frame, org or scratch kernels (no-op for
    OK); njit only, inlined into :func:`_fail` (see :func:`status_raiser`)."""


_raise_frame_scratch = status_raiser(FRAME_STATUSES + (ST.BAD_SCRATCH, ST.SCRATCH_FULL))


@overload(_raise_any, inline="always")
def _ol_raise_any(status):
    return _raise_frame_scratch


# ---------------------------------------------------------------------------------------------
# Methods (same names and meaning as the Python API)

def frame_new(alloc, shape, dtype, align, zero, try_):
    """njit only: the allocation behind every frame_* method (raises, or None for try_ forms)."""


@njit(cache=True)
def _fail(status):
    """Raise the allocation error of ``status``, out of line.

    A ``raise`` written in the caller's own code would give every loop that allocates a second
    exit, and numba's parfor pass then refuses to parallelise ``prange`` loops that allocate. Out
    of line, the loop keeps one exit. The price is numba's usual one for errors propagated from a
    callee (its own bounds checks included): NRT arrays the calling function holds at that moment
    are not released. Allocation errors are bugs to fix, not control flow: use the ``try_`` forms
    where running out of memory is expected. Scratch pools raise through it too.
    """
    _raise_any(status)


@overload(frame_new, inline="always", prefer_literal=True)
def _ol_frame_new(alloc, shape, dtype, align, zero, try_):
    if not (isinstance(zero, types.BooleanLiteral) and isinstance(try_, types.BooleanLiteral)):
        return None
    fl = FLAG_ZERO if zero.literal_value else 0
    exhausted = ST.FRAME_EXHAUSTED
    budget = ST.BUDGET_EXCEEDED
    if try_.literal_value:
        def impl(alloc, shape, dtype, align, zero, try_):
            status, out = _frame_view(alloc, shape, dtype, align, fl)
            if status == exhausted or status == budget:
                return None
            if status != 0:
                cold_call(_fail, (status,))
            return out
    else:
        def impl(alloc, shape, dtype, align, zero, try_):
            status, out = _frame_view(alloc, shape, dtype, align, fl)
            if status != 0:
                cold_call(_fail, (status,))
            return out
    return impl


def _literal_bool(v, name):
    if isinstance(v, bool):
        return v
    if v is None or isinstance(v, types.NoneType):
        return False
    if isinstance(v, types.Omitted):
        return bool(v.value)
    if isinstance(v, types.BooleanLiteral):
        return v.literal_value
    if isinstance(v, types.Boolean):
        raise _no_literal(f"{name}=", v)
    raise error(ST.NOT_CONSTANT, what=f"{name}= (True or False)", got=f", got {v}")


def _omitted(arg):
    return arg is None or isinstance(arg, (types.Omitted, types.NoneType))


def _check_args(method, shape=None, dtype=None, align=None):
    """Typing-time checks of a method's shape/dtype/align arguments, naming the method (the
    intrinsics check again, for their other callers)."""
    if shape is not None:
        _shape_ndim(shape, f"{method}() shape")
    if not _omitted(dtype):
        resolve_numba_dtype(dtype, f"{method}() dtype")
    if not _omitted(align):
        _literal_align(align, 1)


def _array_params(shape, dtype=None, align=None, zero=False):
    """Parameters of the frame_array family (for argument folding)."""


def _count_params(dtype, n):
    """Parameters of frame_slice / frame_alloc_batch."""


def _dtype_params(dtype):
    """Parameters of frame_alloc and frame_alloc_2/4/8."""


_NO_ALIGN = types.literal(0)        # align omitted: the dtype's natural alignment
_F8 = types.NumberClass(types.float64)


def _fold(pysig, args, kws):
    """Positional argument types of a call, omitted parameters as ``types.Omitted``."""
    try:
        return fold_arguments(pysig, args, kws, lambda i, p, v: v,
                              lambda i, p, d: types.Omitted(d),
                              lambda i, p, v: types.StarArgTuple(v))
    except TypeError as e:      # wrong arity or an unknown keyword: numba's usual report
        raise TypingError(str(e)) from None


def _array_request(name, zero_default):
    def request(shape, dtype, align, zero):
        _check_args(name, shape=shape, dtype=dtype, align=align)
        z = _literal_bool(zero, "zero") or zero_default
        return (shape, ("arg", 1), _F8 if _omitted(dtype) else dtype,
                (_NO_ALIGN, None) if _omitted(align) else (align, 3), z)
    return _array_params, request


def _count_request(name):
    def request(dtype, n):
        _check_args(name, shape=n, dtype=dtype)
        return n, ("arg", 2), dtype, (_NO_ALIGN, None), False
    return _count_params, request


def _fixed_request(name, count):
    def request(dtype):
        _check_args(name, dtype=dtype)
        return types.intp, ("const", count), dtype, (_NO_ALIGN, None), False
    return _dtype_params, request


def _scalar_request(name):
    def request(dtype):
        _check_args(name, dtype=dtype)
        return types.Tuple(()), ("none",), dtype, (_NO_ALIGN, None), False
    return _dtype_params, request


def _alloc_method(name, try_, params_request):
    """Typing and lowering of one frame allocation method: the bump and the view are emitted
    into the caller (nothing of ours is compiled per kernel), the slow path and the errors are
    cached kernels called out of line. ``request(*argument types)`` gives the shape type, where
    the shape comes from (an argument index, a constant count, or ``()``), the dtype, the
    alignment (type, argument index or None) and zeroing. Argument indices count the receiver:
    ``("arg", 1)`` is the first argument after ``alloc``."""
    params, request = params_request
    pysig = utils.pysignature(params)

    def resolve(self, ty, args, kws):
        folded = _fold(pysig, args, kws)
        shape, _, dtype, (align, _), zero = request(*folded)
        arrty, _ = _view_plan(shape, dtype, align, zero)
        return signature(types.Optional(arrty) if try_ else arrty, *folded).replace(pysig=pysig)

    resolve.params = tuple(pysig.parameters)     # what the tests' surface tables read

    def lower(context, builder, sig, args):
        shape, src, dtype, (align, align_at), zero = request(*sig.args[1:])
        arrty, emit = _view_plan(shape, dtype, align, zero, sig.args[0].debug)
        shape_val = {"arg": lambda: args[src[-1]], "none": context.get_dummy_value,
                     "const": lambda: context.get_constant(types.intp, src[-1])}[src[0]]()
        align_val = _c(0) if align_at is None else args[align_at]
        status, out = emit(context, builder, args[0], shape_val, align_val)
        if not try_:
            with builder.if_then(builder.icmp_signed("!=", status, _c(0)), likely=False):
                call_cached(context, builder, _fail, types.none(_I), [status], inline=False)
            return out
        res = cgutils.alloca_once(builder, context.get_value_type(sig.return_type))
        soft = builder.or_(builder.icmp_signed("==", status, _c(ST.FRAME_EXHAUSTED)),
                           builder.icmp_signed("==", status, _c(ST.BUDGET_EXCEEDED)))
        with builder.if_else(builder.icmp_signed("==", status, _c(0)), likely=True) as (ok, bad):
            with ok:
                builder.store(context.make_optional_value(builder, arrty, out), res)
            with bad:
                with builder.if_then(builder.not_(soft), likely=False):
                    call_cached(context, builder, _fail, types.none(_I), [status],
                                inline=False)
                builder.store(context.make_optional_none(builder, arrty), res)
        return builder.load(res)

    key = f"SmartAlloc.{name}"
    lower_builtin(key, SmartAllocType, types.VarArg(types.Any))(lower)
    return f"resolve_{name}", bound_function(key)(resolve)


class _AllocMethods(AttributeTemplate):
    """The frame allocation methods (hand-lowered, see :func:`_alloc_method`)."""
    key = SmartAllocType


for _t in (False, True):
    _p = "try_" if _t else ""
    for _n, _z in (("frame_array", False), ("frame_zeros", True)):
        setattr(_AllocMethods, *_alloc_method(_p + _n, _t, _array_request(_p + _n, _z)))
    for _n in ("frame_slice", "frame_alloc_batch"):
        setattr(_AllocMethods, *_alloc_method(_p + _n, _t, _count_request(_p + _n)))
    for _k in (2, 4, 8):
        _n = f"{_p}frame_alloc_{_k}"
        setattr(_AllocMethods, *_alloc_method(_n, _t, _fixed_request(_n, _k)))
    _n = _p + "frame_alloc"
    setattr(_AllocMethods, *_alloc_method(_n, _t, _scalar_request(_n)))
infer_getattr(_AllocMethods)


@overload_method(SmartAllocType, "frame_box", inline="always")
def _ol_frame_box(alloc, value):
    if isinstance(value, types.Array):
        dt = value.dtype

        def impl(alloc, value):
            out = frame_new(alloc, value.shape, dt, 0, False, False)
            out[...] = value
            return out
        return impl
    if isinstance(value, (types.Number, types.Boolean, types.Record)):
        dt = value

        def impl(alloc, value):
            out = frame_new(alloc, (), dt, 0, False, False)
            out[()] = value
            return out
        return impl
    raise error(ST.BAD_DTYPE, "argument", what="frame_box value", ty=value)


# begin_frame / end_frame: typed by a template and lowered by hand, so a user's kernel compiles
# nothing for them: the common case (``begin_fast``/``end_fast``, a few loads and stores) and the
# slow kernels come from numba's cache; LLVM inlines the former, the latter stay out of line.

class _FrameMethods(AttributeTemplate):
    key = SmartAllocType

    @bound_function("SmartAlloc.begin_frame")
    def resolve_begin_frame(self, ty, args, kws):
        if not args and not kws:
            return signature(types.none)

    @bound_function("SmartAlloc.end_frame")
    def resolve_end_frame(self, ty, args, kws):
        if not args and not kws:
            return signature(types.none)


infer_getattr(_FrameMethods)


def _lower_frame_event(fast, slow, debug_kernel=None):
    """Lowering of begin_frame/end_frame: ``fast`` inlined, ``slow`` out of line when it declines;
    for a debug allocator's type, ``debug_kernel`` (when given) out of line instead of both."""
    def lower(context, builder, sig, args):
        s = cgutils.create_struct_proxy(smart_alloc_type)(context, builder, value=args[0])
        if debug_kernel is not None and sig.args[0].debug:
            st = call_cached(context, builder, debug_kernel, _I(_I, _I), [s.rows, s.workers],
                             inline=False)
            _fail_if(context, builder, builder.icmp_signed("!=", st, _c(0)), st)
            return context.get_dummy_value()
        done = call_cached(context, builder, fast, types.boolean(_I), [s.rows], inline=True)
        with builder.if_then(builder.not_(done), likely=False):
            st = call_cached(context, builder, slow, _I(_I, _I), [s.rows, s.workers],
                             inline=False)
            with builder.if_then(builder.icmp_signed("!=", st, _c(0)), likely=False):
                call_cached(context, builder, _fail, types.none(_I), [st], inline=False)
        return context.get_dummy_value()
    return lower


lower_builtin("SmartAlloc.begin_frame", SmartAllocType)(
    _lower_frame_event(K.begin_fast, K.begin_frame))
lower_builtin("SmartAlloc.end_frame", SmartAllocType)(
    _lower_frame_event(K.end_fast, K.end_frame, K.end_frame_debug))


@overload_attribute(SmartAllocType, "frame_number")
def _ol_frame_number(alloc):
    def impl(alloc):
        return K.row_view(_native(alloc).rows)[F.frame_number]
    return impl


@overload_attribute(SmartAllocType, "in_frame")
def _ol_in_frame(alloc):
    def impl(alloc):
        return K.row_view(_native(alloc).rows)[F.frame_open] != 0
    return impl


# frame_checkpoint / rollback_to: typed by a template and lowered by hand like the frame
# methods: the push and the common rollback are cached kernels (inlined by LLVM), the checks
# compare the checkpoint's fields with the calling worker's, errors and slow paths out of line.

_CP_TYPE = types.NamedUniTuple(types.int64, len(FrameCheckpoint._fields), FrameCheckpoint)
_CP = {name: i for i, name in enumerate(FrameCheckpoint._fields)}
#: Fields of ``K.checkpoint``'s result after the status, in order.
_CP_RESULT = ("frame", "serial", "index", "position", "chunk_seq", "cursor")
#: The checkpoint fields ``K.rollback`` takes after (row, stack, depth), in order.
_CP_ROLLBACK = ("frame", "serial", "position", "chunk_seq", "cursor", "index")


def _fail_if(context, builder, cond, status):
    """Raise the error of ``status`` (an LLVM value or an int) when ``cond`` holds."""
    st = _c(status) if isinstance(status, int) else status
    with builder.if_then(cond, likely=False):
        call_cached(context, builder, _fail, types.none(_I), [st], inline=False)


def _worker_stack(context, builder, alloc_val):
    """(struct, worker row, worker index, first row, the worker's checkpoint stack)."""
    s = cgutils.create_struct_proxy(smart_alloc_type)(context, builder, value=alloc_val)
    row, tid, first = _worker_row(context, builder, alloc_val)
    cps = builder.add(s.cps, builder.mul(tid, builder.mul(s.depth, _c(_CP_BYTES))))
    return s, row, tid, first, cps


def _lower_push(kernel, tuple_type):
    """Lowering of frame_checkpoint / scope_begin: push on the worker's checkpoint stack with
    ``kernel`` (cached, inlined by LLVM) and return the token of ``tuple_type``."""
    def lower(context, builder, sig, args):
        s, row, tid, first, cps = _worker_stack(context, builder, args[0])
        with builder.if_then(builder.icmp_unsigned("!=", row, first), likely=False):
            # a prange worker's row joins the frame on first use
            call_cached(context, builder, K.join_frame, types.none(_I, _I), [row, first],
                        inline=False)
        res = call_cached(context, builder, kernel, types.none(_I, _I, _I),
                          [row, cps, s.depth], inline=True)
        _fail_if(context, builder,
                 builder.icmp_signed("!=", builder.extract_value(res, 0), _c(0)),
                 builder.extract_value(res, 0))
        vals = [None] * len(_CP)
        vals[_CP["owner"]], vals[_CP["thread"]], vals[_CP["worker"]] = s.owner, s.slot, tid
        for i, name in enumerate(_CP_RESULT):
            vals[_CP[name]] = builder.extract_value(res, 1 + i)
        return context.make_tuple(builder, tuple_type, vals)
    return lower


def _lower_pop(fast, slow, debug):
    """Lowering of rollback_to / scope_end: the token's owner and thread checked here, then
    ``fast`` (cached, inlined by LLVM; -1 sends the call to ``slow``, out of line). A debug
    allocator's type calls ``debug`` instead, out of line (it poisons what the call releases)."""
    def lower(context, builder, sig, args):
        s, row, tid, _, cps = _worker_stack(context, builder, args[0])
        cp = {name: builder.extract_value(args[1], i) for name, i in _CP.items()}
        _fail_if(context, builder, builder.icmp_signed("!=", cp["owner"], s.owner),
                 ST.FOREIGN_CHECKPOINT)
        _fail_if(context, builder, builder.or_(builder.icmp_signed("!=", cp["thread"], s.slot),
                                               builder.icmp_signed("!=", cp["worker"], tid)),
                 ST.WRONG_THREAD)
        argv = [row, cps, s.depth] + [cp[n] for n in _CP_ROLLBACK]
        rsig = types.none(*[_I] * len(argv))
        if sig.args[0].debug:
            st = call_cached(context, builder, debug, rsig, argv, inline=False)
            _fail_if(context, builder, builder.icmp_signed("!=", st, _c(0)), st)
            return context.get_dummy_value()
        st = call_cached(context, builder, fast, rsig, argv, inline=True)
        slot = cgutils.alloca_once_value(builder, st)
        with builder.if_then(builder.icmp_signed("<", st, _c(0)), likely=False):
            builder.store(call_cached(context, builder, slow, rsig, argv, inline=False), slot)
        st = builder.load(slot)
        _fail_if(context, builder, builder.icmp_signed("!=", st, _c(0)), st)
        return context.get_dummy_value()
    return lower


_lower_checkpoint = _lower_push(K.checkpoint, _CP_TYPE)
_lower_rollback = _lower_pop(K.rollback_fast, K.rollback, K.rollback_debug)


def _resolve_checkpoint(self, ty, args, kws):
    if not args and not kws:
        return signature(_CP_TYPE)


def _rollback_params(cp):
    """Parameters of rollback_to."""


_ROLLBACK_PYSIG = utils.pysignature(_rollback_params)


def _resolve_rollback(self, ty, args, kws):
    (cp,) = _fold(_ROLLBACK_PYSIG, args, kws)
    if getattr(cp, "instance_class", None) is not FrameCheckpoint:
        raise error(ST.STALE_CHECKPOINT, "type", got=cp)
    return signature(types.none, _CP_TYPE).replace(pysig=_ROLLBACK_PYSIG)


_resolve_rollback.params = tuple(_ROLLBACK_PYSIG.parameters)


class _CheckpointMethods(AttributeTemplate):
    key = SmartAllocType
    resolve_frame_checkpoint = bound_function("SmartAlloc.frame_checkpoint")(_resolve_checkpoint)
    resolve_rollback_to = bound_function("SmartAlloc.rollback_to")(_resolve_rollback)


infer_getattr(_CheckpointMethods)
lower_builtin("SmartAlloc.frame_checkpoint", SmartAllocType)(_lower_checkpoint)
lower_builtin("SmartAlloc.rollback_to", SmartAllocType, types.Any)(_lower_rollback)


# scope_begin / scope_end: a checkpoint marked as a scope, and a rollback that also pops it (and
# refuses, FA023, while a scope begun after it is still open). Same lowering as the checkpoint
# pair, with the scope kernels: their cost is that of frame_checkpoint + rollback_to.

_SCOPE_TYPE = types.NamedUniTuple(types.int64, len(FrameScope._fields), FrameScope)


def _resolve_scope_begin(self, ty, args, kws):
    if not args and not kws:
        return signature(_SCOPE_TYPE)


def _scope_end_params(scope):
    """Parameters of scope_end."""


_SCOPE_END_PYSIG = utils.pysignature(_scope_end_params)


def _resolve_scope_end(self, ty, args, kws):
    (sc,) = _fold(_SCOPE_END_PYSIG, args, kws)
    if getattr(sc, "instance_class", None) is not FrameScope:
        raise error(ST.STALE_CHECKPOINT, "type", call="scope_end",
                    what="a FrameScope from alloc.scope_begin()", got=sc)
    return signature(types.none, _SCOPE_TYPE).replace(pysig=_SCOPE_END_PYSIG)


_resolve_scope_end.params = tuple(_SCOPE_END_PYSIG.parameters)


class _ScopeMethods(AttributeTemplate):
    key = SmartAllocType
    resolve_scope_begin = bound_function("SmartAlloc.scope_begin")(_resolve_scope_begin)
    resolve_scope_end = bound_function("SmartAlloc.scope_end")(_resolve_scope_end)


infer_getattr(_ScopeMethods)
lower_builtin("SmartAlloc.scope_begin", SmartAllocType)(_lower_push(K.scope_begin, _SCOPE_TYPE))
lower_builtin("SmartAlloc.scope_end", SmartAllocType, types.Any)(
    _lower_pop(K.scope_end_fast, K.scope_end, K.scope_end_debug))


@overload_method(SmartAllocType, "push_tag", inline="always")
def _ol_push_tag(alloc, tag):
    """``alloc.push_tag(tid)``: this worker's allocations go to tag ``tid`` (from
    ``alloc.tag_id(name)`` in Python) until the matching ``alloc.pop_tag()``."""
    if not isinstance(tag, types.Integer):
        raise error(ST.TAG_UNKNOWN, tag=f" (push_tag takes an int inside @njit, got {tag})")

    def impl(alloc, tag):
        st = O.push_tag(_native(alloc).row, tag)
        if st != 0:
            _fail(st)
    return impl


@overload_method(SmartAllocType, "pop_tag", inline="always")
def _ol_pop_tag(alloc):
    def impl(alloc):
        st = O.pop_tag(_native(alloc).row)
        if st != 0:
            _fail(st)
    return impl


@overload_attribute(SmartAllocType, "current_tag_id")
def _ol_current_tag_id(alloc):
    def impl(alloc):
        return K.row_view(_native(alloc).row)[F.tag]
    return impl


@overload_method(SmartAllocType, "frame_bytes", inline="always")
def _ol_frame_bytes(alloc):
    """Bytes consumed in this worker's current frame (the checkpoint position measure)."""
    def impl(alloc):
        r = K.row_view(_native(alloc).row)
        return r[F.used_before] + r[F.cursor]
    return impl
