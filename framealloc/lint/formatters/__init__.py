"""Output formats for lint reports: text, json, sarif, junit, github."""
from __future__ import annotations

from collections.abc import Callable

from ..engine import LintReport
from . import github, json_format, junit, sarif, text

__all__ = ["FORMATTERS", "render"]

#: Format name -> function rendering a report to a string.
FORMATTERS: dict[str, Callable[[LintReport], str]] = {
    "text": text.render,
    "json": json_format.render,
    "sarif": sarif.render,
    "junit": junit.render,
    "github": github.render,
}


def render(report: LintReport, fmt: str) -> str:
    """Render ``report`` in format ``fmt``."""
    return FORMATTERS[fmt](report)
