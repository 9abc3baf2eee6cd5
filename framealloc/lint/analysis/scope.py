"""Per-scope facts (a function body or the module body) gathered before the flow walk."""
from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field

from .calls import (FRAME_CLOSE_METHODS, FRAME_OPEN_METHODS, is_frame_with_item,
                    is_task_frame_with_item, method_call, receiver_key)
from .context import ModuleContext

__all__ = ["ScopeInfo", "scope_nodes", "FunctionNode"]

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef
_NESTED = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)


def scope_nodes(body: list[ast.stmt]) -> Iterator[ast.AST]:
    """Every node of ``body`` that belongs to this scope: nested functions, classes and lambdas
    are yielded but not entered."""
    stack: list[ast.AST] = list(reversed(body))
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, _NESTED):
            continue
        stack.extend(reversed(list(ast.iter_child_nodes(node))))


def _param_names(args: ast.arguments) -> list[str]:
    names = [a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)]
    names += [a.arg for a in (args.vararg, args.kwarg) if a is not None]
    return names


def _is_staticmethod(func: FunctionNode) -> bool:
    return any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in func.decorator_list)


@dataclass
class ScopeInfo:
    """What one scope declares and does, syntactically."""

    node: ast.Module | FunctionNode
    is_module: bool
    is_async: bool = False
    params: set[str] = field(default_factory=set)
    self_name: str | None = None
    cls: ast.ClassDef | None = None
    declared_global: set[str] = field(default_factory=set)
    declared_nonlocal: set[str] = field(default_factory=set)
    local_names: set[str] = field(default_factory=set)
    opens: set[str] = field(default_factory=set)   # receivers of begin_frame / with .frame()
    close_sites: dict[str, list[tuple[int, int]]] = field(default_factory=dict)  # end_frame calls

    @classmethod
    def build(cls, node: ast.Module | FunctionNode, ctx: ModuleContext) -> "ScopeInfo":
        """Scan the scope of ``node``."""
        if isinstance(node, ast.Module):
            info = cls(node, is_module=True)
        else:
            info = cls(node, is_module=False, is_async=isinstance(node, ast.AsyncFunctionDef))
            params = _param_names(node.args)
            info.params = set(params)
            info.cls = ctx.enclosing_class(node)
            if info.cls is not None and params and not _is_staticmethod(node):
                info.self_name = params[0]
        for sub in scope_nodes(node.body):
            if isinstance(sub, ast.Global):
                info.declared_global.update(sub.names)
            elif isinstance(sub, ast.Nonlocal):
                info.declared_nonlocal.update(sub.names)
            elif isinstance(sub, ast.Name) and isinstance(sub.ctx, (ast.Store, ast.Del)):
                info.local_names.add(sub.id)
            elif isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                info.local_names.add(sub.name)
            elif isinstance(sub, (ast.Import, ast.ImportFrom)):
                info.local_names.update((a.asname or a.name).split(".")[0] for a in sub.names)
            elif isinstance(sub, ast.withitem):
                key = is_frame_with_item(sub) or is_task_frame_with_item(sub)
                if key is not None:
                    info.opens.add(key)
            mc = method_call(sub)
            if mc and mc[1] in FRAME_OPEN_METHODS:
                info.opens.add(receiver_key(mc[0]))
            elif mc and mc[1] in FRAME_CLOSE_METHODS and isinstance(sub, ast.Call):
                info.close_sites.setdefault(receiver_key(mc[0]), []).append(
                    (sub.lineno, sub.col_offset))
        info.local_names -= info.declared_global | info.declared_nonlocal
        return info

    def outliving(self, root: str, ctx: ModuleContext) -> str | None:
        """Whether the object named ``root`` outlives this scope: ``"self"``, ``"param"``,
        ``"global"`` or None (a local, or anything at module level)."""
        if self.is_module:
            return None
        if root == self.self_name:
            return "self"
        if root in self.params:
            return "param"
        if root in self.declared_global or root in self.declared_nonlocal:
            return "global"
        if root not in self.local_names and root in ctx.module_names:
            return "global"
        return None
