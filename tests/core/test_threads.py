"""Threads: one arena per Python thread, one sub-arena per prange worker, no shared cursor."""
from __future__ import annotations

import threading
import time

import numba
import numpy as np
from numba import njit, prange

import framealloc as fa
from framealloc import AllocConfig, KiB

STRESS_SECONDS = 3.0


def _run_threads(target, n):
    errors = []

    def wrap(i):
        try:
            target(i)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=wrap, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    assert not errors, errors


def test_python_threads_have_their_own_arenas():
    alloc = fa.SmartAlloc(AllocConfig(frame_chunk_size=KiB(4)))
    deadline = time.monotonic() + STRESS_SECONDS
    frames = [0] * 8

    def worker(i):
        rng = np.random.default_rng(i)
        while time.monotonic() < deadline:
            with alloc.frame():
                views = []
                for k in range(int(rng.integers(1, 20))):
                    v = alloc.frame_array(int(rng.integers(1, 300)), np.int32)
                    v[:] = i * 1000 + k
                    views.append(v)
                    if k % 5 == 4:
                        with alloc.checkpoint_guard():
                            alloc.frame_array(50, np.int64)[:] = -1
                for k, v in enumerate(views):
                    assert (v == i * 1000 + k).all(), "another thread wrote into my frame"
            frames[i] += 1
        assert alloc.frame_number == frames[i]

    _run_threads(worker, 8)
    import gc
    gc.collect()
    stats = alloc.stats()
    assert all(f > 10 for f in frames), frames
    # The threads ended: their frames are in the entry of the ended threads.
    assert sum(t.frame_number for t in stats.threads) == sum(frames) == stats.frame.frames_ended
    assert [(t.ended, t.threads) for t in stats.threads] == [(True, 8)]
    alloc.close()


def test_stats_keep_the_history_of_threads_that_ended():
    alloc = fa.SmartAlloc()

    def worker(i):
        for _ in range(3):
            with alloc.frame():
                alloc.frame_array(1000, np.float64)

    _run_threads(worker, 1)
    import gc
    gc.collect()
    s = alloc.stats().frame
    assert (s.allocated, s.allocations, s.frames_ended, s.peak) == (24_000, 3, 3, 8000)
    (ended,) = alloc.stats().threads            # the thread's slot was given back
    assert (ended.ended, ended.slot, ended.thread_id, ended.threads) == (True, None, None, 1)
    assert ended.frame == s and ended.frame_number == 3
    alloc.close()


def test_thread_end_returns_its_slot():
    alloc = fa.SmartAlloc(AllocConfig(max_threads=2))
    alloc.begin_frame()

    def worker(i):
        with alloc.frame():
            alloc.frame_array(10)

    for _ in range(5):  # more threads over time than slots: slots are recycled
        _run_threads(worker, 1)
        import gc
        gc.collect()
    alloc.end_frame()
    alloc.close()


@njit(nogil=True, cache=True)
def _stamp_serial(alloc, stamp, rounds, out):
    bad = 0
    for r in range(rounds):
        alloc.begin_frame()
        vs = alloc.frame_array((64, 16), np.int64)
        for i in range(64):
            vs[i, :] = stamp
        for k in range(200):
            w = alloc.frame_array(8, np.int64)
            w[:] = stamp
        for i in range(64):
            for j in range(16):
                if vs[i, j] != stamp:
                    bad += 1
        alloc.end_frame()
    out[0] = bad


def test_nogil_kernels_in_two_python_threads_never_share_a_cursor():
    alloc = fa.SmartAlloc()
    outs = [np.full(1, -1, np.int64) for _ in range(4)]
    _stamp_serial(alloc, 99, 1, outs[0])  # compile first

    def worker(i):
        _stamp_serial(alloc, i + 1, 3000, outs[i])

    _run_threads(worker, 4)
    assert [int(o[0]) for o in outs] == [0, 0, 0, 0]
    alloc.close()


@njit(parallel=True, cache=True)
def _stamp_prange(alloc, n, out, owner):
    for i in prange(n):
        a = alloc.frame_array(32, np.int64)
        a[:] = i
        owner[i] = numba.get_thread_id()
        bad = 0
        for rep in range(20):  # give other workers time to clobber, if they could
            for j in range(32):
                if a[j] != i:
                    bad += 1
        out[i] = bad


def test_prange_workers_use_their_own_rows():
    numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
    alloc = fa.SmartAlloc()
    n = 20_000
    out = np.full(n, -1, np.int64)
    owner = np.full(n, -1, np.int64)
    with alloc.frame():
        _stamp_prange(alloc, n, out, owner)
        stats = alloc.stats().frame
    assert (out == 0).all(), "a prange worker wrote into another worker's block"
    assert stats.current_allocations == n
    used_rows = np.count_nonzero(alloc._rows["count_total"][alloc._tls.arena.slot])
    assert used_rows == len(np.unique(owner))
    alloc.close()


@njit(parallel=True, cache=True)
def _frames_prange(alloc, frames, n):
    total = 0.0
    for f in range(frames):
        alloc.begin_frame()
        acc = np.zeros(n)
        for i in prange(n):
            a = alloc.frame_array(4, np.float64)
            a[:] = 1.0
            acc[i] = a.sum()
        total += acc.sum()
        alloc.end_frame()
    return total


def test_frames_opened_in_serial_code_cover_prange_workers():
    alloc = fa.SmartAlloc()
    assert _frames_prange(alloc, 5, 1000) == 5 * 4000.0
    assert alloc.frame_number == 5 and not alloc.in_frame
    alloc.close()


@njit(parallel=True, cache=True)
def _try_prange(alloc, n, got):
    for i in prange(n):
        a = alloc.try_frame_array(256, np.uint8)
        got[i] = a is not None


def test_try_forms_report_exhaustion_inside_prange():
    # Exceptions raised inside prange bodies are not reliably propagated by numba's threading
    # layers (numba issue 2811), so parallel code should use try_ forms: they return None.
    alloc = fa.SmartAlloc(AllocConfig(on_frame_exhausted="error", frame_capacity=KiB(4)))
    got = np.zeros(1000, np.bool_)
    with alloc.frame():
        _try_prange(alloc, 1000, got)
    workers = np.count_nonzero(alloc._rows["capacity"][alloc._tls.arena.slot])
    assert got.sum() == 16 * workers  # each worker's 4 KiB arena holds sixteen 256-byte blocks
    alloc.close()
