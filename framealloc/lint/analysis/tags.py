"""FA801/FA802: tags that are not declared, or used outside the modules allowed to use them."""
from __future__ import annotations

import ast
import fnmatch
from collections.abc import Sequence

from .calls import method_call
from .findings import Emitter

__all__ = ["check_tags", "tag_uses"]

_TAG_METHODS = frozenset({"tag", "with_tag", "set_tag_budget", "tag_id"})
_NESTING = frozenset({"tag", "with_tag"})


def _literal_tag(call: ast.Call) -> str | None:
    arg: ast.expr | None = call.args[0] if call.args else None
    for kw in call.keywords:
        if kw.arg in ("name", "tag"):
            arg = kw.value
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value
    return None


def tag_uses(tree: ast.Module) -> list[tuple[ast.Call, str, str]]:
    """``(call, name, path)`` for every tag named by a string literal. ``path`` joins the names
    of enclosing ``with x.tag(...)`` blocks in the same function with ``::``."""
    uses: list[tuple[ast.Call, str, str]] = []

    def visit(node: ast.AST, stack: tuple[str, ...]) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            stack = ()
        if isinstance(node, (ast.With, ast.AsyncWith)):
            inner = stack
            for item in node.items:
                visit(item.context_expr, inner)
                mc = method_call(item.context_expr)
                if mc and mc[1] == "tag":
                    name = _literal_tag(item.context_expr)  # type: ignore[arg-type]
                    if name is not None:
                        inner = (*inner, name)
            for stmt in node.body:
                visit(stmt, inner)
            return
        if isinstance(node, ast.Call):
            mc = method_call(node)
            if mc and mc[1] in _TAG_METHODS:
                name = _literal_tag(node)
                if name is not None:
                    nested = mc[1] in _NESTING
                    path = "::".join((*stack, name)) if nested else name
                    uses.append((node, name, path))
        for child in ast.iter_child_nodes(node):
            visit(child, stack)

    visit(tree, ())
    return uses


def _declared(name: str, path: str, declared: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, pat) or fnmatch.fnmatchcase(path, pat)
               for pat in declared)


def _rule_for(path: str, name: str,
              rules: dict[str, tuple[str, ...]]) -> tuple[str, tuple[str, ...]] | None:
    parts = path.split("::")
    for n in range(len(parts), 0, -1):
        key = "::".join(parts[:n])
        if key in rules:
            return key, rules[key]
    if name in rules:
        return name, rules[name]
    return None


def check_tags(tree: ast.Module, out: Emitter, declared: Sequence[str],
               rules: dict[str, tuple[str, ...]], module: str, relpath: str) -> None:
    """FA801 for tags outside ``declared`` (when it is non-empty); FA802 for tags whose
    allow-list in ``rules`` matches neither ``module`` nor ``relpath``."""
    if not declared and not rules:
        return
    for call, name, path in tag_uses(tree):
        if declared and not _declared(name, path, declared):
            shown = f"'{name}'" + (f" (path '{path}')" if path != name else "")
            out.emit("FA801", call,
                     f"tag {shown} is not declared in [tool.framealloc.lint] tags; fix the name "
                     f"or add it to tags (declared: {', '.join(declared)})")
        rule = _rule_for(path, name, rules)
        if rule is not None:
            key, globs = rule
            if not any(fnmatch.fnmatchcase(module, g) or fnmatch.fnmatchcase(relpath, g)
                       for g in globs):
                out.emit("FA802", call,
                         f"tag '{path}' may only be used in modules matching "
                         f"{', '.join(globs)} ([tool.framealloc.lint.tag-modules] {key}), not in "
                         f"'{module or relpath}'; use this module's own tag or extend the "
                         "allow-list")
