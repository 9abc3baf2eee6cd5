"""P6: a repeated ``frame_layout`` of 8 arrays vs 8 ``np.empty`` calls, from Python.

Target: ``layout.alloc()`` >= 20x faster than making the same 8 arrays with ``np.empty``.

What is timed (all competitors in one run, medians compared by ``benchmarks/run.py``):

* ``framealloc``: one frame in which ``LAYOUTS`` distinct layout objects of the same 8 arrays
  are each allocated once (``s = layout.alloc()``), i.e. what a steady frame loop does: every
  layout lands where it landed last frame, so each call is the cached path (a compare of four
  row words, the thread check, and the two stores that record the bump exactly). The frame's
  own ``begin_frame``/``end_frame`` (two small kernel calls, ~1 µs) is included, spread over the
  ``LAYOUTS`` calls: the per-layout figure slightly *overstates* the layout's cost.
* ``np.empty``: ``LAYOUTS`` times the same 8 arrays made with ``np.empty`` and kept together in
  a tuple (as the layout's 8 views are), then dropped: malloc gets the same blocks back every
  time, its best case.
* ``framealloc (8 x frame_array)``: the uncached equivalent, 8 ``frame_array`` calls per layout.
* ``control``: the frame and the loop with no allocation at all.

A context group does the same with N = 100 000 particles (arrays of 0.4-1.2 MB), where each
``np.empty`` is a large malloc, and a whole-frame group times one frame with one layout against
one frame's worth of ``np.empty`` calls, frame overhead included on the framealloc side.
"""
from __future__ import annotations

import numpy as np
import pytest

from ._common import CONTROL, EMPTY, FRAME, timed

LAYOUTS = 32
FRAME_ARRAY = FRAME + " (8 x frame_array)"


def _spec(n: int) -> dict:
    return dict(pos=((n, 3), np.float32), vel=((n, 3), np.float32), acc=((n, 3), np.float32),
                mass=(n, np.float32), life=(n, np.float32), ids=(n, np.int32),
                cell=(n, np.int64), grid=((32, 32), np.int32))


def _competitor(alloc, competitor: str, n: int, k: int):
    if competitor == FRAME:
        layouts = [alloc.frame_layout(**_spec(n)) for _ in range(k)]

        def fn():
            alloc.begin_frame()
            for layout in layouts:
                layout.alloc()
            alloc.end_frame()
    elif competitor == EMPTY:
        def fn():
            for _ in range(k):
                s = (np.empty((n, 3), np.float32), np.empty((n, 3), np.float32),
                     np.empty((n, 3), np.float32), np.empty(n, np.float32),
                     np.empty(n, np.float32), np.empty(n, np.int32), np.empty(n, np.int64),
                     np.empty((32, 32), np.int32))
            return s
    elif competitor == FRAME_ARRAY:
        def fn():
            alloc.begin_frame()
            for _ in range(k):
                (alloc.frame_array((n, 3), np.float32), alloc.frame_array((n, 3), np.float32),
                 alloc.frame_array((n, 3), np.float32), alloc.frame_array(n, np.float32),
                 alloc.frame_array(n, np.float32), alloc.frame_array(n, np.int32),
                 alloc.frame_array(n, np.int64), alloc.frame_array((32, 32), np.int32))
            alloc.end_frame()
    else:
        layouts = [None] * k

        def fn():
            alloc.begin_frame()
            for layout in layouts:
                pass
            alloc.end_frame()
    return fn


@pytest.mark.parametrize("competitor", [FRAME, EMPTY, FRAME_ARRAY, CONTROL])
def test_p6_layout(benchmark, alloc, competitor):
    fn = _competitor(alloc, competitor, 1000, LAYOUTS)
    timed(benchmark, fn, group="P6: frame_layout of 8 arrays (N=1000) from Python",
          competitor=competitor, ops=LAYOUTS, unit="layout", particles=1000)


@pytest.mark.parametrize("competitor", [FRAME, EMPTY, CONTROL])
def test_p6_layout_large(benchmark, alloc, competitor):
    fn = _competitor(alloc, competitor, 100_000, 4)
    timed(benchmark, fn, group="ctx: frame_layout of 8 arrays (N=100000) from Python",
          competitor=competitor, ops=4, unit="layout", particles=100_000)


@pytest.mark.parametrize("competitor", [FRAME, EMPTY])
def test_p6_layout_whole_frame(benchmark, alloc, competitor):
    fn = _competitor(alloc, competitor, 1000, 1)
    timed(benchmark, fn, group="ctx: one frame with one 8-array layout (N=1000), frame included",
          competitor=competitor, ops=1, unit="frame", particles=1000)


def test_p6_layout_is_cached_in_the_timed_loop(alloc):
    """The timed path is the cached one (not a benchmark: a guard on what is measured)."""
    layout = alloc.frame_layout(**_spec(1000))
    seen = []
    for _ in range(3):
        with alloc.frame():
            seen.append(id(layout.alloc()))         # the cache keeps the views alive
    assert seen[2] == seen[1]
