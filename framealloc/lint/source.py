"""Source units: a ``.py`` file, or the code cells of a Jupyter notebook joined into one module.

Notebook cells are analysed together (state flows from cell to cell, as in a kernel) and findings
are mapped back to (cell, line). IPython syntax is neutralised without shifting lines: line magics
(``%timeit f()``), shell escapes (``!pip ...``) and help (``obj?``) become ``pass``; cells starting
with ``%%time``, ``%%timeit``, ``%%capture`` or ``%%prun`` keep their Python body, other cell magics
(``%%bash``, ``%%html``, ...) are skipped. A cell that still does not parse is skipped and named in
:attr:`SourceUnit.notes`.
"""
from __future__ import annotations

import ast
import json
import re
import tokenize
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["SourceUnit", "read_unit", "module_name"]

_PY_CELL_MAGICS = ("time", "timeit", "capture", "prun")
_LINE_MAGIC_RE = re.compile(r"^(\s*)(%|!|\?)")
_HELP_RE = re.compile(r"^(\s*)[\w.]+\?\??\s*$")


@dataclass
class SourceUnit:
    """One thing to analyse: its text and how to name its locations."""

    path: Path
    display: str
    text: str
    module: str
    relpath: str
    cell_of_line: list[tuple[int, int]] | None = None  # per joined line: (cell, line in cell)
    notes: list[str] = field(default_factory=list)

    def map_line(self, line: int) -> tuple[int | None, int]:
        """Map a line of :attr:`text` to ``(cell, line)`` (``cell`` is None for .py files)."""
        if self.cell_of_line is None or not 1 <= line <= len(self.cell_of_line):
            return None, line
        return self.cell_of_line[line - 1]


def module_name(relpath: str) -> str:
    """Dotted module name for a relative path: ``src/pkg/mod.py`` -> ``pkg.mod``."""
    parts = [p for p in relpath.replace("\\", "/").split("/") if p not in ("", ".")]
    if not parts:
        return ""
    last = parts[-1]
    for suffix in (".py", ".ipynb"):
        if last.endswith(suffix):
            parts[-1] = last[: -len(suffix)]
    if parts[-1] == "__init__":
        parts.pop()
    if parts and parts[0] == "src":
        parts.pop(0)
    return ".".join(parts)


def _neutralise(lines: list[str]) -> list[str] | None:
    """Rewrite IPython-only lines of one cell; ``None`` if the cell is not Python."""
    if lines and lines[0].lstrip().startswith("%%"):
        magic = lines[0].lstrip()[2:].split(None, 1)
        if not magic or magic[0] not in _PY_CELL_MAGICS:
            return None
        lines = ["pass\n", *lines[1:]]
    out = []
    for text in lines:
        m = _LINE_MAGIC_RE.match(text) or _HELP_RE.match(text)
        out.append(f"{m.group(1)}pass\n" if m else text)
    return out


def _notebook_cells(path: Path) -> list[list[str]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    cells: list[list[str]] = []
    for cell in data.get("cells", []):
        if cell.get("cell_type") != "code":
            cells.append([])  # keep numbering: cell N is the Nth cell of the notebook
            continue
        src = cell.get("source", "")
        text = "".join(src) if isinstance(src, list) else str(src)
        cells.append(text.splitlines(keepends=True))
    return cells


def _join_notebook(path: Path, unit: SourceUnit) -> None:
    joined: list[str] = []
    mapping: list[tuple[int, int]] = []
    for number, raw in enumerate(_notebook_cells(path), 1):
        if not raw:
            continue
        lines = _neutralise(raw)
        if lines is None:
            unit.notes.append(f"cell {number}: cell magic {raw[0].strip().split()[0]} skipped")
            lines = ["\n"] * len(raw)
        else:
            try:
                ast.parse("".join(lines))
            except SyntaxError as exc:
                unit.notes.append(f"cell {number}: not valid Python ({exc.msg}, line "
                                  f"{exc.lineno}); skipped")
                lines = ["\n"] * len(raw)
        for i, text in enumerate(lines, 1):
            joined.append(text if text.endswith("\n") else text + "\n")
            mapping.append((number, i))
    unit.text = "".join(joined)
    unit.cell_of_line = mapping


def read_unit(path: Path, root: Path) -> SourceUnit:
    """Read ``path`` (``.py`` or ``.ipynb``); locations are shown relative to ``root`` when
    ``path`` is inside it."""
    resolved = path.resolve()
    try:
        relpath = resolved.relative_to(root).as_posix()
    except ValueError:
        relpath = resolved.as_posix()
    display = path.as_posix()
    unit = SourceUnit(path=path, display=display, text="", module=module_name(relpath),
                      relpath=relpath)
    if path.suffix == ".ipynb":
        _join_notebook(path, unit)
    else:
        with tokenize.open(path) as handle:  # honours a PEP 263 coding cookie
            unit.text = handle.read()
    return unit
