"""Nothing dangles: arrays that escape frames and scopes, frees from other threads, threads,
prange, and random sequences checked against the contents every live array must keep."""
from __future__ import annotations

import gc
import queue
import threading

import numba
import numpy as np
import pytest
from numba.typed import List

import framealloc as fa
from framealloc.transparent import transparent_status


@numba.njit(nogil=True)
def filled(n, value):
    x = np.empty(n)
    x[:] = value
    return x


@numba.njit(nogil=True)
def scribble(n, rounds):
    """Allocate and overwrite many temporaries (what would clobber a reused chunk)."""
    s = 0.0
    for r in range(rounds):
        t = np.full(n, -1.0) * 7.0  # noqa: FA607 (unmodified numba code)
        s += t[0]
    return s


@numba.njit
def keep_in_list(n, k):
    out = List()
    for i in range(k):
        out.append(filled(n, float(i)))  # noqa: FA607 (unmodified numba code)
    return out


def _capture(value):
    return lambda: value


def test_arrays_returned_stored_and_captured_outlive_frame_and_scope(alloc):
    box = {}
    with fa.transparent(alloc, chunk_size=fa.KiB(4), threshold=fa.KiB(1)) as t:
        with alloc.frame():
            returned = filled(16, 1.5)
            stored = keep_in_list(8, 20)
            captured = filled(4, 2.5)
            box["get"] = _capture(captured)         # a closure holds it
            pair = (filled(3, 4.0), filled(5, 5.0))  # inside a tuple
        for _ in range(30):                          # later frames reuse what they can
            with alloc.frame():
                scribble(16, 50)
    assert t.stats().served >= 25
    del captured
    for _ in range(5):
        with fa.transparent(alloc) as t2, alloc.frame():
            scribble(64, 100)
    assert t2.stats().served > 0
    assert (returned == 1.5).all()
    for i, x in enumerate(stored):
        assert (x == float(i)).all()
    assert (box["get"]() == 2.5).all()
    assert (pair[0] == 4.0).all() and (pair[1] == 5.0).all()


def test_frees_from_other_threads_and_producer_keeps_allocating(alloc):
    """Thread A makes arrays in frames and hands them over; thread B checks and drops them
    (their last release, on B, returns them), while A's later frames reuse its chunks."""
    q: queue.Queue = queue.Queue(maxsize=64)
    errors = []

    def producer():
        with fa.transparent(alloc, threshold=fa.KiB(2), chunk_size=fa.KiB(8)) as t:
            for i in range(400):
                with alloc.frame():
                    q.put((i, filled(1 + i % 200, float(i))))
                    scribble(32, 5)
        q.put(None)
        assert t.stats().served > 400

    def consumer():
        while (item := q.get()) is not None:
            i, x = item
            if not (x == float(i)).all() or x.shape != (1 + i % 200,):
                errors.append(i)
            del item, x

    threads = [threading.Thread(target=producer), threading.Thread(target=consumer)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []


@pytest.mark.parametrize("nthreads", [2, 5])
def test_threads_each_use_their_own_chunks(alloc, nthreads):
    results, stats = {}, {}
    barrier = threading.Barrier(nthreads)

    def work(k):
        with fa.transparent(alloc, chunk_size=fa.KiB(16)) as t:
            barrier.wait()
            mine = []
            for f in range(60):
                with alloc.frame():
                    mine.append(filled(1 + (k * 7 + f) % 50, float(k * 1000 + f)))
                    scribble(1 + k, 20)
            results[k] = mine
        stats[k] = t.stats()

    threads = [threading.Thread(target=work, args=(k,)) for k in range(nthreads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for k in range(nthreads):
        assert stats[k].served >= 60 * 21
        for f, x in enumerate(results[k]):
            assert (x == float(k * 1000 + f)).all()
    spans = sorted((x.ctypes.data, x.ctypes.data + x.nbytes)
                   for xs in results.values() for x in xs)
    assert all(end <= nxt for (_, end), (nxt, _) in zip(spans, spans[1:]))


@numba.njit(parallel=True)
def per_row_temporaries(n, m):
    out = np.empty((n, m))
    for i in numba.prange(n):
        t = np.zeros(m + i % 3)  # noqa: FA607 (depends on i: not hoisted)
        t += i
        out[i, :] = t[:m] * 2.0
    return out


def test_prange_workers_and_caller_stay_correct(alloc):
    expected = per_row_temporaries.py_func(64, 9)
    per_row_temporaries(64, 9)
    with fa.transparent(alloc) as t:
        for _ in range(5):
            with alloc.frame():
                got = per_row_temporaries(64, 9)
                np.testing.assert_array_equal(got, expected)
    assert t.stats().served >= 5                # at least the result array, on this thread
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("seed", range(6))
def test_random_sequences_never_clobber_live_arrays(alloc, seed):
    rng = np.random.default_rng(seed)
    live = {}
    serial = 0
    scope = fa.transparent(alloc, threshold=fa.KiB(2), chunk_size=fa.KiB(8))
    scope.__enter__()
    in_scope, in_frame = True, False
    try:
        for _ in range(300):
            op = rng.integers(0, 10)
            if op < 5:
                serial += 1
                live[serial] = filled(int(rng.integers(0, 400)), float(serial))
            elif op < 7 and live:
                for key in rng.choice(list(live), size=min(len(live), 3), replace=False):
                    del live[int(key)]
            elif op == 7:
                (alloc.end_frame if in_frame else alloc.begin_frame)()
                in_frame = not in_frame
            elif op == 8:
                if in_scope:
                    scope.__exit__(None, None, None)
                else:
                    scope = fa.transparent(alloc, threshold=fa.KiB(2), chunk_size=fa.KiB(8))
                    scope.__enter__()
                in_scope = not in_scope
            else:
                scribble(int(rng.integers(1, 200)), 3)
            for key, x in live.items():
                assert (x == float(key)).all(), (seed, key)
    finally:
        if in_frame:
            alloc.end_frame()
        if in_scope:
            scope.__exit__(None, None, None)
    del live, x
    gc.collect()


def test_chunks_go_back_when_the_last_array_goes(alloc):
    base = transparent_status().chunks_live
    with fa.transparent(alloc, threshold=fa.KiB(1), chunk_size=fa.KiB(4)):
        with alloc.frame():
            held = keep_in_list(64, 200)          # 200 x 512 B: many chunks
    held_chunks = transparent_status().chunks_live - base
    assert held_chunks >= 20
    half = List()
    for i in range(0, 200, 2):
        half.append(held[i])
    del held
    gc.collect()
    assert 0 < transparent_status().chunks_live - base <= held_chunks
    for j, x in enumerate(half):
        assert (x == float(2 * j)).all()
    del half, x
    gc.collect()
    assert transparent_status().chunks_live == base


@numba.njit(nogil=True)
def produce(out, first, n, m):
    for i in range(n):
        out.append(filled(1 + (first + i) % m, float(first + i)))  # noqa: FA607 (on purpose)


@numba.njit(nogil=True)
def consume(batch):
    """Check and drop every array of the batch without the GIL (the frees run here)."""
    bad = 0
    for a in batch:
        for j in range(a.shape[0]):
            if a[j] != a[0]:
                bad += 1
    while len(batch):
        batch.pop()
    return bad


def test_frees_in_nogil_code_race_the_owner_allocating(alloc):
    """Two producer threads allocate in frames without the GIL while two consumers free their
    arrays inside nogil compiled code at the same time (atomic counts, dead flags, retired
    chunks all exercised)."""
    q: queue.Queue = queue.Queue(maxsize=8)
    bad, served = [], []

    def producer(k):
        with fa.transparent(alloc, threshold=fa.KiB(1), chunk_size=fa.KiB(8)) as scope:
            for f in range(150):
                with alloc.frame():
                    batch = List.empty_list(numba.float64[::1])
                    produce(batch, k * 100000 + f * 20, 20, 90)
                    q.put(batch)
        served.append(scope.stats().served)

    def consumer():
        while (batch := q.get()) is not None:
            bad.append(consume(batch))
            del batch

    producers = [threading.Thread(target=producer, args=(k,)) for k in range(2)]
    consumers = [threading.Thread(target=consumer) for _ in range(2)]
    for th in producers + consumers:
        th.start()
    for th in producers:
        th.join()
    for _ in consumers:
        q.put(None)
    for th in consumers:
        th.join()
    assert len(bad) == 300 and sum(bad) == 0
    assert len(served) == 2 and min(served) >= 150 * 20
