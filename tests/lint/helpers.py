"""Shared helpers for the lint tests: fixture paths and `# expect:` markers."""
from __future__ import annotations

import re
from pathlib import Path

from framealloc.lint import config_for, lint_paths

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).resolve().parents[2]
_EXPECT_RE = re.compile(r"#\s*expect:\s*((?:FA\d{3}[\s,]*)+)")


def expected(path: Path) -> set[tuple[int, str]]:
    """``(line, code)`` pairs marked with ``# expect: FAnnn`` in a fixture."""
    out = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        m = _EXPECT_RE.search(line)
        if m:
            out |= {(number, code) for code in re.findall(r"FA\d{3}", m.group(1))}
    return out


def found(path: Path) -> set[tuple[int, str]]:
    """``(line, code)`` pairs the linter reports for a fixture, with the fixtures' config."""
    report = lint_paths([path], config_for(path))
    assert not report.failures, report.failures
    return {(d.line, d.code) for d in report.diagnostics}


def codes_in(text_src: str) -> list[str]:
    """Codes reported for a source snippet (default configuration), in order."""
    from framealloc.lint import lint_source

    return [d.code for d in lint_source(text_src)]
