"""Raw findings as the checks produce them (byte columns, no severity yet)."""
from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Protocol

__all__ = ["Finding", "Emitter"]


@dataclass(frozen=True)
class Finding:
    """``code`` at ``line`` / ``col`` (0-based UTF-8 byte offset, as in :mod:`ast`)."""

    code: str
    line: int
    col: int
    message: str


class Position(Protocol):
    """Anything with a position to report at: an AST node, or a stand-in for one."""

    @property
    def lineno(self) -> int: ...

    @property
    def col_offset(self) -> int: ...


class Emitter:
    """Collects findings; the same code at the same place is kept once (loops are analysed
    more than once)."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, int, int], Finding] = {}

    def emit(self, code: str, node: ast.AST | Position, message: str) -> None:
        """Record ``code`` at ``node``'s position (line 1, column 0 for a node without one)."""
        key = (code, getattr(node, "lineno", 1), getattr(node, "col_offset", 0))
        if key not in self._seen:
            self._seen[key] = Finding(code, key[1], key[2], message)

    @property
    def findings(self) -> list[Finding]:
        """All findings in source order."""
        return sorted(self._seen.values(), key=lambda f: (f.line, f.col, f.code))
