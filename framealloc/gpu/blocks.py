"""Device-memory blocks and the two sub-allocators built on them (internal).

* :class:`Block`: the allocator's record of one device-memory object (one buffer over all of
  it), with its persistent mapping as a NumPy array.
* :class:`TlsfPool`: Persistent/Transient allocations, carved from all blocks of one memory
  type and lifetime by the @njit TLSF kernels (:mod:`framealloc.kernels.gpu_tlsf`) over
  structured arrays: one kernel call per allocation or free.
* :class:`FrameRing`: Frame allocations of one intent and memory type: for every frame in
  flight the chunks that a cursor bumps through, as a chunk table (a structured array, one row
  per chunk) and a ring record, mutated by the ``ring_*`` kernels and, for the hot path's bump,
  through a memoryview of the current row.

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

if TYPE_CHECKING:
    from .protocol import BackendBlock, GpuBackend

__all__ = ["Block", "TlsfPool", "FrameRing", "KIND_BLOCK", "KIND_CHUNK", "KIND_DEDICATED"]

KIND_BLOCK = "block"
KIND_CHUNK = "frame_chunk"
KIND_DEDICATED = "dedicated"


class Block:
    """One device-memory object owned by an allocator."""

    __slots__ = ("owner", "handle", "buffer", "size", "memory_type", "heap", "kind", "lifetime",
                 "array", "host_visible", "coherent", "serial", "name", "pool",
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
        self.array: np.ndarray | None = None
        self.host_visible = host_visible
        self.coherent = coherent
        self.serial = serial
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
    ``tlsf_release_pending``, ``tlsf_alloc_batch``, ``tlsf_free_batch``, ``frame_bump_batch``,
    and the frame-ring kernels ``ring_begin``, ``ring_bump``, ``ring_add_chunk``,
    ``ring_bump_batch`` and ``ring_used`` (numba's dispatcher types a structured array on every
    call, which costs tens of microseconds). The allocator calls it when it is created, so the first
    allocation does not pay for it (nor fail under a tight address-space limit)."""
    global _EPS
    if _EPS is None:
        from ..kernels import gpu_tlsf as K
        from ..kernels.gpu_layout import new_chunks, new_nodes, new_pool, new_ring, new_totals
        nodes, hdr, totals = new_nodes(2), new_pool(16, 0, 0), new_totals(1)
        ring, chunks = new_ring(16), new_chunks(2)
        i64, i32 = np.zeros(1, np.int64), np.zeros(1, np.int32)
        _EPS = (_entry(K.tlsf_alloc, (nodes, hdr, totals, 1, 1, 1)),
                _entry(K.tlsf_free, (nodes, hdr, totals, 1, 1)),
                _entry(K.tlsf_add_block, (nodes, hdr, 1, 1)),
                _entry(K.tlsf_remove_block, (nodes, hdr, 1)),
                _entry(K.tlsf_release_pending, (nodes, hdr, totals, 1)),
                _entry(K.tlsf_alloc_batch, (nodes, hdr, totals, i64, 1, 1, i64, i64, i32, 1)),
                _entry(K.tlsf_free_batch, (nodes, hdr, totals, i64, 1)),
                _entry(K.frame_bump_batch, (chunks, i64, i64, 1)),
                _entry(K.ring_begin, (ring, chunks, 1, 1, 1)),
                _entry(K.ring_bump, (ring, chunks, 1, 1, 1)),
                _entry(K.ring_add_chunk, (ring, chunks, 1, 1, 1)),
                _entry(K.ring_bump_batch, (ring, chunks, i64, i64, i32, 1, 1)),
                _entry(K.ring_used, (chunks, 1)))
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
    """Frame allocations of one (intent, memory type): chunks for every frame in flight.

    Its state is two structured arrays (:mod:`framealloc.kernels.gpu_layout`): ``state``
    (:data:`RING_DTYPE`, one record: the current chunk row, the frame slot, the alignment mask)
    and ``chunks`` (:data:`CHUNK_DTYPE`, one row per chunk: cursor, limit, slot, peak,
    last_used). Row ``i``'s :class:`Block` is ``blocks[i]``. Every cursor lives in its row only:
    :meth:`GpuAllocator.allocate_frame` bumps the current row's through ``m`` (that row as
    int64 words, ``m[C_CURSOR]``, as the CPU core does with its arena rows), the ``ring_*``
    kernels of :mod:`framealloc.kernels.gpu_tlsf` do the rest, and a lent
    :class:`~framealloc.gpu.batch.FrameCursor` bumps the row itself.

    ``m``, ``block`` and ``limit`` are handles on the current row (its words, its Block, its
    size, which is fixed while it is current), refreshed by :meth:`_refresh` whenever a kernel
    or this class changes the current row or reallocates the table; ``mask``/``nmask`` are the
    ring's constant alignment mask and its complement.
    """

    __slots__ = ("intent", "memory_type", "kind", "alloc_class", "state", "chunks", "blocks",
                 "nslots", "m", "block", "limit", "mask", "nmask", "leased", "_hdr", "_idle",
                 "_views")

    def __init__(self, intent: Any, memory_type: int, frames_in_flight: int, alignment: int,
                 kind: Any, alloc_class: type) -> None:
        from ..kernels.gpu_layout import new_chunks, new_ring
        self.intent = intent
        self.memory_type = memory_type
        self.kind = kind
        # The class of this ring's allocations, ``_kind`` built in (the allocator makes it with
        # ``allocation.frame_allocation_class``; allocations sit above blocks, so not here).
        self.alloc_class = alloc_class
        self.nslots = frames_in_flight
        self.mask = alignment - 1
        self.nmask = ~self.mask
        self.leased = False
        self.state = new_ring(alignment)
        self._hdr = _words(self.state)               # chunk, slot, mask
        self._table(new_chunks(2 * frames_in_flight))
        self.blocks: list[Block | None] = [None] * self.chunks.shape[0]
        # The words the hot path sees while no chunk is current: cursor 0, limit 0 (no room).
        self._idle = _words(np.zeros(len(_CHUNK_FIELDS), np.int64))
        self._refresh()

    # -- the current row ------------------------------------------------------------------
    def _refresh(self) -> None:
        """Point ``m``/``block``/``limit`` at the current row (after it or the table changed)."""
        row = self._hdr[0]
        if row < 0:
            self.block, self.limit, self.m = None, 0, self._idle
        else:
            m = self._views[row]
            if m is None:
                m = self._views[row] = _words(self.chunks[row:row + 1])
            self.block = self.blocks[row]
            self.m = m
            self.limit = m[1]

    def _table(self, chunks: np.ndarray) -> None:
        """Use ``chunks`` as the chunk table (the row views of the previous one are dropped)."""
        self.chunks = chunks
        self._views: list[memoryview | None] = [None] * chunks.shape[0]

    @property
    def slot(self) -> int:
        """The frame slot (frame number modulo frames in flight) allocations go to."""
        return self._hdr[1]

    @slot.setter
    def slot(self, value: int) -> None:
        self._hdr[1] = value

    @property
    def row(self) -> int:
        """The current chunk's row (-1: none)."""
        return self._hdr[0]

    # -- frames ---------------------------------------------------------------------------
    def activate(self, slot: int, frame: int, keep_after: int) -> list[Block]:
        """Start frame ``frame`` in ``slot`` (whose GPU work is known to be finished): rewind its
        chunks, and remove and return those unused since before frame ``keep_after``."""
        out: list[Block] = []
        if not any(self.blocks):                     # no chunk at all: nothing to rewind
            self._hdr[1] = slot
            return out
        dropped = _ring_eps()[0](self.state, self.chunks, slot, frame, keep_after)
        if dropped:
            from ..kernels.gpu_layout import NO_SLOT
            slots = self.chunks["slot"]
            for i, b in enumerate(self.blocks):
                if b is not None and slots[i] == NO_SLOT:
                    out.append(b)
                    self.blocks[i] = None
        self._refresh()
        return out

    # -- allocation (slow paths) -----------------------------------------------------------
    def bump(self, size: int, alignment: int, frame: int) -> tuple[Block, int] | None:
        """``(block, offset)`` of ``size`` bytes aligned to ``alignment`` in the current chunk
        or another chunk of the slot with room (which becomes current), or None."""
        m = self.m
        off = (m[0] + alignment - 1) & -alignment
        end = off + size
        if end <= self.limit:                        # the current chunk (none: limit 0)
            m[0] = (end + self.mask) & self.nmask
            return self.block, off  # type: ignore[return-value]
        off = _ring_eps()[1](self.state, self.chunks, size, alignment, frame)
        if off < 0:
            return None
        self._refresh()
        return self.block, off  # type: ignore[return-value]

    def add_chunk(self, block: Block, first: int, frame: int) -> None:
        """Make ``block`` the current chunk, with ``first`` bytes at offset 0 allocated."""
        from ..kernels.gpu_layout import grow_chunks
        add = _ring_eps()[2]
        while True:
            row = add(self.state, self.chunks, block.size, first, frame)
            if row >= 0:
                break
            self._table(grow_chunks(self.chunks))
            self.blocks.extend([None] * (self.chunks.shape[0] - len(self.blocks)))
        self.blocks[row] = block
        self._refresh()

    def bump_batch(self, sizes: np.ndarray, offsets: np.ndarray, rows: np.ndarray, start: int,
                   frame: int) -> int:
        """``ring_bump_batch`` over this ring (see there); the current row is refreshed."""
        k = _ring_eps()[3](self.state, self.chunks, sizes, offsets, rows, start, frame)
        self._refresh()
        return k

    # -- lending to @njit code ---------------------------------------------------------------
    def lend(self) -> np.ndarray:
        """The current row as a one-row array (its cursor, bumped in place by the borrower)."""
        row = self._hdr[0]
        return self.chunks[row:row + 1]

    def take_back(self) -> None:
        """Detach the lent row: the table is copied, so bumping the lent array changes nothing."""
        self._table(self.chunks.copy())
        self._refresh()

    # -- rollback ---------------------------------------------------------------------------
    def snapshot(self) -> tuple:
        """Copies of the ring's state, for :meth:`restore` (not while lent). The records are
        kept as bytes: copying a small structured array costs microseconds, its bytes tens of
        nanoseconds, and every frame batch takes a snapshot."""
        return self.state.tobytes(), self.chunks.tobytes(), list(self.blocks)

    def restore(self, snap: tuple) -> list[Block]:
        """Back to ``snap``; returns the chunks added since (the caller releases them)."""
        state, chunks, blocks = snap
        kept = {id(b) for b in blocks}
        added = [b for b in self.blocks if b is not None and id(b) not in kept]
        self.state[:] = np.frombuffer(state, self.state.dtype)
        self._table(np.frombuffer(chunks, self.chunks.dtype).copy())     # rare: the error path
        self.blocks = blocks
        self._refresh()
        return added

    # -- inspection -------------------------------------------------------------------------
    def used_bytes(self, slot: int | None = None) -> int:
        """Bytes bumped (with padding) in ``slot`` (default: the current one)."""
        if slot is None:
            if self._hdr[0] < 0:                     # no chunk in the current slot
                return 0
            slot = self._hdr[1]
        return _ring_eps()[4](self.chunks, slot)

    def chunk_count(self) -> int:
        return sum(b is not None for b in self.blocks)

    def slot_chunks(self, slot: int) -> list[tuple[Block, int, int]]:
        """``(block, used, peak)`` of the chunks of ``slot``, in table order."""
        c = self.chunks
        return [(b, int(c["cursor"][i]), int(max(c["peak"][i], c["cursor"][i])))
                for i, b in enumerate(self.blocks) if b is not None and c["slot"][i] == slot]

    def all_chunks(self) -> list[Block]:
        return [b for b in self.blocks if b is not None]

    def clear(self) -> None:
        """Forget every chunk (the caller releases them)."""
        from ..kernels.gpu_layout import new_chunks
        self._table(new_chunks(self.chunks.shape[0]))
        self.blocks = [None] * self.chunks.shape[0]
        self._hdr[0] = -1
        self._refresh()


_CHUNK_FIELDS = ("cursor", "limit", "mask", "slot", "peak", "last_used")


def _words(records: np.ndarray) -> memoryview:
    """Records as int64 words, writable from Python without NumPy (as ``alloc.py`` does)."""
    return memoryview(records.view(np.int64)).cast("B").cast("q")


def _ring_eps() -> tuple:
    """Entry points of ``ring_begin``, ``ring_bump``, ``ring_add_chunk``, ``ring_bump_batch``,
    ``ring_used``."""
    return load_kernels()[8:13]
