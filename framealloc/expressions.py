"""Elementwise expressions evaluated into the frame, Python side: the body of
:meth:`SmartAlloc.frame_eval <framealloc.SmartAlloc.frame_eval>` (and ``try_frame_eval``).

``frame_eval(fn, *args)`` is ``fn`` applied elementwise over the broadcast ``args`` (arrays or
scalars), written into a new frame array in one loop: the result a NumPy expression or numba's
fused array expression would allocate, without its ``np.empty``. ``fn`` is

* a scalar function, as numba's ``@vectorize`` takes one: an ``@njit`` function, or a plain
  Python function (compiled with ``numba.njit`` once and remembered while ``fn`` lives: define
  it once, not as a new ``lambda`` per call). The result dtype is what numba types ``fn``'s
  return as for the arguments' element types (``numba.typeof`` of a Python scalar: int64,
  float64). The loop is a numba kernel made once per ``fn`` (numba compiles it per argument
  types);
* or a NumPy ufunc (``np.add``, ``np.hypot``, a ``@vectorize`` DUFunc), run with ``out=`` the frame
  array; the result dtype is NumPy's.

Argument rules are NumPy's broadcasting: shapes that do not broadcast are FA020 before anything
is allocated; ``fn`` that is not callable is FA018; a result that is not a number is FA020.
Inside @njit the same call is :mod:`framealloc.kernels.expressions_njit`.
"""
from __future__ import annotations

import weakref

import numpy as np

from .errors import error
from .kernels import status as ST

__all__ = ["evaluate"]

_CALL = "frame_eval"
#: fn (or its njit compilation) -> {number of arguments: fill kernel}; forgotten with fn.
_KERNELS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
#: plain Python function -> its numba.njit compilation; forgotten with the function.
_JITTED: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _bad(problem, fix):
    return error(ST.BAD_ARRAY_ARG, call=_CALL, problem=problem, fix=fix)


def _operands(args):
    if not args:
        raise _bad("needs at least one argument after fn", "pass the arrays fn combines")
    out = []
    for i, a in enumerate(args):
        if isinstance(a, np.ndarray):
            if a.dtype.hasobject:
                raise _bad(f"argument {i + 1} after fn has dtype object",
                           "pass numeric or bool arrays")
            out.append(a)
        elif isinstance(a, (bool, int, float, complex, np.generic)):
            out.append(a)
        else:
            raise _bad(f"argument {i + 1} after fn must be an array or a scalar, got "
                       f"{type(a).__name__}", "pass NumPy arrays (np.asarray(x)) or numbers")
    return out


def _shape(ops):
    try:
        return np.broadcast_shapes(*(np.shape(a) for a in ops))
    except ValueError:
        shapes = ", ".join(str(np.shape(a)) for a in ops)
        raise _bad(f"the arguments' shapes {shapes} do not broadcast together",
                   "pass arrays whose shapes NumPy can broadcast (e.g. (n, 3) and (3,))") \
            from None


def _dispatcher(fn):
    from numba.core.registry import CPUDispatcher

    if isinstance(fn, CPUDispatcher):
        return fn
    d = _JITTED.get(fn)
    if d is None:
        from numba import njit

        d = _JITTED[fn] = njit(fn)
    return d


def _kernel(disp, n):
    """``k(out, a0, ..., a<n-1>)``: the fill loop for ``disp`` (made once per dispatcher)."""
    per = _KERNELS.get(disp)
    if per is None:
        per = _KERNELS[disp] = {}
    k = per.get(n)
    if k is None:
        from numba import njit

        from .kernels.expressions_njit import eval_into

        names = ", ".join(f"a{i}" for i in range(n))
        glb = {"eval_into": eval_into, "FN": disp}
        exec(f"def k(out, {names}):\n    eval_into(out, FN, {names})\n", glb)
        k = per[n] = njit(glb["k"])
    return k


def _result_dtype(disp, ops):
    import numba
    from numba.np import numpy_support

    from .kernels.expressions_njit import result_type

    elems = tuple(numba.from_dtype(a.dtype) if isinstance(a, np.ndarray) else numba.typeof(a)
                  for a in ops)
    rt = result_type(numba.typeof(disp), elems)
    try:
        return numpy_support.as_dtype(rt)
    except Exception:   # noqa: BLE001 - a numba type NumPy has no dtype for
        raise error(ST.BAD_DTYPE, dtype=f"{_CALL} result {rt}") from None


def evaluate(alloc_fn, fn, args, try_: bool):
    """``fn`` over the broadcast ``args`` into a new frame array (None: a try_ form out of
    memory); see the module docstring."""
    if not callable(fn):
        raise error(ST.NOT_CALLABLE, call=f"{_CALL}(fn, *args)", got=repr(fn),
                    example=f"{_CALL}(kernel, x, y) with kernel an @njit scalar function")
    ops = _operands(args)
    shape = _shape(ops)
    if isinstance(fn, np.ufunc):
        if fn.nin != len(ops) or fn.nout != 1:
            raise _bad(f"the ufunc {fn.__name__} takes {fn.nin} inputs and gives {fn.nout} "
                       f"outputs, got {len(ops)} arguments", "pass one argument per input")
        try:
            dt = fn(*(np.empty(0, a.dtype) if isinstance(a, np.ndarray) else a
                      for a in ops)).dtype
        except TypeError as e:
            raise _bad(f"the ufunc {fn.__name__} does not take these dtypes ({e})",
                       "cast the arguments first") from None
        if dt.hasobject:
            raise error(ST.BAD_DTYPE, dtype=f"{_CALL} result {dt}")
        out = alloc_fn(shape, dt, None, False, try_)
        if out is not None:
            fn(*ops, out=out)
        return out
    disp = _dispatcher(fn)
    dt = _result_dtype(disp, ops)
    out = alloc_fn(shape, dt, None, False, try_)
    if out is not None:
        _kernel(disp, len(ops))(out, *ops)
    return out
