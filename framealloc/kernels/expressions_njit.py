"""Elementwise expressions evaluated into the frame, inside @njit: ``alloc.frame_eval(fn, *args)``
(and ``try_frame_eval``), the same call as the Python method of :mod:`framealloc.expressions`.

``fn`` is a scalar function: an ``@njit`` function, or a ``lambda`` written inside the kernel; the
arguments are arrays or scalars. The result is a new C-contiguous frame array of the arguments'
broadcast shape whose dtype is what ``fn`` returns for the arguments' element types, filled by
one loop (``out[i] = fn(a[i], b[i], ...)``) in which numba inlines ``fn``: the fused loop that
numba builds for an array expression such as ``a - b * b``, writing into frame memory instead of
a fresh ``np.empty``.

The methods are typed by a template and lowered by compiling a generated implementation for the
argument types (``compile_internal``): broadcast shape, FA020 raised in the implementation
itself where the shapes do not broadcast (before anything is allocated), the hand-lowered
``frame_array``, the loop. When every array argument is C-contiguous (known from its type) and
has the result's shape (a run-time check) the loop runs over flat indices; otherwise it walks
the result with one loop per dimension over broadcast views of the arguments. An ``@njit``
``fn`` is called by name from the implementation, never passed as a value: numba compiles an
@njit function passed as a value to a dynamic address, and a kernel holding one is not cached;
this way a user's ``cache=True`` kernel calling ``frame_eval`` stays cacheable.

Bad arguments are refused while compiling with their FA code: FA018 when ``fn`` is not a function
numba can call, FA020 for an argument that is neither an array nor a scalar or for ``fn``
results that are not scalars, FA006 for a result dtype the frame cannot hold.
"""
from __future__ import annotations

import numpy as np
from numba import types
from numba.core.registry import cpu_target
from numba.core.errors import TypingError
from numba.core.typing.templates import AttributeTemplate, bound_function, signature
from numba.extending import infer_getattr, lower_builtin, overload
from numba.np import numpy_support

from ..errors import error
from . import status as ST
from .njit_api import SmartAllocType

__all__ = ["EXPRESSION_METHODS", "eval_into", "result_type"]

EXPRESSION_METHODS = ("frame_eval",)

_CALL = "frame_eval"


def _bad(problem, fix):
    return error(ST.BAD_ARRAY_ARG, call=_CALL, problem=problem, fix=fix)


_E_SHAPES = _bad("the arguments' shapes do not broadcast together",
                 "pass arrays whose shapes NumPy can broadcast (e.g. (n, 3) and (3,))")
_E_SHAPES_CLS, _E_SHAPES_MSG = type(_E_SHAPES), str(_E_SHAPES)


def _callable(fn):
    return isinstance(fn, (types.Dispatcher, types.MakeFunctionLiteral, types.Function,
                           types.FunctionType))


def result_type(fn, elem_types):
    """numba type of ``fn(*elem_types)`` (scalars), or an FA error."""
    ctx = cpu_target.typing_context
    try:
        sig = ctx.resolve_function_type(fn, tuple(elem_types), {})
    except Exception as e:  # noqa: BLE001 - the user's function does not type: say so, coded
        raise _bad(f"fn does not compile for elements of types {tuple(map(str, elem_types))}: "
                   f"{str(e).splitlines()[0] if str(e) else type(e).__name__}",
                   "make fn a scalar function of the arguments' element types") from None
    if sig is None:
        raise _bad(f"fn cannot be called with elements of types "
                   f"{tuple(map(str, elem_types))}",
                   "make fn a scalar function of the arguments' element types")
    rt = sig.return_type
    if not isinstance(rt, (types.Number, types.Boolean)):
        raise _bad(f"fn returns {rt}, not a number or a bool",
                   "return one scalar per element")
    return rt


def _plan(fn, args):
    """(element types, array-argument flags, result numba dtype) of a call, or an FA error."""
    if not _callable(fn):
        raise error(ST.NOT_CALLABLE, call=f"{_CALL}(fn, *args)", got=str(fn),
                    example=f"{_CALL}(kernel, x, y) with kernel an @njit scalar function")
    if len(args) == 0:
        raise _bad("needs at least one argument after fn", "pass the arrays fn combines")
    elems, is_arr = [], []
    for i, a in enumerate(args):
        if isinstance(a, types.Array):
            elems.append(a.dtype)
            is_arr.append(True)
        elif isinstance(a, (types.Number, types.Boolean)):
            elems.append(a)
            is_arr.append(False)
        else:
            raise _bad(f"argument {i + 1} after fn must be an array or a scalar, got {a}",
                       "pass NumPy arrays (np.asarray(x)) or numbers")
    rt = result_type(fn, elems)
    try:
        numpy_support.as_dtype(rt)
    except Exception:
        raise error(ST.BAD_DTYPE, dtype=f"{_CALL} result {rt}") from None
    return elems, is_arr, rt


def _shape_lines(args, is_arr):
    """Lines computing ``shape``, the broadcast shape of the array arguments ``aK`` (NumPy's
    rule), raising FA020 out of line where they do not broadcast; and the result's ndim."""
    arrays = [k for k in range(len(args)) if is_arr[k]]
    ndim = max([args[k].ndim for k in arrays], default=0)
    lines = [f"shape = (1,) * {ndim}" if ndim else "shape = ()", "ok = True"]
    for k in arrays:
        nd = args[k].ndim
        for d in range(nd):
            j = ndim - nd + d
            lines += [f"n = a{k}.shape[{d}]",
                      "if n != 1:",
                      f"    if shape[{j}] != 1 and shape[{j}] != n:",
                      "        ok = False",
                      f"    shape = tuple_setitem(shape, {j}, n)"]
    # Raised here, not in a callee: numba releases this function's arrays on its own raise.
    lines += ["if not ok:", "    raise E_SHAPES(M_SHAPES)"]
    return lines, ndim


def _fill_lines(args, is_arr, ndim):
    """Lines writing ``out[...] = fn(aK[...], ...)`` over ``out`` (of the broadcast shape)."""
    n = len(args)
    arrays = [k for k in range(n) if is_arr[k]]
    fast = ndim > 0 and all(args[k].layout == "C" and args[k].ndim == ndim for k in arrays)
    slow = [f"b{k} = np.broadcast_to(a{k}, out.shape)" if is_arr[k] and ndim else f"b{k} = a{k}"
            for k in range(n)]          # (0-d: nothing to broadcast; numba cannot to shape ())
    # One loop per dimension over broadcast views (stride 0 where an argument is broadcast).
    at = ", ".join(f"i{d}" for d in range(ndim)) or "()"
    call = ", ".join(f"b{k}[{at}]" if is_arr[k] else f"b{k}" for k in range(n))
    for d in range(ndim):
        slow.append("    " * d + f"for i{d} in range(out.shape[{d}]):")
    slow.append("    " * ndim + f"out[{at}] = fn({call})")
    if not fast:
        return slow
    same = " and ".join(f"a{k}.shape == out.shape" for k in arrays)
    # (1-D: the arrays themselves; a reshape costs a reference count pair per array)
    r = (lambda v: v) if ndim == 1 else (lambda v: f"{v}.reshape({v}.size)")
    flat = [f"o = {r('out')}"]
    flat += [f"x{k} = {r(f'a{k}')}" if is_arr[k] else f"x{k} = a{k}" for k in range(n)]
    call = ", ".join(f"x{k}[i]" if is_arr[k] else f"x{k}" for k in range(n))
    flat += ["for i in range(o.size):", f"    o[i] = fn({call})"]
    return ([f"if {same}:"] + ["    " + ln for ln in flat] + ["else:"]
            + ["    " + ln for ln in slow])


def _build(head, body, args):
    """``def impl(<head>, *args)`` unpacking ``args`` into ``aK``, then ``body``."""
    from numba.cpython.unsafe.tuple import tuple_setitem

    lines = [f"def impl({head}, *args):"] + [f"    a{k} = args[{k}]" for k in range(len(args))]
    lines += ["    " + ln for ln in body]
    glb = {"np": np, "E_SHAPES": _E_SHAPES_CLS, "M_SHAPES": _E_SHAPES_MSG,
           "tuple_setitem": tuple_setitem}
    exec("\n".join(lines) + "\n", glb)
    return glb


def _star(args):
    if len(args) == 1 and isinstance(args[0], (types.StarArgTuple, types.StarArgUniTuple)):
        return tuple(args[0].types)
    return args


def eval_into(out, fn, *args):
    """njit only: ``out[...] = fn(*args)`` elementwise, ``out`` of the broadcast shape (the
    Python method's fill, :mod:`framealloc.expressions`)."""


@overload(eval_into)
def _ol_eval_into(out, fn, *args):
    args = _star(args)
    _, is_arr, _ = _plan(fn, args)
    ndim = out.ndim
    glb = _build("out, fn", _fill_lines(args, is_arr, ndim) + ["return out"], args)
    return glb["impl"]


def _body(args, is_arr, rt, try_):
    """The lines of a frame_eval: broadcast shape, allocation, fill (``fn`` is a name)."""
    shape_lines, ndim = _shape_lines(args, is_arr)
    body = shape_lines + [f"out = alloc.{'try_' if try_ else ''}frame_array(shape, DT)"]
    if try_:
        body += ["if out is None:", "    return None"]
    return body + _fill_lines(args, is_arr, ndim) + ["return out"]


def _lowering_impl(fn, args, try_):
    """(impl, whether it takes ``fn``) for a call of these types. An @njit ``fn`` is called by
    name (a global of the impl), not passed: an @njit function passed as a *value* is a dynamic
    address in the compiled code (numba's first-class function constant), and code holding one is
    never cached; the caller's unused load of it is then dropped by LLVM. A lambda is passed."""
    key = (fn, tuple(args), try_)
    hit = _IMPLS.get(key)
    if hit is None:
        _, is_arr, rt = _plan(fn, args)
        names = ", ".join(f"a{k}" for k in range(len(args)))
        by_name = isinstance(fn, types.Dispatcher)
        head = "alloc, " + ("" if by_name else "fn, ") + names
        from numba.cpython.unsafe.tuple import tuple_setitem

        # A name of its own: compile_internal caches by the code object, and the code objects of
        # two functions of the same source compare equal (another fn would get this one's code).
        name = f"frame_eval_{len(_IMPLS)}"
        lines = [f"def {name}({head}):"] + ["    " + ln for ln in _body(args, is_arr, rt, try_)]
        glb = {"np": np, "E_SHAPES": _E_SHAPES_CLS, "M_SHAPES": _E_SHAPES_MSG,
               "tuple_setitem": tuple_setitem, "DT": rt}
        if by_name:
            glb["fn"] = fn.dispatcher
        exec("\n".join(lines) + "\n", glb)
        hit = _IMPLS[key] = (glb[name], not by_name, rt)
    return hit


#: (fn type, operand types, try_) -> (impl, takes fn, result dtype): made once per process
_IMPLS: dict = {}


def _method(name, try_):
    def resolve(self, ty, args, kws):
        if kws:
            raise TypingError(f"{name}(fn, *args) takes no keyword arguments")
        if not args:
            raise error(ST.NOT_CALLABLE, call=f"{name}(fn, *args)", got="nothing",
                        example=f"{name}(kernel, x, y) with kernel an @njit scalar function")
        fn, ops = args[0], tuple(args[1:])
        _, _, rt = _lowering_impl(fn, ops, try_)
        arr = types.Array(rt, max([a.ndim for a in ops if isinstance(a, types.Array)],
                                  default=0), "C")
        return signature(types.Optional(arr) if try_ else arr, fn, *ops)

    resolve.params = ("fn", "args")       # what the tests' surface tables read

    def lower(context, builder, sig, args):
        alloc_ty, fn, ops = sig.args[0], sig.args[1], tuple(sig.args[2:])   # receiver first
        impl, takes_fn, _ = _lowering_impl(fn, ops, try_)
        if takes_fn:
            isig = sig.return_type(alloc_ty, fn, *ops)
            iargs = list(args)
        else:
            isig = sig.return_type(alloc_ty, *ops)
            iargs = [args[0]] + list(args[2:])
        return context.compile_internal(builder, impl, isig, iargs)

    key = f"SmartAlloc.{name}"
    lower_builtin(key, SmartAllocType, types.VarArg(types.Any))(lower)
    return f"resolve_{name}", bound_function(key)(resolve)


class _EvalMethods(AttributeTemplate):
    """frame_eval / try_frame_eval (typed here, lowered by compiling the generated impl)."""
    key = SmartAllocType


for _try in (False, True):
    setattr(_EvalMethods, *_method(("try_" if _try else "") + "frame_eval", _try))
infer_getattr(_EvalMethods)
