"""NumPy's creation vocabulary in the frame, Python side: the bodies of the ``frame_*_like``,
``frame_full``, ``frame_copy``, ``frame_arange``, ``frame_concatenate``, ``frame_stack``,
``frame_take``, ``frame_compress`` and ``frame_nonzero`` methods of :class:`~framealloc.SmartAlloc`
(the methods are one-line delegations; their docstrings hold the examples).

Each function checks its arguments with the rules of the NumPy function of the same name before
anything is allocated (FA020 where NumPy would raise ValueError/IndexError/AxisError), allocates
the result with the allocator's frame bump (``alloc_fn(shape, dtype, align, zero, try_)``: None
for a ``try_`` form that ran out of memory) and fills it with NumPy, through ``out=`` where NumPy
has it. Results are C-contiguous: the values, shape and dtype are NumPy's, the memory order is
not copied from an F-ordered input (``np.empty_like`` would).

The @njit forms are in :mod:`framealloc.kernels.creation_njit`.
"""
from __future__ import annotations

import operator

import numpy as np

from ._dtypes import box_source, normalize_shape, resolve_dtype
from .errors import error
from .kernels import status as ST

__all__ = ["empty_like", "full", "full_like", "copy", "arange", "concatenate", "stack", "take",
           "compress", "nonzero"]


def _bad(call, problem, fix="check the shapes and the axis"):
    return error(ST.BAD_ARRAY_ARG, call=call, problem=problem, fix=fix)


def _axis(axis, ndim: int, call: str) -> int:
    """``axis`` normalised to 0..ndim-1 (NumPy's rule: -ndim <= axis < ndim)."""
    try:
        ax = operator.index(axis)
    except TypeError:
        raise _bad(call, f"axis must be an int, got {axis!r}", "pass e.g. axis=0") from None
    if not -ndim <= ax < ndim:
        raise _bad(call, f"axis {ax} is out of range for {ndim}-dimensional arrays",
                   f"pass an axis from {-ndim} to {ndim - 1}")
    return ax + ndim if ax < 0 else ax


def empty_like(alloc_fn, a, dtype, zero: bool, try_: bool):
    src = box_source(a)
    return alloc_fn(src.shape, src.dtype if dtype is None else dtype, None, zero, try_)


def _fill_source(fill_value, shape, call, dtype=None):
    """The fill value as an array, checked to broadcast to ``shape`` and (a string or object
    fill) to convert to ``dtype``, before anything is allocated."""
    fill = box_source(fill_value)
    if fill.dtype.hasobject:
        raise error(ST.BAD_DTYPE, dtype=f"{call} fill_value of type {type(fill_value).__name__}")
    if dtype is not None and fill.dtype.kind in "SUV":
        try:
            fill = fill.astype(dtype)
        except (ValueError, TypeError):
            raise _bad(call, f"fill_value {fill_value!r} does not convert to {dtype}",
                       "pass a value of the array's kind") from None
    try:
        np.broadcast_shapes(fill.shape, shape)
    except ValueError:
        raise _bad(call, f"fill_value of shape {fill.shape} does not broadcast to {shape}",
                   "pass a scalar or an array that broadcasts to the shape") from None
    return fill


def full(alloc_fn, shape, fill_value, dtype, try_: bool):
    dims = (shape,) if type(shape) is int and shape >= 0 else normalize_shape(shape)[0]
    dt = None if dtype is None else resolve_dtype(dtype)[0]
    fill = _fill_source(fill_value, dims, "frame_full", dt)
    out = alloc_fn(dims, fill.dtype if dt is None else dt, None, False, try_)
    if out is not None:
        np.copyto(out, fill, casting="unsafe")
    return out


def full_like(alloc_fn, a, fill_value, dtype, try_: bool):
    src = box_source(a)
    dt = src.dtype if dtype is None else resolve_dtype(dtype)[0]
    fill = _fill_source(fill_value, src.shape, "frame_full_like", dt)
    out = alloc_fn(src.shape, dt, None, False, try_)
    if out is not None:
        np.copyto(out, fill, casting="unsafe")
    return out


def copy(alloc_fn, a, try_: bool):
    src = box_source(a)
    out = alloc_fn(src.shape, src.dtype, None, False, try_)
    if out is not None:
        out[...] = src
    return out


def arange(alloc_fn, start, stop, step, dtype, try_: bool):
    """NumPy computes the values (its length rule and fill); they are copied into the frame."""
    args = (start,) if stop is None else (start, stop) if step is None else (start, stop, step)
    for v in args:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.number)) \
                or isinstance(v, (complex, np.complexfloating)):
            raise _bad("frame_arange", f"start, stop and step must be real numbers, got {v!r}",
                       "pass ints or floats")
    if step is not None and step == 0:
        raise _bad("frame_arange", "step is zero", "pass a non-zero step")
    if dtype is not None:
        dt = resolve_dtype(dtype)[0]
        if dt.kind not in "iuf":
            raise error(ST.BAD_DTYPE, dtype=f"frame_arange dtype {dt} (not an int or float)")
    try:
        vals = np.arange(*args, dtype=dtype)
    except (ValueError, OverflowError) as exc:
        raise _bad("frame_arange", str(exc), "check start, stop and step") from None
    out = alloc_fn(vals.shape, vals.dtype, None, False, try_)
    if out is not None:
        out[...] = vals
    return out


def _sources(seq, call):
    if isinstance(seq, np.ndarray) or not hasattr(seq, "__iter__") or isinstance(seq, str):
        raise _bad(call, f"takes a sequence (tuple or list) of arrays, got {type(seq).__name__}",
                   f"pass e.g. {call}((a, b))")
    arrays = [box_source(x) for x in seq]
    if not arrays:
        raise _bad(call, "needs at least one array", f"pass e.g. {call}((a, b))")
    return arrays


def concatenate(alloc_fn, seq, axis, try_: bool):
    arrays = _sources(seq, "frame_concatenate")
    dt = np.result_type(*arrays)
    if axis is None:
        shape = (sum(x.size for x in arrays),)
    else:
        first = arrays[0]
        if first.ndim == 0:
            raise _bad("frame_concatenate", "zero-dimensional arrays cannot be concatenated",
                       "pass arrays of at least one dimension, or use frame_stack")
        ax = _axis(axis, first.ndim, "frame_concatenate")
        total = 0
        for i, x in enumerate(arrays):
            if x.ndim != first.ndim or any(
                    x.shape[d] != first.shape[d] for d in range(first.ndim) if d != ax):
                raise _bad("frame_concatenate",
                           f"array {i} has shape {x.shape}, array 0 {first.shape}: they must "
                           f"match except along axis {ax}")
            total += x.shape[ax]
        shape = first.shape[:ax] + (total,) + first.shape[ax + 1:]
    out = alloc_fn(shape, dt, None, False, try_)
    if out is not None:
        np.concatenate(arrays, axis=axis, out=out)
    return out


def stack(alloc_fn, seq, axis, try_: bool):
    arrays = _sources(seq, "frame_stack")
    first = arrays[0]
    for i, x in enumerate(arrays):
        if x.shape != first.shape:
            raise _bad("frame_stack", f"array {i} has shape {x.shape}, array 0 {first.shape}: "
                       "they must all have the same shape")
    ax = _axis(axis, first.ndim + 1, "frame_stack")
    shape = first.shape[:ax] + (len(arrays),) + first.shape[ax:]
    out = alloc_fn(shape, np.result_type(*arrays), None, False, try_)
    if out is not None:
        np.stack(arrays, axis=ax, out=out)
    return out


def take(alloc_fn, a, indices, axis, try_: bool):
    src = box_source(a)
    idx = box_source(indices)
    if idx.dtype.kind not in "iu" and not (idx.size == 0 and idx.dtype.kind == "f"):
        raise _bad("frame_take", f"indices must be integers, got {idx.dtype}",
                   "pass an integer array (np.intp)")
    if axis is None:
        n, shape = src.size, idx.shape
    else:
        if src.ndim == 0:
            raise _bad("frame_take", "a 0-dimensional array has no axis", "pass axis=None")
        ax = _axis(axis, src.ndim, "frame_take")
        n, shape = src.shape[ax], src.shape[:ax] + idx.shape + src.shape[ax + 1:]
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise _bad("frame_take", f"an index is out of range for an axis of length {n}",
                   f"pass indices from {-n} to {n - 1}")
    out = alloc_fn(shape, src.dtype, None, False, try_)
    if out is not None:
        np.take(src, idx.astype(np.intp, copy=False), axis=axis, out=out)
    return out


def compress(alloc_fn, condition, a, axis, try_: bool):
    src = box_source(a)
    cond = box_source(condition)
    if cond.ndim != 1:
        raise _bad("frame_compress", f"condition must be 1-dimensional, got shape {cond.shape}",
                   "pass a 1-D mask (for an N-D mask of a's shape use a.ravel() and axis=None)")
    if axis is None:
        n = src.size
    else:
        if src.ndim == 0:
            raise _bad("frame_compress", "a 0-dimensional array has no axis", "pass axis=None")
        ax = _axis(axis, src.ndim, "frame_compress")
        n = src.shape[ax]
    if len(cond) > n and np.any(cond[n:]):
        raise _bad("frame_compress", f"condition is True at an index beyond the axis length {n}",
                   "pass a mask no longer than the axis (or False beyond it)")
    count = int(np.count_nonzero(cond[:n]))
    shape = (count,) if axis is None else src.shape[:ax] + (count,) + src.shape[ax + 1:]
    out = alloc_fn(shape, src.dtype, None, False, try_)
    if out is not None:
        np.compress(cond[:n], src, axis=axis, out=out)
    return out


def nonzero(alloc_fn, a, try_: bool, call: str = "frame_nonzero"):
    src = box_source(a)
    if src.ndim == 0:
        raise _bad(call, "a 0-dimensional array has no indices",
                   "pass an array of at least one dimension (np.atleast_1d(x))")
    if src.dtype.names is not None:
        raise error(ST.BAD_DTYPE, dtype=f"{call} of a record array ({src.dtype})")
    found = np.nonzero(src)
    out = alloc_fn((src.ndim, len(found[0])), np.intp, None, False, try_)
    if out is None:
        return None
    for d, ix in enumerate(found):
        out[d] = ix
    return tuple(out[d] for d in range(src.ndim))
