"""flake8 plugin: the same checks as ``framealloc lint``, reported as ``FAnnn`` codes.

Registered in pyproject.toml as ``[project.entry-points."flake8.extension"] FA = ...``. flake8
handles ``--select``/``--ignore`` and ``# noqa``; the plugin also honours ``[tool.framealloc.lint]``
from the nearest pyproject.toml (select, ignore, per-file-ignores, tags, tag-modules) and
``# framealloc: allow CODE`` comments.
"""
from __future__ import annotations

import ast
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from .codes import CODES
from .config import LintConfig, config_for
from .engine import find_problems
from .source import module_name
from .suppress import Suppressions

__all__ = ["FrameAllocChecker"]

_CONFIGS: dict[Path, LintConfig] = {}
try:
    from framealloc import __version__ as _VERSION
except ImportError:  # pragma: no cover - the package always defines it
    _VERSION = "0"


def _config(filename: str) -> LintConfig:
    directory = Path(filename).resolve().parent if filename not in ("stdin", "-") else Path.cwd()
    if directory not in _CONFIGS:
        _CONFIGS[directory] = config_for(directory)
    return _CONFIGS[directory]


class FrameAllocChecker:
    """flake8 AST checker yielding ``(line, col, "FAnnn message", type)``."""

    name = "framealloc"
    version = _VERSION

    def __init__(self, tree: ast.Module, filename: str = "stdin",
                 lines: Sequence[str] | None = None) -> None:
        self.tree = tree
        self.filename = filename
        self.lines = list(lines or [])

    def run(self) -> Iterator[tuple[int, int, str, type[Any]]]:
        """Yield the findings for this file."""
        config = _config(self.filename)
        root = config.root or Path.cwd().resolve()
        try:
            relpath = Path(self.filename).resolve().relative_to(root).as_posix()
        except ValueError:
            relpath = Path(self.filename).as_posix()
        allow = Suppressions("".join(self.lines), noqa=False)
        enabled = config.enabled_codes()
        for f in find_problems(self.tree, config, module_name(relpath), relpath):
            if f.code not in CODES or f.code not in enabled:
                continue
            if not config.is_enabled(f.code, relpath) or allow.is_suppressed(f.code, f.line):
                continue
            yield f.line, f.col, f"{f.code} {f.message}", type(self)
