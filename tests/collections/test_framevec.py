"""FrameVec from Python: push/pop/len/clear/index/as-array, dtypes, aliasing, memory accounting."""
from __future__ import annotations

import numpy as np
import pytest

import framealloc as fa
from framealloc.collection_codes import (
    CollectionEmptyError,
    CollectionFullError,
    CollectionIndexError,
    CollectionValueError,
)
from framealloc.collections import FrameVec

from .conftest import PARTICLE

DTYPES = ["i1", "u2", "i4", "u8", "f2", "f4", "f8", "c16", "?", "M8[ns]", "S5", PARTICLE]


def test_push_pop_len_clear(alloc):
    with alloc.frame():
        v = alloc.frame_vec(np.float64, 3)
        assert (len(v), v.capacity, v.dtype) == (0, 3, np.float64) and not v
        v.push(1.0)
        v.push(2)
        assert v.try_push(3.5) and not v.try_push(4.0)
        assert len(v) == 3 and v.as_array().tolist() == [1.0, 2.0, 3.5]
        assert v.pop() == 3.5 and v.try_pop() == 2.0 and len(v) == 1
        v.clear()
        assert len(v) == 0 and v.try_pop() is None and v.as_array().shape == (0,)


def test_full_and_empty_raise_with_codes_and_change_nothing(alloc):
    with alloc.frame():
        v = alloc.frame_vec(np.int32, 2)
        v.extend([1, 2])
        with pytest.raises(CollectionFullError) as ei:
            v.push(3)
        assert ei.value.code == "FA131" and isinstance(ei.value, IndexError)
        assert v.as_array().tolist() == [1, 2]
        v.clear()
        with pytest.raises(CollectionEmptyError) as ei:
            v.pop()
        assert ei.value.code == "FA132" and isinstance(ei.value, IndexError) and len(v) == 0


def test_indexing_like_a_list(alloc):
    with alloc.frame():
        v = alloc.frame_vec(np.int64, 8)
        v.extend(np.arange(5))
        assert (v[0], v[4], v[-1], v[-5]) == (0, 4, 4, 0)
        v[1] = 10
        v[-1] = 40
        assert v[1:3].tolist() == [10, 2] and list(v) == [0, 10, 2, 3, 40]
        for bad in (5, 7, -6, 100):
            with pytest.raises(CollectionIndexError) as ei:
                v[bad]
            assert ei.value.code == "FA133"
            with pytest.raises(CollectionIndexError):
                v[bad] = 1
        with pytest.raises(CollectionIndexError):
            v[1.0]


def test_extend_all_or_nothing(alloc):
    with alloc.frame():
        v = alloc.frame_vec(np.float32, 4)
        v.extend([1, 2, 3])
        assert not v.try_extend([4, 5])
        with pytest.raises(CollectionFullError) as ei:
            v.extend(np.ones(2))
        assert ei.value.code == "FA131" and len(v) == 3
        assert v.try_extend([]) and v.try_extend([9]) and v.as_array().tolist() == [1, 2, 3, 9]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_dtypes(alloc, dtype):
    dt = np.dtype(dtype)
    with alloc.frame():
        v = alloc.frame_vec(dt, 5)
        one = np.ones((), dt)[()] if dt.fields is None else np.ones((), dt)
        v.push(one)
        v.push(np.zeros((), dt))
        assert v.as_array().dtype == dt and v.as_array()[0] == one
        assert v.as_array().ctypes.data % fa._dtypes.natural_alignment(dt) == 0
        assert v.pop() == np.zeros((), dt)


def test_records_pop_returns_a_copy(alloc):
    with alloc.frame():
        v = alloc.frame_vec(PARTICLE, 4)
        v.push(((1, 2, 3), (4, 5, 6), 7.0))
        rec = v.pop()
        v.push(((0, 0, 0), (0, 0, 0), 0.0))     # overwrites the slot rec came from
        assert rec["life"] == 7.0 and rec["pos"].tolist() == [1, 2, 3]
        v.as_array()["life"] = 2.5               # as_array is a live view
        assert v[0]["life"] == 2.5


def test_values_that_do_not_fit_the_dtype(alloc):
    with alloc.frame():
        v = alloc.frame_vec(np.float64, 3)
        v.push(1.0)
        for bad in ("abc", [1, 2], object()):
            with pytest.raises(CollectionValueError) as ei:
                v.push(bad)
            assert ei.value.code == "FA139" and len(v) == 1
        with pytest.raises(CollectionValueError):
            v.extend(["x"])
        with pytest.raises(CollectionValueError):
            v[0] = "y"
        assert v.as_array().tolist() == [1.0]


def test_zero_capacity(alloc):
    with alloc.frame():
        v = alloc.frame_vec(np.int8, 0)
        assert len(v) == 0 and not v.try_push(1) and v.try_pop() is None
        assert v.as_array().shape == (0,)


def test_one_frame_allocation_and_it_dies_with_the_frame(alloc):
    with alloc.frame():
        before = alloc.stats().frame
        v = alloc.frame_vec(np.float64, 100)
        after = alloc.stats().frame
        assert after.current_allocations - before.current_allocations == 1
        assert after.current - before.current == 8 + 800      # the length word, the elements
        v.extend(np.arange(100.0))
        addr = v.as_array().ctypes.data
    with alloc.frame():
        # The next frame's first allocation reuses that memory: the old vec aliases it.
        a = alloc.frame_array(101, np.float64)
        assert a.ctypes.data == addr - 8
        a[:] = -1.0
        assert len(v) == 0                       # its length word holds -1.0's bits: clamped
        assert (v.as_array() == -1.0).all()
        v.clear()                                # writes land in `a`, never outside the chunk
        assert a[0] == 0.0


def test_stale_header_never_reaches_outside_the_storage(alloc):
    with alloc.frame():
        v = alloc.frame_vec(np.int32, 4)
        for garbage in (-1, -(1 << 62), 5, 1 << 40):
            v._hdr[0] = garbage
            assert 0 <= len(v) <= 4
            assert not v.try_push(1) or len(v) <= 4
            v._hdr[0] = garbage
            assert v.try_pop() is None or garbage == 5
            v._hdr[0] = garbage
            assert v.as_array().size <= 4


def test_not_constructible_directly():
    with pytest.raises(TypeError):
        FrameVec()


def test_repr_and_numpy_interop(alloc):
    with alloc.frame():
        v = alloc.frame_vec(np.float32, 3)
        v.extend([1, 2])
        assert repr(v) == "FrameVec(dtype=float32, len=2, capacity=3)"
        assert np.asarray(v).tolist() == [1.0, 2.0] and np.sum(v) == 3.0
        assert np.asarray(v, dtype=np.int64).dtype == np.int64


def test_try_frame_vec_under_error_policy():
    a = fa.SmartAlloc(fa.AllocConfig(on_frame_exhausted="error", frame_capacity=fa.KiB(4)))
    with a.frame():
        assert a.try_frame_vec(np.float64, 10_000) is None
        assert a.stats().frame.current_allocations == 0
        with pytest.raises(fa.ArenaExhaustedError) as ei:
            a.frame_vec(np.float64, 10_000)
        assert ei.value.code == "FA008"
        assert a.try_frame_vec(np.float64, 10) is not None
    a.close()
