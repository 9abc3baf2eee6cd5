"""Frees of TLSF ranges are queued (``GpuAllocation.free()`` appends to its pool's queue; one
kernel call applies up to 64) and the last one may be handed out again by the hot path. These
tests hold that to what the user can see: a freed range is reusable at once without frames and
never while a frame may still use it; statistics, dumps and budgets never see a queued range;
double frees are refused; empty blocks still go back."""
from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from framealloc.gpu import (BufferUsage as U, GpuAllocator, GpuConfig, GpuDoubleFreeError,
                            GpuMemoryIntent as Intent, GpuStaleAllocationError, NullBackend)

from .conftest import SMALL


def _dump_allocations(gpu: GpuAllocator) -> list[tuple[int, int]]:
    doc = json.loads(gpu.dump_json())
    return sorted((a["offset"], a["size"]) for p in doc["pools"] for b in p["blocks"]
                  for a in b["allocations"] if not a.get("pending_free"))


def test_free_then_same_request_reuses_the_range_without_frames(any_gpu):
    gpu = any_gpu
    for intent in (Intent.DEVICE_LOCAL, Intent.DYNAMIC):
        a = gpu.allocate_persistent(256, intent)
        where = (a.buffer, a.offset)
        a.free()
        b = gpu.allocate_persistent(256, intent)           # the hot path's reuse
        assert (b.buffer, b.offset) == where
        c = gpu.allocate_persistent(256, intent)
        assert (c.buffer, c.offset) != where
        for x in (b, c):
            x.free()
    s = gpu.stats()
    assert (s.allocation_count, s.current) == (0, 0)
    assert s.allocated == s.freed == 2 * 3 * 256          # a, b (a's range again), c per intent


@pytest.mark.parametrize("second", ["hot", "usage"])
@pytest.mark.parametrize("first", ["hot", "usage"])
def test_a_freed_range_is_reusable_at_once_without_frames(any_gpu, first, second):
    """A full block, one range freed (queued), the same size again through either path: the
    freed range serves it and no block is added (nothing looked at the allocator between)."""
    gpu = any_gpu
    usage = {"hot": None, "usage": U.STORAGE | U.TRANSFER_DST}
    size = 4096
    block = SMALL.block_size
    first_one = gpu.allocate_persistent(size, usage=usage[first])
    ranges = [first_one] + [gpu.allocate_persistent(size, usage=usage[first])
                            for _ in range(block // size - 1)]
    reserved = gpu.reserved_bytes()
    assert reserved == block and len({a.buffer for a in ranges}) == 1     # exactly full
    victim = ranges.pop(len(ranges) // 2)
    where = victim.offset
    victim.free()
    again = gpu.allocate_persistent(size, usage=usage[second])
    assert again.offset == where
    assert gpu.reserved_bytes() == reserved, "a block was added although a range was free"
    for a in ranges + [again]:
        a.free()


def test_a_freed_range_is_not_reused_while_a_frame_may_use_it(any_gpu):
    gpu = any_gpu
    with gpu.frame():
        a = gpu.allocate_persistent(256)
        where = (a.buffer, a.offset)
        a.free()
        others = [gpu.allocate_persistent(256) for _ in range(100)]
        assert where not in {(o.buffer, o.offset) for o in others}
        assert gpu.stats().pending_free_bytes == 256
    for o in others:
        o.free()
    gpu.wait_idle()
    s = gpu.stats()
    assert (s.pending_free_bytes, s.allocation_count, s.current) == (0, 0, 0)


def test_double_free_of_a_queued_range_is_refused_and_changes_nothing(any_gpu):
    gpu = any_gpu
    a = gpu.allocate_persistent(256)
    keep = gpu.allocate_persistent(256)
    a.free()
    before = gpu.stats()
    for free in (a.free, lambda: gpu.free(a)):
        with pytest.raises(GpuDoubleFreeError) as e:
            free()
        assert e.value.code == "FA410"
    with pytest.raises(GpuStaleAllocationError):
        a.descriptor()
    assert gpu.stats() == before
    b = gpu.allocate_persistent(256)                     # reuses a's range, once
    c = gpu.allocate_persistent(256)
    assert len({(x.buffer, x.offset) for x in (b, c, keep)}) == 3
    for x in (b, c, keep):
        x.free()


def test_queued_frees_give_empty_blocks_back():
    backend = NullBackend()
    gpu = GpuAllocator(backend, GpuConfig(block_size=1 << 16, keep_empty_blocks=0))
    allocs = [gpu.allocate_persistent(4096) for _ in range(40)]      # 3 blocks of 64 KiB
    assert gpu.stats().device_memory_objects == 3
    for a in allocs:
        a.free()
    # Fewer than a queue's worth of frees: applied when anything looks at the allocator.
    assert gpu.stats().device_memory_objects == 0
    assert not backend.live_blocks
    gpu.close()


def test_budget_sees_no_queued_range():
    gpu = GpuAllocator(NullBackend(), GpuConfig(block_size=1 << 16))
    a = gpu.allocate_persistent(10_000)
    a.free()
    assert sum(h.allocation_bytes for h in gpu.budget()) == 0
    assert gpu.live_pooled_bytes() == gpu.current_bytes() == 0
    gpu.close()


SIZES = st.sampled_from([16, 100, 256, 256, 256, 1000, 4096])
OPS = st.lists(st.one_of(
    st.tuples(st.just("hot"), SIZES, st.sampled_from([Intent.DEVICE_LOCAL, Intent.DYNAMIC])),
    st.tuples(st.just("usage"), SIZES, st.just(Intent.DYNAMIC)),
    st.tuples(st.just("free"), st.integers(0, 1000), st.just(None)),
    st.tuples(st.just("gpu.free"), st.integers(0, 1000), st.just(None)),
    st.tuples(st.just("frame"), st.just(0), st.just(None)),
    st.tuples(st.just("look"), st.just(0), st.just(None)),
), max_size=150)


@settings(max_examples=60, deadline=None)
@given(ops=OPS)
def test_random_frees_and_reuse_keep_everything_exact(ops):
    """Hot-path and slow-path allocations, frees through both calls, frames now and then:
    live ranges never overlap and keep their contents, and statistics, dumps and counters
    equal what is live (queued frees never show)."""
    backend = NullBackend()
    gpu = GpuAllocator(backend, GpuConfig(block_size=1 << 16, keep_empty_blocks=1))
    live: list = []
    stamp = 0
    allocated = freed = 0
    try:
        for op, arg, intent in ops:
            if op in ("hot", "usage"):
                a = gpu.allocate_persistent(arg, intent) if op == "hot" else \
                    gpu.allocate_persistent(arg, intent, usage=U.STORAGE | U.TRANSFER_DST)
                stamp = stamp % 250 + 1
                if a.host_visible:
                    a.host_array()[:] = stamp
                live.append((a, stamp))
                allocated += arg
            elif op in ("free", "gpu.free") and live:
                a, _ = live.pop(arg % len(live))
                a.free() if op == "free" else gpu.free(a)
                freed += a.size
            elif op == "frame":
                with gpu.frame():
                    if live:
                        a, _ = live.pop()
                        a.free()
                        freed += a.size
                gpu.wait_idle()
            spans = sorted((id(a.buffer), a.offset, a.offset + a.size) for a, _ in live)
            for (b1, _, e1), (b2, s2, _) in zip(spans, spans[1:]):
                assert b1 != b2 or e1 <= s2, "overlapping live allocations"
            for a, s in live:
                if a.host_visible:
                    assert (a.host_array() == s).all(), "allocation contents changed"
            if op == "look":
                s = gpu.stats()
                assert s.allocation_count == len(live)
                assert s.persistent_bytes == s.current == sum(a.size for a, _ in live)
                assert (s.allocated, s.freed) == (allocated, freed)
                dumped = [o for o, _ in _dump_allocations(gpu)]
                assert dumped == sorted(a.offset for a, _ in live)
        for a, _ in live:
            a.free()
        gpu.wait_idle()
        s = gpu.stats()
        assert (s.allocation_count, s.current, s.pending_free_bytes) == (0, 0, 0)
        assert s.device_memory_objects <= 2          # keep_empty_blocks per pool (2 pools)
    finally:
        gpu.close()
    assert not backend.live_blocks
