"""Docstring examples run, and importing framealloc stays light (no numba, nothing compiled)."""
from __future__ import annotations

import doctest
import importlib
import os
import subprocess
import sys

import pytest

MODULES = ["framealloc.alloc", "framealloc.config", "framealloc.errors", "framealloc.checkpoints",
           "framealloc.coordination", "framealloc.stats"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    mod = importlib.import_module(name)
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0


def _python(code: str) -> str:
    env = dict(os.environ)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          check=True, timeout=300).stdout.strip()


def test_import_does_not_import_numba():
    out = _python("import sys, framealloc; a = framealloc.SmartAlloc(); "
                  "print('numba' in sys.modules, 'llvmlite' in sys.modules)")
    assert out == "False False"


def test_first_njit_use_registers_the_type_lazily():
    out = _python(
        "import numpy as np, framealloc as fa\n"
        "from numba import njit\n"
        "a = fa.SmartAlloc()\n"
        "f = njit(lambda al: al.frame_array(3, np.float32).size)\n"
        "a.begin_frame(); print(f(a)); a.end_frame()\n")
    assert out == "3"


USER_MODULE = '''
import numpy as np
from numba import njit

@njit(cache=True)
def step(alloc, n):
    alloc.begin_frame()
    a = alloc.frame_array((n, 3), np.float32)
    a[:] = 1.0
    s = a.sum()
    alloc.end_frame()
    return s
'''


def test_user_functions_with_cache_true_reload_from_cache(tmp_path):
    (tmp_path / "usermod.py").write_text(USER_MODULE)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"), PYTHONPATH=str(tmp_path))
    code = ("import framealloc as fa, usermod\n"
            "a = fa.SmartAlloc()\n"
            "print(usermod.step(a, 4), len(usermod.step.stats.cache_hits))\n")
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                           check=True, timeout=300).stdout.split() for _ in range(2)]
    assert runs[0] == ["12.0", "0"]          # compiled and written to the cache
    assert runs[1] == ["12.0", "1"]          # a fresh process loads it


def test_every_runtime_exception_named_by_explain_is_exported():
    import framealloc as fa
    from framealloc.errors import all_codes

    for info in all_codes().values():
        if info.exception and info.code[2] in "0115":   # FA0xx, FA1xx, FA5xx runtime families
            assert hasattr(fa, info.exception), f"{info.code}: framealloc.{info.exception}"
