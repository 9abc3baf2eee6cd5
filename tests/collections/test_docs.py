"""Docstring examples of the collection modules run; importing them imports no numba."""
from __future__ import annotations

import doctest
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

MODULES = ["framealloc.collections", "framealloc.collection_codes"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    mod = importlib.import_module(name)
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_importing_the_collections_imports_no_numba():
    code = ("import sys, framealloc, framealloc.collections, framealloc.collection_codes\n"
            "framealloc.explain('FA131')\n"
            "print('numba' in sys.modules, 'llvmlite' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120).stdout.strip()
    assert out == "False False"


def test_docs_page_examples_run():
    path = Path(__file__).resolve().parents[2] / "docs" / "collections.md"
    result = doctest.testfile(str(path), module_relative=False,
                              optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 10 and result.failed == 0
