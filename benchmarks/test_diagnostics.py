"""What seeing where memory goes costs (issue 14): the frame history, on against off; debug mode,
on against off; the behaviour filter, on against off; a trace, on against off.

* D1: an empty ``begin_frame(); end_frame()`` pair in @njit (the E1 loop), with the default
  history (600 frames) against ``AllocConfig(history=0)`` (target: within 1.1x).
* D2: the same pair from Python (the E4 loop), history on against off (target: within 1.1x).
  D1 and D2 run without the behaviour filter (``behaviour=None``), so they measure the history
  alone.
* D3: a frame with one 16-element float64 array written in @njit, ``AllocConfig(debug=True)``
  against the default (context: debug mode may be slow; what it costs is documented).
* D4: the same frame from Python (the allocation in a helper, so nothing escapes), debug on
  against off (context).
* D5: the Python loop a user writes, ``with alloc.frame():`` and one 1 KiB ``frame_array``, with
  the default behaviour filter against ``behaviour=None`` (target: within 1.05x).
* D6: the worst case for the filter, the empty ``begin_frame(); end_frame()`` pair from Python
  (the E4 loop), filter on against off (target: within 1.1x).
* D7: 600 Python frames with one 1 KiB ``frame_array`` each, inside ``with alloc.trace(path):``
  (the JSON written at its exit included) against the same frames untraced (context: a trace
  adds nothing per frame while it runs; its cost is the export at exit, tens of microseconds
  per traced frame, which this near-empty frame makes look large).
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
NJIT_DEBUG = "D3: frame with one 16-element array in @njit, debug on vs off"
PY_DEBUG = "D4: frame with one 16-element array from Python, debug on vs off"
DEBUG_ON, DEBUG_OFF = FRAME + " (debug=True)", FRAME + " (debug=False)"
USER_LOOP = ("D5: `with alloc.frame():` + one 1 KiB frame_array from Python, behaviour filter "
             "on vs off")
EMPTY_LOOP = "D6: begin_frame + end_frame pair from Python, behaviour filter on vs off"
BF_ON, BF_OFF = FRAME + " (behaviour filter)", FRAME + " (behaviour=None)"
TRACED = "D7: 600 Python frames with one 1 KiB frame_array, trace on vs off"
TRACE_ON, TRACE_OFF = FRAME + " (in alloc.trace)", FRAME + " (no trace)"


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


@njit
def _array_frames(alloc, n):
    s = 0.0
    for i in range(n):
        alloc.begin_frame()
        a = alloc.frame_array(16, np.float64)
        a[:] = i
        s += a[3]
        alloc.end_frame()
    return s


@pytest.mark.parametrize("debug", [True, False])
def test_debug_njit_frames(benchmark, debug):
    alloc = fa.SmartAlloc(debug=debug)
    timed(benchmark, lambda: _array_frames(alloc, N), group=NJIT_DEBUG,
          competitor=DEBUG_ON if debug else DEBUG_OFF, ops=N, unit="frame")


@pytest.mark.parametrize("debug", [True, False])
def test_debug_python_frames(benchmark, debug):
    alloc = fa.SmartAlloc(debug=debug)
    begin, end, frame_array = alloc.begin_frame, alloc.end_frame, alloc.frame_array

    def step(i):
        a = frame_array(16, np.float64)
        a[:] = i
        return a[3]

    def fn():
        for i in range(1000):
            begin()
            step(i)
            end()
    timed(benchmark, fn, group=PY_DEBUG, competitor=DEBUG_ON if debug else DEBUG_OFF, ops=1000,
          unit="frame")
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


@pytest.mark.parametrize("traced", [True, False], ids=["trace", "off"])
def test_trace_user_loop(benchmark, traced, tmp_path):
    alloc = fa.SmartAlloc()
    path = tmp_path / "run.json"

    def frames():
        for _ in range(600):
            with alloc.frame():
                alloc.frame_array(256, np.float32)

    def fn():
        if traced:
            with alloc.trace(path):
                frames()
        else:
            frames()
    timed(benchmark, fn, group=TRACED, competitor=TRACE_ON if traced else TRACE_OFF, ops=600,
          unit="frame")
    assert path.exists() == traced
