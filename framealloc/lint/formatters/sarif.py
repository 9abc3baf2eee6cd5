"""SARIF 2.1.0 (GitHub code scanning and other SARIF viewers)."""
from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

from ..codes import CODES, SEVERITY, family_of
from ..engine import LintReport

__all__ = ["render", "SARIF_SCHEMA_URI"]

SARIF_SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
_TOOL = "framealloc-lint"


def _version() -> str:
    try:
        from framealloc import __version__
    except ImportError:  # pragma: no cover - the package always defines it
        return "0"
    return str(__version__)


def _uri(path: str) -> str:
    p = Path(path)
    if p.is_absolute():
        return p.as_uri()
    return quote(p.as_posix())


def _rule(code: str) -> dict[str, object]:
    info = CODES[code]
    summary = info.explanation.split("\n\n")[0].split("What to do:")[0].strip()
    return {
        "id": code,
        "name": "".join(w.capitalize() for w in info.title.replace("-", " ").split()
                        if w.isalnum()) or code,
        "shortDescription": {"text": info.title},
        "fullDescription": {"text": " ".join(summary.split())},
        "help": {"text": info.explanation,
                 "markdown": f"**{code} {info.title}**\n\n{info.explanation}\n\n"
                             f"Run `framealloc explain {code}` for this text."},
        "defaultConfiguration": {"level": SEVERITY[code]},
        "properties": {"tags": ["framealloc", family_of(code)]},
    }


def render(report: LintReport) -> str:
    """One run with every lint code as a rule; one result per finding."""
    codes = sorted(CODES)
    index = {code: i for i, code in enumerate(codes)}
    results = []
    for d in report.diagnostics:
        result: dict[str, object] = {
            "ruleId": d.code,
            "ruleIndex": index[d.code],
            "level": d.severity,
            "message": {"text": d.message},
            "locations": [{"physicalLocation": {
                "artifactLocation": {"uri": _uri(d.path)},
                "region": {"startLine": d.line, "startColumn": d.col + 1},
            }}],
        }
        if d.cell is not None:
            result["properties"] = {"notebookCell": d.cell}
        results.append(result)
    log = {
        "$schema": SARIF_SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": _TOOL, "version": _version(),
                                "rules": [_rule(c) for c in codes]}},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    }
    return json.dumps(log, indent=2) + "\n"
