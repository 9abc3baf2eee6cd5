"""docs/organisation.md and the tag/budget docstrings run as written; every FA15x code explained."""
from __future__ import annotations

import doctest
import importlib
import os

import pytest

import framealloc as fa
from framealloc import org_codes


@pytest.mark.parametrize("name", ["framealloc.tags"])
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name),
                             optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 5 and result.failed == 0


def test_docs_page_examples_run():
    path = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "organisation.md")
    result = doctest.testfile(os.path.abspath(path), module_relative=False,
                              optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 10 and result.failed == 0


def test_every_org_code_is_explained_and_raisable():
    for code, info in org_codes.CODES.items():
        text = fa.explain(code)
        assert text.startswith(f"{code} {info.title}") and len(text) > 60
        exc = getattr(org_codes, info.exception, None) or getattr(fa, info.exception)
        if issubclass(exc, fa.FrameAllocError):
            e = exc("something went wrong", code=code)
            assert e.code == code and str(e).startswith(code)
        else:
            assert exc.code == code
