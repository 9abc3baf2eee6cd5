"""GitHub Actions workflow commands: findings become annotations on the pull request."""
from __future__ import annotations

from ..engine import LintReport

__all__ = ["render"]


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _prop(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def render(report: LintReport) -> str:
    """One ``::error``/``::warning`` command per finding."""
    lines = []
    for d in report.diagnostics:
        title = f"{d.code} {d.title}" + (f" (cell {d.cell})" if d.cell is not None else "")
        lines.append(f"::{d.severity} file={_prop(d.path)},line={d.line},col={d.col + 1},"
                     f"title={_prop(title)}::{_data(d.message)}")
    for problem in report.failures:
        lines.append(f"::error title=framealloc lint::{_data(problem)}")
    return "\n".join(lines) + ("\n" if lines else "")
