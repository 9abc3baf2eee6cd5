"""Budgets: soft limits call back and warn once per frame; hard limits refuse, nothing changed."""
from __future__ import annotations

import threading
import warnings

import numpy as np
import pytest
from numba import njit, prange

import framealloc as fa


def refused(fn, *args):
    with pytest.raises(fa.BudgetExceededError) as e:
        fn(*args)
    assert e.value.code == "FA154" and isinstance(e.value, MemoryError)
    return e.value


@pytest.mark.parametrize("kind", ["total", "frame"])
def test_hard_limit_exactly_and_one_byte_over_python(kind):
    alloc = fa.SmartAlloc()
    alloc.set_budget(hard=1000, kind=kind)
    with alloc.frame():
        a = alloc.frame_array(1000, np.uint8)             # exactly the limit
        a[:] = 1
        before = alloc._rows.tobytes()
        assert alloc.try_frame_array(1, np.uint8) is None  # one byte over
        err = refused(alloc.frame_array, 1, np.uint8)
        assert kind in str(err)
        assert alloc._rows.tobytes() == before              # the arena did not move
        assert a.sum() == 1000
    s = alloc.stats()
    assert s.budgets[kind].hard_hits == 2 and s.num_budget_hits == 2
    with alloc.frame():                                     # freed at end_frame: fits again
        alloc.frame_array(1000, np.uint8)


@njit
def fill(alloc, n, size):
    got = 0
    for _ in range(n):
        a = alloc.try_frame_array(size, np.uint8)
        if a is None:
            break
        got += 1
    return got


@njit
def one(alloc, size):
    return alloc.frame_array(size, np.uint8).size


def test_hard_limit_inside_njit():
    alloc = fa.SmartAlloc()
    alloc.set_budget(hard=4096, kind="frame")
    with alloc.frame():
        assert fill(alloc, 100, 64) == 64          # 64 x 64 B = exactly 4096
        with pytest.raises(fa.BudgetExceededError) as e:
            one(alloc, 1)
        assert e.value.code == "FA154"
        assert alloc.stats().frame.current == 4096
    with alloc.frame():
        assert one(alloc, 4096) == 4096


def test_lease_crosses_chunks_and_the_heap_policy():
    for policy in ("grow", "heap"):
        alloc = fa.SmartAlloc(fa.AllocConfig(frame_chunk_size=4096, frame_capacity=4096,
                                             on_frame_exhausted=policy))
        alloc.set_budget(hard=20_000, kind="frame")
        with alloc.frame():
            for _ in range(19):
                alloc.frame_array(1000, np.uint8)
            assert alloc.try_frame_array(2000, np.uint8) is None
            alloc.frame_array(1000, np.uint8)
            assert alloc.try_frame_array(1, np.uint8) is None, policy
        assert alloc.stats().budgets["frame"].current == 0


def test_soft_limit_callback_and_warning_once_per_frame():
    alloc = fa.SmartAlloc()
    events = []
    alloc.set_budget(soft=100, hard=1000, kind="frame", on_soft=events.append)
    for frame in range(3):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            with alloc.frame():
                alloc.frame_array(100, np.uint8)       # exactly the soft limit: no event
                assert len(events) == frame
                alloc.frame_array(1, np.uint8)         # passes it
                alloc.frame_array(50, np.uint8)        # still past it: no second event
        assert len(events) == frame + 1
        ev = events[-1]
        assert (ev.kind, ev.budget, ev.limit, ev.used, ev.request) == ("soft", "frame", 100,
                                                                      100, 1)
        codes = [x.message.code for x in w if isinstance(x.message, fa.BudgetWarning)]
        assert codes == ["FA155"]
    assert alloc.stats().budgets["frame"].soft_events == 3


def test_tag_budget_covers_descendants():
    alloc = fa.SmartAlloc()
    alloc.set_tag_budget("physics", hard=1000)
    with alloc.frame():
        with alloc.tag("physics"):
            alloc.frame_array(600, np.uint8)
            with alloc.tag("broad"):
                refused(alloc.frame_array, 401, np.uint8)
                alloc.frame_array(400, np.uint8)
        alloc.frame_array(5000, np.uint8)          # outside the tag: not limited
        assert alloc.stats().budgets["tag:physics"].current == 1000


def test_thread_frame_budget_is_per_thread():
    alloc = fa.SmartAlloc()
    results = {}

    def limited():
        alloc.set_thread_frame_budget(hard=512)
        with alloc.frame():
            results["limited"] = (alloc.try_frame_array(512, np.uint8) is not None,
                                  alloc.try_frame_array(1, np.uint8) is None)

    def free():
        with alloc.frame():
            results["free"] = alloc.try_frame_array(100_000, np.uint8) is not None

    for fn in (limited, free):
        t = threading.Thread(target=fn)
        t.start()
        t.join()
    assert results == {"limited": (True, True), "free": True}


@njit(parallel=True)
def prange_fill(alloc, n):
    got = np.zeros(n, np.int64)
    for i in prange(n):
        a = alloc.try_frame_array(1000, np.uint8)
        if a is not None:
            got[i] = 1
    return got.sum()


def test_budget_shared_by_prange_workers_is_never_exceeded():
    alloc = fa.SmartAlloc(fa.AllocConfig(budget_lease=1024))
    alloc.set_thread_frame_budget(hard=50_000)
    with alloc.frame():
        n = prange_fill(alloc, 200)
        assert 1 <= n <= 50
        assert alloc.stats().frame.current <= 50_000


def test_budget_set_mid_frame_counts_what_is_live():
    alloc = fa.SmartAlloc()
    with alloc.frame():
        alloc.frame_array(700, np.uint8)
        alloc.set_budget(hard=1000, kind="frame")
        assert alloc.stats().budgets["frame"].current == 700
        assert alloc.try_frame_array(301, np.uint8) is None
        alloc.frame_array(300, np.uint8)
    assert alloc.stats().budgets["frame"].current == 0
    alloc.set_budget(kind="frame")                  # removed
    with alloc.frame():
        alloc.frame_array(10_000, np.uint8)


@pytest.mark.parametrize("kwargs", [dict(soft=-1), dict(hard=1.5), dict(hard=True),
                                    dict(soft=10, hard=5), dict(kind="gpu"),
                                    dict(on_soft=3)])
def test_bad_budget_arguments(kwargs):
    alloc = fa.SmartAlloc()
    before = alloc._org.budgets.copy()
    with pytest.raises(fa.BudgetError) as e:
        alloc.set_budget(**kwargs)
    assert e.value.code == "FA156" and (alloc._org.budgets == before).all()


def test_stats_budget_sections_are_json():
    import json

    alloc = fa.SmartAlloc()
    alloc.set_tag_budget("x", soft=10, hard=100)
    with alloc.frame(), alloc.tag("x"):
        with pytest.warns(fa.BudgetWarning, match="FA155"):
            alloc.frame_array(20, np.uint8)
        assert alloc.try_frame_array(100, np.uint8) is None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        d = json.loads(json.dumps(alloc.stats().to_dict()))
    b = d["budgets"]["tag:x"]
    assert (b["soft"], b["hard"], b["soft_events"], b["hard_hits"]) == (10, 100, 1, 1)
    assert d["num_budget_hits"] == 1 and d["num_soft_budget_events"] == 1
    assert [e["kind"] for e in d["budget_events"]] == ["soft", "hard"]
