"""Scratch pools inside @njit: the numba surface of :mod:`framealloc.kernels.scratch`.

``alloc.scratch_array(sid, shape, dtype)`` (and ``try_scratch_array``, ``scratch_zeros``,
``try_scratch_zeros``, ``scratch_reset``, ``scratch_used``) work on the pool table of
:mod:`framealloc.scratch` (layout: ``SCRATCH_POOL_DTYPE`` in :mod:`framealloc.kernels.layout`)
in place, through the cached kernels of :mod:`framealloc.kernels.scratch` (which find the table
from the id and the owner id carried by the SmartAlloc's native struct). This module holds only
numba typing code: two intrinsics and the ``SmartAlloc`` method overloads, each a few lines
over a kernel. Imports go one way: this module imports the kernels, never the reverse.

An allocation is three steps: :func:`_scratch_size` (an intrinsic: byte count and alignment with
the size checks, constant-folded for literal shapes), :func:`~framealloc.kernels.scratch.
scratch_bump` (a cached kernel: resolve the id, check the fit, charge the tag and budgets, bump)
and :func:`_scratch_view` (an intrinsic: the view over the pool's buffer, holding a reference to
it). Errors are raised out of line by :func:`framealloc.kernels.njit_api._fail` (for the reason
given there).
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.core.errors import TypingError
from numba.extending import intrinsic, overload_method

from .._dtypes import MAX_ALIGN, natural_alignment
from ..errors import error
from . import status as ST
from .arena import MAX_BYTES
from .njit_api import (
    SmartAllocType,
    _fail,
    _literal_align,
    _literal_bool,
    _check_args,
    _emit_view,
    _native,
    _omitted,
    _shape_ndim,
    resolve_numba_dtype,
)
from .scratch import new_buffer, scratch_bump, scratch_reset, scratch_used

# The kernels it calls (and new_buffer), importable from here as before the split.
__all__ = ["new_buffer", "scratch_bump", "scratch_reset", "scratch_used"]


# ---------------------------------------------------------------------------------------------
# Intrinsics: size and view

def _dims(context, builder, shape, shape_val):
    if isinstance(shape, types.Integer):
        return [context.cast(builder, shape_val, shape, types.intp)]
    vals = cgutils.unpack_tuple(builder, shape_val, len(shape))
    return [context.cast(builder, v, t, types.intp) for v, t in zip(vals, shape)]


@intrinsic(prefer_literal=True)
def _scratch_size(typingctx, shape, dtype, align):
    """``(size status, nbytes, alignment)`` of an array of ``shape``/``dtype``.

    ``align`` is 0 (the dtype's natural alignment) or the user's value (validated here when it
    is only known at run time: status BAD_ALIGN).
    """
    _, npdt = resolve_numba_dtype(dtype)
    _shape_ndim(shape)
    natural = natural_alignment(npdt)
    const_align = natural if (isinstance(align, types.IntegerLiteral)
                              and align.literal_value == 0) else _literal_align(align, natural)
    itemsize = npdt.itemsize
    sig = types.UniTuple(types.intp, 3)(shape, dtype, align)

    def codegen(context, builder, signature, args):
        shape_val, _, align_val = args
        intp = cgutils.intp_t
        i1 = ir.IntType(1)
        zero = ir.Constant(intp, 0)
        dims = _dims(context, builder, shape, shape_val)
        nbytes = ir.Constant(intp, itemsize)
        ovf = ir.Constant(i1, 0)
        neg = ir.Constant(i1, 0)
        for d in dims:
            res = builder.umul_with_overflow(nbytes, d)
            nbytes = builder.extract_value(res, 0)
            ovf = builder.or_(ovf, builder.extract_value(res, 1))
            neg = builder.or_(neg, builder.icmp_signed("<", d, zero))
        big = builder.or_(ovf, builder.icmp_unsigned(">", nbytes, ir.Constant(intp, MAX_BYTES)))
        status = builder.select(neg, ir.Constant(intp, ST.BAD_SIZE),
                                builder.select(big, ir.Constant(intp, ST.SIZE_OVERFLOW), zero))
        if const_align is not None:
            a = ir.Constant(intp, const_align)
        else:
            user_a = context.cast(builder, align_val, align, types.intp)
            bad_align = builder.or_(
                builder.icmp_unsigned(">", builder.sub(user_a, ir.Constant(intp, 1)),
                                      ir.Constant(intp, MAX_ALIGN - 1)),
                builder.icmp_unsigned("!=", builder.and_(user_a, builder.sub(
                    user_a, ir.Constant(intp, 1))), zero))
            status = builder.select(
                builder.and_(builder.icmp_signed("==", status, zero), bad_align),
                ir.Constant(intp, ST.BAD_ALIGN), status)
            a = builder.select(builder.icmp_signed(">", user_a, ir.Constant(intp, natural)),
                               user_a, ir.Constant(intp, natural))
        return context.make_tuple(builder, signature.return_type, [status, nbytes, a])

    return sig, codegen


@intrinsic(prefer_literal=True)
def _scratch_view(typingctx, data, meminfo, shape, dtype, zero):
    """The C-contiguous array of ``shape``/``dtype`` at address ``data``, holding a reference to
    the NRT ``meminfo`` of the pool's buffer; ``zero`` (a literal bool) fills it with zeros."""
    nb, npdt = resolve_numba_dtype(dtype)
    if not isinstance(zero, types.BooleanLiteral):
        raise TypingError("zero must be a literal")
    ndim = 1 if isinstance(shape, types.Integer) else len(shape)
    arrty = types.Array(nb, ndim, "C")
    sig = arrty(types.intp, types.intp, shape, dtype, zero)
    itemsize = npdt.itemsize
    fill = zero.literal_value

    def codegen(context, builder, signature, args):
        d, mi, shape_val, _, _ = args
        dims = _dims(context, builder, shape, shape_val)
        nbytes = None
        if fill:
            nbytes = ir.Constant(cgutils.intp_t, itemsize)
            for dim in dims:
                nbytes = builder.mul(nbytes, dim)
        return _emit_view(context, builder, arrty, nb, itemsize, dims, d, mi, nbytes, fill)

    return sig, codegen


# ---------------------------------------------------------------------------------------------
# SmartAlloc methods

def _new_impl(z, try_, dtype_arg, align_arg):
    """The body of the scratch array methods: size, bump (charge included), view, raise.

    One level of inlining (the method itself), with the dtype/alignment defaults baked in, so a
    user function that allocates compiles few intermediate functions."""
    glb = dict(np=np, _native=_native, _scratch_size=_scratch_size, scratch_bump=scratch_bump,
               _scratch_view=_scratch_view, _fail=_fail, FULL=ST.SCRATCH_FULL,
               BUDGET=ST.BUDGET_EXCEEDED, Z=z)
    dt = "dtype" if dtype_arg else "np.float64"
    al = "align" if align_arg else "0"
    refuse = ("        if status == FULL or status == BUDGET:\n"
              "            return None\n") if try_ else ""
    src = f"""
def impl(alloc, sid, shape, dtype=None, align=None, zero=False):
    nat = _native(alloc)
    size_status, nbytes, a = _scratch_size(shape, {dt}, {al})
    status, data, mi = scratch_bump(nat.row, nat.owner, np.int64(sid), nbytes, a, size_status)
    if status != 0:
{refuse}        _fail(status)
    return _scratch_view(data, mi, shape, {dt}, Z)
"""
    exec(src, glb)
    return glb["impl"]


def _check_sid(sid):
    """Typing-time check of a pool id: FA160, raised as the FA error itself (see the typing
    helpers of :mod:`framealloc.kernels.njit_api`)."""
    if not isinstance(sid, types.Integer):
        raise error(ST.BAD_SCRATCH, sid=f"a {sid} (inside @njit a pool id is an int)")


def _register_array_method(name, zero_default, try_):
    @overload_method(SmartAllocType, name, inline="always")
    def _ol(alloc, sid, shape, dtype=None, align=None, zero=False):
        _check_sid(sid)
        _check_args(name, shape=shape, dtype=dtype, align=align)
        z = _literal_bool(zero, "zero") or zero_default
        return _new_impl(z, try_, not _omitted(dtype), not _omitted(align))


for _n, _z, _t in (("scratch_array", False, False), ("scratch_zeros", True, False),
                   ("try_scratch_array", False, True), ("try_scratch_zeros", True, True)):
    _register_array_method(_n, _z, _t)


@overload_method(SmartAllocType, "scratch_reset", inline="always")
def _ol_scratch_reset(alloc, sid):
    _check_sid(sid)

    def impl(alloc, sid):
        nat = _native(alloc)
        status = scratch_reset(nat.row, nat.owner, np.int64(sid))
        if status != 0:
            _fail(status)
    return impl


@overload_method(SmartAllocType, "scratch_used", inline="always")
def _ol_scratch_used(alloc, sid):
    _check_sid(sid)

    def impl(alloc, sid):
        status, used = scratch_used(_native(alloc).owner, np.int64(sid))
        if status != 0:
            _fail(status)
        return used
    return impl
