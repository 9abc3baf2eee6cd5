"""Machine-readable JSON: ``{"version": 1, "summary": {...}, "diagnostics": [...]}``."""
from __future__ import annotations

import json

from ..engine import LintReport

__all__ = ["render", "SCHEMA_VERSION"]

#: Bumped only when a field changes meaning or disappears (new fields may be added).
SCHEMA_VERSION = 1


def render(report: LintReport) -> str:
    """The report as indented JSON; columns are 1-based."""
    data = {
        "version": SCHEMA_VERSION,
        "tool": "framealloc-lint",
        "summary": {"files": len(report.files), "errors": report.errors,
                    "warnings": report.warnings, "failures": report.failures},
        "diagnostics": [
            {"path": d.path, "line": d.line, "column": d.col + 1, "cell": d.cell,
             "code": d.code, "severity": d.severity, "title": d.title, "message": d.message}
            for d in report.diagnostics
        ],
    }
    return json.dumps(data, indent=2) + "\n"
