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


PART = np.dtype([("x", "f4"), ("n", "i4")])


@njit(cache=True)
def every_edge(alloc, n):
    # the hand-lowered methods, their slow paths (a chunk grows) and a rollback, in one kernel
    alloc.begin_frame()
    cp = alloc.frame_checkpoint()
    big = alloc.frame_zeros(n, np.uint8)
    ps = alloc.frame_alloc_batch(PART, 3)
    ps["n"][:] = 2
    t = alloc.try_frame_array(4, np.float64)
    one = alloc.frame_alloc(np.int64)
    one[()] = 5
    total = big.sum() + ps["n"].sum() + one[()] + (0 if t is None else t.size)
    alloc.rollback_to(cp)
    alloc.end_frame()
    return total


@njit(cache=True)
def end_without_begin(alloc):
    alloc.end_frame()
'''


@pytest.mark.slow
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


def test_cached_user_kernels_keep_every_path_of_the_frame_methods(tmp_path):
    """A cached user kernel links framealloc's cached kernels (fast paths, slow paths, errors):
    reloaded in a fresh process, each still works, and errors keep their FA code."""
    (tmp_path / "usermod.py").write_text(USER_MODULE)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"), PYTHONPATH=str(tmp_path))
    code = ("import framealloc as fa, usermod\n"
            "a = fa.SmartAlloc(fa.AllocConfig(frame_chunk_size=4096))\n"
            "r = usermod.every_edge(a, 1 << 20)\n"
            "try:\n"
            "    usermod.end_without_begin(a)\n"
            "except fa.FrameAllocError as e:\n"
            "    code = e.code\n"
            "print(r, code, a.stats().frame.chunks_grown > 0,\n"
            "      len(usermod.every_edge.stats.cache_hits),\n"
            "      len(usermod.end_without_begin.stats.cache_hits))\n")
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                           check=True, timeout=300).stdout.split() for _ in range(2)]
    assert runs[0] == ["15", "FA003", "True", "0", "0"]
    assert runs[1] == ["15", "FA003", "True", "1", "1"]


def test_every_runtime_exception_named_by_explain_is_exported():
    import framealloc as fa
    from framealloc.errors import all_codes

    for info in all_codes().values():
        if info.exception and info.code[2] in "0115":   # FA0xx, FA1xx, FA5xx runtime families
            assert hasattr(fa, info.exception), f"{info.code}: framealloc.{info.exception}"
