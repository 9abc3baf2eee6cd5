"""FA301: allocation in an unbounded loop of a module that sets no budget.

A loop is *unbounded* when its condition is a constant true value (``while True:``, ``while 1:``)
or it iterates ``itertools.count()``. It *grows* when its body (nested functions excluded)
allocates frame memory without ending the frame in the loop (no ``end_frame()`` call in the body
and the allocation not inside a ``with alloc.frame():`` in the body), or allocates pool/heap memory
that is neither a ``with`` item nor given back in the loop (``free()``/``release()``).
A *budget* is any ``set_*budget*(...)`` call in the module, an ``AllocConfig(...)`` call with a
keyword naming a budget, or an assignment to an attribute naming a budget.
"""
from __future__ import annotations

import ast
import re

from .calls import (FRAME_ALLOC_METHODS, FRAME_CLOSE_METHODS, POOL_HEAP_METHODS,
                    POOL_TASK_METHODS, is_constant_true, is_frame_with_item,
                    is_task_frame_with_item, method_call)
from .context import ModuleContext
from .findings import Emitter
from .scope import scope_nodes

__all__ = ["check_unbounded_loops", "module_sets_budget"]

_BUDGET_CALL_RE = re.compile(r"^set_\w*budget\w*$")


def module_sets_budget(ctx: ModuleContext) -> bool:
    """Whether the module sets any budget (see the module docstring)."""
    for node in ast.walk(ctx.tree):
        if isinstance(node, ast.Call):
            name = (node.func.attr if isinstance(node.func, ast.Attribute)
                    else node.func.id if isinstance(node.func, ast.Name) else "")
            if _BUDGET_CALL_RE.match(name):
                return True
            if name == "AllocConfig" and any(k.arg and "budget" in k.arg for k in node.keywords):
                return True
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Attribute) and "budget" in t.attr for t in targets):
                return True
    return False


def _unbounded(loop: ast.AST, ctx: ModuleContext) -> str | None:
    if isinstance(loop, ast.While) and is_constant_true(loop.test):
        return f"`while {ast.unparse(loop.test)}:`"
    if (isinstance(loop, (ast.For, ast.AsyncFor)) and isinstance(loop.iter, ast.Call)
            and ctx.qualname(loop.iter.func) == "itertools.count"):
        return "`for ... in itertools.count()`"
    return None


def _inside_frame_with(node: ast.AST, loop: ast.AST, ctx: ModuleContext) -> bool:
    parent = ctx.parents.get(node)
    while parent is not None and parent is not loop:
        if isinstance(parent, (ast.With, ast.AsyncWith)) and any(
                is_frame_with_item(item) is not None
                or is_task_frame_with_item(item) is not None for item in parent.items):
            return True
        parent = ctx.parents.get(parent)
    return False


def _is_with_item(node: ast.AST, ctx: ModuleContext) -> bool:
    return isinstance(ctx.parents.get(node), ast.withitem)


def check_unbounded_loops(ctx: ModuleContext, out: Emitter) -> None:
    """Report the first growing allocation of each unbounded loop, unless a budget is set."""
    if module_sets_budget(ctx):
        return
    for loop in ast.walk(ctx.tree):
        kind = _unbounded(loop, ctx)
        if kind is None or not isinstance(loop, (ast.While, ast.For, ast.AsyncFor)):
            continue
        body = list(scope_nodes(loop.body))
        methods = {mc[1] for n in body if (mc := method_call(n))}
        ends_frame = bool(methods & FRAME_CLOSE_METHODS)
        gives_back = bool(methods & POOL_TASK_METHODS)
        for node in body:
            mc = method_call(node)
            if not mc or not isinstance(node, ast.Call):     # (a method call is an ast.Call)
                continue
            if mc[1] in FRAME_ALLOC_METHODS:
                if ends_frame or _inside_frame_with(node, loop, ctx):
                    continue
                what = "frame memory that is never reset inside the loop"
            elif mc[1] in POOL_HEAP_METHODS:
                if gives_back or _is_with_item(node, ctx):
                    continue
                what = "pool/heap memory that is never given back inside the loop"
            else:
                continue
            out.emit("FA301", node,
                     f"`{ast.unparse(node.func)}(...)` allocates {what}, in the unbounded loop "
                     f"{kind} at line {loop.lineno}, and this module sets no budget: memory can "
                     "grow without limit; end the frame each iteration, or set a limit with "
                     "`alloc.set_thread_frame_budget(...)`, `alloc.set_tag_budget(tag, ...)` or a "
                     "budget in `AllocConfig(...)`")
            break
