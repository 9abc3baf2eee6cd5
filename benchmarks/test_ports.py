"""Expressions into the frame and the three ports of examples/ports/, end to end.

* X1: ``a - b * b`` on float64 arrays of 1e3 and 1e5 elements inside @njit, one frame per
  evaluation, the result read once: ``alloc.frame_eval(f, a, b)`` against numba's fused array
  expression (which allocates its result with NRT) and the hand-written ``out=`` ufunc chain into
  a frame array (target: frame_eval within 1.1x of the fused expression).
* X2-X4: each published program (examples/ports/) against its port, the whole program as a user
  calls it (the port inside one frame): the Lennard-Jones cluster potential of numba-examples
  (16 clusters of 64 atoms), the k-means of numba's parfors tests (1000 points, 8 features,
  4 centroids, 10 iterations), and the zeros-per-iteration loop of numba issue #9132
  (200 x 200 int64, 200 iterations).
"""
from __future__ import annotations

import numpy as np
import pytest
from numba import njit

from examples.ports import (
    kmeans_framealloc,
    kmeans_original,
    lennard_jones_framealloc,
    lennard_jones_original,
    zeros_loop_framealloc,
    zeros_loop_original,
)

from ._common import FRAME, timed

EXPR = "X1: a - b*b into a new array in @njit"
FUSED = "numba fused expression (np.empty)"
CHAIN = "framealloc out= ufunc chain"
ORIGINAL = "original (numba)"
PORT = "framealloc port"
LJ = "X2: Lennard-Jones cluster potential (numba-examples), 16 x 64 atoms"
KMEANS = "X3: k-means (numba parfors test), 1000 x 8, k=4, 10 iterations"
ZEROS = "X4: np.zeros per iteration (numba issue #9132), 200 x 200 int64, 200 iterations"
REPS = {1_000: 2_000, 100_000: 20}


@njit
def sub_sq(x, y):
    return x - y * y


@njit
def _fused(a, b, reps):
    acc = 0.0
    for _ in range(reps):
        r = a - b * b
        acc += r[1]
    return acc


@njit
def _frame_eval(alloc, a, b, reps):
    acc = 0.0
    for _ in range(reps):
        alloc.begin_frame()
        r = alloc.frame_eval(sub_sq, a, b)
        acc += r[1]
        alloc.end_frame()
    return acc


@njit
def _chain(alloc, a, b, reps):
    acc = 0.0
    for _ in range(reps):
        alloc.begin_frame()
        r = alloc.frame_array(a.shape[0])
        np.multiply(b, b, r)
        np.subtract(a, r, r)
        acc += r[1]
        alloc.end_frame()
    return acc


@pytest.mark.parametrize("n", sorted(REPS))
@pytest.mark.parametrize("competitor", [FRAME, FUSED, CHAIN])
def test_expression_into_the_frame(benchmark, alloc, competitor, n):
    rng = np.random.default_rng(0)
    a, b = rng.random(n), rng.random(n)
    reps = REPS[n]
    fn = {FRAME: lambda: _frame_eval(alloc, a, b, reps), FUSED: lambda: _fused(a, b, reps),
          CHAIN: lambda: _chain(alloc, a, b, reps)}[competitor]
    result = timed(benchmark, fn, group=f"{EXPR}, n={n}", competitor=competitor, ops=reps,
                   unit="evaluation")
    assert result == pytest.approx(reps * (a[1] - b[1] * b[1]))


def _clusters():
    return np.random.default_rng(1).uniform(0.0, 4.0, (16, 64, 3))


@pytest.mark.parametrize("competitor", [ORIGINAL, PORT])
def test_lennard_jones(benchmark, alloc, competitor):
    clusters = _clusters()
    if competitor == ORIGINAL:
        fn = lambda: lennard_jones_original.run(clusters)  # noqa: E731
    else:
        def fn():
            with alloc.frame():
                return lennard_jones_framealloc.run(alloc, clusters)
    out = timed(benchmark, fn, group=LJ, competitor=competitor, ops=1, unit="program")
    np.testing.assert_array_equal(out, lennard_jones_original.run(clusters))


@pytest.mark.parametrize("competitor", [ORIGINAL, PORT])
def test_kmeans(benchmark, alloc, competitor):
    A = np.random.default_rng(2).random((1000, 8))
    init = A[:4].copy()
    if competitor == ORIGINAL:
        fn = lambda: kmeans_original.kmeans(A, 4, 10, init)  # noqa: E731
    else:
        def fn():
            with alloc.frame():
                return kmeans_framealloc.kmeans(alloc, A, 4, 10, init).copy()
    out = timed(benchmark, fn, group=KMEANS, competitor=competitor, ops=1, unit="program")
    np.testing.assert_array_equal(out, kmeans_original.kmeans(A, 4, 10, init))


@pytest.mark.parametrize("competitor", [ORIGINAL, PORT])
def test_zeros_loop(benchmark, alloc, competitor):
    shape, reps = (200, 200), 200
    if competitor == ORIGINAL:
        fn = lambda: zeros_loop_original.alloc_new(shape, reps)  # noqa: E731
    else:
        def fn():
            with alloc.frame():
                return zeros_loop_framealloc.alloc_new(alloc, shape, reps)
    assert timed(benchmark, fn, group=ZEROS, competitor=competitor, ops=1,
                 unit="program") == reps
