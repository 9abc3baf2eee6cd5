"""What is served from chunks, what is not, and that results are numba's own."""
from __future__ import annotations

import numba
import numpy as np
import pytest

import framealloc as fa
from framealloc.transparent import transparent_status

from .kernels import CREATIONS


def _args(n=16, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random(n), rng.random(n)


@pytest.mark.parametrize("name", sorted(CREATIONS))
def test_every_creation_is_served_in_a_frame_and_equals_numpy(alloc, name):
    fn = CREATIONS[name]
    a, b = _args()
    expected = fn.py_func(a, b)
    fn(a, b)                                    # compiled after install: uses the hook
    with fa.transparent(alloc) as t, alloc.frame():
        got = fn(a, b)
    assert t.stats().served >= 1, name
    assert t.stats().served_bytes >= got.nbytes
    assert (got.shape, got.dtype) == (expected.shape, expected.dtype)
    if not name.startswith("empty"):                # np.empty's contents are undefined
        np.testing.assert_allclose(got, expected)


@pytest.mark.parametrize("name", sorted(CREATIONS))
def test_outside_a_frame_nothing_is_served(alloc, name):
    fn = CREATIONS[name]
    a, b = _args()
    with fa.transparent(alloc) as t:
        got = fn(a, b)
    s = t.stats()
    assert s.served == 0 and s.outside >= 1 and s.chunks_new == 0
    assert got.shape == fn.py_func(a, b).shape


def test_without_a_scope_a_frame_changes_nothing(alloc):
    fn = CREATIONS["expression"]
    a, b = _args()
    before = transparent_status().chunks_total
    with alloc.frame():
        fn(a, b)
    assert transparent_status().chunks_total == before


@pytest.mark.parametrize("threshold", [0, 64, 128, 4096])
@pytest.mark.parametrize("n", [1, 8, 16, 17, 600])
def test_requests_above_the_threshold_go_to_numba(alloc, threshold, n):
    fn = CREATIONS["zeros"]
    a = np.ones(n)
    with fa.transparent(alloc, threshold=threshold, chunk_size=fa.KiB(8)) as t, alloc.frame():
        z = fn(a, a)
    s = t.stats()
    nbytes = 8 * n
    assert (s.served, s.large) == ((1, 0) if nbytes <= threshold else (0, 1))
    assert z.sum() == 0 and z.shape == (n,)


def test_served_arrays_are_aligned_and_disjoint(alloc):
    @numba.njit
    def many(sizes):
        out = []
        for i in range(sizes.shape[0]):
            x = np.empty(sizes[i], np.uint8)  # noqa: FA607 (unmodified numba code)
            x[:] = i % 251
            out.append(x)  # noqa: FA607 (unmodified numba code)
        return out

    sizes = np.random.default_rng(3).integers(0, 3000, 300)
    with fa.transparent(alloc, threshold=fa.KiB(4), chunk_size=fa.KiB(16)) as t, alloc.frame():
        arrays = many(sizes)
    assert t.stats().served == len(sizes)
    assert t.stats().chunks_new > 1                    # several chunks were needed
    spans = sorted((x.ctypes.data, x.ctypes.data + x.nbytes) for x in arrays if x.nbytes)
    assert all(end <= nxt for (_, end), (nxt, _) in zip(spans, spans[1:]))
    assert all(x.ctypes.data % 32 == 0 for x in arrays)
    for i, x in enumerate(arrays):
        assert (x == i % 251).all()


def test_chunk_is_reused_only_when_nothing_in_it_lives(alloc):
    fn = CREATIONS["zeros"]
    a = np.ones(4)
    with fa.transparent(alloc) as t:
        with alloc.frame():
            first = fn(a, a)
        with alloc.frame():
            second = fn(a, a)            # first is alive: no rewind, a new address
        assert second.ctypes.data != first.ctypes.data
        addr = second.ctypes.data
        del first, second
        with alloc.frame():
            third = fn(a, a)             # nothing alive: the chunk starts over
        assert t.stats().rewinds >= 1
        assert third.ctypes.data < addr
        del third
    assert t.stats().chunks_new == 1


def test_a_full_chunk_with_live_arrays_is_retired_not_reused(alloc):
    @numba.njit
    def keep(n, m):
        out = []
        for i in range(n):
            out.append(np.full(m, float(i)))  # noqa: FA607 (unmodified numba code)
        return out

    with fa.transparent(alloc, threshold=fa.KiB(4), chunk_size=fa.KiB(4)) as t:
        with alloc.frame():
            kept = keep(40, 64)          # 40 x 512 B: ~5 chunks, all alive
        with alloc.frame():
            keep(200, 64)                # more frames allocating over them
    s = t.stats()
    assert s.chunks_new >= 5 and s.retired_live >= 4
    for i, x in enumerate(kept):
        assert (x == float(i)).all()
    live = transparent_status().chunks_live
    del kept
    import gc
    gc.collect()
    assert transparent_status().chunks_live < live


def test_nested_scopes_use_the_innermost_allocator_and_sizes(alloc):
    other = fa.SmartAlloc()
    fn = CREATIONS["zeros"]
    a = np.ones(100)                    # 800 bytes
    try:
        with fa.transparent(alloc) as outer:
            with alloc.frame():
                fn(a, a)
                with fa.transparent(other, threshold=512) as inner:
                    fn(a, a)             # other has no frame open: numba
                    with other.frame():
                        fn(a, a)         # 800 > 512: numba
                fn(a, a)                 # back to the outer scope
        assert inner.stats().outside == 1 and inner.stats().large == 1
        assert inner.stats().served == 0
        assert outer.stats().served == 2
    finally:
        other.close()


def test_temporaries_above_a_live_array_are_reused(alloc):
    """A long-lived array at the bottom of the chunk does not pin the space above it: blocks
    that died on top of the stack are given back before the next allocation."""
    @numba.njit
    def kernel(n, rounds):
        keep = np.zeros(n)
        for r in range(rounds):
            t = np.ones(n) * r  # noqa: FA607 (two temporaries, dead at the round's end)
            keep += t
        return keep

    with fa.transparent(alloc, threshold=fa.KiB(8), chunk_size=fa.KiB(8)) as t, alloc.frame():
        got = kernel(100, 500)          # 1000 x 800 B temporaries through an 8 KiB chunk
    assert t.stats().chunks_new == 1 and t.stats().served == 1001
    assert (got == sum(range(500))).all()


def test_a_dead_block_under_a_live_one_waits_for_it(alloc):
    @numba.njit
    def make(n):
        return np.full(n, float(n))

    with fa.transparent(alloc, threshold=fa.KiB(4), chunk_size=fa.KiB(4)) as t:
        with alloc.frame():
            a = make(10)
            b = make(11)
            del a                        # below b: cannot be reused yet
            c = make(12)
            assert c.ctypes.data > b.ctypes.data
            del b, c                     # now both tops are dead: all three come back
            d = make(13)
    assert (d == 13.0).all() and t.stats().chunks_new == 1
    del d
