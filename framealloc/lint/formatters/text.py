"""Human-readable output: one ``path:line:col: CODE [severity] message`` line per finding."""
from __future__ import annotations

from ..engine import LintReport

__all__ = ["render"]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def render(report: LintReport) -> str:
    """The findings, then a summary line."""
    lines = [f"{d.location()}: {d.code} [{d.severity}] {d.message}" for d in report.diagnostics]
    files = _plural(len(report.files), "file")
    if report.diagnostics:
        lines.append(f"Found {_plural(report.errors, 'error')} and "
                     f"{_plural(report.warnings, 'warning')} in {files}. "
                     "Run `framealloc explain CODE` for details.")
    else:
        lines.append(f"No framealloc findings in {files}.")
    return "\n".join(lines) + "\n"
