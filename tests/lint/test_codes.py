"""The lint code registry: families, severities, explanations, and framealloc.explain."""
from __future__ import annotations

import re

import pytest

import framealloc
from framealloc.errors import CODES as RUNTIME_REGISTRY
from framealloc.errors import all_codes
from framealloc.lint.codes import CODES, FAMILIES, SEVERITY, family_of


@pytest.mark.parametrize("code", sorted(CODES))
def test_code_shape(code: str) -> None:
    info = CODES[code]
    assert re.fullmatch(r"FA[23678]\d\d", code)
    assert code[:3] in FAMILIES and family_of(code) != "unknown"
    assert SEVERITY[code] in ("error", "warning")
    assert info.code == code and info.title and info.title[0].islower()
    assert "What to do:" in info.explanation, "every explanation says what to do"
    assert f"# noqa: {code}" in info.explanation


@pytest.mark.parametrize("code", sorted(CODES))
def test_explain_knows_lint_codes(code: str) -> None:
    text = framealloc.explain(code.lower())
    assert text.splitlines()[0] == f"{code} {CODES[code].title}"


def test_lint_codes_do_not_collide_with_runtime_families() -> None:
    everything = all_codes()
    for code in CODES:
        assert everything[code] is CODES[code]
    runtime = [c for c in everything if c not in CODES]
    assert runtime, "the runtime registry is merged too"
    assert all(c[2] in "0145" for c in runtime)
    assert not set(CODES) & {c for c in RUNTIME_REGISTRY if RUNTIME_REGISTRY[c] is not CODES.get(c)}


def test_docs_table_matches_the_registry() -> None:
    from .helpers import REPO

    text = (REPO / "docs" / "lint.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (FA\d{3}) \| (error|warning) \|", text, flags=re.MULTILINE)
    assert dict(rows) == SEVERITY


@pytest.mark.parametrize("name", ["framealloc.lint", "framealloc.lint.engine"])
def test_docstring_examples(name: str) -> None:
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0
