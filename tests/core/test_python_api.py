"""Frame allocation from Python: every function, dtypes, shapes, alignment, policies, stats."""
from __future__ import annotations

import gc

import numpy as np
import pytest

import framealloc as fa
from framealloc import AllocConfig, KiB, MiB

from .conftest import PARTICLE, snapshot

NUMERIC = ["i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8", "f2", "f4", "f8", "c8", "c16", "?",
           "M8[ns]", "m8[s]", "S7", "U3"]


def test_size_helpers():
    assert (fa.KiB(1), fa.MiB(1), fa.GiB(1)) == (1024, 1 << 20, 1 << 30)
    assert fa.KiB(1.5) == 1536


def test_defaults_need_no_arguments():
    a = fa.SmartAlloc()
    assert a.config == AllocConfig()
    with a.frame():
        assert a.frame_array(10).dtype == np.float64
    a.close()


def test_frame_lifecycle_and_numbering(alloc):
    assert alloc.frame_number == 0 and not alloc.in_frame
    alloc.begin_frame()
    assert alloc.in_frame and alloc.frame_number == 1
    alloc.end_frame()
    with alloc.frame():
        assert alloc.frame_number == 2
    assert not alloc.in_frame


def test_frame_context_closes_on_exception(alloc):
    with pytest.raises(KeyError):
        with alloc.frame():
            raise KeyError("boom")
    assert not alloc.in_frame
    with alloc.frame():  # usable afterwards
        alloc.frame_array(3)


@pytest.mark.parametrize("dtype", NUMERIC)
def test_frame_array_numeric_dtypes(alloc, dtype):
    dt = np.dtype(dtype)
    with alloc.frame():
        a = alloc.frame_array((3, 5), dt)
        assert a.shape == (3, 5) and a.dtype == dt and a.flags.c_contiguous and a.flags.writeable
        assert a.ctypes.data % min(dt.alignment, 16) == 0
        a[...] = np.ones((), dt)
        assert (a == np.ones((), dt)).all()


@pytest.mark.parametrize("shape", [0, 1, 17, (0,), (4, 0), (2, 3, 4), (1, 1, 1, 1, 5), ()])
def test_frame_array_shapes(alloc, shape):
    with alloc.frame():
        a = alloc.frame_array(shape, np.int32)
        assert a.shape == np.empty(shape, np.int32).shape


def test_numpy_integer_shapes_accepted(alloc):
    with alloc.frame():
        assert alloc.frame_array(np.int64(4)).shape == (4,)
        assert alloc.frame_array((np.int32(2), np.uint8(3))).shape == (2, 3)


@pytest.mark.parametrize("align", [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096])
def test_alignment_is_the_data_address(alloc, align):
    with alloc.frame():
        for _ in range(3):
            alloc.frame_array(1, np.uint8)  # misalign the cursor
            a = alloc.frame_array(5, np.uint8, align=align)
            assert a.ctypes.data % align == 0


def test_natural_alignment_of_records(alloc):
    with alloc.frame():
        alloc.frame_array(1, np.uint8)
        ps = alloc.frame_alloc_batch(PARTICLE, 3)
        assert ps.ctypes.data % 4 == 0
        alloc.frame_array(1, np.uint8)
        assert alloc.frame_alloc(np.float64).ctypes.data % 8 == 0


def test_record_dtype_batch(alloc):
    with alloc.frame():
        ps = alloc.frame_alloc_batch(PARTICLE, 1000)
        assert ps.shape == (1000,) and ps.dtype == PARTICLE
        ps["pos"] = np.arange(3, dtype=np.float32)
        ps["life"] = 2.5
        assert ps["pos"][999, 2] == 2 and ps["life"].sum() == 2500


def test_frame_alloc_scalar_and_record(alloc):
    with alloc.frame():
        x = alloc.frame_alloc(np.int64)
        assert x.shape == () and x.dtype == np.int64
        x[()] = 41
        x += 1
        assert int(x) == 42
        p = alloc.frame_alloc(PARTICLE)
        p["life"] = 3.0
        assert p["life"] == 3.0


def test_frame_zeros_clears_reused_memory(alloc):
    with alloc.frame():
        alloc.frame_array(100, np.uint8)[:] = 0xFF
    with alloc.frame():
        z = alloc.frame_zeros(100, np.uint8)
        assert not z.any()
        assert not alloc.frame_array(4, np.float32, zero=True).any()


def test_frame_slice_box_and_fixed_sizes(alloc):
    with alloc.frame():
        s = alloc.frame_slice(np.float32, 7)
        assert s.shape == (7,) and s.dtype == np.float32
        b = alloc.frame_box(np.arange(6).reshape(2, 3))
        assert b.tolist() == [[0, 1, 2], [3, 4, 5]]
        assert float(alloc.frame_box(2.5)) == 2.5
        assert alloc.frame_box(PARTICLE.type((1, 2, 3, 4, 5, 6, 7)) if False else
                               np.zeros((), PARTICLE))["life"] == 0
        for k, f in ((2, alloc.frame_alloc_2), (4, alloc.frame_alloc_4), (8, alloc.frame_alloc_8)):
            arr = f(np.int16)
            assert arr.shape == (k,)
            arr[:] = np.arange(k)
            assert list(arr) == list(range(k))
        a, b = alloc.frame_alloc_2(np.float64)
        ra, rb = alloc.frame_alloc_2(PARTICLE)
        ra["life"] = 5.0  # record unpacking gives writable views


def test_allocations_do_not_overlap_and_keep_contents(alloc):
    with alloc.frame():
        arrays = [alloc.frame_array(n, np.int64) for n in (1, 7, 100, 3, 1000)]
        for i, a in enumerate(arrays):
            a[:] = i
        spans = sorted((a.ctypes.data, a.ctypes.data + a.nbytes) for a in arrays)
        assert all(e1 <= s2 for (_, e1), (s2, _) in zip(spans, spans[1:]))
        assert all((a == i).all() for i, a in enumerate(arrays))


def test_end_frame_reuses_memory(alloc):
    with alloc.frame():
        first = alloc.frame_array(10).ctypes.data
    with alloc.frame():
        assert alloc.frame_array(10).ctypes.data == first


def test_views_outlive_the_allocator():
    a = fa.SmartAlloc()
    with a.frame():
        v = a.frame_array(1000, np.float64)
        v[:] = 7.0
    a.close()
    del a
    gc.collect()
    junk = [np.ones(1000) for _ in range(50)]  # churn the heap
    assert (v == 7.0).all() and len(junk) == 50


# -- exhaustion policies ----------------------------------------------------------------------

def test_grow_policy_chains_then_settles():
    a = fa.SmartAlloc(AllocConfig(frame_chunk_size=KiB(4)))
    for frame in range(5):
        with a.frame():
            arrays = [a.frame_array(1000, np.float32) for _ in range(20)]  # 80 KB > 4 KiB
            for i, x in enumerate(arrays):
                x[:] = i
            assert all((x == i).all() for i, x in enumerate(arrays))
        if frame == 0:
            grown_after_first = a.stats().frame.chunks_grown
            assert grown_after_first >= 2
    s = a.stats().frame
    assert s.chunks_grown == grown_after_first, "a steady loop must stop growing"
    assert s.reserved >= s.peak >= 80_000
    a.close()


def test_error_policy_raises_and_changes_nothing():
    a = fa.SmartAlloc(AllocConfig(on_frame_exhausted="error", frame_capacity=KiB(4)))
    with a.frame():
        a.frame_array(3000, np.uint8)
        before = snapshot(a)
        with pytest.raises(fa.ArenaExhaustedError) as ei:
            a.frame_array(2000, np.uint8)
        assert ei.value.code == "FA008" and isinstance(ei.value, MemoryError)
        assert snapshot(a) == before
        assert a.try_frame_array(2000, np.uint8) is None
        assert a.try_frame_zeros(2000, np.uint8) is None
        assert a.try_frame_alloc_batch(np.uint8, 2000) is None
        assert a.try_frame_slice(np.uint8, 2000) is None
        assert a.try_frame_box(np.zeros(2000, np.uint8)) is None
        assert snapshot(a) == before
        assert a.try_frame_array(1000, np.uint8) is not None  # what fits still works
    a.close()


def test_error_policy_first_request_too_big_installs_nothing():
    a = fa.SmartAlloc(AllocConfig(on_frame_exhausted="error", frame_capacity=KiB(4)))
    with a.frame():
        before = snapshot(a)
        assert a.try_frame_array(KiB(8), np.uint8) is None
        assert snapshot(a) == before
    a.close()


def test_heap_policy_falls_back_and_counts():
    a = fa.SmartAlloc(AllocConfig(on_frame_exhausted="heap", frame_capacity=KiB(4)))
    with a.frame():
        small = a.frame_array(100, np.uint8)
        big = a.frame_array(10_000, np.float64)
        big[:] = 1.5
        small[:] = 3
        assert big.sum() == 15_000 and (small == 3).all()
        z = a.frame_zeros(5000, np.int32)
        assert not z.any()
    s = a.stats().frame
    assert s.heap_fallbacks == 2 and s.heap_fallback_bytes == 80_000 + 20_000
    assert s.reserved == KiB(4)
    a.close()
    assert big.sum() == 15_000  # heap fallback memory belongs to its view


# -- stats ------------------------------------------------------------------------------------

def test_stats_counts_bytes_and_allocations(alloc):
    with alloc.frame():
        alloc.frame_array(10, np.float64)    # 80 bytes
        alloc.frame_array(1, np.float64)     # 8 bytes
        s = alloc.stats().frame
        assert (s.current, s.current_allocations, s.allocations) == (88, 2, 2)
    with alloc.frame():
        alloc.frame_array(4, np.int32)       # 16 bytes
    s = alloc.stats()
    assert s.frame.current == 0 and s.frame.allocated == 104 and s.frame.freed == 104
    assert s.frame.peak == 88 and s.frame.allocations == 3
    assert (s.frame.frames_ended, s.frame.frames_open) == (2, 0)
    d = s.to_dict()
    import json
    assert json.loads(json.dumps(d))["frame"]["allocated"] == 104
    assert len(s.threads) == 1 and s.threads[0].frame.allocated == 104
    assert s.total_current == 0 and s.total_reserved == s.frame.reserved > 0


def test_two_allocators_never_share_state():
    a, b = fa.SmartAlloc(), fa.SmartAlloc()
    a.begin_frame()
    b.begin_frame()
    x = a.frame_array(10, np.int64)
    x[:] = 1
    b.end_frame()           # must not reset a
    y = a.frame_array(10, np.int64)
    y[:] = 2
    assert (x == 1).all() and a.in_frame and not b.in_frame
    a.end_frame()
    a.close()
    b.close()


def test_repr_and_config_validation():
    assert "SmartAlloc(" in repr(fa.SmartAlloc())
    for bad in (dict(on_frame_exhausted="explode"), dict(frame_chunk_size=1),
                dict(max_threads=0), dict(frame_capacity="big"), dict(max_checkpoints=True)):
        with pytest.raises(fa.ConfigError) as ei:
            AllocConfig(**bad)
        assert ei.value.code == "FA013"
    with pytest.raises(fa.ConfigError):
        fa.SmartAlloc(config={"frame_chunk_size": MiB(1)})


@pytest.mark.failed_malloc
def test_heap_policy_huge_first_request_fails_without_installing_a_chunk():
    a = fa.SmartAlloc(AllocConfig(on_frame_exhausted="heap"))
    from .conftest import snapshot as snap
    with a.frame():
        before = snap(a)
        with pytest.raises(fa.ArenaExhaustedError, match="FA008"):
            a.frame_array((1 << 47) - 4096, np.uint8)   # no memory for that: state unchanged
        assert snap(a) == before
        assert a.frame_array(10).shape == (10,)
    a.close()
