"""FA607: heap allocation inside loops of ``@njit`` functions."""
from __future__ import annotations

import ast

from .calls import NUMPY_ALLOC_FUNCS, method_call
from .context import ModuleContext, value_kind
from .findings import Emitter
from .scope import scope_nodes

__all__ = ["check_njit_loops", "is_nopython"]

_NOPYTHON_DECORATORS = frozenset({"numba.njit", "numba.jit", "numba.cfunc", "njit", "jit", "cfunc"})
_LIST_GROWERS = frozenset({"append", "extend", "insert"})


def is_nopython(func: ast.FunctionDef | ast.AsyncFunctionDef, ctx: ModuleContext) -> bool:
    """Whether a decorator compiles ``func`` in nopython mode: ``@njit``, ``@numba.njit(...)``,
    ``@jit`` / ``@jit(nopython=True)`` (numba >= 0.59 defaults to nopython) or ``@cfunc(...)``;
    ``@jit(forceobj=True)`` and ``@jit(nopython=False)`` are object mode."""
    for deco in func.decorator_list:
        target, keywords = (deco.func, deco.keywords) if isinstance(deco, ast.Call) else (deco, [])
        qual = ctx.qualname(target)
        if qual not in _NOPYTHON_DECORATORS:
            continue
        flags = {k.arg: k.value for k in keywords if k.arg}
        forceobj = flags.get("forceobj")
        nopython = flags.get("nopython")
        if isinstance(forceobj, ast.Constant) and forceobj.value:
            continue
        if isinstance(nopython, ast.Constant) and not nopython.value:
            continue
        return True
    return False


def _local_lists(func: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    names: set[str] = set()
    for node in scope_nodes(func.body):
        if isinstance(node, ast.Assign) and value_kind(node.value) == "container":
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def _loop_body_nodes(loop: ast.For | ast.While) -> list[ast.AST]:
    parts: list[ast.AST] = [*loop.body, *loop.orelse]
    if isinstance(loop, ast.While):
        parts.append(loop.test)
    nodes: list[ast.AST] = []
    for part in parts:
        nodes.extend(scope_nodes([part]) if isinstance(part, ast.stmt) else ast.walk(part))
    return nodes


def check_njit_loops(ctx: ModuleContext, out: Emitter) -> None:
    """Report NumPy allocations and list growth inside loops of nopython functions."""
    for func in ast.walk(ctx.tree):
        if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        if not is_nopython(func, ctx):
            continue
        lists = _local_lists(func)
        for loop in scope_nodes(func.body):
            if not isinstance(loop, (ast.For, ast.While)):
                continue
            for node in _loop_body_nodes(loop):
                if not isinstance(node, ast.Call):
                    continue
                qual = ctx.qualname(node.func) or ""
                short = qual.rsplit(".", 1)[-1]
                if qual.startswith(("numpy.", "np.")) and short in NUMPY_ALLOC_FUNCS:
                    out.emit("FA607", node,
                             f"`{ast.unparse(node.func)}(...)` allocates on every iteration of the "
                             f"loop at line {loop.lineno} in @njit function `{func.name}`; pass "
                             "`alloc` in and use `alloc.frame_array(...)` per iteration, allocate "
                             "the batch once with `alloc.frame_alloc_batch(dtype, n)`, or hoist it "
                             "out of the loop")
                    continue
                mc = method_call(node)
                if (mc and mc[1] in _LIST_GROWERS and isinstance(mc[0], ast.Name)
                        and mc[0].id in lists):
                    out.emit("FA607", node,
                             f"`{mc[0].id}.{mc[1]}(...)` grows a list on every iteration of the "
                             f"loop at line {loop.lineno} in @njit function `{func.name}`; use a "
                             "preallocated frame array (`alloc.frame_array(n, dtype)` plus a "
                             "count) or `alloc.frame_vec(dtype, capacity)`")
