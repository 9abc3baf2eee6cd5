"""The docstring examples of the transparent-frame modules run."""
from __future__ import annotations

import doctest
import importlib
import sys

import pytest


@pytest.mark.parametrize("name", ["framealloc.transparent"])
def test_docstring_examples(name):
    importlib.import_module(name)
    mod = sys.modules[name]          # framealloc.transparent the attribute is the function
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_import_framealloc_still_loads_no_numba():
    import subprocess
    code = ("import sys, framealloc; "
            "print(any(m.split('.')[0] in ('numba', 'llvmlite') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120).stdout.strip()
    assert out == "False"
