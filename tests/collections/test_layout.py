"""Frame layouts: the same allocations as frame_array calls, cached views when they land where
they landed before, exact row accounting on both paths, and every way the cache must miss."""
from __future__ import annotations

import gc
import threading

import numpy as np
import pytest

import framealloc as fa
from framealloc import AllocConfig, KiB
from framealloc.collection_codes import LayoutError

from .conftest import PARTICLE, snapshot

N = 100
FIELDS = dict(pos=((N, 3), np.float32), vel=((N, 3), np.float32), ids=(N, np.int32),
              cells=((4, 4), np.int64, 256), ps=(7, PARTICLE), flag=(3, np.bool_),
              empty=(0, np.float64), scalar=((), np.float64))


def _row(a: fa.SmartAlloc) -> dict:
    """The calling thread's arena row, without its addresses (those differ between allocators)."""
    row = a._rows[a._tls.arena.slot, 0]
    skip = ("base", "meminfo", "owner", "org", "orgrow")
    return {f: int(row[f]) for f in row.dtype.names if f not in skip}


def _by_hand(a: fa.SmartAlloc, fields=FIELDS):
    return [a.frame_array(spec[0], spec[1], align=spec[2] if len(spec) == 3 else None)
            for spec in fields.values()]


def test_views_match_frame_array_calls(alloc):
    twin = fa.SmartAlloc()
    layout = alloc.frame_layout(**FIELDS)
    assert layout.names == tuple(FIELDS)
    for frame in range(3):
        with alloc.frame(), twin.frame():
            alloc.frame_array(frame + 1, np.uint8)          # the layout lands after some bytes
            twin.frame_array(frame + 1, np.uint8)
            s = layout.alloc()
            ref = _by_hand(twin)
            for name, view, want in zip(layout.names, s, ref):
                assert getattr(s, name) is view
                assert (view.shape, view.dtype, view.strides) == (want.shape, want.dtype,
                                                                  want.strides), name
                off = view.__array_interface__["data"][0] - alloc._tls.arena.base
                assert off == want.__array_interface__["data"][0] - twin._tls.arena.base, name
                assert view.flags.c_contiguous and view.flags.writeable
            assert s.cells.ctypes.data % 256 == 0
            assert _row(alloc) == _row(twin)
        assert _row(alloc) == _row(twin)
    assert alloc.stats().frame == twin.stats().frame
    twin.close()


def test_views_are_reused_when_the_layout_lands_at_the_same_place(alloc):
    layout = alloc.frame_layout(**FIELDS)
    seen = []
    for _ in range(4):
        with alloc.frame():
            s = layout.alloc()
            s.pos[:] = 1.0
            seen.append(s)
    assert all(x is seen[1] for x in seen[1:])       # from the second frame on: cached
    s = alloc.stats().frame
    assert s.allocations == 4 * len(FIELDS) and s.current == 0


def test_cached_and_uncached_paths_keep_identical_rows(alloc):
    twin = fa.SmartAlloc()
    layout = alloc.frame_layout(**FIELDS)
    for frame in range(6):
        with alloc.frame(), twin.frame():
            pre = frame % 3                                  # changes the landing offset
            for a in (alloc, twin):
                a.frame_array(pre * 8, np.uint8)
            layout.alloc()
            _by_hand(twin)
            assert _row(alloc) == _row(twin)
            for a in (alloc, twin):
                a.frame_array(5, np.float64)
            assert _row(alloc) == _row(twin)
    assert alloc.stats().frame == twin.stats().frame
    twin.close()


def test_a_layout_allocated_twice_per_frame_reuses_both(alloc):
    twin = fa.SmartAlloc()
    layout = alloc.frame_layout(**FIELDS)
    seen = []
    for _ in range(4):
        with alloc.frame(), twin.frame():
            seen.append((layout.alloc(), layout.alloc()))
            _by_hand(twin)
            _by_hand(twin)
            assert _row(alloc) == _row(twin)
            assert seen[-1][0].pos.ctypes.data < seen[-1][1].pos.ctypes.data
    assert all(a is seen[1][0] and b is seen[1][1] for a, b in seen[1:])
    assert alloc.stats().frame == twin.stats().frame
    twin.close()


def test_same_offset_but_other_count_still_reuses_views(alloc):
    layout = alloc.frame_layout(a=(10, np.float64))
    for _ in range(2):                     # the first frame makes the chunk; the second caches
        with alloc.frame():
            first = layout.alloc()
    with alloc.frame():
        alloc.frame_array(0, np.float64)                     # count +1, cursor unchanged
        again = layout.alloc()
        assert again is first and alloc.stats().frame.current_allocations == 2


def test_cache_misses_when_the_chunk_changes():
    a = fa.SmartAlloc(AllocConfig(frame_chunk_size=KiB(4)))
    layout = a.frame_layout(x=(100, np.float64))
    with a.frame():
        s1 = layout.alloc()
    with a.frame():
        a.frame_array(KiB(8), np.uint8)                      # grows into a new chunk
        s2 = layout.alloc()
        base, capacity = a._tls.arena.m[2], a._tls.arena.m[4]
        assert s2 is not s1
        assert base <= s2.x.ctypes.data < base + capacity   # in the current chunk
    with a.frame():                                          # one big chunk now: cached again
        s3 = layout.alloc()
    with a.frame():
        assert layout.alloc() is s3
    a.close()


def test_outside_a_frame_raises_fa001_and_changes_nothing(alloc):
    layout = alloc.frame_layout(**FIELDS)
    with alloc.frame():
        layout.alloc()
    before = snapshot(alloc)
    with pytest.raises(fa.FrameStateError) as ei:
        layout.alloc()                                       # same offset, but the frame is shut
    assert ei.value.code == "FA001" and snapshot(alloc) == before


def test_error_policy_refuses_the_whole_layout_up_front():
    a = fa.SmartAlloc(AllocConfig(on_frame_exhausted="error", frame_capacity=KiB(4)))
    layout = a.frame_layout(x=(300, np.float64), y=(300, np.float64))   # 4800 bytes
    with a.frame():
        before = snapshot(a)
        with pytest.raises(fa.ArenaExhaustedError) as ei:
            layout.alloc()
        assert ei.value.code == "FA008" and snapshot(a) == before
        small = a.frame_layout(x=(10, np.float64))
        assert small.alloc().x.shape == (10,)
    a.close()


def test_heap_policy_falls_back_field_by_field():
    a = fa.SmartAlloc(AllocConfig(on_frame_exhausted="heap", frame_capacity=KiB(4)))
    layout = a.frame_layout(x=(300, np.float64), y=(300, np.float64))
    with a.frame():
        s = layout.alloc()
        s.x[:] = 1
        s.y[:] = 2
        assert a.stats().frame.heap_fallbacks == 1 and (s.x == 1).all() and (s.y == 2).all()
    a.close()


def test_threads_use_their_own_arenas(alloc):
    layout = alloc.frame_layout(**FIELDS)
    results = {}
    together = threading.Barrier(3)       # all alive at once, so no slot is handed on

    def worker(name):
        for _ in range(3):
            with alloc.frame():
                s = layout.alloc()
                s.ids[:] = hash(name) % 1000
                together.wait()
                results[name] = (s.ids.ctypes.data, alloc._tls.arena.slot, int(s.ids[0]))

    with alloc.frame():
        mine = layout.alloc()
        threads = [threading.Thread(target=worker, args=(f"t{i}",)) for i in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        again = layout.alloc()                           # this thread, next offset: not cached
        assert again is not mine and again.ids.ctypes.data > mine.ids.ctypes.data
    slots = {r[1] for r in results.values()}
    assert len(slots) == 3 and alloc._tls.arena.slot not in slots
    for name, (_, _, value) in results.items():
        assert value == hash(name) % 1000


def test_thread_hopping_never_uses_another_threads_row(alloc):
    layout = alloc.frame_layout(a=(8, np.int64))
    for _ in range(2):
        with alloc.frame():
            mine = layout.alloc()
    out = []

    def other():
        for _ in range(2):                  # the second frame caches views on its arena
            with alloc.frame():
                s = layout.alloc()
        out.append(s)

    with alloc.frame():
        t = threading.Thread(target=other)
        t.start()
        t.join()
        gc.collect()
        # The layout's cache does not keep the ended thread's arena: its slot was given back.
        assert int((alloc._rows["owner"][:, 0] != 0).sum()) == 1
        assert out[0] is not mine
        assert layout.alloc() is not out[0]             # back on this thread: its own views
    with alloc.frame():
        assert layout.alloc() is not out[0]


def test_declaration_errors():
    a = fa.SmartAlloc()
    cases = [
        ({}, LayoutError, "FA138"),
        ({"x": (3,)}, LayoutError, "FA138"),
        ({"x": [3, np.float32]}, LayoutError, "FA138"),
        ({"_x": (3, np.float32)}, LayoutError, "FA138"),
        ({"class": (3, np.float32)}, LayoutError, "FA138"),
        ({"x y": (3, np.float32)}, LayoutError, "FA138"),
        ({"x": (-3, np.float32)}, fa.AllocSizeError, "FA004"),
        ({"x": ((1 << 40, 1 << 40), np.float32)}, fa.AllocSizeError, "FA005"),
        ({"x": (3, object)}, fa.UnsupportedDtypeError, "FA006"),
        ({"x": (3, np.float32, 3)}, fa.AlignmentError, "FA007"),
        ({"x": ((1,) * 33, np.float32)}, fa.AllocSizeError, "FA014"),
    ]
    before = snapshot(a)
    for fields, exc, code in cases:
        with pytest.raises(exc) as ei:
            a.frame_layout(fields)
        assert ei.value.code == code, fields
    assert snapshot(a) == before
    a.close()


def test_mapping_form_nbytes_and_repr(alloc):
    layout = alloc.frame_layout({"x": (3, np.float32)}, y=((2, 2), np.int8, 64))
    assert layout.names == ("x", "y") and layout.nbytes == 64 + 4
    assert repr(layout) == "FrameLayout(x=((3,), float32), y=((2, 2), int8))"
    with alloc.frame():
        s = layout.alloc()
        assert s._fields == ("x", "y") and s.y.ctypes.data % 64 == 0
