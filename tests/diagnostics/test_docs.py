"""The examples in the diagnostics modules' docstrings run (doctest)."""
from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["framealloc.history", "framealloc.snapshot", "framealloc.errors", "framealloc.report",
           "framealloc.trace", "framealloc.plotting", "framealloc.behaviour", "framealloc.config"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    mod = importlib.import_module(name)
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_docs_page_examples_run():
    import os
    path = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "diagnostics.md")
    result = doctest.testfile(os.path.abspath(path), module_relative=False,
                              optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 15 and result.failed == 0
