"""The scratch kernels apart from the numba surface, and the reset written once (``settle``).

``framealloc.kernels.scratch`` holds the state machines; ``framealloc.kernels.scratch_njit`` the
numba typing code over them, importing them (never the reverse). ``settle`` is the one reset:
``ScratchPool.reset`` and the allocator's release run it from Python, ``scratch_reset`` runs it
compiled; both must leave the same state behind."""
from __future__ import annotations

import importlib.util
import os
import sys

import numpy as np
import pytest
from numba import njit

import framealloc as fa
from framealloc.kernels import layout as L
from framealloc.kernels import scratch as K
from framealloc.kernels import status as ST

pytestmark = pytest.mark.usefixtures("nrt_leakcheck")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@njit(cache=True)
def nj_bytes(alloc, sid, n):
    return alloc.scratch_array(sid, n, np.uint8)


@njit(cache=True)
def nj_reset(alloc, sid):
    alloc.scratch_reset(sid)


def _row(cursor=0, peak=0, freed=0, count=0, count_reset=0, resets=0, state=L.STATE_OPEN):
    r = np.zeros(L.SCRATCH_ROW_WORDS, np.int64)
    r[[L.S_CURSOR, L.S_PEAK, L.S_FREED, L.S_COUNT, L.S_COUNT_RESET, L.S_RESETS, L.S_STATE]] = \
        cursor, peak, freed, count, count_reset, resets, state
    return r


def test_settle_from_python():
    """Tags get their bytes back (and are zeroed), then the counters settle; ``counted`` says
    whether it is a reset; a pool that is not open is refused with nothing changed."""
    calls = []

    def release(org, kind, tag, nbytes):
        calls.append((org, kind, tag, int(nbytes)))

    r = _row(cursor=40, peak=30, freed=7, count=5, count_reset=1, resets=2)
    tags = np.zeros(8, np.int64)
    tags[[0, 3, 7]] = 10, 25, 5
    assert K.settle(r, tags, release, "org", 1) == ST.OK
    assert sorted(calls) == [("org", L.KIND_SCRATCH, 0, 10), ("org", L.KIND_SCRATCH, 3, 25),
                             ("org", L.KIND_SCRATCH, 7, 5)]
    assert not tags.any()
    assert (r[L.S_CURSOR], r[L.S_PEAK], r[L.S_FREED], r[L.S_COUNT], r[L.S_COUNT_RESET],
            r[L.S_RESETS]) == (0, 40, 47, 5, 5, 3)

    # The allocator's release: the same settlement, not counted as a reset; peak kept.
    r = _row(cursor=8, peak=30, freed=0, count=2, resets=4)
    calls.clear()
    assert K.settle(r, np.zeros(8, np.int64), release, None, 0) == ST.OK
    assert calls == [] and (r[L.S_CURSOR], r[L.S_PEAK], r[L.S_FREED], r[L.S_COUNT_RESET],
                            r[L.S_RESETS]) == (0, 30, 8, 2, 4)

    for state in (L.STATE_FREE, L.STATE_CLOSED):
        r = _row(cursor=8, count=1, state=state)
        tags = np.array([8, 0], np.int64)
        before = r.copy(), tags.copy()
        assert K.settle(r, tags, release, None, 1) == ST.CLOSED
        assert (r == before[0]).all() and (tags == before[1]).all()


def _history(alloc, pool):
    """The same allocations, under the same tags, in every pool it is given."""
    sid = pool.id
    pool.array(3, np.uint8)
    with alloc.tag("a"):
        pool.array(2, np.float64)
        nj_bytes(alloc, sid, 5)
        with alloc.tag("b"):            # the tag "a::b"
            pool.array(7, np.int16)
    nj_bytes(alloc, sid, 11)


def _row_counters(pool):
    row = pool._state.table[pool._index]
    keep = [L.S_CURSOR, L.S_LIMIT, L.S_COUNT, L.S_CAP, L.S_PEAK, L.S_FREED, L.S_COUNT_RESET,
            L.S_RESETS, L.S_STATE, L.S_NTAGS]
    return row[keep].tolist(), pool._state.tags[pool._index].tolist()


def test_python_and_njit_reset_leave_the_same_state(nrt_leakcheck):
    """Two pools with the same history, one reset from Python and one inside @njit, twice:
    the same rows, the same tag rows, and every tag's scratch bytes given back."""
    alloc = fa.SmartAlloc()
    try:
        py, nj = alloc.scratch_pool("py", 4096), alloc.scratch_pool("nj", 4096)
        for _ in range(2):
            _history(alloc, py)
            _history(alloc, nj)
            assert _row_counters(py) == _row_counters(nj)
            tags = alloc.stats().to_dict()["tags"]
            for name, nbytes in (("a", 5 + 16 + 5), ("a::b", 1 + 14)):   # padding included
                tid = alloc.tag_id(name)
                assert _row_counters(py)[1][tid] == nbytes
                assert tags[name]["kinds"]["scratch"]["current"] == 2 * nbytes
            py.reset()
            nj_reset(alloc, nj.id)
            assert _row_counters(py) == _row_counters(nj)
            assert py.stats().resets == nj.stats().resets
            tags = alloc.stats().to_dict()["tags"]
            assert tags["a"]["kinds"]["scratch"]["current"] == 0
            assert tags["a::b"]["kinds"]["scratch"]["current"] == 0
        py.reset()                    # an empty pool: no tag holds bytes (the C-speed skip)
        assert py.stats().resets == 3 and py.used == 0
    finally:
        alloc.close()


def test_release_settles_without_counting_a_reset(nrt_leakcheck):
    """close(): every open pool's tags get their bytes back, current becomes 0 and freed takes
    it, resets unchanged (the settlement of a reset, not counted as one)."""
    alloc = fa.SmartAlloc()
    pool = alloc.scratch_pool("c", 1024)
    with alloc.tag("t"):
        pool.array(10, np.uint8)
    pool.reset()
    with alloc.tag("t"):
        pool.array(24, np.uint8)
    alloc.close()
    s = pool.stats()
    assert (s.current, s.peak, s.freed, s.allocations, s.current_allocations, s.resets) == \
        (0, 24, 34, 2, 0, 1)
    assert not pool._state.tags.any()


def _load_census():
    spec = importlib.util.spec_from_file_location("framealloc_census_scr",
                                                  os.path.join(ROOT, "scripts", "census.py"))
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def test_kernels_apart_from_the_numba_surface():
    """kernels.scratch imports no numba-surface module (lazily neither); the surface imports
    the kernels; the Python API reaches the kernels, not the surface."""
    census = _load_census()
    graph = census.build_graph(census.read_sources(ROOT))
    out: dict[str, set[str]] = {}
    for e in graph.counted():
        out.setdefault(e.src, set()).add(e.dst)
    surface = {"framealloc.kernels.njit_api", "framealloc.kernels.scratch_njit",
               "framealloc.kernels.pools_njit", "framealloc.kernels.collections_njit",
               "framealloc.kernels.python_only", "framealloc.kernels.leases",
               "framealloc.kernels.aliasing"}
    assert not out["framealloc.kernels.scratch"] & surface
    assert "framealloc.kernels.scratch" in out["framealloc.kernels.scratch_njit"]
    assert "framealloc.kernels.scratch" in out["framealloc.scratch"]
    assert "framealloc.kernels.scratch_njit" not in out["framealloc.scratch"]
