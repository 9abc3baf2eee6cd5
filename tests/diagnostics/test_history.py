"""Frame history (issue 14, item 1): one row per frame ended, from Python and from @njit code,
the fast path and the kernel alike; a ring of AllocConfig.history frames; history=0 is off."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from numba import njit, prange

import framealloc as fa
from framealloc.kernels.layout import RB_HISTORY


def _sizes(seed, n):
    return np.random.default_rng(seed).integers(0, 5, size=(n, 3)) * 8


@njit
def _njit_frames(alloc, sizes):
    for i in range(sizes.shape[0]):
        alloc.begin_frame()
        for j in range(sizes.shape[1]):
            if sizes[i, j]:
                alloc.frame_array(sizes[i, j], np.uint8)
        alloc.end_frame()


@njit
def _njit_tagged(alloc, tid, n):
    for i in range(n):
        alloc.begin_frame()
        alloc.frame_array(16, np.uint8)
        alloc.push_tag(tid)
        alloc.frame_array(8 * (i + 1), np.uint8)
        alloc.pop_tag()
        alloc.end_frame()


@njit(parallel=True)
def _prange_frame(alloc, n):
    alloc.begin_frame()
    for i in prange(n):
        a = alloc.frame_array(64, np.uint8)
        a[0] = 1
    alloc.end_frame()


def _python_frames(alloc, sizes):
    for row in sizes:
        with alloc.frame():
            for s in row:
                if s:
                    alloc.frame_array(int(s), np.uint8)


def _expected(sizes):
    return sizes.sum(axis=1).tolist(), (sizes != 0).sum(axis=1).tolist()


@pytest.mark.parametrize("where", ["python", "njit", "mixed"])
def test_each_frame_is_recorded_from_python_and_njit(where):
    """A table of random frames: bytes, allocations and peak of each, in order."""
    sizes = _sizes({"python": 1, "njit": 2, "mixed": 3}[where], 40)
    alloc = fa.SmartAlloc()
    if where == "python":
        _python_frames(alloc, sizes)
    elif where == "njit":
        _njit_frames(alloc, sizes)
    else:
        _python_frames(alloc, sizes[:20])
        _njit_frames(alloc, sizes[20:])
    h = alloc.history()
    nbytes, counts = _expected(sizes)
    assert h["frame"].tolist() == list(range(1, 41))
    assert h["frame_bytes"].tolist() == nbytes
    assert h["frame_allocations"].tolist() == counts
    assert h["peak"].tolist() == nbytes
    assert h.tags[""].tolist() == nbytes
    assert (h["heap_fallbacks"] == 0).all() and (h["other_bytes"] == 0).all()


def test_ring_keeps_the_last_history_frames():
    sizes = _sizes(4, 50)
    for n in (1, 7, 8, 9, 50, 64):
        alloc = fa.SmartAlloc(fa.AllocConfig(history=n))
        _njit_frames(alloc, sizes)
        h = alloc.history()
        assert len(h) == min(n, 50)
        assert h["frame"].tolist() == list(range(51 - len(h), 51))
        assert h["frame_bytes"].tolist() == _expected(sizes)[0][50 - len(h):]


def test_history_zero_is_off():
    alloc = fa.SmartAlloc(fa.AllocConfig(history=0))
    _njit_frames(alloc, _sizes(5, 5))
    _python_frames(alloc, _sizes(5, 5))
    assert len(alloc.history()) == 0
    assert alloc._org_part.history_rings == {}
    assert int(alloc._org_part._orgrows[0][0, RB_HISTORY]) == 0


@pytest.mark.parametrize("bad", [-1, 1 << 21, 1.5, "600"])
def test_history_config_is_checked(bad):
    with pytest.raises(fa.ConfigError) as e:
        fa.AllocConfig(history=bad)
    assert e.value.code == "FA013"


def test_open_frame_is_not_in_the_history():
    alloc = fa.SmartAlloc()
    _python_frames(alloc, _sizes(6, 3))
    alloc.begin_frame()
    alloc.frame_array(1000, np.uint8)
    assert alloc.history()["frame"].tolist() == [1, 2, 3]
    alloc.end_frame()
    assert alloc.history()["frame_bytes"][-1] == 1000


@pytest.mark.parametrize("njit_side", [False, True])
def test_tags_per_frame(njit_side):
    alloc = fa.SmartAlloc()
    if njit_side:
        _njit_tagged(alloc, alloc.tag_id("physics"), 5)
    else:
        for i in range(5):
            with alloc.frame():
                alloc.frame_array(16, np.uint8)
                with alloc.tag("physics"):
                    alloc.frame_array(8 * (i + 1), np.uint8)
    h = alloc.history()
    assert h.tags["physics"].tolist() == [8 * (i + 1) for i in range(5)]
    assert h.tags[""].tolist() == [16] * 5
    assert (h.tags[""] + h.tags["physics"]).tolist() == h["frame_bytes"].tolist()


def test_heap_fallbacks_other_kinds_and_peak():
    alloc = fa.SmartAlloc(fa.AllocConfig(on_frame_exhausted="heap", frame_capacity=4096,
                                         frame_chunk_size=4096))
    boxes = []
    for i in range(4):
        with alloc.frame():
            alloc.frame_array(1000, np.uint8)
            for _ in range(i):
                alloc.frame_array(8192, np.uint8)      # past the chunk: a heap fallback
            boxes.append(alloc.pool_box(np.zeros(i + 1)))   # 8 * (i + 1) bytes in a block
            cp = alloc.frame_checkpoint()
            alloc.frame_array(2000, np.uint8)
            alloc.rollback_to(cp)
    h = alloc.history()
    assert h["heap_fallbacks"].tolist() == [0, 1, 2, 3]
    assert h["frame_bytes"].tolist() == [1000] * 4
    assert h["peak"].tolist() == [3000] * 4
    assert (h["other_bytes"] > 0).all() and (h["other_allocations"] == 1).all()
    assert h.tags[""].tolist() == [1000 + 8192 * i for i in range(4)]


def test_prange_worker_rows_are_summed():
    alloc = fa.SmartAlloc()
    _prange_frame(alloc, 100)
    assert alloc.history()["frame_bytes"].tolist() == [6400]
    assert alloc.history()["frame_allocations"].tolist() == [100]


def test_frame_time_from_python_frames():
    alloc = fa.SmartAlloc()
    for _ in range(4):
        with alloc.frame():
            time.sleep(0.01)
    t = alloc.history()["frame_time_ns"]
    assert np.isnan(t[0])
    assert ((t[1:] > 8e6) & (t[1:] < 5e8)).all(), t


def test_budget_events_per_frame():
    alloc = fa.SmartAlloc()
    alloc.set_budget(soft=100)
    with pytest.warns(fa.BudgetWarning):
        for i in range(3):
            with alloc.frame():
                alloc.frame_array(200 if i == 1 else 10, np.uint8)
    assert alloc.history()["budget_events"].tolist() == [0, 1, 0]


def test_each_thread_has_its_own_history():
    alloc = fa.SmartAlloc()
    _python_frames(alloc, _sizes(7, 3))
    slots = []

    def worker():
        _python_frames(alloc, np.full((5, 1), 24))
        slots.append(alloc._arena().slot)
        assert alloc.history()["frame_bytes"].tolist() == [24] * 5

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert len(alloc.history()) == 3
    assert slots and slots[0] != alloc._arena().slot


def test_history_before_any_frame_and_after_close():
    alloc = fa.SmartAlloc()
    assert len(alloc.history()) == 0
    _python_frames(alloc, _sizes(8, 2))
    alloc.close()
    assert len(alloc.history()) == 2


def test_round_trip_through_dict():
    alloc = fa.SmartAlloc()
    _python_frames(alloc, _sizes(9, 6))
    h = alloc.history()
    back = fa.FrameHistory.from_dict(h.to_dict())
    assert all(np.array_equal(back[c], h[c], equal_nan=True) for c in h.columns)
    assert {k: v.tolist() for k, v in back.tags.items()} == \
        {k: v.tolist() for k, v in h.tags.items()}
