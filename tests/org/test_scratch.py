"""Named scratch pools: registry, persistence across frames, reset, alignment, exact capacity,
try forms, bad inputs (code + state unchanged), views outliving reset and the allocator, tag and
budget charges, @njit methods, a model check, and the docs."""
from __future__ import annotations

import doctest
import gc
import os
import threading
from dataclasses import asdict

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numba import njit

import framealloc as fa
from framealloc import scratch as S
from framealloc import scratch_codes
from framealloc.kernels.org_state import KIND_SCRATCH

pytestmark = pytest.mark.usefixtures("nrt_leakcheck")

PARTICLE = np.dtype([("pos", "f4", 3), ("vel", "f4", 3), ("life", "f4")])


@pytest.fixture
def alloc(nrt_leakcheck):
    a = fa.SmartAlloc()
    yield a
    a.close()


def snapshot(a: fa.SmartAlloc) -> bytes:
    """Every byte of an allocator's scratch state: the pool table and the per-tag table."""
    st = a._scratch_state()
    return b"" if st is None else st.table.tobytes() + st.tags.tobytes()


def tag_bytes(pool: fa.ScratchPool) -> np.ndarray:
    return pool._state.tags[pool._index].copy()


# ---------------------------------------------------------------------------------------------
# @njit kernels (few, generic: compile time)

@njit(cache=True)
def nj_bytes(alloc, sid, n, align):
    return alloc.scratch_array(sid, n, np.uint8, align=align)


@njit(cache=True)
def nj_try_bytes(alloc, sid, n, align):
    return alloc.try_scratch_array(sid, n, np.uint8, align=align)


@njit(cache=True)
def nj_try_zeros(alloc, sid, n):
    return alloc.try_scratch_zeros(sid, n, np.int32)


@njit(cache=True)
def nj_kinds(alloc, sid, n):
    a = alloc.scratch_array(sid, (n, 3), np.float32)
    a[:] = 1.5
    z = alloc.scratch_zeros(sid, n, np.int16)
    d = alloc.scratch_array(sid, n)
    d[:] = 2.0
    p = alloc.scratch_array(sid, n, PARTICLE)
    for i in range(n):
        p[i].life = i
    s = alloc.scratch_array(sid, (), np.int64)
    s[()] = 42
    return a, z, d, p, s, alloc.scratch_used(sid)


@njit(cache=True)
def nj_reset(alloc, sid):
    alloc.scratch_reset(sid)
    return alloc.scratch_used(sid)


@njit(cache=True)
def nj_used(alloc, sid):
    return alloc.scratch_used(sid)


@njit(cache=True)
def nj_many(alloc, sid, k):
    """k allocations, a reset, then k allocations of varying size, dtype and alignment, each
    filled with its index; True if every array of the second round still holds its index.
    (No list.clear(): numba's leaks the references of reflected-list items.)"""
    for i in range(k):
        alloc.scratch_array(sid, i % 7 + 1, np.int32)[:] = -1
    alloc.scratch_reset(sid)
    ints = [alloc.scratch_array(sid, 1, np.int32, align=4)]
    ints[0][0] = 0
    floats = [alloc.scratch_array(sid, (1, 2), np.float64)]
    floats[0][:] = 1
    for i in range(2, k):
        if i % 2 == 0:
            a = alloc.scratch_array(sid, i % 7 + 1, np.int32, align=4 << (i % 4))
            a[:] = i
            ints.append(a)  # noqa: FA607 (a test of many live arrays)
        else:
            b = alloc.scratch_array(sid, (i % 5 + 1, 2), np.float64)
            b[:] = i
            floats.append(b)  # noqa: FA607
    ok = True
    for j in range(len(ints)):
        ok = ok and (ints[j] == 2 * j).all()
    for j in range(len(floats)):
        ok = ok and (floats[j] == 2 * j + 1).all()
    return ok


@njit(cache=True)
def nj_shape2(alloc, sid, n, m):
    return alloc.scratch_array(sid, (n, m), np.float32)


# ---------------------------------------------------------------------------------------------
# Registry

def test_get_or_create_and_registry(alloc):
    assert alloc.scratch_pools() == {} and alloc.get_scratch_pool("physics") is None
    p = alloc.scratch_pool("physics", fa.KiB(4))
    assert isinstance(p, fa.ScratchPool)
    assert (p.name, p.capacity, p.used, p.available) == ("physics", 4096, 0, 4096)
    assert not p.closed
    assert alloc.scratch_pool("physics") is p
    assert alloc.scratch_pool("physics", 4096) is p
    assert alloc.get_scratch_pool("physics") is p
    q = alloc.scratch_pool("render", 100)
    assert q.id != p.id and isinstance(p.id, int)
    assert list(alloc.scratch_pools()) == ["physics", "render"]
    # The handle is only a view of the registry: a new one after the old is dropped is equal.
    pid = p.id
    del p
    gc.collect()
    p2 = alloc.get_scratch_pool("physics")
    assert p2.id == pid and p2 == alloc.scratch_pool("physics") and hash(p2) == hash(pid)
    assert "physics" in repr(p2)


def test_registry_stats_and_section(alloc):
    p = alloc.scratch_pool("a", 1000)
    q = alloc.scratch_pool("b", 500)
    p.array(10, np.float64)                 # 80
    p.array(1, np.uint8)                    # 81
    p.array(1, np.float64)                  # pad to 88, +8 = 96
    p.reset()
    p.array(3, np.int16)                    # 6
    q.zeros(5, np.int32)                    # 20
    reg = alloc.scratch_pools()
    a = reg["a"]
    assert (a.name, a.current, a.peak, a.allocated, a.freed) == ("a", 6, 96, 102, 96)
    assert (a.allocations, a.current_allocations, a.resets, a.capacity, a.reserved,
            a.pools) == (4, 1, 1, 1000, 1000, 1)
    assert p.stats() == a
    sec = alloc._scratch_section()
    assert set(sec) == {"scratch", "scratch_pools"} and sec["scratch_pools"] == reg
    tot = sec["scratch"]
    assert isinstance(tot, fa.ScratchStats) and tot.name == ""
    assert (tot.current, tot.peak, tot.allocated, tot.freed, tot.allocations,
            tot.current_allocations, tot.resets, tot.capacity, tot.reserved, tot.pools) == \
        (26, 116, 122, 96, 5, 2, 1, 1500, 1500, 2)
    assert asdict(tot)["allocated"] - asdict(tot)["freed"] == tot.current
    empty = fa.SmartAlloc()
    assert empty._scratch_section() == {"scratch": fa.ScratchStats(), "scratch_pools": {}}
    empty.close()


def test_pool_limit_fa162(alloc):
    for i in range(S.MAX_SCRATCH_POOLS):
        alloc.scratch_pool(f"p{i}", 16)
    before = snapshot(alloc)
    with pytest.raises(fa.ScratchError) as ei:
        alloc.scratch_pool("one-too-many", 16)
    assert ei.value.code == "FA162" and snapshot(alloc) == before
    assert alloc.scratch_pool("p7") is alloc.scratch_pool("p7", 16)   # existing ones still work


# ---------------------------------------------------------------------------------------------
# Allocation, persistence, reset

def test_persists_across_frames_until_reset(alloc):
    pool = alloc.scratch_pool("nav", fa.KiB(64))
    with alloc.frame():
        grid = pool.zeros((32, 32), np.float32)
        grid[0, :] = 7.0
        alloc.frame_array(1000, np.float64)[:] = -1.0      # frame memory churns around it
    for f in range(5):
        with alloc.frame():
            alloc.frame_array((64, 64), np.float64)[:] = f
            grid[f + 1, f] = f
    assert grid[0].tolist() == [7.0] * 32 and [grid[f + 1, f] for f in range(5)] == [0, 1, 2, 3, 4]
    assert pool.used == 4096 and pool.stats().allocations == 1
    addr = grid.ctypes.data
    pool.reset()
    assert pool.used == 0
    again = pool.array((32, 32), np.float32)
    assert again.ctypes.data == addr                    # the memory is reused...
    again[:] = 3.0
    assert grid[0, 0] == 3.0                            # ...and the old view aliases it


def test_kinds_of_arrays(alloc):
    pool = alloc.scratch_pool("k", 4096)
    a = pool.array((2, 3), np.float32)
    z = pool.zeros(4, "i2")
    r = pool.array(3, PARTICLE)
    s = pool.array((), np.int64)
    t = pool.try_zeros((2, 2))
    assert (a.shape, a.dtype, z.tolist(), r.dtype, s.shape, t.dtype) == \
        ((2, 3), np.float32, [0, 0, 0, 0], PARTICLE, (), np.float64)
    assert a.flags.c_contiguous and a.flags.writeable and not a.flags.owndata
    b1 = pool.box(np.arange(6.0).reshape(2, 3))
    b2 = pool.box(3)
    rec = np.zeros((), PARTICLE)
    rec["life"] = 9.0
    b3 = pool.box(rec)
    b4 = pool.try_box(np.array([1, 2], np.uint16))
    assert b1.tolist() == [[0, 1, 2], [3, 4, 5]] and int(b2) == 3 and float(b3["life"]) == 9.0
    assert b4.dtype == np.uint16 and b4.tolist() == [1, 2]
    # every allocation lies inside the pool's buffer and none overlap
    views = [a, z, r, s, t, b1, b2, b3, b4]
    spans = sorted((v.ctypes.data, v.ctypes.data + v.nbytes) for v in views)
    base = pool._state.table[pool._index, S.S_BASE]
    assert spans[0][0] >= base and spans[-1][1] <= base + pool.capacity
    assert all(e1 <= s2 for (_, e1), (s2, _) in zip(spans, spans[1:]))


def test_zero_fill_after_reset(alloc):
    pool = alloc.scratch_pool("z", 256)
    pool.array(32, np.int64)[:] = -1
    pool.reset()
    assert pool.zeros(32, np.int64).tolist() == [0] * 32
    pool.reset()
    assert pool.array(32, np.int64, zero=True).tolist() == [0] * 32
    pool.reset()
    assert not pool.try_array(32, np.int64, zero=True).any()


@pytest.mark.parametrize("align", [1, 2, 4, 8, 16, 32, 64, 128, 256, 1024, 4096])
def test_alignment_by_address(alloc, align):
    pool = alloc.scratch_pool("al", 4 * 4096)
    pool.array(3, np.uint8)                              # an odd cursor
    a = pool.array(5, np.float32, align=align)
    assert a.ctypes.data % max(align, 4) == 0
    b = pool.array(7, np.uint8, align=align)
    assert b.ctypes.data % align == 0 and b.ctypes.data >= a.ctypes.data + a.nbytes
    c = nj_bytes(alloc, pool.id, 3, align)
    assert c.ctypes.data % align == 0 and c.ctypes.data >= b.ctypes.data + b.nbytes
    d = pool.array(2, np.complex128)                     # natural alignment (8)
    assert d.ctypes.data % 8 == 0


def test_contents_intact_across_many_allocations(alloc):
    pool = alloc.scratch_pool("many", 1 << 20)
    rng = np.random.default_rng(1)
    live = []
    for i in range(2000):
        dt = [np.uint8, np.int16, np.float32, np.float64, PARTICLE][i % 5]
        n = int(rng.integers(0, 20))
        align = [None, 8, 64][i % 3]
        a = pool.array(n, dt, align=align)
        a.view(np.uint8)[:] = i % 251
        live.append((a, i % 251))
    assert all((a.view(np.uint8) == v).all() for a, v in live)
    assert pool.stats().allocations == 2000


def test_exact_capacity_and_one_byte_over(alloc):
    pool = alloc.scratch_pool("cap", 1000)
    a = pool.array(999, np.uint8)
    b = pool.array(1, np.uint8)                          # exactly at capacity: fine
    assert pool.used == 1000 and pool.available == 0 and b.ctypes.data == a.ctypes.data + 999
    before = snapshot(alloc)
    for call in (lambda: pool.array(1, np.uint8), lambda: pool.zeros(1, np.uint8),
                 lambda: pool.box(np.uint8(1)), lambda: pool.array(0, np.float64, align=4096)):
        with pytest.raises(fa.ScratchFullError) as ei:
            call()
        assert ei.value.code == "FA161" and isinstance(ei.value, MemoryError)
        assert snapshot(alloc) == before
    assert pool.array(0, np.uint8).size == 0             # a 0-byte request at the end fits
    fresh = alloc.scratch_pool("cap2", 1000)
    before = snapshot(alloc)
    for call in (lambda: fresh.array(1001, np.uint8), lambda: fresh.array((7, 11, 13), np.uint8),
                 lambda: nj_bytes(alloc, fresh.id, 1001, 1)):
        with pytest.raises(fa.ScratchFullError) as ei:
            call()
        assert ei.value.code == "FA161" and snapshot(alloc) == before
    assert nj_bytes(alloc, fresh.id, 1000, 1).size == 1000 and fresh.available == 0


def test_try_forms_return_none_and_change_nothing(alloc):
    pool = alloc.scratch_pool("t", 64)
    assert pool.try_array(7, np.float64) is not None
    before = snapshot(alloc)
    assert pool.try_array(2, np.float64) is None
    assert pool.try_zeros(9, np.uint8) is None
    assert pool.try_box(np.arange(2.0)) is None
    assert alloc.try_scratch_array(pool.id, 9, np.uint8) is None
    assert alloc.try_scratch_zeros(pool.id, 9, np.uint8) is None
    assert nj_try_bytes(alloc, pool.id, 9, 1) is None
    assert nj_try_zeros(alloc, pool.id, 3) is None
    assert snapshot(alloc) == before
    assert pool.try_array(8, np.uint8) is not None and pool.used == 64


# ---------------------------------------------------------------------------------------------
# Bad inputs: documented code, state unchanged

BAD_NAMES = [None, "", 5, b"x", "a\nb", "x" * 129, ("a",)]
BAD_CAPACITIES = [0, -1, 1.5, True, "10", 2**47 + 1, [8], np.float64(8)]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_names(alloc, name):
    alloc.scratch_pool("ok", 64)
    before = snapshot(alloc)
    for call in (lambda: alloc.scratch_pool(name, 64), lambda: alloc.scratch_pool(name),
                 lambda: alloc.get_scratch_pool(name)):
        with pytest.raises(fa.ScratchError) as ei:
            call()
        assert ei.value.code == "FA160" and isinstance(ei.value, ValueError)
        assert snapshot(alloc) == before


@pytest.mark.parametrize("cap", BAD_CAPACITIES)
def test_bad_capacities(alloc, cap):
    alloc.scratch_pool("ok", 64)
    before = snapshot(alloc)
    with pytest.raises(fa.ScratchError) as ei:
        alloc.scratch_pool("new", cap)
    assert ei.value.code == "FA160" and snapshot(alloc) == before
    assert alloc.get_scratch_pool("new") is None


def test_unknown_name_and_capacity_mismatch(alloc):
    with pytest.raises(fa.ScratchError) as ei:
        alloc.scratch_pool("nope")
    assert ei.value.code == "FA160" and "capacity" in str(ei.value)
    assert alloc._scratch_state() is None                # a failed lookup creates nothing
    alloc.scratch_pool("p", 128)
    before = snapshot(alloc)
    for call in (lambda: alloc.scratch_pool("nope"), lambda: alloc.scratch_pool("p", 256)):
        with pytest.raises(fa.ScratchError) as ei:
            call()
        assert ei.value.code == "FA160" and snapshot(alloc) == before
    assert alloc.scratch_pool("p").capacity == 128


@pytest.mark.parametrize("kwargs, code, exc", [
    (dict(shape=-1), "FA004", fa.AllocSizeError),
    (dict(shape=(2, -1)), "FA004", fa.AllocSizeError),
    (dict(shape=(0, -1)), "FA004", fa.AllocSizeError),
    (dict(shape=1.5), "FA004", fa.AllocSizeError),
    (dict(shape="ab"), "FA004", fa.AllocSizeError),
    (dict(shape=(1 << 40, 1 << 40)), "FA005", fa.AllocSizeError),
    (dict(shape=(1,) * 33), "FA014", fa.AllocSizeError),
    (dict(shape=3, dtype=object), "FA006", fa.UnsupportedDtypeError),
    (dict(shape=3, dtype="U"), "FA006", fa.UnsupportedDtypeError),
    (dict(shape=3, dtype=("f4", 3)), "FA006", fa.UnsupportedDtypeError),
    (dict(shape=3, dtype="not a dtype"), "FA006", fa.UnsupportedDtypeError),
    (dict(shape=3, align=3), "FA007", fa.AlignmentError),
    (dict(shape=3, align=0), "FA007", fa.AlignmentError),
    (dict(shape=3, align=-8), "FA007", fa.AlignmentError),
    (dict(shape=3, align=8192), "FA007", fa.AlignmentError),
    (dict(shape=3, align=2.0), "FA007", fa.AlignmentError),
])
def test_bad_array_arguments(alloc, kwargs, code, exc):
    pool = alloc.scratch_pool("p", 4096)
    pool.array(3, np.uint8)
    before = snapshot(alloc)
    kw = dict(kwargs)
    shape = kw.pop("shape")
    for call in (lambda: pool.array(shape, **kw), lambda: pool.try_array(shape, **kw),
                 lambda: pool.zeros(shape, **kw), lambda: alloc.scratch_array(pool.id, shape, **kw),
                 lambda: alloc.try_scratch_array(pool.id, shape, **kw)):
        with pytest.raises(exc) as ei:
            call()
        assert ei.value.code == code
        assert snapshot(alloc) == before


def test_box_of_objects_refused(alloc):
    pool = alloc.scratch_pool("p", 256)
    before = snapshot(alloc)
    for call in (lambda: pool.box(np.array([1, "a"], object)), lambda: pool.try_box([{}])):
        with pytest.raises(fa.UnsupportedDtypeError) as ei:
            call()
        assert ei.value.code == "FA006" and snapshot(alloc) == before


@pytest.mark.parametrize("sid", [-1, 0, 1.0, "0", None, True, 10**30])
def test_bad_ids_python(alloc, sid):
    pool = alloc.scratch_pool("p", 64)
    before = snapshot(alloc)
    for call in (lambda: alloc.scratch_array(sid, 1), lambda: alloc.try_scratch_array(sid, 1),
                 lambda: alloc.scratch_zeros(sid, 1), lambda: alloc.scratch_reset(sid),
                 lambda: alloc.scratch_used(sid)):
        with pytest.raises(fa.ScratchError) as ei:
            call()
        assert ei.value.code == "FA160"
    assert snapshot(alloc) == before and pool.used == 0


def test_foreign_and_stale_ids(alloc):
    other = fa.SmartAlloc()
    mine = alloc.scratch_pool("p", 64)
    theirs = other.scratch_pool("p", 64)
    before = snapshot(alloc)
    for sid in (theirs.id, mine.id + 1, mine.id ^ (1 << S.SID_SLOT_SHIFT),
                mine.id + (1 << S.SID_OWNER_SHIFT)):
        with pytest.raises(fa.ScratchError) as ei:
            alloc.scratch_array(sid, 1)
        assert ei.value.code == "FA160"
        for fn, args in ((nj_bytes, (1, 1)), (nj_used, ()), (nj_reset, ())):
            with pytest.raises(fa.ScratchError) as ei:
                fn(alloc, sid, *args)
            assert ei.value.code == "FA160"
    assert snapshot(alloc) == before
    # A dead allocator's id stays refused, also by an allocator that reuses its registry row.
    dead_sid = theirs.id
    del theirs
    other.close()
    del other
    gc.collect()
    newcomer = fa.SmartAlloc()
    newcomer.scratch_pool("p", 64)
    for a in (alloc, newcomer):
        with pytest.raises(fa.ScratchError):
            a.scratch_used(dead_sid)
        with pytest.raises(fa.ScratchError):
            nj_used(a, dead_sid)
    newcomer.close()


def test_bad_inputs_njit(alloc):
    pool = alloc.scratch_pool("p", 4096)
    sid = pool.id
    nj_bytes(alloc, sid, 5, 1)
    before = snapshot(alloc)
    for fn, args, exc, code in [
        (nj_bytes, (-1, 1), fa.AllocSizeError, "FA004"),
        (nj_bytes, (1 << 48, 1), fa.AllocSizeError, "FA005"),
        (nj_shape2, (0, -3), fa.AllocSizeError, "FA004"),
        (nj_shape2, (1 << 40, 1 << 40), fa.AllocSizeError, "FA005"),
        (nj_bytes, (4, 3), fa.AlignmentError, "FA007"),
        (nj_bytes, (4, 0), fa.AlignmentError, "FA007"),
        (nj_bytes, (4, 8192), fa.AlignmentError, "FA007"),
        (nj_try_bytes, (-1, 1), fa.AllocSizeError, "FA004"),
        (nj_try_bytes, (4, 6), fa.AlignmentError, "FA007"),
        (nj_bytes, (5000, 1), fa.ScratchFullError, "FA161"),
    ]:
        with pytest.raises(exc) as ei:
            fn(alloc, sid, *args)
        assert ei.value.code == code, (fn, args)
        assert snapshot(alloc) == before


def test_njit_typing_errors(alloc):
    sid = alloc.scratch_pool("p", 64).id

    @njit
    def bad_dtype(alloc, sid):
        return alloc.scratch_array(sid, 3, "O")

    @njit
    def bad_sid(alloc, sid):
        return alloc.scratch_array(sid, 3, np.uint8)

    @njit
    def bad_shape(alloc, sid):
        return alloc.scratch_array(sid, 2.5, np.uint8)

    for fn, args, code in ((bad_dtype, (sid,), "FA006"), (bad_sid, (1.5,), "FA160"),
                           (bad_shape, (sid,), "FA004")):
        with pytest.raises(fa.FrameAllocError, match=f"^{code}: "):
            fn(alloc, *args)


# ---------------------------------------------------------------------------------------------
# @njit

def test_njit_methods(alloc):
    pool = alloc.scratch_pool("nj", 4096)
    sid = pool.id
    a, z, d, p, s, used = nj_kinds(alloc, sid, 4)
    assert (a.shape, a.dtype, float(a.sum())) == ((4, 3), np.float32, 18.0)
    assert z.tolist() == [0] * 4 and d.tolist() == [2.0] * 4 and p["life"].tolist() == [0, 1, 2, 3]
    assert s.shape == () and int(s) == 42 and p.dtype == PARTICLE
    # 48 (f4) + 8 (i2) + 32 (f8) + 112 (records, align 4) + 8 (i8) = 208 bytes, no padding
    assert used == pool.used == nj_used(alloc, sid) == alloc.scratch_used(sid) == 208
    assert pool.stats().allocations == 5
    views = [a, z, d, p, s]
    spans = sorted((v.ctypes.data, v.ctypes.data + v.nbytes) for v in views)
    assert all(e1 <= s2 for (_, e1), (s2, _) in zip(spans, spans[1:]))
    # Python sees what njit wrote, and the other way round
    x = pool.array(4, np.float64)
    x[:] = 5.0
    assert nj_reset(alloc, sid) == 0 and pool.used == 0 and pool.stats().resets == 1
    y = nj_bytes(alloc, sid, 8, 1)
    assert y.ctypes.data == a.ctypes.data                # reset from njit: memory reused
    st = pool.stats()
    assert (st.current, st.peak, st.allocated, st.freed, st.allocations) == (8, 240, 248, 240, 7)


def test_njit_contents_and_reset(alloc):
    pool = alloc.scratch_pool("m", 1 << 16)
    assert nj_many(alloc, pool.id, 200)
    st = pool.stats()
    assert st.allocations == 400 and st.resets == 1 and st.current == st.allocated - st.freed


def test_njit_views_hold_the_buffer(nrt_leakcheck):
    a = fa.SmartAlloc()
    pool = a.scratch_pool("v", 1024)
    v = nj_bytes(a, pool.id, 16, 1)
    w = pool.array(4, np.float32)
    v[:] = 7
    w[:] = 1.5
    nj_reset(a, pool.id)
    a.close()
    del a, pool
    gc.collect()
    assert v.tolist() == [7] * 16 and w.tolist() == [1.5] * 4


def test_closed_allocator_fa015(nrt_leakcheck):
    a = fa.SmartAlloc()
    pool = a.scratch_pool("c", 256)
    keep = pool.array(8, np.int64)
    keep[:] = 3
    sid = pool.id
    a.close()
    for call in (lambda: pool.array(1), lambda: pool.try_array(1), lambda: pool.zeros(1),
                 lambda: pool.box(1), lambda: pool.try_box(1), lambda: pool.reset(),
                 lambda: a.scratch_pool("c"), lambda: a.scratch_pool("d", 8),
                 lambda: a.get_scratch_pool("c"), lambda: a.scratch_array(sid, 1),
                 lambda: a.scratch_used(sid), lambda: nj_used(a, sid)):
        with pytest.raises(fa.FrameAllocError) as ei:
            call()
        assert ei.value.code == "FA015"
    assert keep.tolist() == [3] * 8                     # views stay valid memory
    st = a.scratch_pools()["c"]                          # counters survive close
    assert (st.current, st.allocated, st.freed, st.reserved, st.capacity) == (0, 64, 64, 0, 256)
    assert pool.closed and pool.available == 0 and "closed" in repr(pool)
    a.close()                                            # twice: harmless


def test_garbage_collected_allocator_releases_pools(nrt_leakcheck):
    a = fa.SmartAlloc()
    for i in range(3):
        a.scratch_pool(f"g{i}", 1 << 16).array(10)
    slot = a._scratch_state().slot
    assert S._registry()[slot, S.R_OWNER] == a._id
    del a
    gc.collect()
    assert S._registry()[slot, S.R_OWNER] == 0           # and the leak check sees the buffers go


def test_pool_used_from_another_thread(alloc):
    """A pool is not tied to the thread that created it (one thread at a time)."""
    pool = alloc.scratch_pool("th", 4096)
    out = {}

    def worker():
        a = nj_bytes(alloc, pool.id, 100, 64)
        a[:] = 9
        b = pool.array(10, np.float32)
        out["v"] = (a, b)

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    a, b = out.pop("v")
    assert a.ctypes.data % 64 == 0 and (a == 9).all() and pool.used == 140


def test_separate_pools_in_parallel_threads(alloc):
    pools = [alloc.scratch_pool(f"w{i}", 1 << 16) for i in range(4)]
    errors = []

    def worker(i):
        try:
            pool = pools[i]
            for rnd in range(20):
                arrays = []
                for k in range(50):
                    if k % 2:
                        x = nj_bytes(alloc, pool.id, 16 + k, 8)
                    else:
                        x = pool.array(16 + k, np.uint8)
                    x[:] = (i * 50 + k) % 256
                    arrays.append((x, (i * 50 + k) % 256))
                assert all((x == v).all() for x, v in arrays)
                pool.reset()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and all(p.stats().resets == 20 for p in pools)


# ---------------------------------------------------------------------------------------------
# Tags and budgets: the charge/release contract

def test_charges_and_releases_python(alloc):
    """Every allocation charges its consumed bytes before the bump; reset gives each tag its
    bytes back; a refused charge (try_) returns None with nothing changed."""
    calls = []
    tags = iter([3, 3, 5])

    def charge(kind, nbytes, try_=False):
        calls.append(("charge", kind, nbytes, try_))
        return next(tags, None)

    def release(kind, tag, nbytes):
        calls.append(("release", kind, tag, nbytes))

    alloc._org_charge, alloc._org_release = charge, release
    pool = alloc.scratch_pool("tg", 256)
    pool.array(3, np.uint8)                               # 3 bytes, tag 3
    pool.array(1, np.float64)                             # 5 padding + 8, tag 3
    pool.array(2, np.int32)                               # 8, tag 5
    assert calls == [("charge", KIND_SCRATCH, 3, False), ("charge", KIND_SCRATCH, 13, False),
                     ("charge", KIND_SCRATCH, 8, False)]
    tb = tag_bytes(pool)
    assert tb[3] == 16 and tb[5] == 8 and tb.sum() == pool.used == 24
    before = snapshot(alloc)
    assert pool.try_array(1, np.uint8) is None            # the charge refuses: None
    assert snapshot(alloc) == before
    calls.clear()
    with pytest.raises(fa.ScratchFullError):
        pool.array(1000, np.uint8)                         # full: no charge at all
    assert calls == []
    pool.reset()
    assert sorted(calls) == [("release", KIND_SCRATCH, 3, 16), ("release", KIND_SCRATCH, 5, 8)]
    assert not tag_bytes(pool).any()


def test_charge_callback_that_uses_the_pool(alloc):
    """A budget callback that allocates from the same pool during the charge: the first charge is
    given back and the allocation is redone after the callback's one."""
    calls = []
    pool = alloc.scratch_pool("re", 256)
    real_charge, real_release = alloc._org_charge, alloc._org_release
    state = {"done": False}

    def charge(kind, nbytes, try_=False):
        calls.append(("charge", nbytes))
        if not state["done"]:
            state["done"] = True
            pool.array(1, np.uint8)                         # re-entrant allocation, once
        return real_charge(kind, nbytes, try_)

    def release(kind, tag, nbytes):
        calls.append(("release", nbytes))
        real_release(kind, tag, nbytes)

    def refund(kind, tag, nbytes):          # a charge whose take failed is refunded, not freed
        calls.append(("refund", nbytes))
        real_refund(kind, tag, nbytes)

    real_refund = alloc._org_refund
    alloc._org_charge, alloc._org_release, alloc._org_refund = charge, release, refund
    x = pool.array(1, np.float64)
    assert pool.used == 16 and x.ctypes.data % 8 == 0
    # first charge (8) given back, the callback's own charge (1), retry (7 padding + 8)
    assert calls == [("charge", 8), ("charge", 1), ("refund", 8), ("charge", 15)]
    assert tag_bytes(pool).sum() == pool.used


def test_budget_and_tags_integration(alloc):
    """With the real tag/budget core: a hard scratch budget refuses (FA154 / None) in Python and
    @njit, and reset gives the bytes back."""
    pool = alloc.scratch_pool("b", 4096)
    sid = pool.id
    alloc.set_budget(hard=100, kind="scratch")
    pool.array(96, np.uint8)
    before = snapshot(alloc)
    with pytest.raises(fa.BudgetExceededError) as ei:
        pool.array(5, np.uint8)
    assert ei.value.code == "FA154"
    with pytest.raises(fa.BudgetExceededError):
        nj_bytes(alloc, sid, 5, 1)
    assert pool.try_array(5, np.uint8) is None and nj_try_bytes(alloc, sid, 5, 1) is None
    assert snapshot(alloc) == before
    assert nj_bytes(alloc, sid, 4, 1).size == 4          # exactly at the budget
    pool.reset()
    pool.array(60, np.uint8)
    nj_bytes(alloc, sid, 40, 1)
    nj_reset(alloc, sid)
    with alloc.tag("physics"):
        pool.array(10, np.uint8)
        nj_bytes(alloc, sid, 6, 1)
    tid = alloc.tag_id("physics")
    assert tag_bytes(pool)[tid] == 16
    tags = alloc.stats().to_dict()["tags"]
    assert tags["physics"]["kinds"]["scratch"]["current"] == 16
    pool.reset()
    assert not tag_bytes(pool).any()
    tags = alloc.stats().to_dict()["tags"]
    assert tags["physics"]["kinds"]["scratch"]["current"] == 0
    assert tags["physics"]["kinds"]["scratch"]["freed"] == 16
    alloc.set_budget(hard=None, kind="scratch")
    pool.array(1000, np.uint8)


# ---------------------------------------------------------------------------------------------
# Model check

OPS = st.lists(st.one_of(
    st.tuples(st.just("alloc"), st.integers(0, 300), st.sampled_from([1, 2, 4, 8, 16, 64, 256]),
              st.sampled_from(["py", "try", "nj", "njtry"])),
    st.tuples(st.just("reset"), st.sampled_from(["py", "nj"])),
), max_size=40)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(cap=st.integers(1, 2048), ops=OPS)
def test_model(alloc, cap, ops):
    name = f"m{cap}-{len(alloc.scratch_pools())}"
    if len(alloc.scratch_pools()) >= S.MAX_SCRATCH_POOLS:
        return
    pool = alloc.scratch_pool(name, cap)
    sid = pool.id
    cursor = peak = freed = count = resets = 0
    live = []                                             # (view, fill byte) since the last reset
    for i, op in enumerate(ops):
        if op[0] == "alloc":
            _, n, align, how = op
            off = (cursor + align - 1) & -align
            fits = off + n <= cap
            before = snapshot(alloc)
            if how in ("try", "njtry"):
                x = (pool.try_array(n, np.uint8, align=align) if how == "try"
                     else nj_try_bytes(alloc, sid, n, align))
                assert (x is None) == (not fits)
            elif fits:
                x = pool.array(n, np.uint8, align=align) if how == "py" else \
                    nj_bytes(alloc, sid, n, align)
            else:
                with pytest.raises(fa.ScratchFullError):
                    pool.array(n, np.uint8, align=align) if how == "py" else \
                        nj_bytes(alloc, sid, n, align)
                x = None
            if not fits:
                assert snapshot(alloc) == before
                continue
            assert x.ctypes.data % align == 0 and x.size == n
            base = pool._state.table[pool._index, S.S_BASE]
            assert n == 0 or x.ctypes.data - base == off   # numpy may rebase empty views
            x[:] = i % 256
            live.append((x, i % 256))
            cursor = off + n
            count += 1
        else:
            (pool.reset() if op[1] == "py" else nj_reset(alloc, sid))
            peak = max(peak, cursor)
            freed += cursor
            cursor = 0
            resets += 1
            live = []
        s = pool.stats()
        assert (s.current, s.peak, s.allocated, s.freed, s.allocations, s.resets) == \
            (cursor, max(peak, cursor), freed + cursor, freed, count, resets)
        assert pool.used == cursor and tag_bytes(pool).sum() == cursor
        assert all((x == v).all() for x, v in live)      # live contents never clobbered


# ---------------------------------------------------------------------------------------------
# Codes and docs

def test_codes_are_explained():
    codes = fa.errors.all_codes()
    assert set(scratch_codes.CODES) == {"FA160", "FA161", "FA162"}
    for code, info in scratch_codes.CODES.items():
        assert code in codes
        text = fa.explain(code)
        assert text.startswith(f"{code} {info.title}") and len(text) > 100
        exc = getattr(fa, info.exception)
        e = exc("x", code=code)
        assert e.code == code and isinstance(e, fa.FrameAllocError)
    assert issubclass(fa.ScratchFullError, MemoryError) and issubclass(fa.ScratchError, ValueError)
    for name in ("ScratchPool", "ScratchStats", "ScratchError", "ScratchFullError"):
        assert name in fa.__all__


@pytest.mark.parametrize("module", [S, scratch_codes])
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_docs_page_examples_run():
    path = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "scratch.md")
    result = doctest.testfile(os.path.abspath(path), module_relative=False,
                              optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 10 and result.failed == 0
