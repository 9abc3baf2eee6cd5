"""Device memory of one allocator: blocks in, blocks out (internal).

:class:`DeviceMemory` is the only place that asks the backend for device memory or gives it
back. It keeps the live ``VkDeviceMemory`` count far below the device's limit (big blocks,
a cap, empty blocks trimmed before failing), checks budgets before every request, retries once
after trimming when the device is out of memory, and owns the TLSF pools and dedicated
allocations that sub-allocate those blocks.
"""
from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

import numpy as np

from .blocks import KIND_BLOCK, KIND_DEDICATED, Block, TlsfPool, load_kernels
from .budget import BudgetKeeper
from .config import GpuConfig
from .errors import GpuOutOfMemoryError
from .memtypes import MemoryFlags
from .virtual import align_up

#: ``framealloc.kernels.gpu_layout.T_HEAP`` (not imported here: that would load the kernels).
_T_HEAP = 8

if TYPE_CHECKING:
    from .intents import GpuLifetime
    from .protocol import GpuBackend

__all__ = ["DeviceMemory", "next_pow2"]

_GiB = 1 << 30
#: Smallest block a budget may shrink a new block to.
_MIN_BLOCK = 1 << 16


def next_pow2(n: int) -> int:
    """Smallest power of two >= ``n`` (1 for n <= 1)."""
    return 1 << max(0, (n - 1).bit_length())


class DeviceMemory:
    """Creates and releases the blocks of one allocator (``owner``)."""

    def __init__(self, owner: Any, backend: GpuBackend, config: GpuConfig) -> None:
        info = backend.info
        self.owner = owner
        self.backend = backend
        self.config = config
        self.props = info.memory
        self.atom = max(1, info.limits.non_coherent_atom_size)
        self.type_flags = [t.flags for t in self.props.types]
        self.max_objects = min(config.max_memory_allocations,
                               info.limits.max_memory_allocation_count)
        self.budget = BudgetKeeper(backend, config)
        # The allocator's running accounting, updated by the TLSF kernels (kernels.gpu_layout
        # T_* indices); the budget reads each heap's live bytes from it.
        self.totals = np.zeros(_T_HEAP + len(self.props.heaps), np.int64)
        self.budget.allocated = self.totals[_T_HEAP:]
        load_kernels()
        self.pools: dict[tuple[int, Any], TlsfPool] = {}
        self.dedicated: dict[int, Block] = {}
        self.objects_live = 0
        self.objects_created = 0
        self.oom_count = 0
        self._serial = 0
        self._deferred_views: list[weakref.ref] = []   # mappings of released blocks

    # -- memory-type properties ---------------------------------------------------------------
    def non_coherent(self, memory_type: int) -> bool:
        f = self.type_flags[memory_type]
        return bool(f & MemoryFlags.HOST_VISIBLE) and not f & MemoryFlags.HOST_COHERENT

    def granularity(self, memory_type: int) -> int:
        """Every range of this type starts and ends on it (atom size if non-coherent)."""
        g = self.config.min_alignment
        return max(g, self.atom) if self.non_coherent(memory_type) else g

    # -- blocks -----------------------------------------------------------------------------------
    def new_block(self, mt: int, size: int, kind: str, min_size: int | None = None) -> Block:
        """Device memory of type ``mt``; with ``min_size`` the block may shrink (by halves,
        not below ``min_size``) to fit the budget. Raises FA406 (budget) or FA405 (device)."""
        heap = self.props.types[mt].heap_index
        self.drain()                    # queued frees may empty blocks that are due back
        if min_size is not None:
            room = self.budget.room(heap)
            while size > room and size // 2 >= min_size and size // 2 >= _MIN_BLOCK:
                size //= 2
        self.budget.check(heap, size)
        if self.objects_live >= self.max_objects:
            self.trim_empty_blocks()
            if self.objects_live >= self.max_objects:
                self.oom_count += 1
                raise GpuOutOfMemoryError(
                    f"{self.objects_live} live device-memory objects reached the cap of "
                    f"{self.max_objects} (GpuConfig.max_memory_allocations / the device's "
                    "maxMemoryAllocationCount); free memory or use larger blocks", code="FA405")
        try:
            handle = self.backend.create_block(mt, size)
        except GpuOutOfMemoryError:
            if not self.trim_empty_blocks():
                self.oom_count += 1
                raise
            try:
                handle = self.backend.create_block(mt, size)
            except GpuOutOfMemoryError:
                self.oom_count += 1
                raise
        self._serial += 1
        block = Block(self.owner, handle, size, mt, heap, kind,
                      bool(self.type_flags[mt] & MemoryFlags.HOST_VISIBLE),
                      not self.non_coherent(mt), self._serial)
        if block.host_visible:
            try:
                block.array = self.backend.host_view(handle)
            except BaseException:
                self.backend.destroy_block(handle)
                raise
        self.objects_live += 1
        self.objects_created += 1
        self.budget.reserve(heap, size)
        return block

    def release_block(self, block: Block, unregister: bool = True) -> None:
        """Give a block back (deferred while NumPy views of its mapping live)."""
        if block.handle is None:
            return
        self.budget.release(block.heap, block.size)
        self.objects_live -= 1
        if unregister:
            if block.kind == KIND_BLOCK:
                if block.pool is not None:
                    block.pool.remove_block(block)
            elif block.kind == KIND_DEDICATED:
                self.dedicated.pop(block.serial, None)
        pending = block.release(self.backend)
        if pending is not None:
            self._deferred_views.append(pending)

    def deferred_blocks(self) -> int:
        """Released blocks whose memory waits for their last NumPy view to die."""
        self._deferred_views = [r for r in self._deferred_views if r() is not None]
        return len(self._deferred_views)

    def trim_empty_blocks(self) -> int:
        """Release every empty pooled block; return the bytes given back."""
        self.drain()
        freed = 0
        for pool in list(self.pools.values()):
            for block in pool.empty_blocks():
                freed += block.size
                self.release_block(block)
        return freed

    # -- pooled (TLSF) and dedicated ranges --------------------------------------------------------
    def drain(self) -> None:
        """Apply the frees queued by ``GpuAllocation.free()`` in every pool (see
        :class:`~framealloc.gpu.blocks.TlsfPool`); before anything reads pools or totals."""
        for pool in self.pools.values():
            if pool.queued:
                self.drain_pool(pool)

    def drain_pool(self, pool: TlsfPool) -> None:
        if pool.drain(self.owner._free_key):
            self.block_emptied(pool)

    def pool(self, mt: int, lifetime: GpuLifetime) -> TlsfPool:
        pool = self.pools.get((mt, lifetime))
        if pool is None:
            pool = self.pools[(mt, lifetime)] = TlsfPool(
                mt, lifetime, self.granularity(mt), self.props.types[mt].heap_index, self.totals,
                self.config.keep_empty_blocks)
            pool.on_grow = self.owner._pool_grown
        return pool

    def pool_alloc(self, size: int, align: int, mt: int, lifetime: GpuLifetime,
                   tag: int) -> tuple[Block, int, int]:
        """``(block, offset, node)`` for a Persistent/Transient allocation: dedicated memory when
        large (node -1), else a TLSF range of an existing block, else of a new block."""
        threshold = self.config.dedicated_threshold
        assert threshold is not None, "GpuConfig.__post_init__ resolves dedicated_threshold"
        if size >= threshold:
            block = self.new_block(mt, align_up(size, self.granularity(mt)), KIND_DEDICATED)
            block.lifetime = lifetime
            block.requested = size
            self.dedicated[block.serial] = block
            t = self.totals
            t[int(lifetime) - 1] += size
            t[2] += 1
            t[3] += size
            t[_T_HEAP + block.heap] += size
            live = int(t[0] + t[1])
            if live > t[5]:
                t[5] = live
            return block, 0, -1
        pool = self.pool(mt, lifetime)
        # Queued frees first, so that a freed range is reused at once. Empty blocks beyond
        # keep_empty_blocks go back only after the allocation (one of them may serve it).
        emptied = pool.drain(self.owner._free_key) if pool.queued else 0
        found = pool.try_allocate(size, align, tag)
        if emptied:
            self.block_emptied(pool)
        if found is not None:
            return found
        # A fresh block's first range starts at offset 0: no room for padding is needed.
        block = self.new_block(mt, self.pool_block_size(mt, size), KIND_BLOCK, min_size=size)
        try:
            pool.add_block(block)
        except BaseException:
            self.release_block(block, unregister=False)
            raise
        found = pool.try_allocate(size, align, tag)
        assert found is not None, "a fresh block must hold the request it was sized for"
        return found

    def pool_block_size(self, mt: int, needed: int) -> int:
        """``GpuConfig.block_size`` (heap/8 on heaps of 1 GiB or less), at least ``needed``."""
        heap_size = self.props.heaps[self.props.types[mt].heap_index].size
        base = self.config.block_size
        if heap_size <= _GiB:
            base = min(base, max(_MIN_BLOCK, next_pow2(heap_size // 8 + 1) >> 1))
        return max(base, next_pow2(needed))

    def release_range(self, block: Block, node: int, size: int = 0) -> None:
        """Free a pooled range (by its TLSF node) or a dedicated block (``size`` bytes) now;
        empty blocks beyond ``keep_empty_blocks`` per pool are given back."""
        if block.kind == KIND_DEDICATED:
            t = self.totals
            t[int(block.lifetime) - 1] -= size
            t[2] -= 1
            t[4] += size
            t[_T_HEAP + block.heap] -= size
            self.release_block(block)
            return
        pool = block.pool
        if pool is None:            # the block was already given back (allocator closed)
            return
        if pool.free(node, 0) >= 0:
            self.block_emptied(pool, block)

    def block_emptied(self, pool: TlsfPool, block: Block | None = None) -> None:
        """Give back empty blocks of ``pool`` beyond ``keep_empty_blocks`` (``block`` first)."""
        empty = pool.empty_blocks()
        if block is not None and block in empty:
            empty.remove(block)
            empty.insert(0, block)
        for b in empty[:max(0, len(empty) - self.config.keep_empty_blocks)]:
            self.release_block(b)

    def flush_or_invalidate(self, block: Block, start: int, n: int, flush: bool) -> None:
        """Flush/invalidate ``[start, start+n)`` widened to whole ``nonCoherentAtomSize`` atoms."""
        lo = start & -self.atom
        hi = min(align_up(start + n, self.atom), block.size)
        if flush:
            self.backend.flush(block.handle, lo, hi - lo)
        else:
            self.backend.invalidate(block.handle, lo, hi - lo)

    def release_all(self, extra: list[Block]) -> None:
        """Give back every pooled and dedicated block plus ``extra`` (closing)."""
        blocks = [b for pool in self.pools.values() for b in pool.live_blocks()]
        blocks += list(self.dedicated.values()) + extra
        for pool in self.pools.values():
            pool.blocks = []
            pool.queued.clear()
        self.dedicated.clear()
        for block in blocks:
            self.release_block(block, unregister=False)
