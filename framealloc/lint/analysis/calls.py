"""Vocabulary: which calls allocate frame memory, open or end frames, cross threads, and so on.

Everything here looks at syntax only; nothing is imported from the analysed code.
"""
from __future__ import annotations

import ast

__all__ = [
    "FRAME_ALLOC_METHODS", "FRAME_OPEN_METHODS", "FRAME_CLOSE_METHODS", "POOL_HEAP_METHODS",
    "VIEW_METHODS", "META_ATTRS", "NUMPY_VIEW_FUNCS", "NUMPY_ALLOC_FUNCS", "CONTAINER_MUTATORS",
    "QUEUE_CLASSES", "EXECUTOR_CLASSES", "CONTAINER_CTORS", "POOL_TASK_METHODS",
    "NUMPY_POSITIONAL_OUT", "OUT_METHODS", "frame_dtype_arg", "is_record_dtype_literal",
    "method_call", "receiver_key", "root_name", "is_view_index", "is_frame_with_item",
    "is_task_frame_with_item", "with_item_call", "is_constant_true", "CHECKPOINT_METHODS",
    "ROLLBACK_METHODS", "SCOPE_WITH_METHODS",
]

_FRAME_BASE = (
    "frame_alloc", "frame_array", "frame_zeros", "frame_slice", "frame_box", "frame_alloc_batch",
    "frame_alloc_2", "frame_alloc_4", "frame_alloc_8", "frame_vec", "frame_map", "frame_retained",
    "frame_with_importance",
    # NumPy's creation vocabulary in the frame, and expressions evaluated into it
    "frame_empty_like", "frame_zeros_like", "frame_full", "frame_full_like", "frame_copy",
    "frame_arange", "frame_concatenate", "frame_stack", "frame_compress", "frame_take",
    "frame_nonzero", "frame_where", "frame_eval",
)
#: Methods that return frame memory (the ``try_*`` forms return it or None).
FRAME_ALLOC_METHODS: frozenset[str] = frozenset(_FRAME_BASE) | {f"try_{m}" for m in _FRAME_BASE}
FRAME_OPEN_METHODS = frozenset({"begin_frame"})
FRAME_CLOSE_METHODS = frozenset({"end_frame", "end_frame_with_promotions"})
#: Methods that mark a point of the frame (``cp = alloc.frame_checkpoint()``, ``s =
#: alloc.scope_begin()``); the allocations made after it die at the matching rollback.
CHECKPOINT_METHODS = frozenset({"frame_checkpoint", "scope_begin"})
#: Methods that free every frame allocation made since their checkpoint argument.
ROLLBACK_METHODS = frozenset({"rollback_to", "frame_rollback_to", "scope_end"})
#: ``with alloc.<method>():`` blocks whose frame allocations die at the end of the block
#: (``checkpoint_guard`` only when the block did not ``commit()``).
SCOPE_WITH_METHODS = frozenset({"scope", "checkpoint_guard"})
#: Pool and heap allocations (long-lived memory, counted by FA301).
POOL_HEAP_METHODS = frozenset({"pool_alloc", "pool_box", "heap_box", "heap_array", "heap_vec",
                               "try_pool_alloc", "try_pool_box", "try_heap_array"})
#: Calls that give memory back inside a loop (FA301 does not count such loops as growing).
POOL_TASK_METHODS = frozenset({"free", "release", "release_many", "pool_free", "heap_free"})
#: Methods of arrays / frame objects that return a view of the same memory.
VIEW_METHODS = frozenset({"reshape", "view", "transpose", "swapaxes", "squeeze", "ravel",
                          "as_array", "diagonal", "__getitem__"})
#: Attributes of arrays that are plain metadata, not views of the data.
META_ATTRS = frozenset({"shape", "size", "dtype", "ndim", "nbytes", "itemsize", "strides",
                        "flags", "ctypes", "data", "__class__", "__len__", "capacity"})
#: NumPy functions that may return a view of their first argument.
NUMPY_VIEW_FUNCS = frozenset({"asarray", "asanyarray", "reshape", "ravel", "transpose",
                              "squeeze", "expand_dims", "moveaxis", "swapaxes", "atleast_1d",
                              "atleast_2d", "atleast_3d", "broadcast_to", "diagonal", "real",
                              "imag", "flip", "fliplr", "flipud", "rot90", "frombuffer",
                              "as_strided", "sliding_window_view"})
#: NumPy functions that allocate a new array (FA607 inside njit loops).
NUMPY_ALLOC_FUNCS = frozenset({"empty", "zeros", "ones", "full", "empty_like", "zeros_like",
                               "ones_like", "full_like", "array", "arange", "linspace", "copy",
                               "concatenate", "stack", "hstack", "vstack"})
#: NumPy functions whose output array may be passed positionally, by its position: a ufunc's
#: ``out`` follows its inputs (``np.add(a, b, out)``); ``np.dot(a, b, out)``, ``np.clip(a, lo, hi,
#: out)``. The call returns that array.
NUMPY_POSITIONAL_OUT: dict[str, int] = {
    **dict.fromkeys((
        "abs", "absolute", "fabs", "negative", "positive", "sqrt", "cbrt", "square", "exp",
        "exp2", "expm1", "log", "log2", "log10", "log1p", "sin", "cos", "tan", "arcsin", "arccos",
        "arctan", "sinh", "cosh", "tanh", "arcsinh", "arccosh", "arctanh", "floor", "ceil",
        "trunc", "rint", "sign", "reciprocal", "conj", "conjugate", "deg2rad", "rad2deg",
        "degrees", "radians", "isnan", "isinf", "isfinite", "logical_not", "invert",
        "bitwise_not", "signbit", "spacing"), 1),
    **dict.fromkeys((
        "add", "subtract", "multiply", "divide", "true_divide", "floor_divide", "power",
        "float_power", "mod", "remainder", "fmod", "maximum", "minimum", "fmax", "fmin", "hypot",
        "arctan2", "copysign", "nextafter", "logaddexp", "logaddexp2", "ldexp", "greater",
        "greater_equal", "less", "less_equal", "equal", "not_equal", "logical_and", "logical_or",
        "logical_xor", "bitwise_and", "bitwise_or", "bitwise_xor", "left_shift", "right_shift",
        "heaviside", "gcd", "lcm", "matmul", "dot"), 2),
    "clip": 3,
}
#: Array methods that take ``out=`` and then return that array (``x.sum(axis=0, out=y)``).
OUT_METHODS = frozenset({"sum", "prod", "mean", "std", "var", "min", "max", "argmin", "argmax",
                         "clip", "cumsum", "cumprod", "round", "dot", "take", "compress",
                         "choose", "ptp", "any", "all", "trace", "conj", "conjugate"})
#: Position of the dtype argument of frame allocations (also accepted as ``dtype=``).
_DTYPE_POS = {**dict.fromkeys(("frame_alloc", "frame_alloc_2", "frame_alloc_4", "frame_alloc_8",
                               "frame_slice", "frame_alloc_batch"), 0),
              **dict.fromkeys(("frame_array", "frame_zeros"), 1)}
#: Methods that store an argument into the receiver container.
CONTAINER_MUTATORS = frozenset({"append", "extend", "insert", "appendleft", "extendleft",
                                "setdefault", "update"})
QUEUE_CLASSES = frozenset({"Queue", "SimpleQueue", "LifoQueue", "PriorityQueue", "JoinableQueue"})
EXECUTOR_CLASSES = frozenset({"ThreadPoolExecutor", "ProcessPoolExecutor",
                              "InterpreterPoolExecutor", "Pool", "ThreadPool"})
CONTAINER_CTORS = frozenset({"list", "dict", "deque", "defaultdict", "OrderedDict", "List",
                             "Dict"})


def method_call(node: ast.AST) -> tuple[ast.expr, str] | None:
    """``(receiver, method)`` for ``receiver.method(...)``, else ``None``."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return node.func.value, node.func.attr
    return None


def receiver_key(node: ast.expr) -> str:
    """A stable text key for a receiver expression (``alloc``, ``self.alloc``)."""
    try:
        return ast.unparse(node)
    except Exception:  # pragma: no cover - unparse handles every expression node
        return "?"


def root_name(node: ast.expr) -> str | None:
    """The leftmost name of ``a.b[c].d`` (``"a"``), or None."""
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Starred)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def is_view_index(index: ast.expr) -> bool:
    """Whether ``arr[index]`` is certainly a view: slices, ``...``, ``None`` or a record field
    name. A plain integer or name index may give a scalar and is not followed."""
    elts = index.elts if isinstance(index, ast.Tuple) else [index]
    for e in elts:
        if isinstance(e, ast.Slice):
            return True
        if isinstance(e, ast.Constant) and (e.value is Ellipsis or e.value is None
                                            or isinstance(e.value, str)):
            return True
    return False


def is_frame_with_item(item: ast.withitem) -> str | None:
    """Receiver key if the with-item is ``<receiver>.frame(...)``."""
    mc = method_call(item.context_expr)
    if mc and mc[1] == "frame":
        return receiver_key(mc[0])
    return None


def is_task_frame_with_item(item: ast.withitem) -> str | None:
    """Receiver key if the with-item is ``<receiver>.task_frame(...)`` (``async with``): a frame
    that belongs to the running asyncio task, not to the thread."""
    return with_item_call(item, frozenset({"task_frame"}))


def with_item_call(item: ast.withitem, methods: frozenset[str]) -> str | None:
    """Receiver key if the with-item is ``<receiver>.<one of methods>(...)``."""
    mc = method_call(item.context_expr)
    if mc and mc[1] in methods:
        return receiver_key(mc[0])
    return None


def is_constant_true(test: ast.expr) -> bool:
    """``True``, ``1`` or another truthy constant (``while True:``)."""
    return isinstance(test, ast.Constant) and bool(test.value) and test.value is not Ellipsis


def frame_dtype_arg(call: ast.Call, method: str) -> ast.expr | None:
    """The dtype expression given to a frame allocation ``alloc.method(...)``, if any."""
    base = method[4:] if method.startswith("try_") else method
    for kw in call.keywords:
        if kw.arg == "dtype":
            return kw.value
    pos = _DTYPE_POS.get(base)
    if pos is not None and len(call.args) > pos:
        return call.args[pos]
    return None


def is_record_dtype_literal(expr: ast.expr | None) -> bool:
    """Whether ``expr`` spells a structured (record) dtype: ``np.dtype([...])``, a list of
    ``(name, type)`` fields, a ``{"names": ...}`` dict, or a comma-separated string (``"f4,i4"``).
    Elements of a record array are writable record views, not copies."""
    if isinstance(expr, ast.Call) and expr.args and _last_attr(expr.func) == "dtype":
        return is_record_dtype_literal(expr.args[0])
    if isinstance(expr, (ast.List, ast.Dict)):
        return True
    return isinstance(expr, ast.Constant) and isinstance(expr.value, str) and "," in expr.value


def _last_attr(node: ast.expr) -> str | None:
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else None
