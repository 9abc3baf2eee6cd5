"""Statistics of a GPU allocator: a cheap per-heap budget query, full stats, a JSON dump.

>>> import json
>>> from framealloc.gpu import GpuAllocator
>>> with GpuAllocator.null() as gpu:
...     a = gpu.allocate_persistent(1000, name="mesh")
...     s = gpu.stats()
...     doc = json.loads(gpu.dump_json())
>>> s.current, s.allocation_count, s.device_memory_objects
(1000, 1, 1)
>>> doc["schema"], doc["pools"][0]["blocks"][0]["allocations"][0]["name"]
('framealloc.gpu.dump/1', 'mesh')
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from .blocks import KIND_DEDICATED
from .budget import HeapBudget
from .intents import GpuLifetime

if TYPE_CHECKING:
    from .allocator import GpuAllocator

__all__ = ["HeapBudget", "GpuStats", "collect_stats", "dump_json", "DUMP_SCHEMA"]

#: Name and version of the JSON dump layout; the version changes when fields change meaning.
DUMP_SCHEMA = "framealloc.gpu.dump/1"


@dataclass(frozen=True)
class GpuStats:
    """Everything the allocator counts. Byte vocabulary as in PyTorch/CuPy:

    * ``current``: bytes in live allocations (persistent + transient + the open frame);
    * ``peak``: highest ``current`` seen at allocations and frame ends;
    * ``allocated`` / ``freed``: cumulative bytes (a frame's bytes count as freed at its end);
    * ``reserved_bytes``: device memory held (blocks, frame chunks, dedicated allocations).
    """

    current: int
    peak: int
    allocated: int
    freed: int
    persistent_bytes: int
    transient_bytes: int
    frame_bytes: int
    in_flight_frame_bytes: int
    pending_free_bytes: int
    allocation_count: int
    reserved_bytes: int
    block_count: int
    frame_chunk_count: int
    dedicated_count: int
    device_memory_objects: int
    device_memory_objects_created: int
    unused_block_bytes: int
    largest_free_range: int
    fragmentation: float
    memory_type_fallbacks: int
    oom_count: int
    budget_denials: int
    frame_number: int
    frames_submitted: int
    copies_recorded: int
    bytes_uploaded: int
    bytes_read_back: int
    heaps: tuple[HeapBudget, ...]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def collect_stats(gpu: GpuAllocator) -> GpuStats:
    """Full statistics; walks every block (do not call it per allocation)."""
    gpu._mem.drain()                        # frees queued by GpuAllocation.free()
    pooled = [(pool, blk) for pool in gpu._mem.pools.values() for blk in pool.live_blocks()]
    blocks = [blk for _, blk in pooled]
    unused = sum(blk.size - pool.block_used(blk) for pool, blk in pooled)
    largest_per_block = [pool.largest_free(blk) for pool, blk in pooled]
    frame_bytes = in_flight = chunks = 0
    for ring in gpu._rings.values():
        chunks += ring.chunk_count()
        for slot in range(ring.nslots):
            used = ring.used_bytes(slot)
            if gpu._in_frame and slot == ring.slot:
                frame_bytes += used
            else:
                in_flight += used
    t = [int(v) for v in gpu._totals]       # kernels.gpu_layout T_* indices
    persistent, transient = t[0], t[1]
    return GpuStats(
        current=persistent + transient + frame_bytes,
        peak=max(gpu._peak, t[5], persistent + transient + frame_bytes),
        allocated=gpu._allocated_total + gpu._recycled + t[3] + frame_bytes,
        freed=gpu._freed_total + gpu._recycled + t[4],
        persistent_bytes=persistent,
        transient_bytes=transient,
        frame_bytes=frame_bytes,
        in_flight_frame_bytes=in_flight,
        pending_free_bytes=gpu._pending_free + t[6],
        allocation_count=t[2],
        reserved_bytes=gpu._budget.reserved_total,
        block_count=len(blocks),
        frame_chunk_count=chunks,
        dedicated_count=len(gpu._mem.dedicated),
        device_memory_objects=gpu._mem.objects_live,
        device_memory_objects_created=gpu._mem.objects_created,
        unused_block_bytes=unused,
        largest_free_range=max(largest_per_block, default=0),
        # Share of the free space of the blocks that is not in its block's largest free range.
        fragmentation=0.0 if unused == 0 else 1.0 - sum(largest_per_block) / unused,
        memory_type_fallbacks=gpu._fallbacks,
        oom_count=gpu._mem.oom_count,
        budget_denials=gpu._budget.denials,
        frame_number=gpu._frame_number,
        frames_submitted=gpu._frames_submitted,
        copies_recorded=gpu._xfer.copies_recorded,
        bytes_uploaded=gpu._bytes_uploaded,
        bytes_read_back=gpu._bytes_read_back,
        heaps=tuple(gpu._budget.heap_budgets()),
    )


def _kind_dict(kind: Any) -> dict[str, Any]:
    return {"intent": kind.intent.name, "lifetime": kind.lifetime.name,
            "usage": int(kind.usage), "name": kind.name}


def dump_json(gpu: GpuAllocator, detailed: bool = True, indent: int | None = 2) -> str:
    """The allocator's state as JSON (layout :data:`DUMP_SCHEMA`).

    ``detailed`` lists every allocation and free range of every block (like VMA's detailed
    map); without it only per-block summaries are written.
    """
    stats = collect_stats(gpu)
    totals = stats.as_dict()
    heaps = totals.pop("heaps")
    pools = []
    for (mt, lifetime), pool in sorted(gpu._mem.pools.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        pblocks = []
        for blk in pool.live_blocks():
            used = pool.block_used(blk)
            free = blk.size - used
            largest = pool.largest_free(blk)
            entry: dict[str, Any] = {
                "serial": blk.serial, "size": blk.size, "used": used, "free": free,
                "allocation_count": pool.block_count(blk), "largest_free": largest,
                "fragmentation": round(0.0 if free == 0 else 1.0 - largest / free, 6),
            }
            if detailed:
                kinds = gpu._kind_list
                entry["allocations"] = [
                    {"offset": off, "size": size, "pending_free": True} if pending else
                    {"offset": off, "size": size, **_kind_dict(kinds[tag])} if tag >= 0 else
                    {"offset": off, "size": size, "internal": True}
                    for off, size, tag, pending in pool.allocations(blk)]
                entry["free_ranges"] = [{"offset": o, "size": s}
                                        for o, s in pool.free_ranges(blk)]
            pblocks.append(entry)
        pools.append({"memory_type": mt, "lifetime": GpuLifetime(lifetime).name,
                      "granularity": pool.granularity, "blocks": pblocks})
    rings = []
    for (intent, mt), ring in sorted(gpu._rings.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        slots = []
        for s in range(ring.nslots):
            slots.append({"slot": s, "current": gpu._in_frame and s == ring.slot,
                          "chunks": [{"serial": c.serial, "size": c.size,
                                      "used": used, "peak": peak}
                                     for c, used, peak in ring.slot_chunks(s)]})
        rings.append({"intent": intent.name, "memory_type": mt, "alignment": ring.mask + 1,
                      "slots": slots})
    dedicated = [{"serial": blk.serial, "size": blk.size, "memory_type": blk.memory_type,
                  "heap": blk.heap, "lifetime": GpuLifetime(blk.lifetime).name,
                  "name": blk.name, "pending_free": False}
                 for blk in gpu._mem.dedicated.values() if blk.kind == KIND_DEDICATED]
    pending = {b.serial for items in gpu._deferred.values() for b, _, _ in items}
    for d in dedicated:
        d["pending_free"] = d["serial"] in pending
    doc = {
        "schema": DUMP_SCHEMA,
        "device": gpu._info.as_dict(),
        "config": {k: v for k, v in gpu._config.__dict__.items() if k != "budget"},
        "budget": {"soft": gpu._config.budget.soft, "hard": gpu._config.budget.hard,
                   "heap_soft": {str(k): v for k, v in gpu._config.budget.heap_soft.items()},
                   "heap_hard": {str(k): v for k, v in gpu._config.budget.heap_hard.items()}},
        "totals": totals,
        "heaps": heaps,
        "pools": pools,
        "frame_rings": rings,
        "dedicated": dedicated,
    }
    return json.dumps(doc, indent=indent)
