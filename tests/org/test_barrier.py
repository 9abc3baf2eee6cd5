"""FrameBarrier: re-arms every frame, times out and breaks instead of hanging."""
from __future__ import annotations

import random
import threading
import time

import pytest

import framealloc as fa
from framealloc.coordination import BarrierError, BarrierTimeoutError, BrokenFrameBarrierError


def _run(n, target):
    errors = []

    def wrap(i):
        try:
            target(i)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=wrap, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "deadlock: a thread is still waiting"
    return errors


def test_four_threads_ten_thousand_frames_with_random_delays():
    frames, parties = 10_000, 4
    barrier = fa.FrameBarrier(parties, timeout=30)
    progress = [0] * parties
    lag = []

    def worker(i):
        rng = random.Random(i)
        for f in range(frames):
            if rng.random() < 0.02:
                time.sleep(rng.random() * 1e-4)
            progress[i] = f + 1
            done = barrier.arrive_and_wait()
            # Nobody can be more than one frame ahead of anybody: the barrier re-armed itself.
            lag.append(max(progress) - min(progress))
            assert done >= f + 1

    assert _run(parties, worker) == []
    assert barrier.frame == frames and max(lag) <= 1


def test_signal_then_wait_separately():
    barrier = fa.FrameBarrier(2)
    order = []

    def other(_):
        time.sleep(0.05)
        order.append("other signals")
        barrier.signal_frame_complete()
        barrier.wait_all(timeout=10)

    t = threading.Thread(target=other, args=(0,))
    t.start()
    assert barrier.signal_frame_complete() == 0
    assert barrier.wait_all(timeout=10) == 1
    order.append("main released")
    t.join()
    assert order == ["other signals", "main released"]


def test_timeout_breaks_the_barrier_for_everyone_and_reset_repairs_it():
    barrier = fa.FrameBarrier(3)
    barrier_errors = []

    def waiter(_):
        try:
            barrier.arrive_and_wait(timeout=30)
        except BrokenFrameBarrierError as e:
            barrier_errors.append(e.code)

    t = threading.Thread(target=waiter, args=(0,))
    t.start()
    time.sleep(0.05)
    with pytest.raises(BarrierTimeoutError) as ei:
        barrier.arrive_and_wait(timeout=0.1)      # the third party never comes
    t.join(timeout=10)
    assert ei.value.code == "FA170" and isinstance(ei.value, TimeoutError)
    assert barrier_errors == ["FA171"] and barrier.broken
    with pytest.raises(BrokenFrameBarrierError):
        barrier.signal_frame_complete()
    barrier.reset()
    assert not barrier.broken
    assert _run(3, lambda i: barrier.arrive_and_wait(timeout=10)) == []


def test_double_signal_and_bad_parties():
    barrier = fa.FrameBarrier(2)
    barrier.signal_frame_complete()
    with pytest.raises(BarrierError) as ei:
        barrier.signal_frame_complete()
    assert ei.value.code == "FA172"
    for bad in (0, -1, 1.5, True):
        with pytest.raises(BarrierError) as ei:
            fa.FrameBarrier(bad)
        assert ei.value.code == "FA175"
    for code in ("FA170", "FA171", "FA172", "FA175"):
        assert fa.explain(code).startswith(code)


def test_abort_releases_waiters():
    barrier = fa.FrameBarrier(2)
    result = []

    def waiter(_):
        try:
            barrier.arrive_and_wait(timeout=30)
        except BrokenFrameBarrierError:
            result.append("broken")

    t = threading.Thread(target=waiter, args=(0,))
    t.start()
    time.sleep(0.05)
    barrier.abort()
    t.join(timeout=10)
    assert result == ["broken"]
