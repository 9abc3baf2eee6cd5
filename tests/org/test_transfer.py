"""TransferHandle: frame data moved to another thread, received exactly once."""
from __future__ import annotations

import gc
import queue
import threading

import numpy as np
import pytest

import framealloc as fa
from framealloc.coordination import TransferError


def test_transfers_between_threads_under_load():
    alloc = fa.SmartAlloc()
    q: queue.Queue = queue.Queue(maxsize=64)
    frames, producers = 500, 3
    received = []
    errors = []

    def producer(p):
        try:
            for f in range(frames):
                with alloc.frame():
                    data = alloc.frame_array((8, 3), np.float32)
                    data[:] = p * 10_000 + f
                    q.put(alloc.frame_box_for_transfer(data))
                    # The sender's frame memory is reused right away: the transfer must not care.
                    alloc.frame_array((8, 3), np.float32)[:] = -1
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    def consumer():
        for _ in range(frames * producers):
            h = q.get(timeout=30)
            arr = h.receive()
            assert arr.shape == (8, 3) and (arr == arr.flat[0]).all()
            received.append(float(arr.flat[0]))

    threads = [threading.Thread(target=producer, args=(p,)) for p in range(producers)]
    threads.append(threading.Thread(target=consumer))
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads) and errors == []
    expected = sorted(p * 10_000 + f for p in range(producers) for f in range(frames))
    assert sorted(received) == expected
    received.clear()
    gc.collect()
    assert alloc.stats().heap.current == 0      # every transfer was released after use
    alloc.close()


def test_receive_exactly_once_and_not_after_drop():
    alloc = fa.SmartAlloc()
    with alloc.frame():
        h = alloc.frame_box_for_transfer(np.arange(4))
        h2 = alloc.frame_box_for_transfer(np.arange(2))
    assert "pending" in repr(h) and alloc.stats().heap.current == 32 + 16
    assert h.receive().tolist() == [0, 1, 2, 3] and h.received
    with pytest.raises(TransferError) as ei:
        h.receive()
    assert ei.value.code == "FA173"
    h2.drop()
    assert h2.dropped
    gc.collect()
    assert alloc.stats().heap.current == 0      # the received copy was dropped too
    with pytest.raises(TransferError) as ei:
        h2.receive()
    assert ei.value.code == "FA174"
    h2.drop()                                   # dropping twice is harmless
    for code in ("FA173", "FA174"):
        assert fa.explain(code).startswith(code)
    alloc.close()


def test_racing_receivers_get_it_once():
    alloc = fa.SmartAlloc()
    h = alloc.frame_box_for_transfer(np.ones(10))
    wins, losses = [], []
    barrier = threading.Barrier(8)

    def racer():
        barrier.wait()
        try:
            wins.append(h.receive())
        except TransferError as e:
            losses.append(e.code)

    threads = [threading.Thread(target=racer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(wins) == 1 and losses == ["FA173"] * 7
    alloc.close()
