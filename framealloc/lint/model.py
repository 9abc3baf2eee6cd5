"""The result type of the linter: one :class:`Diagnostic` per finding."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from .codes import CODES, Severity

__all__ = ["Diagnostic"]


@dataclass(frozen=True, order=True)
class Diagnostic:
    """One finding.

    ``line`` is 1-based; ``col`` is a 0-based character offset (formatters print it 1-based).
    ``cell`` is the 1-based index of the notebook code cell (``line`` is then inside that cell).
    """

    path: str
    line: int
    col: int
    code: str
    message: str = field(compare=False)
    severity: Severity = field(default="error", compare=False)
    cell: int | None = field(default=None, compare=False)

    @property
    def title(self) -> str:
        """The code's short title, e.g. ``"frame data stored on an object"``."""
        info = CODES.get(self.code)
        return info.title if info else ""

    def with_severity(self, severity: Severity) -> "Diagnostic":
        """A copy with another severity."""
        return replace(self, severity=severity)

    def location(self) -> str:
        """``path:line:col`` (1-based column), or ``path:cell_N:line:col`` for notebooks."""
        cell = f"cell_{self.cell}:" if self.cell is not None else ""
        return f"{self.path}:{cell}{self.line}:{self.col + 1}"
