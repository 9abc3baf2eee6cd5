"""Run every check over a source text or a set of files and produce :class:`Diagnostic` s."""
from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .analysis.budgets import check_unbounded_loops
from .analysis.context import ModuleContext
from .analysis.findings import Emitter, Finding
from .analysis.flow import FlowChecker
from .analysis.njit import check_njit_loops
from .analysis.tags import check_tags
from .config import LintConfig
from .discovery import iter_files
from .model import Diagnostic
from .source import SourceUnit, module_name, read_unit
from .suppress import Suppressions

__all__ = ["find_problems", "lint_source", "lint_unit", "lint_paths", "LintReport"]


def find_problems(tree: ast.Module, config: LintConfig, module: str = "",
                  relpath: str = "") -> list[Finding]:
    """All raw findings for a parsed module (no selection or suppression applied)."""
    ctx = ModuleContext.build(tree)
    out = Emitter(show_all=config.show_all)
    FlowChecker(ctx, out).run()
    check_njit_loops(ctx, out)
    check_unbounded_loops(ctx, out)
    check_tags(tree, out, config.tags, config.tag_modules, module, relpath)
    return out.findings


def _char_col(lines: list[str], line: int, byte_col: int) -> int:
    if not 1 <= line <= len(lines):
        return byte_col
    return len(lines[line - 1].encode("utf-8")[:byte_col].decode("utf-8", errors="replace"))


def _finish(findings: list[Finding], text: str, config: LintConfig, display: str, relpath: str,
            noqa: bool, unit: SourceUnit | None = None) -> list[Diagnostic]:
    enabled = config.enabled_codes()
    suppress = Suppressions(text, noqa=noqa)
    lines = text.splitlines()
    result = []
    for f in findings:
        if f.code not in enabled or not config.is_enabled(f.code, relpath):
            continue
        if suppress.is_suppressed(f.code, f.line):
            continue
        cell, line = unit.map_line(f.line) if unit is not None else (None, f.line)
        result.append(Diagnostic(display, line, _char_col(lines, f.line, f.col), f.code,
                                 f.message, config.severity_of(f.code), cell))
    return sorted(result, key=lambda d: (d.cell or 0, d.line, d.col, d.code))


def lint_source(text: str, path: str = "<string>", config: LintConfig | None = None, *,
                module: str | None = None, relpath: str | None = None,
                noqa: bool = True) -> list[Diagnostic]:
    """Lint Python source ``text``. Raises :class:`SyntaxError` if it does not parse.

    >>> src = ("def f(alloc):\\n    with alloc.frame():\\n"
    ...        "        a = alloc.frame_array(3, 'f4')\\n        return a\\n")
    >>> [d.code for d in lint_source(src)]
    ['FA604']
    """
    config = config or LintConfig()
    relpath = relpath if relpath is not None else path
    module = module if module is not None else module_name(relpath)
    tree = ast.parse(text, filename=path)
    return _finish(find_problems(tree, config, module, relpath), text, config, path, relpath, noqa)


def lint_unit(unit: SourceUnit, config: LintConfig) -> list[Diagnostic]:
    """Lint one file or notebook; raises :class:`SyntaxError` if a ``.py`` file does not parse."""
    tree = ast.parse(unit.text, filename=unit.display)
    findings = find_problems(tree, config, unit.module, unit.relpath)
    return _finish(findings, unit.text, config, unit.display, unit.relpath, True, unit)


@dataclass
class LintReport:
    """The outcome of linting files: diagnostics, the files checked, and files that could not be
    analysed (with why)."""

    diagnostics: list[Diagnostic] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def errors(self) -> int:
        """Number of error-severity diagnostics."""
        return sum(d.severity == "error" for d in self.diagnostics)

    @property
    def warnings(self) -> int:
        """Number of warning-severity diagnostics."""
        return sum(d.severity == "warning" for d in self.diagnostics)


def lint_paths(paths: Iterable[Path], config: LintConfig,
               extra_exclude: Iterable[str] = ()) -> LintReport:
    """Lint files and directories (``.py`` and ``.ipynb``; directories are searched recursively,
    skipping excluded paths)."""
    report = LintReport()
    root = config.root or Path.cwd().resolve()
    for path in iter_files(paths, root, (*config.exclude, *extra_exclude)):
        try:
            unit = read_unit(path, root)
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            report.failures.append(f"{path.as_posix()}: cannot read: {exc}")
            continue
        report.files.append(unit.display)
        report.notes.extend(f"{unit.display}: {note}" for note in unit.notes)
        try:
            report.diagnostics.extend(lint_unit(unit, config))
        except SyntaxError as exc:
            report.failures.append(f"{unit.display}:{exc.lineno or 0}: not valid Python "
                                   f"({exc.msg}); fix the syntax error to lint this file")
    return report
