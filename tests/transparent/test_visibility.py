"""The allocator's own stats see transparent allocations: ``alloc.stats().transparent`` counts
what the scopes over that allocator served, on every thread, nested scopes credited to the
innermost one's allocator, open scopes included."""
from __future__ import annotations

import threading
from dataclasses import replace

import numba
import numpy as np

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
