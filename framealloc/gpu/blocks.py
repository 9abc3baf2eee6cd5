"""Device-memory blocks and the two sub-allocators built on them (internal).

* :class:`Block`: the allocator's record of one device-memory object (one buffer over all of
  it), with its persistent mapping as a NumPy array.
* :class:`TlsfPool`: Persistent/Transient allocations, carved from blocks with a
  :class:`~framealloc.gpu.virtual.VirtualAllocator` each.
* :class:`FrameRing`: Frame allocations of one intent and memory type: for every frame in
  flight a list of chunks that a cursor bumps through. The fields the hot path touches
  (``block``, ``cursor``, ``limit``, ``mask``) sit directly on the ring.

Mapped memory and NumPy views: every view that ``host_array`` hands out is a slice of the
block's array, so it keeps that array alive. When the allocator releases a block whose array
is still referenced by a view, the device memory is freed only when the last view dies
(``weakref.finalize``), so a view can never point at unmapped memory.
"""
from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

import numpy as np

from .virtual import LinearAllocator, VirtualAllocator

if TYPE_CHECKING:
    from .protocol import BackendBlock, GpuBackend

__all__ = ["Block", "TlsfPool", "FrameRing", "KIND_BLOCK", "KIND_CHUNK", "KIND_DEDICATED"]

KIND_BLOCK = "block"
KIND_CHUNK = "frame_chunk"
KIND_DEDICATED = "dedicated"


class Block:
    """One device-memory object owned by an allocator."""

    __slots__ = ("owner", "handle", "buffer", "size", "memory_type", "heap", "kind", "lifetime",
                 "va", "array", "host_visible", "coherent", "serial", "last_used", "name", "meta",
                 "__weakref__")

    def __init__(self, owner: Any, handle: BackendBlock, size: int, memory_type: int, heap: int,
                 kind: str, host_visible: bool, coherent: bool, serial: int) -> None:
        self.owner = owner
        self.handle: BackendBlock | None = handle      # None once released
        self.buffer = handle.buffer
        self.size = size
        self.memory_type = memory_type
        self.heap = heap
        self.kind = kind
        self.lifetime: Any = None
        self.va: VirtualAllocator | LinearAllocator | None = None
        self.array: np.ndarray | None = None
        self.host_visible = host_visible
        self.coherent = coherent
        self.serial = serial
        self.last_used = 0
        self.name: str | None = None
        self.meta: dict[int, Any] = {}     # offset -> AllocKind of live pooled allocations

    def release(self, backend: GpuBackend) -> weakref.ref | None:
        """Give the device memory back; deferred while NumPy views of its mapping live.

        Returns None when freed now, or a weak reference to the mapping array when the free
        is deferred to the death of the last view.
        """
        handle, self.handle = self.handle, None
        if handle is None:
            return None
        array, self.array = self.array, None
        if array is None:
            backend.destroy_block(handle)
            return None
        ref = weakref.ref(array)
        del array
        live = ref()
        if live is None:
            backend.destroy_block(handle)
            return None
        weakref.finalize(live, backend.destroy_block, handle)
        return ref

    def __repr__(self) -> str:
        return (f"<Block #{self.serial} {self.kind} {self.size} B type={self.memory_type} "
                f"heap={self.heap}>")


class TlsfPool:
    """Blocks of one memory type and lifetime, each sub-allocated by a VirtualAllocator."""

    __slots__ = ("memory_type", "lifetime", "blocks", "granularity")

    def __init__(self, memory_type: int, lifetime: Any, granularity: int) -> None:
        self.memory_type = memory_type
        self.lifetime = lifetime
        self.blocks: list[Block] = []
        self.granularity = granularity

    def try_allocate(self, size: int, alignment: int) -> tuple[Block, int] | None:
        """A range in an existing block, newest block first, or None."""
        for block in reversed(self.blocks):
            va = block.va
            if va.free_bytes >= size:  # type: ignore[union-attr]
                off = va.allocate(size, alignment)  # type: ignore[union-attr]
                if off >= 0:
                    return block, off
        return None

    def add_block(self, block: Block) -> None:
        block.va = VirtualAllocator(block.size, self.granularity)
        block.lifetime = self.lifetime
        self.blocks.append(block)

    def empty_blocks(self) -> list[Block]:
        return [b for b in self.blocks if b.va.is_empty]  # type: ignore[union-attr]


class FrameRing:
    """Frame allocations of one (intent, memory type): a chunk list per frame in flight."""

    __slots__ = ("intent", "memory_type", "granularity", "slots", "slot", "block", "cursor",
                 "limit", "mask", "nmask", "kind", "alloc_class")

    def __init__(self, intent: Any, memory_type: int, frames_in_flight: int, alignment: int,
                 kind: Any, alloc_class: type) -> None:
        self.intent = intent
        self.memory_type = memory_type
        self.slots: list[list[Block]] = [[] for _ in range(frames_in_flight)]
        self.slot = 0
        # Hot-path state: the chunk being bumped through, its end, and its cursor, which is
        # always a multiple of ``alignment`` (the alignment of the intent's default usage).
        self.block: Block | None = None
        self.cursor = 0
        self.limit = 0
        self.mask = alignment - 1
        self.nmask = ~self.mask
        self.kind = kind
        # The class of this ring's allocations, ``_kind`` built in (the allocator makes it with
        # ``allocation.frame_allocation_class``; allocations sit above blocks, so not here).
        self.alloc_class = alloc_class

    def _sync(self) -> None:
        """Write the hot cursor back into the current chunk's LinearAllocator."""
        block = self.block
        if block is not None:
            va = block.va
            va.cursor = self.cursor  # type: ignore[union-attr]
            if self.cursor > va.peak:  # type: ignore[union-attr]
                va.peak = self.cursor  # type: ignore[union-attr]

    def _use(self, block: Block) -> None:
        self.block = block
        self.cursor = (block.va.cursor + self.mask) & self.nmask  # type: ignore[union-attr]
        self.limit = block.size

    def activate(self, slot: int, frame: int) -> None:
        """Start frame ``frame`` in ``slot`` (whose GPU work is known to be finished)."""
        self._sync()
        self.slot = slot
        chunks = self.slots[slot]
        for c in chunks:
            if c.va.cursor:  # type: ignore[union-attr]
                c.last_used = frame
            c.va.reset()  # type: ignore[union-attr]
        if chunks:
            self._use(chunks[0])
        else:
            self.block, self.cursor, self.limit = None, 0, 0

    def deactivate(self) -> None:
        """End of frame: frame allocations go to the slow path (which raises FA411)."""
        self._sync()

    def allocate_existing(self, size: int, alignment: int, frame: int) -> tuple[Block, int] | None:
        """Bump in any chunk of the current slot with room (slow path)."""
        self._sync()
        for c in self.slots[self.slot]:
            off = c.va.allocate(size, alignment)  # type: ignore[union-attr]
            if off >= 0:
                c.last_used = frame
                self._use(c)
                return c, off
        return None

    def add_chunk(self, block: Block, frame: int) -> None:
        self._sync()
        block.va = LinearAllocator(block.size)
        block.last_used = frame
        self.slots[self.slot].append(block)
        self._use(block)

    def used_bytes(self, slot: int | None = None) -> int:
        """Bytes bumped (with padding) in ``slot`` (default: the current one)."""
        self._sync()
        s = self.slot if slot is None else slot
        return sum(c.va.cursor for c in self.slots[s])  # type: ignore[union-attr, misc]

    def chunks(self) -> list[Block]:
        return [c for chunks in self.slots for c in chunks]

    def trim(self, slot: int, frame: int, older_than: int) -> list[Block]:
        """Remove and return chunks of ``slot`` unused since ``frame - older_than``."""
        keep: list[Block] = []
        drop: list[Block] = []
        for c in self.slots[slot]:
            (drop if c.last_used < frame - older_than else keep).append(c)
        if drop:
            self.slots[slot] = keep
            if self.slot == slot:
                if keep:
                    self._use(keep[0])
                else:
                    self.block, self.cursor, self.limit = None, 0, 0
        return drop
