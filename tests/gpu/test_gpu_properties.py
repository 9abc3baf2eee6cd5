"""Property tests of the whole allocator (null backend): random sequences of persistent,
transient and frame allocations, frees and frames never overlap live memory, keep alignment,
never clobber contents, and keep stats equal to a recomputed truth."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from framealloc.gpu import (BufferUsage as U, GpuAllocator, GpuConfig, GpuLifetime as L,
                            GpuMemoryIntent as Intent, NullBackend)

OPS = st.lists(st.one_of(
    st.tuples(st.just("persistent"), st.integers(1, 70_000), st.sampled_from([0, 64, 256, 4096])),
    st.tuples(st.just("transient"), st.integers(1, 5_000), st.just(0)),
    st.tuples(st.just("frame"), st.integers(1, 3_000), st.just(0)),
    st.tuples(st.just("free"), st.integers(0, 10_000), st.just(0)),
    st.tuples(st.just("next_frame"), st.just(0), st.just(0)),
), max_size=60)


@settings(max_examples=60, deadline=None)
@given(ops=OPS, frames_in_flight=st.integers(1, 3))
def test_random_operation_sequences(ops, frames_in_flight):
    backend = NullBackend()
    cfg = GpuConfig(block_size=1 << 17, frame_chunk_size=1 << 13,
                    frames_in_flight=frames_in_flight)
    gpu = GpuAllocator(backend, cfg)
    live = []                 # (allocation, fill byte)
    frame_live = []
    stamp = 0
    gpu.begin_frame()
    try:
        for op, size, align in ops:
            if op in ("persistent", "transient"):
                lifetime = L.PERSISTENT if op == "persistent" else L.TRANSIENT
                a = gpu.allocate_persistent(size, Intent.DYNAMIC, U.STORAGE, align) \
                    if lifetime is L.PERSISTENT else \
                    gpu.allocate_transient(size, Intent.DYNAMIC, U.STORAGE | U.TRANSFER_SRC)
                assert a.offset % max(align, 16) == 0
                stamp = stamp % 250 + 1
                a.host_array()[:] = stamp
                live.append((a, stamp))
            elif op == "frame":
                a = gpu.allocate_frame(size)
                stamp = stamp % 250 + 1
                a.host_array()[:] = stamp
                frame_live.append((a, stamp))
            elif op == "free" and live:
                a, _ = live.pop(size % len(live))
                a.free()
            elif op == "next_frame":
                gpu.end_frame()
                gpu.begin_frame()
                frame_live = [(a, s) for a, s in frame_live if a.alive]
            everything = live + frame_live
            # No two live allocations share a byte of the same buffer.
            spans = sorted((id(a.buffer), a.offset, a.offset + a.size) for a, _ in everything)
            for (b1, _, e1), (b2, s2, _) in zip(spans, spans[1:]):
                assert b1 != b2 or e1 <= s2, "overlapping live allocations"
            # Contents of live allocations are never clobbered.
            for a, s in everything:
                assert (a.host_array() == s).all(), "allocation contents changed"
            st_ = gpu.stats()
            assert st_.allocation_count == len(live)
            assert st_.persistent_bytes + st_.transient_bytes == sum(a.size for a, _ in live)
            this_frame = sum(a.size for a, _ in frame_live if a.frame == gpu.frame_number)
            assert st_.current >= sum(a.size for a, _ in live) + this_frame
            assert st_.frame_bytes + st_.in_flight_frame_bytes >= \
                sum(a.size for a, _ in frame_live)
            assert st_.reserved_bytes == sum(backend.heap_used)
    finally:
        gpu.end_frame()
        gpu.close()
    assert not backend.live_blocks
