"""What seeing where memory goes costs (issue 14): the frame history, on against off.

* D1: an empty ``begin_frame(); end_frame()`` pair in @njit (the E1 loop), with the default
  history (600 frames) against ``AllocConfig(history=0)`` (target: within 1.1x).
* D2: the same pair from Python (the E4 loop), history on against off (target: within 1.1x).
  D1 and D2 run without the behaviour filter (``behaviour=None``), so they measure the history
  alone.
* D3: the Python loop a user writes, ``with alloc.frame():`` and one 1 KiB ``frame_array``, with
  the default behaviour filter against ``behaviour=None`` (target: within 1.05x).
* D4: the worst case for the filter, the empty ``begin_frame(); end_frame()`` pair from Python
  (the E4 loop), filter on against off (target: within 1.1x).
"""
from __future__ import annotations

import numpy as np
import pytest
from numba import njit

import framealloc as fa

from ._common import FRAME, timed

N = 100_000
NJIT_PAIRS = "D1: begin_frame + end_frame pair in @njit, history on vs off"
PY_PAIRS = "D2: begin_frame + end_frame pair from Python, history on vs off"
ON, OFF = FRAME + " (history=600)", FRAME + " (history=0)"
USER_LOOP = ("D3: `with alloc.frame():` + one 1 KiB frame_array from Python, behaviour filter "
             "on vs off")
EMPTY_LOOP = "D4: begin_frame + end_frame pair from Python, behaviour filter on vs off"
BF_ON, BF_OFF = FRAME + " (behaviour filter)", FRAME + " (behaviour=None)"


@njit
def _frame_pairs(alloc, n):
    for _ in range(n):
        alloc.begin_frame()
        alloc.end_frame()


@pytest.mark.parametrize("history", [600, 0])
def test_history_njit_pair(benchmark, history):
    alloc = fa.SmartAlloc(fa.AllocConfig(history=history, behaviour=None))
    timed(benchmark, lambda: _frame_pairs(alloc, N), group=NJIT_PAIRS,
          competitor=ON if history else OFF, ops=N, unit="pair")
    assert len(alloc.history()) == min(history, 3 * N)


@pytest.mark.parametrize("history", [600, 0])
def test_history_python_pair(benchmark, history):
    alloc = fa.SmartAlloc(fa.AllocConfig(history=history, behaviour=None))
    begin, end = alloc.begin_frame, alloc.end_frame

    def fn():
        for _ in range(1000):
            begin()
            end()
    timed(benchmark, fn, group=PY_PAIRS, competitor=ON if history else OFF, ops=1000,
          unit="pair")


@pytest.mark.parametrize("behaviour", [True, False], ids=["filter", "off"])
def test_behaviour_filter_user_loop(benchmark, behaviour):
    alloc = fa.SmartAlloc(fa.AllocConfig() if behaviour else fa.AllocConfig(behaviour=None))

    def fn():
        for _ in range(1000):
            with alloc.frame():
                alloc.frame_array(256, np.float32)
    timed(benchmark, fn, group=USER_LOOP, competitor=BF_ON if behaviour else BF_OFF, ops=1000,
          unit="frame")
    assert alloc.behaviour_events == []


@pytest.mark.parametrize("behaviour", [True, False], ids=["filter", "off"])
def test_behaviour_filter_empty_pair(benchmark, behaviour):
    alloc = fa.SmartAlloc(fa.AllocConfig() if behaviour else fa.AllocConfig(behaviour=None))
    begin, end = alloc.begin_frame, alloc.end_frame

    def fn():
        for _ in range(1000):
            begin()
            end()
    timed(benchmark, fn, group=EMPTY_LOOP, competitor=BF_ON if behaviour else BF_OFF, ops=1000,
          unit="pair")
