"""What seeing where memory goes costs (issue 14): the frame history, on against off.

* D1: an empty ``begin_frame(); end_frame()`` pair in @njit (the E1 loop), with the default
  history (600 frames) against ``AllocConfig(history=0)`` (target: within 1.1x).
* D2: the same pair from Python (the E4 loop), history on against off (target: within 1.1x).
"""
from __future__ import annotations

import pytest
from numba import njit

import framealloc as fa

from ._common import FRAME, timed

N = 100_000
NJIT_PAIRS = "D1: begin_frame + end_frame pair in @njit, history on vs off"
PY_PAIRS = "D2: begin_frame + end_frame pair from Python, history on vs off"
ON, OFF = FRAME + " (history=600)", FRAME + " (history=0)"


@njit
def _frame_pairs(alloc, n):
    for _ in range(n):
        alloc.begin_frame()
        alloc.end_frame()


@pytest.mark.parametrize("history", [600, 0])
def test_history_njit_pair(benchmark, history):
    alloc = fa.SmartAlloc(fa.AllocConfig(history=history))
    timed(benchmark, lambda: _frame_pairs(alloc, N), group=NJIT_PAIRS,
          competitor=ON if history else OFF, ops=N, unit="pair")
    assert len(alloc.history()) == min(history, 3 * N)


@pytest.mark.parametrize("history", [600, 0])
def test_history_python_pair(benchmark, history):
    alloc = fa.SmartAlloc(fa.AllocConfig(history=history))
    begin, end = alloc.begin_frame, alloc.end_frame

    def fn():
        for _ in range(1000):
            begin()
            end()
    timed(benchmark, fn, group=PY_PAIRS, competitor=ON if history else OFF, ops=1000,
          unit="pair")
