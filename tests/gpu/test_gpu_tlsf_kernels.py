"""The GPU sub-allocators' @njit kernels (framealloc.kernels.gpu_tlsf) against a model, and the
batch API built on them (allocate_frame_batch, allocate_batch, frame_cursor)."""
from __future__ import annotations

import numba
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from framealloc.gpu import (GpuAllocator, GpuBudget, GpuConfig, GpuDoubleFreeError,
                            GpuFrameStateError, GpuMemoryIntent as I, GpuSizeError,  # noqa: E741
                            GpuStaleAllocationError)
from framealloc.kernels import gpu_layout as L
from framealloc.kernels import gpu_tlsf as K

GRAN = 16


def _ranges(nodes, state):
    rows = nodes[nodes["state"] == state]
    return sorted((int(r["block"]), int(r["offset"]), int(r["size"])) for r in rows)


def _check_invariants(nodes, hdr, block_sizes, live):
    """Every block is tiled exactly by its used and free ranges, free ranges are coalesced,
    the bucket lists hold exactly the free ranges, and the counters match."""
    used = _ranges(nodes, L.USED)
    free = _ranges(nodes, L.FREE)
    assert sorted(used) == sorted((b, o, s) for b, o, s in live.values())
    for b, size in block_sizes.items():
        tiles = sorted([(o, s, "u") for bb, o, s in used if bb == b] +
                       [(o, s, "f") for bb, o, s in free if bb == b])
        pos, prev = 0, None
        for o, s, kind in tiles:
            assert o == pos, f"block {b}: gap or overlap at {pos} (next range at {o})"
            assert not (kind == prev == "f"), f"block {b}: two free ranges side by side at {o}"
            pos, prev = o + s, kind
        assert pos == size
        h = hdr[0]
        assert h["bused"][b] == sum(s for bb, _, s in used if bb == b)
        assert h["bcount"][b] == sum(1 for bb, _, _ in used if bb == b)
    # Bucket lists: each free node exactly once, in the bucket of its size.
    listed = []
    for b in range(L.N_BUCKETS):
        i = hdr[0]["heads"][b]
        bit = (int(hdr[0]["bitmap"][b >> 6]) >> (b & 63)) & 1
        assert bit == (i >= 0)
        while i >= 0:
            assert K._bucket.py_func(int(nodes[i]["size"])) == b
            listed.append(i)
            i = nodes[i]["next_free"]
    assert sorted(listed) == sorted(np.flatnonzero(nodes["state"] == L.FREE).tolist())


ops = st.lists(st.one_of(
    st.tuples(st.just("alloc"), st.integers(1, 5000), st.sampled_from([0, 16, 64, 256, 4096])),
    st.tuples(st.just("free"), st.integers(0, 10 ** 6), st.just(0)),
    st.tuples(st.just("block"), st.sampled_from([4096, 8192, 65536]), st.just(0))),
    min_size=1, max_size=80)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops)
def test_tlsf_kernels_match_a_model(seq):
    nodes, hdr, totals = L.new_nodes(4), L.new_pool(GRAN, 0, 0, spare=4), L.new_totals(1)
    blocks: dict[int, int] = {}
    live: dict[int, tuple[int, int, int]] = {}
    requested: dict[int, int] = {}
    for op, a, b in seq:
        if op == "block":
            while K.tlsf_add_block(nodes, hdr, len(blocks), a) == L.NEED_NODES:
                nodes = L.grow_nodes(nodes, hdr)
            blocks[len(blocks)] = a
        elif op == "alloc":
            while True:
                node, off, blk = K.tlsf_alloc(nodes, hdr, totals, a, b, 0)
                if node != L.NEED_NODES:
                    break
                nodes = L.grow_nodes(nodes, hdr)
            size = -(-a // GRAN) * GRAN
            align = max(b, GRAN)
            if node == L.NO_FIT:
                # NO_FIT only when no free range can hold the aligned request.
                for _, o, s in _ranges(nodes, L.FREE):
                    assert -(-o // align) * align + size > o + s
            else:
                assert off % align == 0 and off + size <= blocks[blk]
                live[node] = (blk, off, size)
                requested[node] = a
        elif live:
            node = sorted(live)[a % len(live)]
            K.tlsf_free(nodes, hdr, totals, node, 0)
            del live[node]
            del requested[node]
        _check_invariants(nodes, hdr, blocks, live)
        assert totals[L.T_COUNT] == len(live)
        assert totals[L.T_LIVE] == sum(requested.values())
    # Double free and a foreign node are refused without changing anything.
    before = (nodes.copy(), hdr.copy(), totals.copy())
    assert K.tlsf_free(nodes, hdr, totals, 10 ** 6, 0) == L.BAD_NODE
    for node in list(live)[:1]:
        K.tlsf_free(nodes, hdr, totals, node, 0)
        before = (nodes.copy(), hdr.copy(), totals.copy())
        assert K.tlsf_free(nodes, hdr, totals, node, 0) == L.BAD_NODE
    assert np.array_equal(nodes, before[0]) and np.array_equal(hdr, before[1])
    assert np.array_equal(totals, before[2])


def test_pending_frees_wait_for_their_frame():
    nodes, hdr, totals = L.new_nodes(8), L.new_pool(GRAN, 0, 0, spare=8), L.new_totals(1)
    K.tlsf_add_block(nodes, hdr, 0, 4096)
    a = K.tlsf_alloc(nodes, hdr, totals, 4096, 0, 0)[0]
    assert K.tlsf_free(nodes, hdr, totals, a, 7) == -1          # pending until frame 7 ends
    assert K.tlsf_alloc(nodes, hdr, totals, 16, 0, 0)[0] == L.NO_FIT
    assert totals[L.T_PENDING] == 4096 and totals[L.T_LIVE] == 0
    K.tlsf_release_pending(nodes, hdr, totals, 6)
    assert K.tlsf_alloc(nodes, hdr, totals, 16, 0, 0)[0] == L.NO_FIT
    K.tlsf_release_pending(nodes, hdr, totals, 7)
    assert totals[L.T_PENDING] == 0
    assert K.tlsf_alloc(nodes, hdr, totals, 4096, 0, 0)[0] >= 0


def test_free_batch_refuses_repeats_and_changes_nothing():
    nodes, hdr, totals = L.new_nodes(16), L.new_pool(GRAN, 0, 0, spare=16), L.new_totals(1)
    K.tlsf_add_block(nodes, hdr, 0, 1 << 16)
    out = [np.zeros(3, np.int64), np.zeros(3, np.int64), np.zeros(3, np.int32)]
    k, status = K.tlsf_alloc_batch(nodes, hdr, totals, np.array([10, 20, 30]), 0, 0, *out, 0)
    assert (k, status) == (3, 0)
    before = (nodes.copy(), hdr.copy(), totals.copy())
    bad = np.array([out[0][0], out[0][1], out[0][0]])
    assert K.tlsf_free_batch(nodes, hdr, totals, bad, 0) == L.BAD_NODE
    assert np.array_equal(nodes, before[0]) and np.array_equal(hdr, before[1])
    assert K.tlsf_free_batch(nodes, hdr, totals, out[0], 0) >= 0
    assert totals[L.T_COUNT] == 0


# -- the batch API -----------------------------------------------------------------------------
def _spans(batch):
    return [(batch.buffers[int(i)], int(o), int(s))
            for i, o, s in zip(batch.buffer_index, batch.offsets, batch.sizes)]


def _assert_disjoint(spans):
    by_buf: dict = {}
    for buf, o, s in spans:
        by_buf.setdefault(id(buf), []).append((o, s))
    for items in by_buf.values():
        items.sort()
        for (o1, s1), (o2, _) in zip(items, items[1:]):
            assert o1 + s1 <= o2, f"ranges [{o1}, {o1 + s1}) and [{o2}, ...) overlap"


@pytest.mark.parametrize("intent", [I.DEVICE_LOCAL, I.DYNAMIC, I.STAGING])
def test_frame_batch_ranges_are_aligned_disjoint_and_span_chunks(intent):
    cfg = GpuConfig(frame_chunk_size=1 << 12, block_size=1 << 16)
    with GpuAllocator.null(cfg) as gpu:
        with gpu.frame():
            single = gpu.allocate_frame(100, intent)
            sizes = np.random.default_rng(1).integers(1, 700, 200)
            b = gpu.allocate_frame_batch(sizes, intent)
            after = gpu.allocate_frame(100, intent)
            assert len(b.buffers) > 1, "4 KiB chunks: the batch must cross chunks"
            align = gpu._ring(intent, gpu.memory_types_for(intent)[0]).mask + 1
            assert np.all(b.offsets % align == 0)
            assert np.array_equal(b.sizes, sizes)
            spans = _spans(b) + [(a.buffer, a.offset, a.size) for a in (single, after)]
            _assert_disjoint(spans)
            assert all(o + s <= bl.size for (buf, o, s), bl in
                       zip(_spans(b), [b._blocks[int(i)] for i in b.buffer_index]))
            assert b.descriptor(0) == (b.buffers[int(b.buffer_index[0])], int(b.offsets[0]),
                                       int(sizes[0]))
        for _ in range(gpu.frames_in_flight):
            with gpu.frame():
                pass
        assert not b.alive
        with pytest.raises(GpuStaleAllocationError):
            b.descriptor(0)


@pytest.mark.parametrize("bad", [[1, 0, 3], [-5], [[1, 2]], [1.5, 2.0], "abc"])
def test_batches_refuse_bad_sizes_and_change_nothing(bad):
    with GpuAllocator.null() as gpu:
        with gpu.frame():
            before = gpu.stats()
            with pytest.raises(GpuSizeError) as e:
                gpu.allocate_frame_batch(bad)
            assert e.value.code == "FA401"
            with pytest.raises(GpuSizeError):
                gpu.allocate_batch(bad)
            assert gpu.stats() == before


def test_pooled_batch_allocates_frees_and_refuses_double_free():
    with GpuAllocator.null(GpuConfig(block_size=1 << 16)) as gpu:
        sizes = np.random.default_rng(2).integers(1, 3000, 300)
        single = gpu.allocate_persistent(500)
        b = gpu.allocate_batch(sizes)
        assert len({id(x) for x in b.buffers if x is not None}) > 1    # 64 KiB blocks: several
        _assert_disjoint(_spans(b) + [(single.buffer, single.offset, single.size)])
        s = gpu.stats()
        assert s.allocation_count == 301 and s.current == int(sizes.sum()) + 500
        b.free()
        with pytest.raises(GpuDoubleFreeError):
            b.free()
        s = gpu.stats()
        assert s.allocation_count == 1 and s.current == 500
        single.free()
        with gpu.frame():
            with pytest.raises(GpuDoubleFreeError):
                gpu.allocate_frame_batch([64]).free()


def test_pooled_batch_failure_leaves_state_unchanged():
    cfg = GpuConfig(block_size=1 << 16, budget=GpuBudget(hard=3 << 16))
    with GpuAllocator.null(cfg) as gpu:
        keep = gpu.allocate_persistent(1000)
        before = gpu.stats()
        with pytest.raises(MemoryError):
            gpu.allocate_batch(np.full(400, 1000))          # needs ~7 blocks of 64 KiB
        after = gpu.stats().as_dict()
        for counter in ("device_memory_objects_created", "budget_denials", "oom_count"):
            after.pop(counter)                              # events, counted as they happen
        assert after == {k: v for k, v in before.as_dict().items() if k in after}
        assert gpu.allocate_batch(np.full(100, 1000)).sizes.sum() == 100_000   # still usable
        keep.free()


def test_frame_batch_per_range_frees_on_frame_recycle():
    with GpuAllocator.null() as gpu:
        for _ in range(5):
            with gpu.frame():
                gpu.allocate_frame_batch(np.full(1000, 256), I.DEVICE_LOCAL)
        assert gpu.stats().frame_chunk_count <= gpu.frames_in_flight


# -- @njit users ---------------------------------------------------------------------------------
@numba.njit(cache=True)
def _user_kernel(ring, sizes, out):
    """A user's @njit code: bumps one range per particle group, then a batch."""
    first = K.frame_bump(ring, 64)
    n = K.frame_bump_batch(ring, sizes, out, 0)
    return first, n


@numba.njit(cache=True)
def _user_pool_kernel(nodes, hdr, totals, sizes, n_out, o_out, b_out):
    return K.tlsf_alloc_batch(nodes, hdr, totals, sizes, 256, 0, n_out, o_out, b_out, 0)


def test_frame_cursor_lends_the_ring_to_njit_code_safely():
    with GpuAllocator.null() as gpu:
        with gpu.frame():
            before = gpu.allocate_frame(32, I.DYNAMIC)
            with gpu.frame_cursor(I.DYNAMIC) as cur:
                with pytest.raises(GpuFrameStateError):
                    gpu.allocate_frame(16, I.DYNAMIC)          # the ring is lent out
                with pytest.raises(GpuFrameStateError):
                    gpu.frame_cursor(I.DYNAMIC)
                sizes = np.full(50, 100, np.int64)
                out = np.empty(50, np.int64)
                first, n = _user_kernel(cur.state, sizes, out)
                assert n == 50 and first >= 0
                buf = cur.buffer
            after = gpu.allocate_frame(32, I.DYNAMIC)      # the Python path continues after it
            spans = [(buf, first, 64)] + [(buf, int(o), 100) for o in out] + \
                [(a.buffer, a.offset, a.size) for a in (before, after)]
            _assert_disjoint(spans)
            stale = cur.state
        # After the cursor is returned, bumping its old record changes nothing.
        with gpu.frame():
            a = gpu.allocate_frame(16, I.DYNAMIC)
            _user_kernel(stale, sizes, out)
            b = gpu.allocate_frame(16, I.DYNAMIC)
            mask = gpu._hot_table[I.DYNAMIC].mask
            assert b.offset == (a.offset + 16 + mask) & ~mask


def test_end_frame_closes_an_open_cursor():
    with GpuAllocator.null() as gpu:
        gpu.begin_frame()
        cur = gpu.frame_cursor(I.DEVICE_LOCAL)
        gpu.end_frame()
        assert not cur.open
        with gpu.frame():
            gpu.allocate_frame(16, I.DEVICE_LOCAL)


def test_tlsf_batch_kernel_is_callable_from_njit():
    nodes, hdr, totals = L.new_nodes(256), L.new_pool(GRAN, 0, 0, spare=256), L.new_totals(1)
    K.tlsf_add_block(nodes, hdr, 0, 1 << 20)
    sizes = np.full(40, 300, np.int64)
    n_out, o_out, b_out = np.empty(40, np.int64), np.empty(40, np.int64), np.empty(40, np.int32)
    k, status = _user_pool_kernel(nodes, hdr, totals, sizes, n_out, o_out, b_out)
    assert (k, status) == (40, 0)
    assert np.all(o_out % 256 == 0) and len(set(o_out.tolist())) == 40
    assert totals[L.T_COUNT] == 40
