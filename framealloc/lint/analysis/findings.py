"""Raw findings as the checks produce them (byte columns, no severity yet)."""
from __future__ import annotations

import ast
from collections.abc import Hashable
from dataclasses import dataclass

__all__ = ["Finding", "Emitter"]


@dataclass(frozen=True)
class Finding:
    """``code`` at ``line`` / ``col`` (0-based UTF-8 byte offset, as in :mod:`ast`)."""

    code: str
    line: int
    col: int
    message: str


class Emitter:
    """Collects findings; the same code at the same place is kept once (loops are analysed
    more than once).

    Findings emitted with a ``group`` are one problem seen at several places (a name used after
    its frame ended, several times in one statement): only the first place in the source is kept,
    unless ``show_all`` is set.
    """

    def __init__(self, show_all: bool = False) -> None:
        self.show_all = show_all
        self._seen: dict[tuple[str, int, int], Finding] = {}
        self._groups: dict[tuple[str, Hashable], Finding] = {}

    def emit(self, code: str, node: ast.AST, message: str, group: Hashable = None) -> None:
        """Record ``code`` at ``node``'s position (once per ``group`` when one is given)."""
        line, col = getattr(node, "lineno", 1), getattr(node, "col_offset", 0)
        if group is not None and not self.show_all:
            prev = self._groups.get((code, group))
            if prev is None or (line, col) < (prev.line, prev.col):
                self._groups[(code, group)] = Finding(code, line, col, message)
            return
        if (code, line, col) not in self._seen:
            self._seen[(code, line, col)] = Finding(code, line, col, message)

    @property
    def findings(self) -> list[Finding]:
        """All findings in source order."""
        merged = dict(self._seen)
        for f in self._groups.values():
            merged.setdefault((f.code, f.line, f.col), f)
        return sorted(merged.values(), key=lambda f: (f.line, f.col, f.code))
