"""Tracked heap arrays and allocation groups."""
from __future__ import annotations

import gc
import json
import threading

import numpy as np
import pytest

import framealloc as fa
from framealloc.pool_codes import GroupError

from .conftest import PARTICLE


def test_heap_array_counts_until_the_last_view_goes(alloc):
    a = alloc.heap_array((10, 10), np.float32, zero=True)
    assert type(a) is np.ndarray and a.shape == (10, 10) and not a.any()
    view = a[2:5]
    s = alloc.stats().heap
    assert (s.current, s.peak, s.allocated) == (400, 400, 400)
    assert (s.allocations, s.current_allocations) == (1, 1)
    del a
    assert alloc.stats().heap.current == 400          # the view keeps the array alive
    del view
    s = alloc.stats().heap
    assert (s.current, s.freed, s.peak, s.current_allocations) == (0, 400, 400, 0)


def test_heap_vec_box_and_peak(alloc):
    v = alloc.heap_vec(8, np.int64)
    b = alloc.heap_box(np.ones((), PARTICLE))
    assert v.shape == (8,) and b.dtype == PARTICLE and b["life"] == 1
    s = alloc.stats().heap
    assert s.current == 64 + PARTICLE.itemsize and s.peak == s.current
    del v
    big = alloc.heap_array(1000, np.uint8)
    s = alloc.stats().heap
    assert s.current == PARTICLE.itemsize + 1000 and s.peak == s.current
    del b, big
    s = alloc.stats().heap
    assert s.current == 0 and s.peak == PARTICLE.itemsize + 1000 and s.allocations == 3
    assert json.loads(json.dumps(alloc.stats().to_dict()))["heap"]["freed"] == s.freed


def test_heap_bad_inputs(alloc):
    alloc.heap_array(4)
    before = alloc.stats().heap
    for call, exc, code in [(lambda: alloc.heap_array(-1), fa.AllocSizeError, "FA004"),
                            (lambda: alloc.heap_array((2, 2), object), fa.UnsupportedDtypeError,
                             "FA006"),
                            (lambda: alloc.heap_box(np.array([None])), fa.UnsupportedDtypeError,
                             "FA006"),
                            (lambda: alloc.heap_array(1 << 60, np.float64), fa.AllocSizeError,
                             "FA005")]:
        with pytest.raises(exc) as ei:
            call()
        assert ei.value.code == code
    assert alloc.stats().heap == before


def test_heap_tracking_is_thread_safe(alloc):
    def work():
        for _ in range(300):
            a = alloc.heap_array(10, np.float64)
            del a
    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    gc.collect()
    s = alloc.stats().heap
    assert s.current == 0 and s.allocations == 1200 and s.freed == 1200 * 80


def test_groups_hold_arrays_until_freed(alloc):
    level = alloc.create_group("level-1")
    other = alloc.create_group()
    tiles = alloc.group_alloc(level, (32, 32), np.uint8, zero=True)
    spawn = alloc.group_box(level, np.arange(10))
    alloc.group_alloc(other, 100)
    info = alloc.group_stats(level)
    assert (info.name, info.allocations, info.bytes, info.freed) == ("level-1", 2, 1024 + 80, False)
    assert not tiles.any() and spawn.tolist() == list(range(10))
    del tiles, spawn
    s = alloc.stats()
    assert s.groups.groups == 2 and s.groups.current == 1104 + 800 and s.heap.current == 1904
    assert alloc.free_group(level) == 1104
    s = alloc.stats()
    assert s.heap.current == 800 and s.groups.freed_groups == 1 and s.groups.freed == 1104
    assert s.groups.groups == 1 and s.groups.created == 2


def test_freed_group_keeps_arrays_you_hold_valid(alloc):
    g = alloc.create_group()
    a = alloc.group_alloc(g, 5)
    a[:] = 3.0
    alloc.free_group(g)
    gc.collect()
    assert (a == 3.0).all() and alloc.stats().heap.current == 40
    del a
    assert alloc.stats().heap.current == 0


def test_unknown_and_freed_groups_raise(alloc):
    g = alloc.create_group("x")
    alloc.group_alloc(g, 3)
    alloc.free_group(g)
    before = alloc.stats().groups
    for call, code in [(lambda: alloc.group_alloc(g, 3), "FA113"),
                       (lambda: alloc.free_group(g), "FA113"),
                       (lambda: alloc.group_stats(g), "FA113"),
                       (lambda: alloc.group_alloc(999, 3), "FA112"),
                       (lambda: alloc.group_box(-1, 1.0), "FA112"),
                       (lambda: alloc.free_group("nope"), "FA104")]:
        with pytest.raises(fa.FrameAllocError) as ei:
            call()
        assert ei.value.code == code
        if code != "FA104":
            assert isinstance(ei.value, GroupError) and isinstance(ei.value, LookupError)
    assert alloc.stats().groups == before
    g2 = alloc.create_group()
    assert g2 != g
