"""The allocator's own views see transparent allocations.

``alloc.stats().transparent`` counts what the scopes over that allocator served, on every thread,
nested scopes credited to the innermost one's allocator, open scopes included. History, tags,
budgets and the debug mode see transparent arrays like any other frame allocation: a table of
each view x the half that allocates (compiled numba code, NumPy called from Python with
``numpy=True``) x where the frame ends (Python's ``end_frame``, or ``alloc.end_frame()`` inside
``@njit``, which takes the end_frame kernel whenever the frame served transparent arrays). Every
case runs several frames with different counts, so counts left over from one frame, or missing
from one, show."""
from __future__ import annotations

import threading
import warnings
from dataclasses import replace

import numba
import numpy as np
import pytest

import framealloc as fa


@numba.njit
def _two(n):
    return (np.ones(n) + 1.0).sum()         # two arrays: ones and the sum's operand


def test_a_fresh_allocator_reports_nothing(alloc):
    s = alloc.stats()
    assert s.transparent == fa.transparent(alloc).stats() and s.transparent.served == 0
    assert s.to_dict()["transparent"]["served"] == 0


def test_stats_count_served_bytes_large_outside_and_numpy(alloc):
    _two(4)
    with fa.transparent(alloc, numpy=True, threshold=fa.KiB(1)) as t:
        _two(4)                                  # no frame: outside x2
        with alloc.frame():
            _two(16)                             # served x2, 128 bytes each
            _two(1000)                           # large x2
            a = np.arange(10.0)                  # NumPy: served (80 bytes)
        open_view = alloc.stats().transparent     # the open scope is included
    closed = alloc.stats().transparent
    # ``outside`` also counts NumPy arrays that stats() itself makes (numpy=True, no frame)
    views = [replace(v, outside=0) for v in (open_view, closed, t.stats())]
    assert views[0] == views[1] == views[2]
    assert closed.outside == t.stats().outside
    assert (closed.served, closed.served_bytes, closed.large, closed.numpy) == (3, 336, 2, 1)
    assert closed.outside >= 2
    del a


def test_nested_scopes_credit_the_innermost_allocator(alloc):
    other = fa.SmartAlloc()
    try:
        _two(4)
        with fa.transparent(alloc) as outer:
            with alloc.frame():
                _two(8)                                    # alloc: 2
            with fa.transparent(other) as inner:
                with other.frame():
                    _two(8)                                # other: 2
                    _two(8)                                # other: 2
            with alloc.frame():
                _two(8)                                    # alloc: 2
        assert alloc.stats().transparent.served == 4
        assert other.stats().transparent.served == 4 == inner.stats().served
        assert outer.stats().served == 8                   # a scope counts what it enclosed
    finally:
        other.close()


def test_every_thread_counts_including_ended_ones(alloc):
    _two(4)
    go, done = threading.Event(), threading.Event()

    def worker(k, hold):
        with fa.transparent(alloc):
            for _ in range(k):
                with alloc.frame():
                    _two(8)
            if hold:
                go.set()
                done.wait(30)

    ended = threading.Thread(target=worker, args=(3, False))
    ended.start()
    ended.join()
    holding = threading.Thread(target=worker, args=(5, True))
    holding.start()
    assert go.wait(30)
    assert alloc.stats().transparent.served == 2 * (3 + 5)     # one scope still open
    done.set()
    holding.join()
    assert alloc.stats().transparent.served == 16


# -- history, tags, budgets, debug mode ----------------------------------------------------------
N = 6                       # float64 per array: 48 bytes
NB = 8 * N


@numba.njit
def _make(n, k, keep):
    """``k`` arrays of ``n`` float64 (transparent when served); the first ``keep`` returned."""
    kept = [np.ones(n) for _ in range(keep)]
    s = 0.0
    for _ in range(k - keep):
        s += np.ones(n)[0]  # noqa: FA607 (unmodified numba code)
    return kept


@numba.njit
def _begin(alloc):
    alloc.begin_frame()


@numba.njit
def _end(alloc):
    alloc.end_frame()


def _make_numpy(n, k, keep):
    kept = [np.empty(n) for _ in range(keep)]    # one data block each, through the handler
    for _ in range(k - keep):
        np.empty(n)
    return kept


HALVES = {"numba": _make, "numpy": _make_numpy}
ENDS = ("python", "njit")


def _frame(alloc, half, end, k, keep=0, tag=None):
    """One frame that allocates ``k`` arrays (``keep`` of them returned), under ``tag``."""
    if end == "njit":
        _begin(alloc)
    else:
        alloc.begin_frame()  # noqa: FA606 (ended below, from Python or @njit)
    if tag is None:
        kept = HALVES[half](N, k, keep)
    else:
        with alloc.tag(tag):
            kept = HALVES[half](N, k, keep)
    if end == "njit":
        _end(alloc)
    else:
        alloc.end_frame()
    return kept


def _scope(alloc, half):
    return fa.transparent(alloc, numpy=half == "numpy")


@pytest.fixture(autouse=True)
def _compiled():
    _make(N, 1, 0)                      # compiled outside any scope


CASES = [(h, e) for h in HALVES for e in ENDS]
COUNTS = (3, 0, 5, 1)


@pytest.mark.parametrize("half,end", CASES)
def test_history_has_each_frames_transparent_arrays(alloc, half, end):
    with _scope(alloc, half) as scope:
        for k in COUNTS:
            _frame(alloc, half, end, k)
    h = alloc.history()
    assert h["transparent_allocations"].tolist() == list(COUNTS)
    assert h["transparent_bytes"].tolist() == [k * NB for k in COUNTS]
    assert h["transparent_alive"].tolist() == [-1] * len(COUNTS)     # not a debug allocator
    assert h["frame_bytes"].tolist() == [0] * len(COUNTS)            # the arena served nothing
    assert h.tags[""].tolist() == [k * NB for k in COUNTS]           # untagged frame bytes
    assert scope.stats().served == sum(COUNTS)


@pytest.mark.parametrize("half,end", CASES)
def test_tags_count_the_bytes_and_arrays_of_their_frames(alloc, half, end):
    with _scope(alloc, half):
        for k in COUNTS:
            _frame(alloc, half, end, k, tag="sim")
        alloc.begin_frame()
        with alloc.tag("sim"):
            HALVES[half](N, 2, 0)
        live = alloc.stats().tags["sim"]                       # the open frame's bytes
        alloc.end_frame()
    assert live.current == 2 * NB
    t = alloc.stats().tags["sim"]
    total = sum(COUNTS) + 2
    assert (t.current, t.allocated, t.freed) == (0, total * NB, total * NB)
    assert (t.allocations, t.frees) == (total, total)
    assert t.kinds["frame"]["allocations"] == total
    h = alloc.history()
    assert h.tags["sim"].tolist() == [k * NB for k in COUNTS] + [2 * NB]
    assert h.tags[""].tolist()[:-1] == [0] * len(COUNTS)
    # The last frame's root tag: with numpy=True, what stats() made from Python in the frame.
    assert h.tags[""][-1] == h["transparent_bytes"][-1] - 2 * NB
    assert h.tags[""][-1] == 0 if half == "numba" else h.tags[""][-1] > 0
    assert h["transparent_allocations"].tolist()[:-1] == list(COUNTS)
    assert (h["transparent_allocations"][-1] == 2) == (half == "numba")


@pytest.mark.parametrize("half,end", CASES)
@pytest.mark.parametrize("kind", ["frame", "total"])
def test_a_hard_budget_sends_what_passes_it_to_the_default_allocator(alloc, half, end, kind):
    room = 4                                          # arrays that fit the budget
    alloc.set_budget(hard=room * NB, kind=kind)
    with _scope(alloc, half) as scope:
        for k in (7, 2, 5):
            kept = _frame(alloc, half, end, k, keep=k)
            assert [a.shape for a in kept] == [(N,)] * k          # every array was made
        after = alloc.stats().budgets[kind]
    s = scope.stats()
    refused = (7 - room) + 0 + (5 - room)
    assert (s.served, s.over_budget) == (room + 2 + room, refused)
    assert (after.current, after.hard_hits) == (0, refused)
    assert after.peak == room * NB
    h = alloc.history()
    assert h["transparent_allocations"].tolist() == [room, 2, room]
    assert h["budget_events"].tolist() == [7 - room, 0, 5 - room]     # one hard event each


@pytest.mark.parametrize("half,end", CASES)
def test_a_soft_budget_warns_at_the_next_python_observation(alloc, half, end):
    alloc.set_budget(soft=2 * NB, kind="frame")
    with _scope(alloc, half) as scope:
        for k in (1, 3, 4):
            _frame(alloc, half, end, k)
        with pytest.warns(fa.BudgetWarning, match="FA155"):
            b = alloc.stats().budgets["frame"]
    assert scope.stats().served == 8 and scope.stats().over_budget == 0
    assert (b.soft_events, b.current) == (2, 0)                    # once per frame past it
    assert alloc.history()["budget_events"].tolist() == [0, 1, 1]


@pytest.mark.parametrize("half,end", CASES)
def test_debug_mode_counts_the_arrays_alive_at_the_end_of_their_frame(half, end):
    alloc = fa.SmartAlloc(fa.AllocConfig(debug=True))
    try:
        kept = []
        with _scope(alloc, half):
            for k, keep in ((3, 1), (4, 0), (2, 2), (5, 3)):
                kept.append(_frame(alloc, half, end, k, keep=keep))
                if len(kept) == 3:
                    kept[0] = None          # frees after their frame ended count nowhere
        h = alloc.history()
        assert h["transparent_allocations"].tolist() == [3, 4, 2, 5]
        assert h["transparent_alive"].tolist() == [1, 0, 2, 3]
        assert [len(k) for k in kept[1:]] == [0, 2, 3]
    finally:
        del kept
        alloc.close()


@pytest.mark.parametrize("half", list(HALVES))
def test_frees_on_another_thread_count_for_their_frame(half):
    alloc = fa.SmartAlloc(fa.AllocConfig(debug=True))
    try:
        with _scope(alloc, half):
            alloc.begin_frame()
            kept = HALVES[half](N, 6, 6)
            t = threading.Thread(target=lambda: [kept.pop() for _ in range(4)])
            t.start()
            t.join()
            alloc.end_frame()
        assert alloc.history()["transparent_alive"].tolist() == [2]
        kept.clear()
    finally:
        alloc.close()


def test_warnings_are_not_issued_without_budgets(alloc):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with fa.transparent(alloc):
            _frame(alloc, "numba", "python", 3)
            alloc.stats()


@numba.njit
def _tagged_frame(alloc, tid, n, k):
    alloc.begin_frame()
    alloc.push_tag(tid)
    s = 0.0
    for _ in range(k):
        s += np.ones(n)[0]  # noqa: FA607 (unmodified numba code)
    alloc.pop_tag()
    s += np.ones(n)[0]                 # untagged again
    alloc.end_frame()
    return s


def test_a_tag_pushed_inside_njit_gets_its_arrays(alloc):
    tid = alloc.tag_id("inner")
    _tagged_frame(alloc, tid, N, 1)
    with fa.transparent(alloc):
        for k in (2, 4):
            _tagged_frame(alloc, tid, N, k)
    h = alloc.history()
    assert h.tags["inner"].tolist() == [0, 2 * NB, 4 * NB]
    assert h.tags[""].tolist() == [0, NB, NB]
    t = alloc.stats().tags["inner"]
    assert (t.allocations, t.allocated, t.current) == (6, 6 * NB, 0)


def test_framealloc_own_page_aligned_buffers_are_not_the_frames(alloc):
    """Arena chunks, heap fallbacks, pool and scratch storage are page-aligned NRT buffers;
    made in a frame by code linked after the install, they still go to numba."""
    from framealloc.kernels.arena import nrt_alloc_aligned, nrt_release

    @numba.njit
    def _page_aligned(n):
        mi, data = nrt_alloc_aligned(n)
        nrt_release(mi)
        return data != 0

    with fa.transparent(alloc) as scope:
        with alloc.frame():
            assert _page_aligned(256)
            np.ones(3)
    s = scope.stats()
    assert (s.served, s.large) == (0, 1)
    assert alloc.history()["transparent_allocations"].tolist() == [0]


def test_snapshots_reports_and_traces_carry_the_transparent_columns(alloc, tmp_path):
    import json

    from framealloc.report import _series

    path = tmp_path / "trace.json"
    with alloc.trace(path), fa.transparent(alloc):
        for k in (1, 3):
            _frame(alloc, "numba", "python", k)
    back = fa.Snapshot.from_json(alloc.snapshot().to_json())
    assert back.history[0]["transparent_bytes"].tolist() == [NB, 3 * NB]
    assert [name for name, _ in _series(alloc.history(), "kind")] == [
        "frame", "transparent", "pool/heap/scratch"]
    doc = json.loads(path.read_text())
    events = doc["traceEvents"] if isinstance(doc, dict) else doc
    counters = [e["args"] for e in events if e.get("name") == "frame bytes by kind"]
    assert [c.get("transparent") for c in counters] == [NB, 3 * NB]


def test_a_history_saved_before_the_columns_existed_loads(alloc):
    from framealloc.history import FrameHistory

    with alloc.frame():
        alloc.frame_array(8, np.uint8)
    d = alloc.history().to_dict()
    for name in ("transparent_bytes", "transparent_allocations", "transparent_alive"):
        del d["columns"][name]
    h = FrameHistory.from_dict(d)
    assert h["frame_bytes"].tolist() == [8]
    assert (h["transparent_bytes"].tolist(), h["transparent_alive"].tolist()) == ([0], [-1])
