"""Checkpoints, rollbacks, guards and speculative allocation, from Python and njit."""
from __future__ import annotations

import threading

import numpy as np
import pytest
from numba import njit

import framealloc as fa
from framealloc import AllocConfig, KiB

from .conftest import snapshot


def test_rollback_frees_and_reuses(alloc):
    with alloc.frame():
        keep = alloc.frame_array(10, np.int64)
        keep[:] = 5
        cp = alloc.frame_checkpoint()
        tmp = alloc.frame_array(100, np.int64)
        assert alloc.stats().frame.current == 880
        alloc.rollback_to(cp)
        assert alloc.stats().frame.current == 80
        again = alloc.frame_array(100, np.int64)
        assert again.ctypes.data == tmp.ctypes.data and (keep == 5).all()
        s = alloc.stats().frame
        assert s.allocated == 80 + 800 + 800 and s.rollbacks == 1 and s.peak == 880


def test_nested_checkpoints_and_rolled_past_detection(alloc):
    with alloc.frame():
        cp1 = alloc.frame_checkpoint()
        alloc.frame_array(10)
        cp2 = alloc.frame_checkpoint()
        alloc.frame_array(10)
        alloc.rollback_to(cp2)
        alloc.rollback_to(cp2)           # rolling back to the same point twice is fine
        alloc.rollback_to(cp1)
        alloc.frame_array(30)            # now past cp2's position again
        before = snapshot(alloc)
        with pytest.raises(fa.CheckpointError) as ei:
            alloc.rollback_to(cp2)       # cp2 was rolled past
        assert ei.value.code == "FA010" and snapshot(alloc) == before
        alloc.rollback_to(cp1)           # still valid


def test_checkpoint_from_older_frame_is_stale(alloc):
    with alloc.frame():
        cp = alloc.frame_checkpoint()
    with alloc.frame():
        before = snapshot(alloc)
        with pytest.raises(fa.CheckpointError) as ei:
            alloc.rollback_to(cp)
        assert ei.value.code == "FA010" and snapshot(alloc) == before


def test_foreign_checkpoint(alloc):
    other = fa.SmartAlloc()
    with other.frame(), alloc.frame():
        cp = other.frame_checkpoint()
        with pytest.raises(fa.CheckpointError) as ei:
            alloc.rollback_to(cp)
        assert ei.value.code == "FA009"
        with pytest.raises(fa.CheckpointError):
            alloc.rollback_to((1, 2, 3))
    other.close()


def test_checkpoint_from_another_thread(alloc):
    box = {}

    def worker():
        with alloc.frame():
            box["cp"] = alloc.frame_checkpoint()

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    with alloc.frame():
        with pytest.raises(fa.WrongThreadError) as ei:
            alloc.rollback_to(box["cp"])
        assert ei.value.code == "FA011"


def test_checkpoint_outside_frame(alloc):
    with pytest.raises(fa.FrameStateError) as ei:
        alloc.frame_checkpoint()
    assert ei.value.code == "FA001"


def test_many_checkpoints_expire_oldest(alloc):
    a = fa.SmartAlloc(AllocConfig(max_checkpoints=4))
    with a.frame():
        cps = []
        for _ in range(6):
            cps.append(a.frame_checkpoint())
            a.frame_array(1)
        with pytest.raises(fa.CheckpointError):
            a.rollback_to(cps[0])        # pushed out by 4 newer ones
        a.rollback_to(cps[3])
        a.rollback_to(cps[2])
    a.close()


@pytest.mark.parametrize("max_cps", [1, 2, 3, 5, 8, 100])
@pytest.mark.parametrize("where", ["python", "njit"])
def test_the_newest_max_checkpoints_stay_valid_for_any_count(max_cps, where):
    """Any max_checkpoints (the stack holds the next power of two): each of the newest
    max_checkpoints checkpoints rolls back, one older than the stack is stale, also in @njit."""
    from numba import njit

    @njit
    def take(a, out):
        for i in range(out.shape[0]):
            cp = a.frame_checkpoint()
            for j in range(len(cp)):
                out[i, j] = cp[j]
            a.frame_array(1, np.uint8)

    a = fa.SmartAlloc(AllocConfig(max_checkpoints=max_cps))
    slots = a.config.checkpoint_slots
    assert slots >= max_cps and slots & (slots - 1) == 0 and slots < 2 * max_cps
    n = slots + 3
    with a.frame():
        if where == "python":
            cps = []
            for _ in range(n):
                cps.append(a.frame_checkpoint())
                a.frame_array(1, np.uint8)
        else:
            out = np.zeros((n, len(fa.FrameCheckpoint._fields)), np.int64)
            take(a, out)
            cps = [fa.FrameCheckpoint(*map(int, row)) for row in out]
        with pytest.raises(fa.CheckpointError):
            a.rollback_to(cps[n - slots - 1])   # pushed out of the stack
        for cp in reversed(cps[n - max_cps:]):  # the newest max_checkpoints: each valid
            a.rollback_to(cp)
    a.close()


def test_rollback_across_chunk_growth():
    a = fa.SmartAlloc(AllocConfig(frame_chunk_size=KiB(4)))
    with a.frame():
        first = a.frame_array(100, np.uint8)
        first[:] = 9
        cp = a.frame_checkpoint()
        for _ in range(10):
            a.frame_array(1000, np.uint8)  # forces growth into new chunks
        a.rollback_to(cp)
        assert a.stats().frame.current == 100
        b = a.frame_array(10, np.uint8)
        b[:] = 1
        assert (first == 9).all()
        a.frame_array(8000, np.uint8)      # continues fine after rollback
    a.close()


def test_guard_rolls_back_unless_committed(alloc):
    with alloc.frame():
        with alloc.checkpoint_guard():
            alloc.frame_array(100)
        assert alloc.stats().frame.current == 0
        with alloc.checkpoint_guard() as g:
            alloc.frame_array(100)
            g.commit()
        assert alloc.stats().frame.current == 800
        with pytest.raises(ValueError):
            with alloc.checkpoint_guard() as g:
                alloc.frame_array(100)
                g.commit()
                raise ValueError("rolls back on exceptions even when committed")
        assert alloc.stats().frame.current == 800


def test_committed_guards_do_not_fill_the_stack():
    a = fa.SmartAlloc(AllocConfig(max_checkpoints=2))
    with a.frame():
        outer = a.frame_checkpoint()
        for _ in range(10):
            with a.checkpoint_guard() as g:
                a.frame_array(1)
                g.commit()
        a.rollback_to(outer)  # still valid: committed guards popped themselves
    a.close()


def test_speculative(alloc):
    with alloc.frame():
        r = alloc.speculative(lambda: alloc.frame_array(10).size)
        assert r == (True, 10) and alloc.stats().frame.current == 80
        r = alloc.speculative(lambda: (alloc.frame_array(10), fa.FAILED)[1])
        assert r == (False, None) and alloc.stats().frame.current == 80
        with pytest.raises(ZeroDivisionError):
            alloc.speculative(lambda: (alloc.frame_array(10), 1 / 0))
        assert alloc.stats().frame.current == 80


@njit(cache=True)
def _njit_checkpoints(alloc):
    alloc.begin_frame()
    a = alloc.frame_array(10, np.int64)
    cp = alloc.frame_checkpoint()
    b = alloc.frame_array(100, np.int64)
    before = alloc.frame_bytes()
    alloc.rollback_to(cp)
    after = alloc.frame_bytes()
    c = alloc.frame_array(100, np.int64)
    same = c.ctypes.data == b.ctypes.data
    alloc.end_frame()
    return before, after, same, a.size


@njit(cache=True)
def _njit_rollback(alloc, cp):
    alloc.rollback_to(cp)


@njit(cache=True)
def _njit_checkpoint(alloc):
    return alloc.frame_checkpoint()


def test_checkpoints_in_njit(alloc):
    assert _njit_checkpoints(alloc) == (880, 80, True, 10)


def test_checkpoints_cross_between_python_and_njit(alloc):
    with alloc.frame():
        cp = _njit_checkpoint(alloc)
        assert isinstance(cp, fa.FrameCheckpoint)
        alloc.frame_array(50)
        alloc.rollback_to(cp)
        assert alloc.stats().frame.current == 0
        cp2 = alloc.frame_checkpoint()
        alloc.frame_array(50)
        _njit_rollback(alloc, cp2)
        assert alloc.stats().frame.current == 0
        other = fa.SmartAlloc()
        with other.frame():
            with pytest.raises(fa.CheckpointError, match="FA009"):
                _njit_rollback(alloc, other.frame_checkpoint())
        other.close()
        alloc.frame_array(80)
        with pytest.raises(fa.CheckpointError, match="FA010"):
            _njit_rollback(alloc, cp2._replace(serial=999))


def test_tampered_checkpoints_are_refused_not_trusted(alloc):
    # A checkpoint is plain data; one edited by hand must never move the cursor outside the chunk.
    with alloc.frame():
        alloc.frame_array(10)
        cp = alloc.frame_checkpoint()
        alloc.frame_array(10)
        before = snapshot(alloc)
        for bad in (cp._replace(cursor=-4096), cp._replace(cursor=1 << 40),
                    cp._replace(cursor=cp.cursor - 8), cp._replace(position=-8),
                    cp._replace(index=-1), cp._replace(index=1 << 40)):
            with pytest.raises(fa.CheckpointError) as ei:
                alloc.rollback_to(bad)
            assert ei.value.code == "FA010" and snapshot(alloc) == before
        alloc.rollback_to(cp)
        assert alloc.stats().frame.current == 80


def test_tampered_chunk_seq_is_refused():
    a = fa.SmartAlloc(AllocConfig(frame_chunk_size=KiB(4)))
    with a.frame():
        keep = a.frame_array(4, np.int64)
        keep[:] = 1
        cp = a.frame_checkpoint()
        a.frame_array(4, np.int64)
        before = snapshot(a)
        for bad in (cp._replace(chunk_seq=cp.chunk_seq + 1), cp._replace(chunk_seq=-1)):
            with pytest.raises(fa.CheckpointError, match="FA010"):
                a.rollback_to(bad)
            assert snapshot(a) == before
        a.frame_array(8000, np.uint8)          # grow: cp now lies in a retired chunk
        a.rollback_to(cp)                      # still valid
        a.frame_array(4, np.int64)[:] = 7
        assert (keep == 1).all()
    a.close()
