"""FrameMap from Python: insert/get/contains/remove/len/items, full and missing keys, key types."""
from __future__ import annotations

import numpy as np
import pytest

import framealloc as fa
from framealloc.collection_codes import (
    CollectionFullError,
    CollectionKeyError,
    CollectionValueError,
    FrameMapKeyError,
)
from framealloc.collections import FrameMap, map_slots

from .conftest import PARTICLE


def test_insert_get_contains_remove(alloc):
    with alloc.frame():
        m = alloc.frame_map(np.int64, np.float64, 4)
        assert (len(m), m.capacity, m.key_dtype, m.value_dtype) == (0, 4, np.int64, np.float64)
        m.insert(5, 1.5)
        m[-7] = 2.0
        assert m.try_insert(1 << 62, 3.0)
        assert len(m) == 3 and m[5] == 1.5 and m.get(-7) == 2.0 and m.get(8) is None
        assert m.get(8, -1.0) == -1.0 and 5 in m and m.contains(1 << 62) and 6 not in m
        m.remove(5)
        assert 5 not in m and len(m) == 2 and not m.try_remove(5) and m.try_remove(-7)
        del m[1 << 62]
        assert len(m) == 0 and m.keys().shape == (0,)


def test_updates_never_fail_at_full_load(alloc):
    with alloc.frame():
        m = alloc.frame_map(np.int32, np.int32, 3)
        for k in (1, 2, 3):
            m[k] = k
        assert not m.try_insert(4, 4)
        with pytest.raises(CollectionFullError) as ei:
            m.insert(4, 4)
        assert ei.value.code == "FA134" and isinstance(ei.value, IndexError)
        for k in (1, 2, 3):
            m[k] = 10 * k                     # updates at full load
            assert m.try_insert(k, 100 * k)
        assert sorted(zip(*[a.tolist() for a in m.items()])) == [(1, 100), (2, 200), (3, 300)]
        m.remove(2)
        m[4] = 4                              # room again
        assert len(m) == 3 and m[4] == 4


def test_missing_key_is_a_keyerror_with_a_code(alloc):
    with alloc.frame():
        m = alloc.frame_map(np.uint16, np.float32, 2)
        for call in (lambda: m[3], lambda: m.remove(3), lambda: m.__delitem__(3)):
            with pytest.raises(FrameMapKeyError) as ei:
                call()
            assert ei.value.code == "FA135" and isinstance(ei.value, KeyError)
            assert str(ei.value).startswith("FA135: key 3")


@pytest.mark.parametrize("kdt", ["i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8", ">i4"])
def test_key_dtypes_and_their_ranges(alloc, kdt):
    info = np.iinfo(np.dtype(kdt))
    with alloc.frame():
        m = alloc.frame_map(kdt, np.int64, 8)
        assert m.key_dtype == np.dtype(kdt).newbyteorder("=")
        for k in (int(info.min), int(info.max), 0, np.int8(1)):
            m[k] = int(k) % 97
        assert int(info.min) in m and m[int(info.max)] == int(info.max) % 97
        for bad in (int(info.min) - 1, int(info.max) + 1):
            with pytest.raises(CollectionKeyError) as ei:
                m[bad] = 0
            assert ei.value.code == "FA137"
        for bad in (1.0, "1", None, True, np.bool_(True)):
            with pytest.raises(CollectionKeyError):
                m.get(bad)


def test_record_and_other_value_dtypes(alloc):
    with alloc.frame():
        m = alloc.frame_map(np.int64, PARTICLE, 4)
        m[1] = ((1, 2, 3), (0, 0, 0), 9.0)
        rec = m[1]
        m[1] = ((0, 0, 0), (0, 0, 0), 0.0)
        assert rec["life"] == 9.0                       # a copy, not the slot
        d = alloc.frame_map(np.uint8, "M8[s]", 2)
        d[3] = np.datetime64("2020-01-01T00:00:00")
        assert d[3] == np.datetime64("2020-01-01")
        b = alloc.frame_map(np.int16, np.bool_, 2)
        b[-1] = True
        assert b[-1]


def test_value_that_does_not_fit(alloc):
    with alloc.frame():
        m = alloc.frame_map(np.int64, np.float64, 2)
        m[1] = 1.0
        with pytest.raises(CollectionValueError) as ei:
            m[2] = "abc"
        assert ei.value.code == "FA139" and 2 not in m and len(m) == 1
        with pytest.raises(CollectionValueError):
            m[1] = "abc"
        assert m[1] == 1.0


def test_collisions_and_backward_shift_deletion(alloc):
    # Keys that share a home slot exercise the probe runs and the deletion that keeps them whole.
    with alloc.frame():
        m = alloc.frame_map(np.int64, np.int64, 40)
        mask = m._mask
        home = {}
        for k in range(10_000):
            home.setdefault(FrameMap._find(m, k)[0] & mask, []).append(k)
        crowded = max(home.values(), key=len)[:8]
        others = list(range(100_000, 100_020))
        for k in crowded + others:
            m[k] = k * 3
        for k in crowded[::2] + others[::3]:
            m.remove(k)
        alive = set(crowded[1::2]) | (set(others) - set(others[::3]))
        assert set(m.keys().tolist()) == alive and len(m) == len(alive)
        for k in alive:
            assert m[k] == 3 * k
        for k in crowded[::2]:
            assert k not in m


def test_clear_items_keys_values_iter_repr(alloc):
    with alloc.frame():
        m = alloc.frame_map(np.int32, np.float32, 10)
        for k in range(6):
            m[k * 11] = k / 2
        ks, vs = m.items()
        assert sorted(ks.tolist()) == [0, 11, 22, 33, 44, 55] and ks.dtype == np.int32
        assert dict(zip(ks.tolist(), vs.tolist())) == {k * 11: k / 2 for k in range(6)}
        assert (m.keys() == ks).all() and (m.values() == vs).all() and sorted(m) == sorted(ks)
        assert repr(m) == "FrameMap(key_dtype=int32, value_dtype=float32, len=6, capacity=10)"
        m.clear()
        assert len(m) == 0 and 11 not in m and m.items()[0].size == 0


def test_table_size_and_one_frame_allocation(alloc):
    assert [map_slots(c) for c in (0, 1, 2, 5, 10, 11, 100)] == [2, 2, 4, 8, 16, 32, 256]
    with alloc.frame():
        before = alloc.stats().frame
        m = alloc.frame_map(np.int64, np.float32, 100)
        after = alloc.stats().frame
        assert after.current_allocations - before.current_allocations == 1
        assert after.current - before.current == 16 + 256 + 256 * 8 + 256 * 4
        assert m._state.shape == (256,)


def test_zero_capacity(alloc):
    with alloc.frame():
        m = alloc.frame_map(np.int64, np.int64, 0)
        assert not m.try_insert(1, 1) and m.get(1) is None and len(m) == 0


def test_stale_table_never_loops_or_reaches_outside(alloc):
    with alloc.frame():
        m = alloc.frame_map(np.int64, np.int64, 3)
        m._state[:] = 1                       # what a stale map may read: no empty slot at all
        m._keys[:] = 7
        m._vals[:] = 9
        m._hdr[0] = -5
        assert len(m) == 0 and not m.try_insert(123, 1)
        assert m.get(123) is None and 123 not in m    # every slot probed once, then not found
        assert m.get(7) == 9                          # a key the table holds is still found
        m._hdr[0] = 1 << 50
        assert len(m) == 3


def test_not_constructible_directly():
    with pytest.raises(TypeError):
        FrameMap()


def test_try_frame_map_under_error_policy():
    a = fa.SmartAlloc(fa.AllocConfig(on_frame_exhausted="error", frame_capacity=fa.KiB(4)))
    with a.frame():
        assert a.try_frame_map(np.int64, np.float64, 10_000) is None
        assert a.stats().frame.current_allocations == 0
        with pytest.raises(fa.ArenaExhaustedError):
            a.frame_map(np.int64, np.float64, 10_000)
        assert a.try_frame_map(np.int64, np.float64, 10) is not None
    a.close()
