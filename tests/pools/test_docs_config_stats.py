"""Docstring examples, codes, config fields, stats vocabulary, lazy numba."""
from __future__ import annotations

import doctest
import importlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import framealloc as fa
from framealloc import AllocConfig, KiB
from framealloc import pool_codes

MODULES = ["framealloc.pool_codes", "framealloc.typed_pool", "framealloc.pool", "framealloc.heap",
           "framealloc.groups", "framealloc.handles", "framealloc.streaming", "framealloc.pools"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    mod = importlib.import_module(name)
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0


def test_docs_page_examples_run():
    path = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "pools.md")
    result = doctest.testfile(os.path.abspath(path), module_relative=False,
                              optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 10 and result.failed == 0


def test_every_pool_code_is_explained_and_raisable():
    codes = fa.errors.all_codes()
    for code, info in pool_codes.CODES.items():
        assert "FA101" <= code <= "FA129" and code in codes
        text = fa.explain(code)
        assert text.startswith(f"{code} {info.title}") and len(text) > 60
        exc = getattr(pool_codes, info.exception, None) or getattr(fa, info.exception)
        e = exc("something went wrong", code=code)
        assert e.code == code and str(e).startswith(code) and isinstance(e, fa.FrameAllocError)
    assert issubclass(pool_codes.PoolExhaustedError, MemoryError)
    assert issubclass(pool_codes.StaleHandleError, LookupError)
    assert issubclass(pool_codes.PoolIndexError, IndexError)


@pytest.mark.parametrize("kwargs", [
    {"pool_size_classes": ()}, {"pool_size_classes": (8, 16)}, {"pool_size_classes": (32, 16)},
    {"pool_size_classes": (16, 16)}, {"pool_size_classes": (24,)}, {"pool_size_classes": "16"},
    {"pool_size_classes": (16.0,)}, {"pool_size_classes": tuple(range(16, 16 * 34, 16))},
    {"pool_size_classes": (16, 8192), "pool_page_size": 4096}, {"pool_page_size": 1000},
    {"pool_page_size": 6000}, {"pool_page_size": 2.0}, {"pool_size_classes": 16},
])
def test_bad_pool_config(kwargs):
    with pytest.raises(fa.ConfigError) as ei:
        AllocConfig(**kwargs)
    assert ei.value.code == "FA013"


def test_pool_config_is_used_and_normalised():
    cfg = AllocConfig(pool_size_classes=[64, 128], pool_page_size=KiB(8))
    assert cfg.pool_size_classes == (64, 128) and hash(cfg)
    a = fa.SmartAlloc(cfg)
    assert a.pools.size_classes == (64, 128)
    a._close_pools()
    a.close()


def test_stats_sections_are_json_and_total_current_counts_cpu_bytes(alloc):
    empty = alloc.stats()
    assert empty.pool.current == 0 and empty.total_current == 0
    assert empty.total_reserved == empty.frame.reserved
    box = alloc.pool_alloc(np.float64, 3)
    pool = alloc.typed_pool(np.float32, 100)
    pool.acquire()
    arr = alloc.heap_array(1000, np.uint8)
    h = alloc.handles.alloc(10)
    stream = alloc.streaming(1000)
    stream.reserve(200)
    s = alloc.stats()
    d = json.loads(json.dumps(s.to_dict()))
    for section in ("pool", "typed_pools", "heap", "groups", "handles", "streaming"):
        for key in ("current",):
            assert key in d[section]
    for section in ("pool", "typed_pools", "heap"):
        for key in ("current", "peak", "allocated", "freed", "allocations", "current_allocations"):
            assert key in d[section], (section, key)
    assert s.total_reserved == (s.frame.reserved + s.pool.reserved + s.typed_pools.reserved
                                + s.heap.current + s.handles.reserved + s.streaming.current)
    assert s.total_current == (s.frame.current + s.pool.current + s.typed_pools.current
                               + s.heap.current + s.handles.current + s.streaming.current)
    assert s.pool.reserved == KiB(64) and s.heap.current == 1000 and s.streaming.current == 200
    assert d["total_current"] == s.total_current and d["total_reserved"] == s.total_reserved
    box.free()
    del arr, h, stream
    pool.close()


def _python(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=300).stdout.strip()


def test_python_level_features_do_not_import_numba():
    out = _python(
        "import sys, numpy as np, framealloc as fa\n"
        "a = fa.SmartAlloc()\n"
        "x = a.heap_array(10); g = a.create_group(); a.group_alloc(g, 4); a.free_group(g)\n"
        "h = a.handles.alloc(3); a.compact(); s = a.streaming(100); s.reserve(10)\n"
        "a.stats().to_dict()\n"
        "print('numba' in sys.modules)\n")
    assert out == "False"
