"""Property tests of the offset bookkeeping (TLSF virtual allocator, linear allocator, hazard
intervals): pure Python, no device."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from framealloc.gpu.transfer import HazardTracker, IntervalSet
from framealloc.gpu.virtual import LinearAllocator, VirtualAllocator, align_up

GRANULARITIES = st.sampled_from([1, 16, 64])
ALIGNMENTS = st.sampled_from([0, 1, 16, 64, 256, 4096])
# An op is ("alloc", size, alignment) or ("free", index into the live list).
OPS = st.lists(st.one_of(
    st.tuples(st.just("alloc"), st.integers(1, 5000), ALIGNMENTS),
    st.tuples(st.just("free"), st.integers(0, 1000), st.just(0))), max_size=120)


def check_invariants(va: VirtualAllocator, live: dict[int, int]) -> None:
    """Allocations and free ranges tile [0, capacity) exactly, free ranges are coalesced,
    and the counters equal a recomputed truth."""
    allocs = va.allocations()
    free = va.free_ranges()
    assert dict(allocs) == live
    pieces = sorted([(o, s, "used") for o, s in allocs] + [(o, s, "free") for o, s in free])
    pos = 0
    prev_kind = None
    for off, size, kind in pieces:
        assert off == pos, "gap or overlap"
        assert size > 0 and off % va.granularity == 0 and size % va.granularity == 0
        assert not (kind == "free" and prev_kind == "free"), "adjacent free ranges not merged"
        pos += size
        prev_kind = kind
    assert pos == va.capacity
    assert va.used_bytes == sum(live.values())
    assert va.free_bytes == sum(s for _, s in free)
    assert va.largest_free() == max((s for _, s in free), default=0)
    assert va.allocation_count == len(live)


@settings(max_examples=150, deadline=None)
@given(capacity=st.integers(1, 1 << 16), gran=GRANULARITIES, ops=OPS)
def test_tlsf_random_sequences(capacity, gran, ops):
    capacity = max(capacity, gran)
    va = VirtualAllocator(capacity, granularity=gran)
    live: dict[int, int] = {}
    order: list[int] = []
    for op, a, b in ops:
        if op == "alloc":
            off = va.allocate(a, b)
            if off < 0:
                # Failure is exact: no free range can hold the aligned, rounded request.
                need = align_up(a, gran)
                align = max(b, gran)
                assert not any(align_up(o, align) + need <= o + s for o, s in va.free_ranges())
            else:
                assert off % max(b, 1) == 0, "misaligned"
                assert off + a <= va.capacity
                live[off] = va.size_of(off)
                assert live[off] >= a
                order.append(off)
        elif order:
            off = order.pop(a % len(order))
            va.free(off)
            del live[off]
        check_invariants(va, live)
    for off in order:
        va.free(off)
    assert va.free_ranges() == [(0, va.capacity)], "freeing everything must coalesce to one range"
    assert va.is_empty and va.fragmentation() == 0.0


@settings(max_examples=60, deadline=None)
@given(sizes=st.lists(st.integers(1, 300), min_size=1, max_size=60), seed=st.randoms())
def test_tlsf_free_in_any_order_restores_one_block(sizes, seed):
    va = VirtualAllocator(1 << 15, 16)
    offs = [o for o in (va.allocate(s) for s in sizes) if o >= 0]
    seed.shuffle(offs)
    for o in offs:
        va.free(o)
    assert va.free_ranges() == [(0, 1 << 15)]


def test_tlsf_reuses_freed_space_and_fills_exactly():
    va = VirtualAllocator(1024, 16)
    offs = [va.allocate(64) for _ in range(16)]
    assert sorted(offs) == list(range(0, 1024, 64))
    assert va.allocate(16) == -1 and va.free_bytes == 0
    va.free(offs[3])
    assert va.allocate(64) == offs[3]


def test_tlsf_double_free_raises_keyerror():
    va = VirtualAllocator(1024)
    o = va.allocate(10)
    va.free(o)
    with pytest.raises(KeyError):
        va.free(o)


def test_tlsf_large_alignment_uses_padding_and_slow_path():
    va = VirtualAllocator(8192, 16)
    a = va.allocate(16)
    b = va.allocate(100, 4096)
    assert a == 0 and b == 4096
    # The padding before b is still free and usable.
    assert va.allocate(16) == 16
    assert va.fragmentation() > 0


def test_linear_allocator():
    la = LinearAllocator(1000)
    assert la.allocate(10, 1) == 0
    assert la.allocate(10, 64) == 64
    assert la.allocate(2000, 1) == -1 and la.cursor == 74
    la.reset()
    assert la.cursor == 0 and la.peak == 74


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 200), st.integers(1, 50)), max_size=40),
       st.integers(0, 250), st.integers(1, 50))
def test_interval_set_matches_brute_force(intervals, qlo, qlen):
    s = IntervalSet()
    covered: set[int] = set()
    for lo, n in intervals:
        s.add(lo, lo + n)
        covered |= set(range(lo, lo + n))
    spans = s.intervals()
    assert all(a < b for a, b in spans)
    assert all(spans[i][1] < spans[i + 1][0] for i in range(len(spans) - 1)), "not merged"
    assert set().union(*(set(range(a, b)) for a, b in spans)) == covered
    assert s.overlaps(qlo, qlo + qlen) == bool(covered & set(range(qlo, qlo + qlen)))


def test_hazard_tracker_detects_raw_waw_war():
    t = HazardTracker()
    t.add(src=("staging", 0, 64), dst=("buf", 0, 64))
    assert not t.needs_barrier(("staging", 64, 128), ("buf", 64, 128))   # disjoint: no barrier
    assert t.needs_barrier(("buf", 32, 40), ("other", 0, 8))           # read after write
    assert t.needs_barrier(("staging", 64, 72), ("buf", 60, 70))       # write after write
    assert t.needs_barrier(("x", 0, 8), ("staging", 8, 16))            # write after read
    assert not t.needs_barrier(("staging", 0, 64), ("other", 0, 8))    # read after read is fine
    t.clear()
    assert not t.needs_barrier(("buf", 0, 64), ("buf2", 0, 64))


def test_bad_sizes_and_alignments_raise_coded_errors_and_change_nothing():
    from framealloc.gpu.errors import GpuAlignmentError, GpuSizeError
    va = VirtualAllocator(1024, 16)
    b = va.allocate(32)
    before = va.allocations(), va.free_ranges()
    for size in (0, -16, 1.5, True, None):
        with pytest.raises(GpuSizeError) as ei:
            va.allocate(size)
        assert ei.value.code == "FA401"
    for align in (-1, 3, 24, 1.0):
        with pytest.raises(GpuAlignmentError) as ei:
            va.allocate(16, align)
        assert ei.value.code == "FA402"
    assert (va.allocations(), va.free_ranges()) == before
    va.free(b)
    assert va.free_ranges() == [(0, 1024)]
