"""Device-memory blocks and the two sub-allocators built on them (internal).

* :class:`Block`: the allocator's record of one device-memory object (one buffer over all of
  it), with its persistent mapping as a NumPy array.
* :class:`TlsfPool`: Persistent/Transient allocations, carved from all blocks of one memory
  type and lifetime by the @njit TLSF kernels (:mod:`framealloc.kernels.gpu_tlsf`) over
  structured arrays: one kernel call per allocation or free.
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

from .errors import GpuOutOfMemoryError
from .virtual import LinearAllocator

if TYPE_CHECKING:
    from .protocol import BackendBlock, GpuBackend

__all__ = ["Block", "TlsfPool", "FrameRing", "KIND_BLOCK", "KIND_CHUNK", "KIND_DEDICATED"]

KIND_BLOCK = "block"
KIND_CHUNK = "frame_chunk"
KIND_DEDICATED = "dedicated"


class Block:
    """One device-memory object owned by an allocator."""

    __slots__ = ("owner", "handle", "buffer", "size", "memory_type", "heap", "kind", "lifetime",
                 "va", "array", "host_visible", "coherent", "serial", "last_used", "name", "pool",
                 "index", "requested", "__weakref__")

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
        self.va: LinearAllocator | None = None       # frame chunks only
        self.array: np.ndarray | None = None
        self.host_visible = host_visible
        self.coherent = coherent
        self.serial = serial
        self.last_used = 0
        self.name: str | None = None
        self.pool: TlsfPool | None = None    # the TLSF pool sub-allocating it, if any
        self.index = -1                      # its slot in that pool's block table
        self.requested = 0                   # bytes requested of a dedicated block

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
    """Blocks of one memory type and lifetime, sub-allocated together by the TLSF kernels of
    :mod:`framealloc.kernels.gpu_tlsf` over ``nodes`` and ``hdr`` (structured arrays).

    ``blocks[i]`` is the :class:`Block` in slot ``i`` of the pool's block table (None once
    released). ``hot`` is what the allocator's fast path unpacks; it is rebuilt whenever the
    node table is reallocated.

    ``queued``: ranges that ``GpuAllocation.free()`` handed back but the kernels have not freed
    yet, as ``(node, size, offset, block, kind)`` (a list append instead of a kernel call per
    free). :meth:`drain` frees them in one ``tlsf_free_batch`` call; the owner drains before
    anything reads the pool's state or totals, before the free key (frame) changes, and when
    an allocation does not fit. Until then only the allocator's hot path may hand the last one
    out again, to a request of the same size and kind while no frame is in use (the kernel
    state, which still counts it live, is then right as it is). No one else can reach a queued
    node.
    """

    __slots__ = ("memory_type", "lifetime", "blocks", "granularity", "nodes", "hdr", "totals",
                 "alloc_ep", "free_ep", "free_batch_ep", "queued", "on_grow", "pending",
                 "__weakref__")

    def __init__(self, memory_type: int, lifetime: Any, granularity: int, heap: int,
                 totals: np.ndarray, keep_empty: int = 1) -> None:
        from ..kernels.gpu_layout import new_nodes, new_pool
        self.memory_type = memory_type
        self.lifetime = lifetime
        self.blocks: list[Block | None] = []
        self.granularity = granularity
        self.nodes = new_nodes(64)
        self.hdr = new_pool(granularity, int(lifetime) - 1, heap, spare=64,
                            keep_empty=keep_empty)
        self.totals = totals
        eps = load_kernels()
        self.alloc_ep, self.free_ep, self.free_batch_ep = eps[0], eps[1], eps[6]
        self.queued: list[tuple[int, int, int, Block, Any]] = []
        self.pending = self.hdr["pending"]       # a view: cheap to test from Python
        self.on_grow: Any = None

    # -- node table ---------------------------------------------------------------------
    def grow(self) -> None:
        """Double the node table (a kernel said NEED_NODES)."""
        from ..kernels.gpu_layout import grow_nodes
        self.nodes = grow_nodes(self.nodes, self.hdr)
        if self.on_grow is not None:
            self.on_grow(self)

    # -- ranges -------------------------------------------------------------------------
    def try_allocate(self, size: int, alignment: int, tag: int) -> tuple[Block, int, int] | None:
        """``(block, offset, node)`` of a range in an existing block, or None."""
        while True:
            node, off, bi = self.alloc_ep(self.nodes, self.hdr, self.totals, size, alignment, tag)
            if node >= 0:
                return self.blocks[bi], off, node
            if node != -2:                           # NO_FIT
                return None
            self.grow()

    def free(self, node: int, frame: int) -> int:
        """Free ``node`` (see ``tlsf_free``); the block slot that became empty, or -1."""
        r = self.free_ep(self.nodes, self.hdr, self.totals, node, frame)
        if r < -1:
            raise AssertionError(f"TLSF kernel refused to free node {node} ({r})")
        return r

    def drain(self, frame: int) -> int:
        """Free the queued nodes (as :meth:`free` with ``frame``); the number of blocks that
        became empty beyond ``keep_empty``."""
        q = self.queued
        if not q:
            return 0
        which = np.array([e[0] for e in q], np.int64)
        q.clear()
        r = self.free_batch_ep(self.nodes, self.hdr, self.totals, which, frame)
        if r < 0:
            raise AssertionError(f"TLSF kernel refused to free queued nodes ({r})")
        return r

    def add_block(self, block: Block) -> None:
        from ..kernels.gpu_layout import MAX_BLOCKS
        add = load_kernels()[2]
        try:
            slot = self.blocks.index(None)
        except ValueError:
            slot = len(self.blocks)
            if slot >= MAX_BLOCKS:
                raise GpuOutOfMemoryError(
                    f"a pool holds at most {MAX_BLOCKS} blocks; use a larger "
                    "GpuConfig.block_size", code="FA405") from None
            self.blocks.append(None)
        while add(self.nodes, self.hdr, slot, block.size) == -2:
            self.grow()
        self.blocks[slot] = block
        block.pool = self
        block.index = slot
        block.lifetime = self.lifetime

    def remove_block(self, block: Block) -> None:
        """Forget an empty block (the caller releases its memory)."""
        if block.pool is self:
            load_kernels()[3](self.nodes, self.hdr, block.index)
            self.blocks[block.index] = None
            block.pool = None

    def live_blocks(self) -> list[Block]:
        return [b for b in self.blocks if b is not None]

    def is_empty(self, block: Block) -> bool:
        return int(self.hdr["bcount"][0, block.index]) == 0

    def empty_blocks(self) -> list[Block]:
        counts = self.hdr["bcount"][0]
        return [b for b in self.blocks if b is not None and counts[b.index] == 0]

    # -- inspection (statistics, dumps; vectorised over the node table) ---------------------------
    def _rows(self, block: Block, state: int) -> np.ndarray:
        n = self.nodes
        rows = n[(n["block"] == block.index) & (n["state"] == state)]
        return rows[np.argsort(rows["offset"], kind="stable")]

    def block_used(self, block: Block) -> int:
        return int(self.hdr["bused"][0, block.index])

    def block_count(self, block: Block) -> int:
        return int(self.hdr["bcount"][0, block.index])

    def free_ranges(self, block: Block) -> list[tuple[int, int]]:
        """Sorted ``(offset, size)`` of the block's free ranges."""
        rows = self._rows(block, 1)
        return [(int(o), int(s)) for o, s in zip(rows["offset"], rows["size"])]

    def allocations(self, block: Block) -> list[tuple[int, int, int, bool]]:
        """Sorted ``(offset, size, tag, pending)`` of the block's live and pending ranges."""
        n = self.nodes
        rows = n[(n["block"] == block.index) & ((n["state"] == 2) | (n["state"] == 3))]
        rows = rows[np.argsort(rows["offset"], kind="stable")]
        return [(int(r["offset"]), int(r["size"]), int(r["tag"]), int(r["state"]) == 3)
                for r in rows]

    def largest_free(self, block: Block) -> int:
        rows = self._rows(block, 1)
        return int(rows["size"].max()) if rows.size else 0


_EPS: tuple | None = None


def load_kernels() -> tuple:
    """Compile (or load from numba's cache) the GPU kernels once per process; returns the
    entry points of ``tlsf_alloc``, ``tlsf_free``, ``tlsf_add_block``, ``tlsf_remove_block``,
    ``tlsf_release_pending``, ``tlsf_alloc_batch``, ``tlsf_free_batch`` and
    ``frame_bump_batch`` (numba's dispatcher types a structured array on every call, which
    costs tens of microseconds). The allocator calls it when it is created, so the first
    allocation does not pay for it (nor fail under a tight address-space limit)."""
    global _EPS
    if _EPS is None:
        from ..kernels import gpu_tlsf as K
        from ..kernels.gpu_layout import new_nodes, new_pool, new_ring, new_totals
        nodes, hdr, totals = new_nodes(2), new_pool(16, 0, 0), new_totals(1)
        i64, i32 = np.zeros(1, np.int64), np.zeros(1, np.int32)
        _EPS = (_entry(K.tlsf_alloc, (nodes, hdr, totals, 1, 1, 1)),
                _entry(K.tlsf_free, (nodes, hdr, totals, 1, 1)),
                _entry(K.tlsf_add_block, (nodes, hdr, 1, 1)),
                _entry(K.tlsf_remove_block, (nodes, hdr, 1)),
                _entry(K.tlsf_release_pending, (nodes, hdr, totals, 1)),
                _entry(K.tlsf_alloc_batch, (nodes, hdr, totals, i64, 1, 1, i64, i64, i32, 1)),
                _entry(K.tlsf_free_batch, (nodes, hdr, totals, i64, 1)),
                _entry(K.frame_bump_batch, (new_ring(16), i64, i64, 1)))
    return _EPS


def _entry(kernel: Any, example: tuple) -> Any:
    """The compiled entry point of ``kernel`` for the argument types of ``example``: calling it
    skips numba's dispatch (type matching), which costs more than the kernel itself. Callers
    pass exactly those types (arrays of the same dtypes, Python ints)."""
    from numba import typeof
    sig = tuple(typeof(a) for a in example)
    kernel.compile(sig)
    return kernel.overloads[sig].entry_point


class FrameRing:
    """Frame allocations of one (intent, memory type): a chunk list per frame in flight."""

    __slots__ = ("intent", "memory_type", "granularity", "slots", "slot", "block", "cursor",
                 "limit", "mask", "nmask", "kind", "alloc_class", "state", "leased", "_words")

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
        # The cursor as a structured record (kernels.gpu_layout.RING_DTYPE) for the batch
        # kernel and a lent FrameCursor; the attributes above are the truth otherwise.
        from ..kernels.gpu_layout import new_ring
        self.leased = False
        self.set_state(new_ring(alignment))

    def set_state(self, state: np.ndarray) -> None:
        self.state = state
        self._words = state.view(np.int64)      # cursor, limit, mask: cheap from Python

    def to_state(self) -> None:
        w = self._words
        w[0] = self.cursor
        w[1] = self.limit

    def from_state(self) -> None:
        self.cursor = int(self._words[0])

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
