"""Module-wide facts the checks share: import aliases, what module-level names and ``self``
attributes hold (queues, executors, containers, frame layouts), and which receivers end frames."""
from __future__ import annotations

import ast
from dataclasses import dataclass, field

from .calls import (CONTAINER_CTORS, EXECUTOR_CLASSES, FRAME_CLOSE_METHODS, QUEUE_CLASSES,
                    is_record_dtype_literal, method_call, receiver_key)

__all__ = ["ModuleContext", "value_kind", "LAYOUT_PREFIX"]

#: Classes whose begin/end_frame drive the frames of other allocators (all their data ends).
DRIVER_CLASSES = frozenset({"UnifiedAllocator"})
#: Kind prefix of names bound to ``alloc.frame_layout(...)``: ``"layout:<allocator key>"``.
LAYOUT_PREFIX = "layout:"


def _last_name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return None


def value_kind(value: ast.expr | None) -> str | None:
    """What an assigned value is, as far as the checks care: ``"queue"``, ``"executor"``,
    ``"container"``, ``"driver"`` or ``"layout:<allocator>"``; None otherwise."""
    if value is None:
        return None
    if isinstance(value, (ast.List, ast.Dict, ast.ListComp, ast.DictComp)):
        return "container"
    if not isinstance(value, ast.Call):
        return None
    mc = method_call(value)
    if mc and mc[1] == "frame_layout":
        return LAYOUT_PREFIX + receiver_key(mc[0])
    name = _last_name(value.func)
    if name in QUEUE_CLASSES:
        return "queue"
    if name in EXECUTOR_CLASSES:
        return "executor"
    if name in DRIVER_CLASSES:
        return "driver"
    if name in CONTAINER_CTORS or (mc and mc[1] == "empty_list"):
        return "container"
    return None


@dataclass
class ModuleContext:
    """Facts gathered in one pass over a module."""

    tree: ast.Module
    aliases: dict[str, str] = field(default_factory=dict)
    module_names: set[str] = field(default_factory=set)
    module_kinds: dict[str, str] = field(default_factory=dict)
    class_attr_kinds: dict[ast.ClassDef, dict[str, str]] = field(default_factory=dict)
    closers: set[str] = field(default_factory=set)  # receivers of end_frame() calls anywhere
    record_dtypes: set[str] = field(default_factory=set)  # module names bound to record dtypes
    parents: dict[ast.AST, ast.AST] = field(default_factory=dict)

    @classmethod
    def build(cls, tree: ast.Module) -> "ModuleContext":
        """Scan ``tree`` once."""
        ctx = cls(tree)
        for stmt in tree.body:
            ctx._module_binding(stmt)
        for node in ast.walk(tree):
            for child in ast.iter_child_nodes(node):
                ctx.parents[child] = node
            if isinstance(node, ast.Import):
                for a in node.names:
                    local = a.asname or a.name.split(".")[0]
                    ctx.aliases[local] = a.name if a.asname else local
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for a in node.names:
                    ctx.aliases[a.asname or a.name] = f"{node.module}.{a.name}"
            elif isinstance(node, ast.ClassDef):
                ctx.class_attr_kinds[node] = ctx._self_kinds(node)
            mc = method_call(node)
            if mc and mc[1] in FRAME_CLOSE_METHODS:
                ctx.closers.add(receiver_key(mc[0]))
        return ctx

    def _module_binding(self, stmt: ast.stmt) -> None:
        targets: list[ast.expr] = []
        value = None
        if isinstance(stmt, ast.Assign):
            targets, value = stmt.targets, stmt.value
        elif isinstance(stmt, (ast.AnnAssign, ast.AugAssign)):
            targets, value = [stmt.target], stmt.value
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            self.module_names.add(stmt.name)
        elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
            self.module_names.update((a.asname or a.name).split(".")[0] for a in stmt.names)
        elif isinstance(stmt, (ast.If, ast.Try, ast.With, ast.For, ast.While)):
            for child in ast.iter_child_nodes(stmt):
                if isinstance(child, ast.stmt):
                    self._module_binding(child)
            for handler in getattr(stmt, "handlers", []):
                for child in handler.body:
                    self._module_binding(child)
        for target in targets:
            for node in ast.walk(target):
                if isinstance(node, ast.Name):
                    self.module_names.add(node.id)
            if isinstance(target, ast.Name):
                kind = value_kind(value)
                if kind:
                    self.module_kinds[target.id] = kind
                if isinstance(stmt, ast.AugAssign):
                    continue
                if is_record_dtype_literal(value):
                    self.record_dtypes.add(target.id)
                else:
                    self.record_dtypes.discard(target.id)

    @staticmethod
    def _self_kinds(cls_node: ast.ClassDef) -> dict[str, str]:
        kinds: dict[str, str] = {}
        for node in ast.walk(cls_node):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)
                            and target.value.id == "self"):
                        kind = value_kind(node.value)
                        if kind:
                            kind = _self_layout(kind)
                            kinds[target.attr] = kind
        return kinds

    def qualname(self, node: ast.expr) -> str | None:
        """Dotted name of ``node``, import aliases resolved: ``np.empty`` -> ``numpy.empty``."""
        parts: list[str] = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            return None
        parts.append(self.aliases.get(node.id, node.id))
        return ".".join(reversed(parts))

    def is_record_dtype(self, expr: ast.expr | None) -> bool:
        """Whether ``expr`` is a record dtype: spelled out, or a module-level name bound to one."""
        if isinstance(expr, ast.Name):
            return expr.id in self.record_dtypes
        return is_record_dtype_literal(expr)

    def enclosing_class(self, func: ast.AST) -> ast.ClassDef | None:
        """The class whose body defines ``func`` directly, if any."""
        parent = self.parents.get(func)
        return parent if isinstance(parent, ast.ClassDef) else None


def _self_layout(kind: str) -> str:
    """A layout made in ``__init__`` from a parameter (``alloc``) is keyed by any allocator:
    the parameter name means nothing in other methods."""
    if kind.startswith(LAYOUT_PREFIX) and not kind[len(LAYOUT_PREFIX):].startswith("self."):
        return LAYOUT_PREFIX + "*"
    return kind
