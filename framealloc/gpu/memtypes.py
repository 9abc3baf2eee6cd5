"""Device memory description and memory-type selection from intent (pure Python, no Vulkan).

A device offers memory *heaps* (physical pools with a size) and memory *types* (a heap plus
property flags). A buffer accepts some types (``memoryTypeBits``); the intent says which
properties are required, preferred and better avoided. :func:`choose_memory_types` returns every
acceptable type, best first, so the allocator can fall back when one heap is full or over budget.

>>> from framealloc.gpu.memtypes import MemoryProperties, MemoryFlags as F, choose_memory_types
>>> from framealloc.gpu import GpuMemoryIntent
>>> discrete = MemoryProperties.from_lists(
...     types=[(F.DEVICE_LOCAL, 0), (F.HOST_VISIBLE | F.HOST_COHERENT, 1),
...            (F.HOST_VISIBLE | F.HOST_COHERENT | F.HOST_CACHED, 1)],
...     heaps=[(8 << 30, True), (16 << 30, False)])
>>> choose_memory_types(discrete, 0b111, GpuMemoryIntent.DEVICE_LOCAL)
[0, 1, 2]
>>> choose_memory_types(discrete, 0b111, GpuMemoryIntent.READBACK)
[2, 1]
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Sequence

from .intents import GpuMemoryIntent

__all__ = [
    "MemoryFlags",
    "MemoryType",
    "MemoryHeap",
    "MemoryProperties",
    "choose_memory_types",
    "MEMORY_TYPE_RULES",
]


class MemoryFlags(enum.IntFlag):
    """``VkMemoryPropertyFlagBits`` (same values)."""

    DEVICE_LOCAL = 0x1
    HOST_VISIBLE = 0x2
    HOST_COHERENT = 0x4
    HOST_CACHED = 0x8
    LAZILY_ALLOCATED = 0x10
    PROTECTED = 0x20
    DEVICE_COHERENT_AMD = 0x40
    DEVICE_UNCACHED_AMD = 0x80
    RDMA_CAPABLE_NV = 0x100


#: Types with any of these flags are never used: lazily allocated memory is for transient
#: images only, protected memory and the AMD coherence flags need device features we do not
#: enable (using them would be a validation error).
_NEVER = (MemoryFlags.LAZILY_ALLOCATED | MemoryFlags.PROTECTED
          | MemoryFlags.DEVICE_COHERENT_AMD | MemoryFlags.DEVICE_UNCACHED_AMD)

_HEAP_DEVICE_LOCAL = 0x1


@dataclass(frozen=True)
class MemoryType:
    """One memory type: its property flags and the heap it draws from."""

    flags: MemoryFlags
    heap_index: int

    @property
    def host_visible(self) -> bool:
        return bool(self.flags & MemoryFlags.HOST_VISIBLE)

    @property
    def host_coherent(self) -> bool:
        return bool(self.flags & MemoryFlags.HOST_COHERENT)


@dataclass(frozen=True)
class MemoryHeap:
    """One memory heap: its size in bytes and whether it is device-local."""

    size: int
    device_local: bool


@dataclass(frozen=True)
class MemoryProperties:
    """The memory types and heaps of a device (``VkPhysicalDeviceMemoryProperties``)."""

    types: tuple[MemoryType, ...]
    heaps: tuple[MemoryHeap, ...]

    @classmethod
    def from_lists(cls, types: Sequence[tuple[int, int]],
                   heaps: Sequence[tuple[int, bool | int]]) -> MemoryProperties:
        """Build from ``[(flags, heap_index), ...]`` and ``[(size, device_local), ...]``.

        ``device_local`` may also be Vulkan's heap flag word (bit 0 = DEVICE_LOCAL).
        """
        mt = tuple(MemoryType(MemoryFlags(int(f)), int(h)) for f, h in types)
        mh = tuple(MemoryHeap(int(s), bool(int(d) & _HEAP_DEVICE_LOCAL)) for s, d in heaps)
        for i, t in enumerate(mt):
            if not 0 <= t.heap_index < len(mh):
                raise ValueError(f"memory type {i} names heap {t.heap_index}, "
                                 f"but there are {len(mh)} heaps")
        return cls(mt, mh)

    def describe(self) -> list[dict]:
        """A JSON-friendly list of the memory types with their heap sizes."""
        return [{"index": i, "flags": _flag_names(t.flags), "heap": t.heap_index,
                 "heap_size": self.heaps[t.heap_index].size}
                for i, t in enumerate(self.types)]


def _flag_names(flags: int) -> list[str]:
    return [f.name for f in MemoryFlags if flags & f]  # type: ignore[misc]


@dataclass(frozen=True)
class _Rule:
    required: MemoryFlags
    # (flag, weight): a present preferred flag adds its weight, a present avoided flag subtracts.
    preferred: tuple[tuple[MemoryFlags, int], ...]
    avoided: tuple[tuple[MemoryFlags, int], ...]


_F = MemoryFlags
#: The preference order of each intent (documented in docs/gpu.md, "Choosing memory").
MEMORY_TYPE_RULES: dict[GpuMemoryIntent, _Rule] = {
    # GPU-only data: device-local memory; keep host-visible (BAR) memory for those who map.
    GpuMemoryIntent.DEVICE_LOCAL: _Rule(
        _F(0), ((_F.DEVICE_LOCAL, 4),), ((_F.HOST_VISIBLE, 1),)),
    # Upload source: system memory, coherent, write-combined; not scarce device-local BAR memory.
    GpuMemoryIntent.STAGING: _Rule(
        _F.HOST_VISIBLE, ((_F.HOST_COHERENT, 1),), ((_F.DEVICE_LOCAL, 2), (_F.HOST_CACHED, 1))),
    # CPU reads GPU results: cached memory above all (uncached reads are very slow).
    GpuMemoryIntent.READBACK: _Rule(
        _F.HOST_VISIBLE, ((_F.HOST_CACHED, 4), (_F.HOST_COHERENT, 1)), ((_F.DEVICE_LOCAL, 2),)),
    # CPU writes each frame, GPU reads directly: device-local + host-visible (ReBAR/UMA) first.
    GpuMemoryIntent.DYNAMIC: _Rule(
        _F.HOST_VISIBLE, ((_F.DEVICE_LOCAL, 2), (_F.HOST_COHERENT, 1)), ((_F.HOST_CACHED, 1),)),
}


def choose_memory_types(props: MemoryProperties, memory_type_bits: int,
                        intent: GpuMemoryIntent) -> list[int]:
    """Indices of the memory types usable for ``intent``, best first (empty: none fits).

    A type is usable when its bit is set in ``memory_type_bits``, it has the intent's required
    flags and none of the flags framealloc never uses. Ties keep the device's order (Vulkan
    lists faster types first).
    """
    rule = MEMORY_TYPE_RULES[GpuMemoryIntent(intent)]
    scored: list[tuple[int, int]] = []
    for index, mtype in enumerate(props.types):
        if not (memory_type_bits >> index) & 1:
            continue
        flags = mtype.flags
        if flags & rule.required != rule.required or flags & _NEVER:
            continue
        score = sum(w for f, w in rule.preferred if flags & f)
        score -= sum(w for f, w in rule.avoided if flags & f)
        scored.append((-score, index))
    scored.sort()
    return [index for _, index in scored]
