"""The frame rings' single state layout (kernels.gpu_layout RING_DTYPE + CHUNK_DTYPE): every
frame entry point (the allocate_frame hot and slow paths, allocate_frame_batch, a lent
frame_cursor bumped by @njit code, upload's staging ranges) interleaved in one frame never
hands out overlapping ranges, statistics and dumps agree with the ranges handed out, and a
failing call leaves every ring exactly as it was."""
from __future__ import annotations

import gc
import itertools
import json

import numba
import numpy as np
import pytest

from framealloc.gpu import (BufferUsage, GpuAllocator, GpuBudget, GpuConfig, GpuError,
                            GpuMemoryIntent as I, NullBackend)  # noqa: E741
from framealloc.gpu.memtypes import MemoryFlags as F, MemoryProperties
from framealloc.kernels import gpu_layout as L
from framealloc.kernels import gpu_tlsf as K

CHUNK = 1 << 12                    # small chunks: every sequence crosses several
CFG = GpuConfig(block_size=1 << 16, frame_chunk_size=CHUNK, fence_timeout_s=5.0)
INTENTS = [I.DEVICE_LOCAL, I.DYNAMIC, I.STAGING]


@numba.njit(cache=True)
def _user_bumps(state, sizes, out):
    """A user's @njit code on a lent cursor: one range, then a batch."""
    first = K.frame_bump(state, 96)
    return first, K.frame_bump_batch(state, sizes, out, 0)


# -- the entry points: each hands out ranges and returns them as (block, offset, size, align) --
def _single(gpu, intent, rng):
    out = []
    for size in rng.integers(1, 700, 6):
        a = gpu.allocate_frame(int(size), intent)
        out.append((a._block, a.offset, a.size, 1))
    return out


def _single_slow(gpu, intent, rng):
    """The slow path: explicit alignment, a name, a non-default usage."""
    out = []
    for size in rng.integers(1, 700, 3):
        a = gpu.allocate_frame(int(size), intent, alignment=512)
        b = gpu.allocate_frame(int(size), intent, name="named")
        c = gpu.allocate_frame(int(size), intent, usage=BufferUsage.TRANSFER_SRC)
        out += [(a._block, a.offset, a.size, 512), (b._block, b.offset, b.size, 1),
                (c._block, c.offset, c.size, 1)]
    return out


def _batch(gpu, intent, rng):
    b = gpu.allocate_frame_batch(rng.integers(1, 900, 40), intent)
    return [(b._blocks[int(i)], int(o), int(s), 1)
            for i, o, s in zip(b.buffer_index, b.offsets, b.sizes)]


def _cursor(gpu, intent, rng):
    sizes = rng.integers(1, 300, 12).astype(np.int64)
    out = np.empty(12, np.int64)
    with gpu.frame_cursor(intent) as cur:
        first, n = _user_bumps(cur.state, sizes, out)
        block = cur._block
    spans = [(block, int(first), 96, 1)] if first >= 0 else []
    return spans + [(block, int(out[i]), int(sizes[i]), 1) for i in range(n)]


def _upload(gpu, intent, rng):
    """Staging ranges of the STAGING ring, taken by upload (not visible as allocations)."""
    dst = gpu.allocate_frame(2000, I.DEVICE_LOCAL)
    gpu.upload(dst, rng.integers(0, 255, 1500, dtype=np.uint8))
    return [(dst._block, dst.offset, dst.size, 1)]


ENTRY_POINTS = {"single": _single, "slow": _single_slow, "batch": _batch, "cursor": _cursor,
                "upload": _upload}


# -- checks -----------------------------------------------------------------------------------
def _ring_align(gpu, block):
    for ring in gpu._rings.values():
        if any(b is block for b in ring.blocks):
            return ring.mask + 1
    raise AssertionError(f"{block} is no chunk of any ring")


def _check(gpu, spans):
    """Ranges disjoint, inside their chunk, aligned and below its cursor; stats and dump agree
    with the rings' chunk tables."""
    by_block: dict = {}
    for block, off, size, align in spans:
        assert 0 <= off and off + size <= block.size, (off, size, block.size)
        assert off % align == 0 and off % _ring_align(gpu, block) == 0, (off, align)
        by_block.setdefault(id(block), (block, []))[1].append((off, size))
    doc = json.loads(gpu.dump_json())
    chunks = {c["serial"]: (c, ring, slot) for ring in doc["frame_rings"]
              for slot in ring["slots"] for c in slot["chunks"]}
    for block, items in by_block.values():
        items.sort()
        for (o1, s1), (o2, _) in zip(items, items[1:]):
            assert o1 + s1 <= o2, f"[{o1}, {o1 + s1}) and [{o2}, ...) overlap in {block}"
        c, _, slot = chunks[block.serial]
        assert slot["current"], "a range of this frame sits in a chunk of another slot"
        assert items[-1][0] + items[-1][1] <= c["used"] <= c["peak"] <= c["size"]
    st = gpu.stats()
    current = sum(c["used"] for c, _, slot in chunks.values() if slot["current"])
    others = sum(c["used"] for c, _, slot in chunks.values() if not slot["current"])
    assert st.frame_bytes == current >= sum(s for _, _, s, _ in spans)
    assert st.in_flight_frame_bytes == others
    in_rings = sum(r.chunk_count() for r in gpu._rings.values())
    assert st.frame_chunk_count == len(chunks) == in_rings
    assert st.current == st.persistent_bytes + st.transient_bytes + st.frame_bytes
    assert doc["totals"]["frame_bytes"] == st.frame_bytes
    for ring in gpu._rings.values():            # the ring record names the current chunk
        row = ring.row
        assert (row < 0) == (ring.block is None)
        if row >= 0:
            assert ring.blocks[row] is ring.block and ring.chunks["slot"][row] == ring.slot
            assert ring.m[L.C_CURSOR] == ring.chunks["cursor"][row]


def _ring_gpu(kind, request):
    if kind == "null":
        return GpuAllocator.null(CFG)
    return GpuAllocator.vulkan(CFG, context=request.getfixturevalue("vk_context"))


# Every order of the entry points (each intent in turn), then the next frames.
ORDERS = list(itertools.permutations(ENTRY_POINTS))[::7]


@pytest.mark.parametrize("order", ORDERS, ids="-".join)
@pytest.mark.parametrize("backend", ["null", pytest.param("vulkan", marks=pytest.mark.gpu)])
def test_entry_points_interleaved_in_one_frame_never_overlap(order, backend, request):
    rng = np.random.default_rng(ORDERS.index(order))
    gpu = _ring_gpu(backend, request)
    try:
        for _ in range(gpu.frames_in_flight + 2):          # slots are reused, chunks recycled
            gpu.begin_frame()
            spans = []
            for name in order:
                for intent in INTENTS:
                    spans += ENTRY_POINTS[name](gpu, intent, rng)
                    _check(gpu, spans)
            before = gpu.stats()
            gpu.end_frame()
            after = gpu.stats()
            assert after.frame_bytes == 0
            assert after.in_flight_frame_bytes == before.frame_bytes + \
                before.in_flight_frame_bytes
            assert after.allocated == before.allocated          # the frame's bytes move over
        gpu.wait_idle()
    finally:
        gc.collect()
        gpu.close()


def test_batch_spills_to_another_memory_type_and_keeps_its_ranges_apart():
    """A batch whose preferred memory type runs out of budget continues in the fallback type:
    its buffer_index names chunks of both rings."""
    two_heaps = MemoryProperties.from_lists(
        types=[(F.DEVICE_LOCAL, 0), (F.HOST_VISIBLE | F.HOST_COHERENT, 1)],
        heaps=[(64 << 20, True), (64 << 20, False)])
    cfg = GpuConfig(frame_chunk_size=CHUNK, budget=GpuBudget(heap_hard={0: 3 * CHUNK}))
    with GpuAllocator(NullBackend(memory=two_heaps), cfg) as gpu:
        with gpu.frame():
            rng = np.random.default_rng(5)
            b = gpu.allocate_frame_batch(rng.integers(1, 700, 80), I.DEVICE_LOCAL)
            spans = [(b._blocks[int(i)], int(o), int(s), 1)
                     for i, o, s in zip(b.buffer_index, b.offsets, b.sizes)]
            types = {blk.memory_type for blk, _, _, _ in spans}
            assert types == {0, 1} and gpu.stats().memory_type_fallbacks >= 1
            spans += _single(gpu, I.DEVICE_LOCAL, rng)
            _check(gpu, spans)
            assert [b.buffers[int(i)] for i in b.buffer_index] == \
                [blk.buffer for blk, _, _, _ in spans[:80]]


# -- errors leave the rings as they were ------------------------------------------------------
def _snapshot(gpu):
    rings = {key: (r.state.tobytes(), r.chunks.tobytes(), [id(b) for b in r.blocks], r.leased)
             for key, r in gpu._rings.items()}
    st = gpu.stats().as_dict()
    for event in ("device_memory_objects_created", "budget_denials", "oom_count"):
        st.pop(event)                    # events, counted as they happen
    doc = json.loads(gpu.dump_json())
    doc["totals"] = st
    doc.pop("heaps")
    return rings, doc, sorted(gpu._hot_table), len(gpu._cursors), gpu._fallbacks


HUGE = 1 << 62
FAILING = {
    "size 0": lambda g: g.allocate_frame(0),
    "negative size": lambda g: g.allocate_frame(-5, I.DEVICE_LOCAL),
    "float size": lambda g: g.allocate_frame(2.5),
    "str size": lambda g: g.allocate_frame("64"),
    "bad alignment": lambda g: g.allocate_frame(64, alignment=3),
    "bad intent": lambda g: g.allocate_frame(64, "NOPE"),
    "bad name": lambda g: g.allocate_frame(64, name=5),
    "beyond the device": lambda g: g.allocate_frame(HUGE, I.DEVICE_LOCAL),
    "beyond the budget": lambda g: g.allocate_frame(1 << 20, I.STAGING),
    "lent ring": lambda g: g.allocate_frame(64, I.DYNAMIC),
    "lent ring, slow path": lambda g: g.allocate_frame(64, I.DYNAMIC, alignment=256),
    "lent ring twice": lambda g: g.frame_cursor(I.DYNAMIC),
    "batch of a lent ring": lambda g: g.allocate_frame_batch([64], I.DYNAMIC),
    "batch, zero size last": lambda g: g.allocate_frame_batch([64] * 50 + [0], I.DEVICE_LOCAL),
    "batch, 2-D": lambda g: g.allocate_frame_batch([[64, 64]]),
    "batch, floats": lambda g: g.allocate_frame_batch([1.5]),
    "batch, beyond the budget after 100 ranges":
        lambda g: g.allocate_frame_batch([300] * 100 + [1 << 20], I.DEVICE_LOCAL),
    "batch, beyond the device after new chunks":
        lambda g: g.allocate_frame_batch([2000] * 30 + [HUGE], I.STAGING),
    "cursor beyond the budget": lambda g: g.frame_cursor(I.READBACK),
}


@pytest.mark.parametrize("call", FAILING.values(), ids=FAILING)
def test_a_failing_frame_call_changes_nothing(call):
    hard = 64 * CHUNK
    cfg = GpuConfig(block_size=1 << 16, frame_chunk_size=CHUNK, budget=GpuBudget(hard=hard))
    with GpuAllocator.null(cfg) as gpu:
        rng = np.random.default_rng(3)
        for _ in range(2):                  # chunks in more than one slot
            with gpu.frame():
                for intent in INTENTS:
                    _batch(gpu, intent, rng)
        gpu.begin_frame()
        for intent in INTENTS:
            _single(gpu, intent, rng)
        # Fill the budget up to a few chunks (none for the cursor: its ring has no chunk yet).
        room = 0 if call is FAILING["cursor beyond the budget"] else 4
        while gpu.reserved_bytes() + (room + 1) * CHUNK <= hard:
            gpu.allocate_frame(CHUNK, I.DEVICE_LOCAL)
        cur = gpu.frame_cursor(I.DYNAMIC)
        before = _snapshot(gpu)
        with pytest.raises(GpuError) as e:
            call(gpu)
        assert e.value.code.startswith("FA4")
        assert _snapshot(gpu) == before
        cur.close()
        gpu.end_frame()


def test_a_frame_call_failing_in_every_memory_type_leaves_no_ring_behind():
    two_heaps = MemoryProperties.from_lists(
        types=[(F.DEVICE_LOCAL, 0), (F.HOST_VISIBLE | F.HOST_COHERENT, 1)],
        heaps=[(64 << 20, True), (64 << 20, False)])
    hard = GpuBudget(heap_hard={0: 4 * CHUNK, 1: 4 * CHUNK})
    cfg = GpuConfig(frame_chunk_size=CHUNK, budget=hard)
    with GpuAllocator(NullBackend(memory=two_heaps), cfg) as gpu:
        with gpu.frame():
            gpu.allocate_frame(100, I.DEVICE_LOCAL)
            before = _snapshot(gpu)
            with pytest.raises(GpuError):
                gpu.allocate_frame(8 * CHUNK, I.DEVICE_LOCAL)   # no room in either heap
            with pytest.raises(GpuError):
                gpu.allocate_frame_batch([100, 8 * CHUNK], I.DEVICE_LOCAL)
            assert _snapshot(gpu) == before
