"""NumPy's creation vocabulary in the frame, inside @njit (same names as the Python methods of
:mod:`framealloc.creation`): ``frame_empty_like``, ``frame_zeros_like``, ``frame_full``,
``frame_full_like``, ``frame_copy``, ``frame_arange``, ``frame_concatenate``, ``frame_stack``,
``frame_take``, ``frame_compress``, ``frame_nonzero``/``frame_where`` and the ``try_`` forms
(not of ``frame_nonzero``/``frame_where``, whose Optional tuple numba cannot index).

Each method is a small ``overload_method`` (not inlined: nothing is added to the caller's IR)
whose body checks the runtime shapes, allocates the result with the hand-lowered
``alloc.frame_array`` / ``alloc.try_frame_array`` (the bump is emitted in place) and fills it with
a ``@njit(cache=True)`` kernel of this module, so the loops come from numba's cache. What can be
checked from the types (an argument that is not an array, a dtype, the number of dimensions) is
refused while compiling, with its FA code; what depends on values (shapes that do not match, an
axis or index out of range) raises FA020 at run time, out of line, before anything is allocated.

Values, shapes and dtypes are NumPy's: the result dtype of a join is ``np.result_type`` of the
arrays, ``frame_full`` takes the fill value's dtype (a Python int is int64, a float float64),
``frame_arange`` reproduces NumPy's length rule and its fill (``start + i * delta`` with
``delta = (start + step) - start`` in the result dtype). Results are C-contiguous.
"""
from __future__ import annotations

import numpy as np
from numba import literal_unroll, njit, types
from numba.cpython.unsafe.tuple import tuple_setitem
from numba.extending import overload, overload_method
from numba.np import numpy_support

from ..errors import error
from . import status as ST
from ._intrinsics import cold_call
from .njit_api import SmartAllocType, _check_args, _omitted, resolve_numba_dtype

__all__ = ["CREATION_METHODS"]

#: Every method this module adds (each also as ``try_<name>``).
CREATION_METHODS = ("frame_empty_like", "frame_zeros_like", "frame_full", "frame_full_like",
                    "frame_copy", "frame_arange", "frame_concatenate", "frame_stack",
                    "frame_take", "frame_compress", "frame_nonzero", "frame_where")


# ---------------------------------------------------------------------------------------------
# Refusals: at typing time (types), or at run time out of line (values)

def _bad(call, problem, fix="check the shapes and the axis"):
    return error(ST.BAD_ARRAY_ARG, call=call, problem=problem, fix=fix)


#: run-time refusals: case number -> (call, problem, what to do)
_RUNTIME = {
    1: ("frame_concatenate", "the arrays' shapes must match except along the axis",
        "check the shapes and the axis"),
    2: ("frame_stack", "the arrays must all have the same shape", "check the shapes"),
    3: ("this call", "the axis is out of range for the arrays' dimensions",
        "pass an axis from -ndim to ndim - 1"),
    4: ("frame_take", "an index is out of range for the axis", "pass indices from -n to n - 1"),
    5: ("frame_compress", "condition is True at an index beyond the axis length",
        "pass a mask no longer than the axis (or False beyond it)"),
    6: ("frame_arange", "step is zero, or the length is not a finite number",
        "pass a non-zero step and finite start/stop"),
    7: ("this call", "needs at least one array", "pass a non-empty sequence of arrays"),
}
_JOIN, _STACK, _AXIS, _INDEX, _MASK, _STEP, _EMPTY = range(1, 8)


def _make_raiser():
    lines = ["def bad_values(case):"]
    glb = {}
    for k, (call, problem, fix) in _RUNTIME.items():
        exc = _bad(call, problem, fix)
        glb[f"E{k}"], glb[f"M{k}"] = type(exc), str(exc)
        lines += [f"    if case == {k}:", f"        raise E{k}(M{k})"]
    exec("\n".join(lines), glb)
    return glb["bad_values"]


def _raise_case(case):
    """Raise the FA020 of a run-time case (njit only; the body is generated from _RUNTIME)."""


@overload(_raise_case, inline="always")
def _ol_raise_case(case):
    return _make_raiser()


@njit(cache=True)
def _bad_values(case):
    """``cold_call(_bad_values, (case,))``: raise the FA020 of a run-time case, out of line."""
    _raise_case(case)


def _need_array(x, call, what="a"):
    if not isinstance(x, types.Array):
        raise _bad(call, f"{what} must be a NumPy array inside @njit, got {x}",
                   "pass an array (np.asarray(x) before the call)")
    return x


def _npdtype(nbtype):
    return numpy_support.as_dtype(nbtype)


def _dtype_or(dtype, default, call):
    """The np.dtype of a ``dtype=`` argument type, or ``default`` (an np.dtype) when omitted."""
    if _omitted(dtype):
        return default
    return resolve_numba_dtype(dtype, f"{call}() dtype")[1]


def _axis_arg(axis, call, allow_none):
    """True when ``axis`` is None (omitted meaning None is the caller's business)."""
    if isinstance(axis, types.Omitted):          # an omitted argument: its default
        axis = axis.value
    if axis is None and allow_none:
        return True
    if isinstance(axis, int) and not isinstance(axis, bool):
        return False
    if isinstance(axis, types.NoneType) and allow_none:
        return True
    if isinstance(axis, types.Integer):
        return False
    raise _bad(call, f"axis must be an int{' or None' if allow_none else ''}, got {axis}",
               "pass e.g. axis=0")


def _alloc_name(try_):
    return "try_frame_array" if try_ else "frame_array"


def _build(name, params, body, glb):
    """An impl ``def impl(alloc, <params>)`` whose ``body`` (lines, 4-space indented) ends in
    ``return``; ``ALLOC(shape)`` in the body is the method's frame allocation, followed by the
    None return of the try_ form."""
    src = f"def impl(alloc, {params}):\n" + "\n".join("    " + ln for ln in body) + "\n"
    exec(src, glb)
    return glb["impl"]


def _both(name, typer, forms=(False, True)):
    """Register ``name`` and ``try_<name>``: ``typer(try_)`` is the overload function."""
    for try_ in forms:
        meth = ("try_" if try_ else "") + name
        overload_method(SmartAllocType, meth)(typer(meth, try_))


def _alloc_lines(try_, shape_expr, zero=False):
    """Lines allocating ``out`` (and the try_ form's early None)."""
    m = _alloc_name(try_)
    lines = [f"out = alloc.{m}({shape_expr}, DT{', zero=True' if zero else ''})"]
    if try_:
        lines += ["if out is None:", "    return None"]
    return lines


# ---------------------------------------------------------------------------------------------
# Fill kernels (cached)

@njit(cache=True)
def _prod(shape, lo, hi):
    p = 1
    for d in range(lo, hi):
        p *= shape[d]
    return p


@njit(cache=True)
def _put(dst2, col0, x, width):
    """Write ``x`` in C order into ``dst2[:, col0:col0 + width]`` (rows of ``width``)."""
    if width == 0:
        return
    k = 0
    for v in x.flat:
        dst2[k // width, col0 + k % width] = v
        k += 1


@njit(cache=True)
def _join_tuple(out, arrays, outer):
    """Concatenate (or, with the arrays' shapes, stack) ``arrays`` (a tuple, any element types)
    into the C-contiguous ``out`` seen as ``(outer, size // outer)``."""
    if outer == 0 or out.size == 0:
        return
    dst = out.reshape((outer, out.size // outer))
    off = 0
    for x in literal_unroll(arrays):
        w = x.size // outer
        _put(dst, off, x, w)
        off += w


@njit(cache=True)
def _join_seq(out, arrays, outer):
    """:func:`_join_tuple` for a list or a tuple of one array type."""
    if outer == 0 or out.size == 0:
        return
    dst = out.reshape((outer, out.size // outer))
    off = 0
    for x in arrays:
        w = x.size // outer
        _put(dst, off, x, w)
        off += w


@njit(cache=True)
def _norm_axis(axis, ndim):
    if axis < -ndim or axis >= ndim:
        cold_call(_bad_values, (_AXIS,))
    return axis + ndim if axis < 0 else axis


@njit(cache=True)
def _arange_len(start, stop, step):
    """NumPy's length rule: ``ceil((stop - start) / step)``, at least 0."""
    if step == 0:
        cold_call(_bad_values, (_STEP,))
    q = (stop - start) / step
    if not np.isfinite(q):
        cold_call(_bad_values, (_STEP,))
    n = int(np.ceil(q))
    return n if n > 0 else 0


@njit(cache=True)
def _arange_fill(out, start, step):
    """NumPy's fill: ``out[0] = start``, ``out[1] = start + step`` (in the arguments' type, then
    cast), ``out[i] = out[0] + i * (out[1] - out[0])`` in the result dtype."""
    n = out.size
    if n == 0:
        return
    out[0] = start
    if n == 1:
        return
    out[1] = start + step
    first = out[0]
    delta = out[1] - first
    for i in range(2, n):
        out[i] = i                  # i in the result dtype, as NumPy's C fill converts it
        out[i] = first + out[i] * delta


@njit(cache=True)
def _take_flat(out, a, idx):
    n = a.size
    o = out.reshape(out.size)
    k = 0
    for j in idx.flat:
        i = j
        o[k] = a.flat[i + n if i < 0 else i]
        k += 1


@njit(cache=True)
def _indices_ok(idx, n):
    for i in idx.flat:
        if i < -n or i >= n:
            return False
    return True


# (Run-time checks return a flag and the method raises after them: an error propagated while a
# callee holds an array, here its iterator, would leak that reference.)


@njit(cache=True)
def _take_axis(out, a, idx, ax):
    outer, n, inner = _prod(a.shape, 0, ax), a.shape[ax], _prod(a.shape, ax + 1, a.ndim)
    m = idx.size
    o = out.reshape((outer, m, inner))
    for r in range(outer):
        for q in range(m):
            j = idx[q]
            j = j + n if j < 0 else j
            base = (r * n + j) * inner
            for c in range(inner):
                o[r, q, c] = a.flat[base + c]


@njit(cache=True)
def _mask_count(cond, n):
    """Trues in ``cond``, or -1 when one is at an index ``>= n``."""
    cnt = 0
    for k in range(len(cond)):
        if cond[k]:
            if k >= n:
                return -1
            cnt += 1
    return cnt


@njit(cache=True)
def _compress_flat(out, cond, a):
    t = 0
    for k in range(min(len(cond), a.size)):
        if cond[k]:
            out[t] = a.flat[k]
            t += 1


@njit(cache=True)
def _compress_axis(out, cond, a, ax):
    outer, n, inner = _prod(a.shape, 0, ax), a.shape[ax], _prod(a.shape, ax + 1, a.ndim)
    cnt = out.shape[ax]
    o = out.reshape((outer, cnt, inner))
    for r in range(outer):
        q = 0
        for j in range(min(n, len(cond))):
            if cond[j]:
                base = (r * n + j) * inner
                for c in range(inner):
                    o[r, q, c] = a.flat[base + c]
                q += 1


@njit(cache=True)
def _count_nonzero(a):
    cnt = 0
    for v in a.flat:
        if v != 0:
            cnt += 1
    return cnt


@njit(cache=True)
def _nonzero_fill(out, a):
    t = 0
    for idx, v in np.ndenumerate(a):
        if v != 0:
            for d in range(a.ndim):
                out[d, t] = idx[d]
            t += 1


# ---------------------------------------------------------------------------------------------
# The methods

def _like_typer(zero):
    def typer(meth, try_):
        def ol(alloc, a, dtype=None):
            arr = _need_array(a, meth)
            DT = _dtype_or(dtype, _npdtype(arr.dtype), meth)
            return _build(meth, "a, dtype=None",
                          _alloc_lines(try_, "a.shape", zero) + ["return out"], {"DT": DT})
        return ol
    return typer


_both("frame_empty_like", _like_typer(False))
_both("frame_zeros_like", _like_typer(True))


def _scalar_fill(fill_value, call):
    if not isinstance(fill_value, (types.Number, types.Boolean)):
        raise _bad(call, f"fill_value must be a number or a bool inside @njit, got {fill_value}",
                   "pass a scalar")
    return _npdtype(types.unliteral(fill_value))


def _full(meth, try_):
    def ol(alloc, shape, fill_value, dtype=None):
        _check_args(meth, shape=shape)
        DT = _dtype_or(dtype, _scalar_fill(fill_value, meth), meth)
        return _build(meth, "shape, fill_value, dtype=None",
                      _alloc_lines(try_, "shape") + ["out[...] = fill_value", "return out"],
                      {"DT": DT})
    return ol


def _full_like(meth, try_):
    def ol(alloc, a, fill_value, dtype=None):
        arr = _need_array(a, meth)
        _scalar_fill(fill_value, meth)
        DT = _dtype_or(dtype, _npdtype(arr.dtype), meth)
        return _build(meth, "a, fill_value, dtype=None",
                      _alloc_lines(try_, "a.shape") + ["out[...] = fill_value", "return out"],
                      {"DT": DT})
    return ol


def _copy(meth, try_):
    def ol(alloc, a):
        arr = _need_array(a, meth)
        return _build(meth, "a", _alloc_lines(try_, "a.shape") + ["out[...] = a", "return out"],
                      {"DT": _npdtype(arr.dtype)})
    return ol


_both("frame_full", _full)
_both("frame_full_like", _full_like)
_both("frame_copy", _copy)


def _arange(meth, try_):
    def ol(alloc, start, stop=None, step=None, dtype=None):
        given = [t for t in (start, stop, step) if not _omitted(t)]
        for t in given:
            if not isinstance(t, (types.Integer, types.Float)) or isinstance(t, types.Boolean):
                raise _bad(meth, f"start, stop and step must be ints or floats, got {t}",
                           "pass ints or floats")
        if _omitted(stop) and not _omitted(step):
            raise _bad(meth, "a step needs a stop", "pass frame_arange(start, stop, step)")
        default = np.result_type(*[_npdtype(types.unliteral(t)) for t in given])
        DT = _dtype_or(dtype, default, meth)
        if DT.kind not in "iuf":
            raise error(ST.BAD_DTYPE, dtype=f"{meth} dtype {DT} (not an int or float)")
        if _omitted(stop):
            head = ["lo, hi, st = 0, start, 1"]
        elif _omitted(step):
            head = ["lo, hi, st = start, stop, 1"]
        else:
            head = ["lo, hi, st = start, stop, step"]
        body = head + ["n = ARANGE_LEN(lo, hi, st)"] + _alloc_lines(try_, "n") + [
            "ARANGE_FILL(out, lo, st)", "return out"]
        return _build(meth, "start, stop=None, step=None, dtype=None", body,
                      {"DT": DT, "ARANGE_LEN": _arange_len, "ARANGE_FILL": _arange_fill})
    return ol


_both("frame_arange", _arange)


def _sequence(arrays, call):
    """(element array types, whether it is a heterogeneous tuple) of a join's ``arrays``."""
    if isinstance(arrays, types.BaseTuple):
        if len(arrays) == 0:
            raise _bad(call, "needs at least one array", f"pass e.g. {call}((a, b))")
        elems = list(arrays.types)
        hetero = not isinstance(arrays, types.UniTuple)
    elif isinstance(arrays, (types.List, types.ListType)):
        elems, hetero = [arrays.dtype], False
    else:
        raise _bad(call, f"takes a tuple or list of arrays inside @njit, got {arrays}",
                   f"pass e.g. {call}((a, b))")
    for e in elems:
        _need_array(e, call, "every element of arrays")
    if len({e.ndim for e in elems}) != 1:
        raise _bad(call, "the arrays have different numbers of dimensions",
                   "pass arrays of the same ndim")
    if isinstance(arrays, types.BaseTuple) and not hetero:
        hetero = False
    return elems, hetero


def _join_globals(elems, hetero):
    return {"DT": np.result_type(*[_npdtype(e.dtype) for e in elems]),
            "JOIN": _join_tuple if hetero else _join_seq, "BAD": _bad_values,
            "cold_call": cold_call,
            "PROD": _prod, "NORM_AXIS": _norm_axis, "setitem": tuple_setitem,
            "literal_unroll": literal_unroll}


def _concatenate(meth, try_):
    def ol(alloc, arrays, axis=0):
        elems, hetero = _sequence(arrays, meth)
        flat = _axis_arg(axis, meth, allow_none=True)
        loop = "for x in literal_unroll(arrays):" if hetero else "for x in arrays:"
        body = ["if len(arrays) == 0:", f"    cold_call(BAD, ({_EMPTY},))"]
        if flat:
            body += ["total = 0", loop, "    total += x.size"] + _alloc_lines(try_, "total") + [
                "JOIN(out, arrays, 1)", "return out"]
        else:
            if elems[0].ndim == 0:
                raise _bad(meth, "zero-dimensional arrays cannot be concatenated",
                           "pass arrays of at least one dimension, or use frame_stack")
            body += ["first = arrays[0].shape", "ax = NORM_AXIS(axis, len(first))",
                     "total = 0", "bad = False", loop,
                     "    s = x.shape",
                     "    for d in range(len(first)):",
                     "        if d != ax and s[d] != first[d]:",
                     "            bad = True",
                     "    total += s[ax]",
                     "if bad:", f"    cold_call(BAD, ({_JOIN},))",
                     "shape = setitem(first, ax, total)"] + _alloc_lines(try_, "shape") + [
                "JOIN(out, arrays, PROD(shape, 0, ax))", "return out"]
        return _build(meth, "arrays, axis=0", body, _join_globals(elems, hetero))
    return ol


def _stack(meth, try_):
    def ol(alloc, arrays, axis=0):
        elems, hetero = _sequence(arrays, meth)
        _axis_arg(axis, meth, allow_none=False)
        loop = "for x in literal_unroll(arrays):" if hetero else "for x in arrays:"
        body = ["if len(arrays) == 0:", f"    cold_call(BAD, ({_EMPTY},))",
                "first = arrays[0].shape", "nd = len(first)",
                "ax = NORM_AXIS(axis, nd + 1)", "bad = False", loop,
                "    if x.shape != first:", "        bad = True",
                "if bad:", f"    cold_call(BAD, ({_STACK},))",
                "shape = first + (len(arrays),)",
                "for d in range(nd, ax, -1):",
                "    shape = setitem(shape, d, shape[d - 1])",
                "shape = setitem(shape, ax, len(arrays))"] + _alloc_lines(try_, "shape") + [
            "JOIN(out, arrays, PROD(first, 0, ax))", "return out"]
        return _build(meth, "arrays, axis=0", body, _join_globals(elems, hetero))
    return ol


_both("frame_concatenate", _concatenate)
_both("frame_stack", _stack)


def _take(meth, try_):
    def ol(alloc, a, indices, axis=None):
        arr = _need_array(a, meth)
        idx = _need_array(indices, meth, "indices")
        if not isinstance(idx.dtype, types.Integer):
            raise _bad(meth, f"indices must be integers, got {idx.dtype}",
                       "pass an integer array (np.intp)")
        flat = _axis_arg(axis, meth, allow_none=True)
        glb = {"DT": _npdtype(arr.dtype), "CHECK": _indices_ok, "BAD": _bad_values,
               "cold_call": cold_call, "NORM_AXIS": _norm_axis,
               "setitem": tuple_setitem, "TAKE_FLAT": _take_flat, "TAKE_AXIS": _take_axis}
        if flat:
            body = ["if not CHECK(indices, a.size):", f"    cold_call(BAD, ({_INDEX},))"] + \
                _alloc_lines(try_, "indices.shape") + [
                "TAKE_FLAT(out, a, indices)", "return out"]
        else:
            if arr.ndim == 0:
                raise _bad(meth, "a 0-dimensional array has no axis", "pass axis=None")
            if idx.ndim != 1:
                raise _bad(meth, f"with an axis, indices must be 1-D inside @njit, got "
                           f"{idx.ndim}-D",
                           "pass a 1-D index array (or axis=None)")
            body = ["ax = NORM_AXIS(axis, a.ndim)", "if not CHECK(indices, a.shape[ax]):",
                    f"    cold_call(BAD, ({_INDEX},))"] + \
                _alloc_lines(try_, "setitem(a.shape, ax, indices.size)") + [
                "TAKE_AXIS(out, a, indices, ax)", "return out"]
        return _build(meth, "a, indices, axis=None", body, glb)
    return ol


def _compress(meth, try_):
    def ol(alloc, condition, a, axis=None):
        cond = _need_array(condition, meth, "condition")
        arr = _need_array(a, meth)
        if cond.ndim != 1 or not isinstance(cond.dtype, (types.Boolean, types.Number)):
            raise _bad(meth, f"condition must be a 1-D bool (or number) array, got {cond}",
                       "pass a 1-D mask (an N-D mask of a's shape: mask.ravel(), axis=None)")
        flat = _axis_arg(axis, meth, allow_none=True)
        glb = {"DT": _npdtype(arr.dtype), "COUNT": _mask_count, "BAD": _bad_values,
               "cold_call": cold_call, "NORM_AXIS": _norm_axis,
               "setitem": tuple_setitem, "FLAT": _compress_flat, "AXIS": _compress_axis}
        if flat:
            body = ["cnt = COUNT(condition, a.size)", "if cnt < 0:",
                    f"    cold_call(BAD, ({_MASK},))"] + _alloc_lines(try_, "cnt") + [
                "FLAT(out, condition, a)", "return out"]
        else:
            if arr.ndim == 0:
                raise _bad(meth, "a 0-dimensional array has no axis", "pass axis=None")
            body = ["ax = NORM_AXIS(axis, a.ndim)", "cnt = COUNT(condition, a.shape[ax])",
                    "if cnt < 0:", f"    cold_call(BAD, ({_MASK},))"] + \
                _alloc_lines(try_, "setitem(a.shape, ax, cnt)") + [
                "AXIS(out, condition, a, ax)", "return out"]
        return _build(meth, "condition, a, axis=None", body, glb)
    return ol


_both("frame_take", _take)
_both("frame_compress", _compress)


def _nonzero(param):
    def typer(meth, try_):
        def ol(alloc, *args):
            arr = _need_array(args[0], meth, param)
            if arr.ndim == 0:
                raise _bad(meth, "a 0-dimensional array has no indices",
                           "pass an array of at least one dimension (np.atleast_1d(x))")
            if not isinstance(arr.dtype, (types.Boolean, types.Number)):
                raise error(ST.BAD_DTYPE, dtype=f"{meth} of a {arr.dtype} array")
            rows = ", ".join(f"out[{d}]" for d in range(arr.ndim))
            body = [f"cnt = COUNT({param})"] + _alloc_lines(try_, f"({arr.ndim}, cnt)") + [
                f"FILL(out, {param})", f"return ({rows},)"]
            return _build(meth, param, body, {"DT": np.dtype(np.intp), "COUNT": _count_nonzero,
                                              "FILL": _nonzero_fill})
        # overload_method reads the parameter names from the function's signature
        return _rename(ol, param)
    return typer


def _rename(ol, param):
    glb = {"ol": ol}
    exec(f"def typed(alloc, {param}):\n    return ol(alloc, {param})\n", glb)
    return glb["typed"]


# No try_ forms inside @njit: numba lowers no indexing or unpacking of an Optional tuple, so a
# caller could not use what they return (they exist in Python).
_both("frame_nonzero", _nonzero("a"), (False,))
_both("frame_where", _nonzero("condition"), (False,))
