"""The ports of examples/ports/: each framealloc port gives exactly the original's result, leaves
the frame as it found it (its scopes free their scratch), and changes only the temporaries (the
lines changed are counted and bounded, so a port that rewrites its program fails)."""
from __future__ import annotations

import ast
import difflib
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import framealloc as fa

PORTS = Path(__file__).resolve().parents[2] / "examples" / "ports"
sys.path.insert(0, str(PORTS.parent.parent))

from examples.ports import (  # noqa: E402
    kmeans_framealloc,
    kmeans_original,
    lennard_jones_framealloc,
    lennard_jones_original,
    zeros_loop_framealloc,
    zeros_loop_original,
)


def code_lines(path: Path) -> list[str]:
    """A module's lines without its docstring and blank lines (what a port may change)."""
    src = path.read_text()
    tree = ast.parse(src)
    doc = tree.body[0] if isinstance(tree.body[0], ast.Expr) else None
    lines = src.splitlines()
    if doc is not None:
        lines = lines[doc.end_lineno:]
    return [ln for ln in lines if ln.strip()]


def changed_lines(name: str) -> tuple[int, int]:
    """(lines removed from the original, lines added by the port), docstrings left out."""
    a = code_lines(PORTS / f"{name}_original.py")
    b = code_lines(PORTS / f"{name}_framealloc.py")
    diff = list(difflib.unified_diff(a, b, lineterm="", n=0))
    removed = sum(1 for ln in diff if ln.startswith("-") and not ln.startswith("---"))
    added = sum(1 for ln in diff if ln.startswith("+") and not ln.startswith("+++"))
    return removed, added


#: the most lines a port may change (removed + added): its temporaries and scopes, no rewrite
MAX_CHANGED = {"lennard_jones": 32, "kmeans": 32, "zeros_loop": 8}


@pytest.mark.parametrize("name", sorted(MAX_CHANGED))
def test_ports_change_only_their_temporaries(name):
    removed, added = changed_lines(name)
    orig = len(code_lines(PORTS / f"{name}_original.py"))
    assert 0 < removed + added <= MAX_CHANGED[name], (name, removed, added, orig)


@settings(max_examples=10, deadline=None)
@given(st.integers(2, 24), st.integers(1, 4), st.integers(0, 2**31 - 1))
def test_lennard_jones_port_is_identical(n, m, seed):
    rng = np.random.default_rng(seed)
    clusters = rng.uniform(0.0, 3.0, (m, n, 3))
    want = lennard_jones_original.run(clusters)
    alloc = fa.SmartAlloc()
    with alloc.frame():
        got = lennard_jones_framealloc.run(alloc, clusters)
        assert alloc.stats().frame.current == 0
    alloc.close()
    np.testing.assert_array_equal(got, want)


@settings(max_examples=10, deadline=None)
@given(st.integers(20, 200), st.integers(1, 6), st.integers(2, 4), st.integers(1, 5),
       st.integers(0, 2**31 - 1))
def test_kmeans_port_is_identical(n, d, k, iters, seed):
    rng = np.random.default_rng(seed)
    A = rng.random((n, d))
    init = A[:k].copy()
    want = kmeans_original.kmeans(A, k, iters, init)
    alloc = fa.SmartAlloc()
    with alloc.frame():
        got = kmeans_framealloc.kmeans(alloc, A, k, iters, init).copy()
        assert alloc.stats().frame.current == iters * k * d * 8    # the centroids only
    alloc.close()
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("shape,reps", [((3, 4), 10), ((64, 64), 50), ((1, 1), 3)])
def test_zeros_loop_port_is_identical(shape, reps):
    alloc = fa.SmartAlloc()
    with alloc.frame():
        got = zeros_loop_framealloc.alloc_new(alloc, shape, reps)
        assert alloc.stats().frame.current == 0
    alloc.close()
    assert got == zeros_loop_original.alloc_new(shape, reps) == reps
