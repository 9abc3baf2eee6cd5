"""GpuAllocator: intent-driven GPU memory over any backend (Vulkan or null).

>>> import numpy as np
>>> from framealloc.gpu import GpuAllocator, GpuMemoryIntent as I
>>> with GpuAllocator.null() as gpu:                 # GpuAllocator.vulkan() on a real device
...     particles = gpu.allocate_persistent(4096, I.DEVICE_LOCAL, name="particles")
...     with gpu.frame():
...         gpu.upload(particles, np.arange(1024, dtype=np.float32))
...         ubo = gpu.allocate_frame(256)          # DYNAMIC: mapped, written by the CPU
...         ubo.host_array(64, np.float32)[:] = 0.5
...     back = gpu.readback(particles, np.float32)
...     particles.free()
>>> float(back[10])
10.0

Not thread-safe: like a ``VkCommandPool``, use one allocator from one thread at a time (or
guard it with your own lock).
"""
from __future__ import annotations

import contextlib
from typing import Any, Iterator

import numpy as np

from .allocation import AllocKind, GpuAllocation, frame_allocation_class
from .batch import FrameCursor, GpuBatch, as_sizes, bad_size
from .blocks import KIND_BLOCK, KIND_CHUNK, KIND_DEDICATED, Block, FrameRing, load_kernels
from .budget import HeapBudget
from .config import GpuConfig
from .errors import (GpuBudgetExceededError, GpuDoubleFreeError, GpuError, GpuFrameStateError,
                     GpuOutOfMemoryError, GpuSizeError, GpuStaleAllocationError, GpuTimeoutError,
                     GpuTransferError, GpuUnsupportedError, GpuUsageError)
from .intents import (BufferUsage, GpuAllocRequirements, GpuLifetime, GpuMemoryIntent,
                      check_alignment, check_size, check_usage, coerce_intent)
from .memory import DeviceMemory, next_pow2
from .memtypes import choose_memory_types
from .protocol import DeviceInfo, GpuBackend
from .stats import GpuStats, collect_stats, dump_json
from .transfer import TransferEngine, as_bytes, check_offset

__all__ = ["GpuAllocator"]

_new = object.__new__
_FRAME = GpuLifetime.FRAME
_PERSISTENT = GpuLifetime.PERSISTENT
_TRANSIENT = GpuLifetime.TRANSIENT
_DYNAMIC = GpuMemoryIntent.DYNAMIC
_STAGING = GpuMemoryIntent.STAGING
_READBACK = GpuMemoryIntent.READBACK
_EMPTY: dict = {}
#: Piece size of large uploads: big enough that one submit per piece costs well under 1%,
#: small enough that staging the next piece overlaps the GPU copying this one.
_UPLOAD_PIECE = 4 << 20
_UNIFORM = int(BufferUsage.UNIFORM)
_STORAGE = int(BufferUsage.STORAGE)
_TEXEL = int(BufferUsage.UNIFORM_TEXEL | BufferUsage.STORAGE_TEXEL)
_TRANSFER_SRC = BufferUsage.TRANSFER_SRC
_TRANSFER_DST = BufferUsage.TRANSFER_DST


class GpuAllocator:
    """Sub-allocates device memory by intent and lifetime; see the module docstring.

    * Frame allocations (:meth:`allocate_frame`) bump a cursor in a per-frame-in-flight ring:
      no device call, recycled when the GPU signals that frame's fence.
    * Persistent/Transient allocations (:meth:`allocate_persistent`, :meth:`allocate`) come
      from a TLSF sub-allocator over large blocks; huge requests get dedicated memory.
    * :meth:`upload` / :meth:`readback` copy through staging memory with batched GPU copies.

    Build one with :meth:`vulkan` (a real device), :meth:`null` (host memory) or
    ``GpuAllocator(backend, config)``. Close it (or use ``with``) to free every device object.
    """

    # -- construction -----------------------------------------------------------------------
    def __init__(self, backend: GpuBackend, config: GpuConfig | None = None, *,
                 owns_backend: bool = False) -> None:
        cfg = GpuConfig() if config is None else config
        if not isinstance(cfg, GpuConfig):
            raise GpuUsageError(f"config must be a GpuConfig, got {type(cfg).__name__}",
                                code="FA417")
        self._closed = True            # until construction succeeds
        self._backend = backend
        self._owns_backend = owns_backend
        self._config = cfg
        info: DeviceInfo = backend.info
        self._info = info
        self._props = info.memory
        self._limits = info.limits
        n = cfg.frames_in_flight
        self._types_for = {i: choose_memory_types(self._props, info.buffer_memory_type_bits, i)
                           for i in GpuMemoryIntent}
        self._biggest_heap = {i: max((self._props.heaps[self._props.types[t].heap_index].size
                                      for t in types), default=0)
                              for i, types in self._types_for.items()}
        # Frames: frame numbers start at 1; frames <= _recycled_frame were finished by the GPU.
        self._frame_number = 0
        self._recycled_frame = 0
        self._in_frame = False
        self._slot = 0
        self._frame_hot: dict = _EMPTY
        self._hot_table: dict = {}
        self._rings: dict[tuple[GpuMemoryIntent, int], FrameRing] = {}
        self._deferred: dict[int, list[tuple[Block, int, int]]] = {}
        self._kinds: dict[tuple, AllocKind] = {}
        self._kind_tags: dict[AllocKind, int] = {}    # tag stored with each TLSF range
        self._kind_list: list[AllocKind] = []
        self._classes: dict[AllocKind, type[GpuAllocation]] = {}
        self._align_cache: dict[tuple[int, int, int], int] = {}
        # Persistent/transient fast paths: intent -> what allocate_persistent unpacks.
        self._pool_hot: dict[Any, tuple] = {}         # PERSISTENT only, by intent
        self._free_key = 0     # frame after which a free done now may be reused (0: at once)
        self._cursors: list[FrameCursor] = []
        self._mem = DeviceMemory(self, backend, cfg)
        self._budget = self._mem.budget
        # Accounting: pooled and dedicated allocations in self._totals (kernels.gpu_layout T_*,
        # updated by the TLSF kernels); frame memory and dedicated frees waiting for the GPU here.
        self._totals = self._mem.totals
        self._pending_free = 0
        self._allocated_total = 0
        self._freed_total = 0
        self._recycled = 0         # bytes of queued frees handed out again (allocated + freed)
        self._peak = 0
        self._fallbacks = 0
        self._frames_submitted = 0
        self._bytes_uploaded = 0
        self._bytes_read_back = 0
        self._xfer = TransferEngine(backend, n, cfg.fence_timeout_s, self._release_internal)
        self._closed = False

    @classmethod
    def null(cls, config: GpuConfig | None = None, **backend_options: Any) -> GpuAllocator:
        """An allocator over :class:`~framealloc.gpu.NullBackend` (host memory, no Vulkan).

        ``backend_options`` go to ``NullBackend`` (for example a fake ``memory`` table).
        """
        from .null_backend import NullBackend
        return cls(NullBackend(**backend_options), config, owns_backend=True)

    @classmethod
    def vulkan(cls, config: GpuConfig | None = None, *, context: Any = None,
               **context_options: Any) -> GpuAllocator:
        """An allocator on a Vulkan device.

        Without ``context`` a :class:`~framealloc.gpu.vk.VulkanContext` is created (options
        such as ``validation=True`` or ``device_index=`` go to it) and destroyed on close.
        Pass your own ``VulkanContext`` (e.g. ``VulkanContext.adopt(...)`` over your
        instance/device/queue) to share a device; it is then not destroyed.
        Raises :class:`~framealloc.gpu.GpuUnavailableError` (FA414) without Vulkan.
        """
        from .vk import VulkanBackend, VulkanContext
        owns_context = context is None
        ctx = VulkanContext(**context_options) if owns_context else context
        try:
            backend = VulkanBackend(ctx, owns_context=owns_context)
        except BaseException:
            if owns_context:
                ctx.close()
            raise
        return cls(backend, config, owns_backend=True)

    # -- properties -----------------------------------------------------------------------------
    @property
    def config(self) -> GpuConfig:
        return self._config

    @property
    def backend(self) -> GpuBackend:
        return self._backend

    @property
    def frame_number(self) -> int:
        """Number of the current (or last) frame; 0 before the first ``begin_frame``."""
        return self._frame_number

    @property
    def in_frame(self) -> bool:
        return self._in_frame

    @property
    def frames_in_flight(self) -> int:
        return self._config.frames_in_flight

    @property
    def closed(self) -> bool:
        return self._closed

    def device_info(self) -> DeviceInfo:
        """The device's name, memory types and heaps, and limits."""
        return self._info

    def memory_types_for(self, intent: GpuMemoryIntent | str) -> list[int]:
        """Memory-type indices this allocator may use for ``intent``, best first."""
        return list(self._types_for[coerce_intent(intent)])

    # -- frames ---------------------------------------------------------------------------------
    def begin_frame(self) -> int:
        """Open the next frame and return its number.

        Waits (up to ``fence_timeout_s``) until the GPU has finished the frame that used the
        same ring slot ``frames_in_flight`` frames ago, then recycles that frame's memory and
        the ranges freed during it. On timeout raises
        :class:`~framealloc.gpu.GpuTimeoutError` (FA416) and changes nothing.
        """
        self._check_open()
        if self._in_frame:
            raise GpuFrameStateError(
                f"begin_frame() while frame {self._frame_number} is open; call end_frame() "
                "first (or use `with gpu.frame():`)", code="FA411")
        n = self._frame_number + 1
        slot = n % self._config.frames_in_flight
        if not self._xfer.wait(slot, self._config.fence_timeout_s):
            raise GpuTimeoutError(
                f"the GPU has not finished frame {n - self._config.frames_in_flight} after "
                f"{self._config.fence_timeout_s} s; its memory cannot be recycled yet. Check "
                "that submitted work can complete, or raise GpuConfig.fence_timeout_s",
                code="FA416")
        self._mem.drain()               # queued frees take the free key of their time
        self._xfer.reset(slot)
        self._recycled_frame = max(self._recycled_frame, n - self._config.frames_in_flight)
        self._release_deferred(self._recycled_frame)
        trim_after = self._config.frame_chunk_trim_frames * self._config.frames_in_flight
        for ring in self._rings.values():
            for chunk in ring.activate(slot, n, n - trim_after):
                self._mem.release_block(chunk)
        self._slot = slot
        self._frame_number = n
        self._free_key = n
        self._in_frame = True
        if not self._hot_table:
            self._build_hot_table()
        self._frame_hot = self._hot_table
        return n

    def end_frame(self) -> int:
        """Close the frame: submit its batched copies with the frame's fence; return its number.

        Frame memory stays untouched until that fence signals. Submit GPU work that reads
        this frame's memory on the allocator's queue *before* ``end_frame`` so the fence
        covers it.
        """
        self._check_open()
        if not self._in_frame:
            raise GpuFrameStateError(
                "end_frame() without begin_frame(); each end_frame() closes the frame opened "
                "by the matching begin_frame()", code="FA411")
        for cursor in list(self._cursors):
            cursor.close()
        self._frame_hot = _EMPTY
        self._in_frame = False
        self._mem.drain()               # queued frees take the free key of their time
        self._free_key = self._frame_number + 1
        frame_bytes = 0
        for ring in self._rings.values():
            frame_bytes += ring.used_bytes()
        self._allocated_total += frame_bytes
        self._freed_total += frame_bytes
        cur = self.live_pooled_bytes() + frame_bytes
        if cur > self._peak:
            self._peak = cur
        self._xfer.submit(self._slot)
        self._frames_submitted += 1
        return self._frame_number

    @contextlib.contextmanager
    def frame(self) -> Iterator[int]:
        """``with gpu.frame() as n:`` — begin_frame/end_frame (ended on exceptions too)."""
        n = self.begin_frame()
        try:
            yield n
        finally:
            if self._in_frame and not self._closed:
                self.end_frame()

    def wait_idle(self) -> None:
        """Submit pending copies, wait until the GPU has finished all work of this allocator,
        and reclaim the ranges whose frees were waiting for it (except those freed in the open
        frame, whose work may still be submitted)."""
        self._check_open()
        if self._xfer.has_pending(self._slot):
            self._xfer.submit(self._slot)
        for slot in range(self._config.frames_in_flight):
            if not self._xfer.wait(slot, self._config.fence_timeout_s):
                raise GpuTimeoutError(
                    f"the GPU did not finish within {self._config.fence_timeout_s} s",
                    code="FA416")
        self._xfer.finish_immediate()
        self._release_deferred(self._frame_number - 1 if self._in_frame else self._frame_number + 1)

    # -- allocation ---------------------------------------------------------------------------
    def allocate(self, requirements: GpuAllocRequirements) -> GpuAllocation:
        """Allocate by :class:`~framealloc.gpu.GpuAllocRequirements` (any lifetime).

        Raises FA405 (device out of memory), FA406 (hard budget), FA404 (no memory type),
        FA411 (Frame lifetime outside a frame), FA401 (size beyond the device).
        """
        self._check_open()
        if not isinstance(requirements, GpuAllocRequirements):
            raise GpuUsageError(
                f"allocate() takes a GpuAllocRequirements, got {type(requirements).__name__}; "
                "or use allocate_frame()/allocate_persistent()", code="FA403")
        r = requirements
        if r.lifetime is _FRAME:
            return self._allocate_frame_checked(r.size, r.intent, r.usage, r.alignment, r.name)
        assert r.usage is not None, "GpuAllocRequirements.__post_init__ resolves usage"
        return self._allocate_pooled(r.size, r.intent, r.lifetime, r.usage, r.alignment, r.name)

    def try_allocate(self, requirements: GpuAllocRequirements) -> GpuAllocation | None:
        """Like :meth:`allocate` but returns None when memory or budget runs out."""
        try:
            return self.allocate(requirements)
        except (GpuOutOfMemoryError, GpuBudgetExceededError):
            return None

    def allocate_persistent(self, size: int, intent: GpuMemoryIntent | str =
                            GpuMemoryIntent.DEVICE_LOCAL, usage: BufferUsage | None = None,
                            alignment: int = 0, name: str | None = None) -> GpuAllocation:
        """Allocate memory that lives until :meth:`free` (default intent DEVICE_LOCAL).

        The hot path (int size, default usage and alignment, no name) is one call of the
        TLSF kernel (:mod:`framealloc.kernels.gpu_tlsf`) and one small object; while no frame
        is in use, the range freed last, when it has the same size and kind, is handed out
        again without a kernel call. Frees are queued and applied in batches (see
        :meth:`GpuAllocation.free`).
        """
        if type(size) is int and usage is name is None and not alignment:
            try:
                hot = self._pool_hot[intent]
            except (KeyError, TypeError):
                hot = None
            if hot is not None:
                ep, nodes, hdr, totals, align, tag, limit, cls, pool, kind, queued = hot
                if queued:
                    # The range freed last, if it has this size and kind and no frame is in
                    # use: hand it out again as it is (no kernel call; the kernel still counts
                    # it live, which it is again).
                    node, n, off, block, k = queued[-1]
                    if n == size and k is kind and not self._free_key:
                        queued.pop()
                        self._recycled += size
                        a = cls()
                        a._block = block
                        a.offset = off
                        a.size = size
                        a._node = node
                        a._frame = -1
                        return a
                if 0 < size < limit:
                    node, off, bi = ep(nodes, hdr, totals, size, align, tag)
                    if node < 0 and queued:         # no room (or nodes) until they are freed
                        self._mem.drain_pool(pool)
                        node, off, bi = ep(nodes, hdr, totals, size, align, tag)
                    if node >= 0:
                        a = cls()
                        a._block = pool.blocks[bi]
                        a.offset = off
                        a.size = size
                        a._node = node
                        a._frame = -1
                        return a
        return self._allocate_lifetime(size, intent, _PERSISTENT, usage, alignment, name)

    def allocate_transient(self, size: int, intent: GpuMemoryIntent | str =
                           GpuMemoryIntent.STAGING, usage: BufferUsage | None = None,
                           alignment: int = 0, name: str | None = None) -> GpuAllocation:
        """Allocate short-lived memory (freed within a few frames); default intent STAGING."""
        return self._allocate_lifetime(size, intent, _TRANSIENT, usage, alignment, name)

    def _allocate_lifetime(self, size: Any, intent: Any, lifetime: GpuLifetime, usage: Any,
                           alignment: Any, name: Any) -> GpuAllocation:
        """Validate like GpuAllocRequirements does (without building one), then allocate."""
        self._check_open()
        intent = coerce_intent(intent)
        size = check_size(size)
        usage = check_usage(usage, intent)
        alignment = check_alignment(alignment)
        if name is not None and not isinstance(name, str):
            raise GpuUsageError(f"name must be a str or None, got {name!r}", code="FA403")
        return self._allocate_pooled(size, intent, lifetime, usage, alignment, name)

    def allocate_frame(self, size: int, intent: GpuMemoryIntent | str = _DYNAMIC,
                       usage: BufferUsage | None = None, alignment: int = 0,
                       name: str | None = None) -> GpuAllocation:
        """Allocate memory for the current frame (default intent DYNAMIC: CPU-written).

        The hot path bumps an offset in the frame ring: no device call, no lock.
        Raises FA411 outside a frame.
        """
        # Hot path: the ring's cursor is always aligned for the intent's default usage.
        if type(size) is int and usage is name is None and not alignment:
            try:
                ring = self._frame_hot[intent]      # empty outside a frame: KeyError
            except (KeyError, TypeError):
                ring = None
            if ring is not None:
                m = ring.m                              # the current chunk row's int64 words
                off = m[0]                              # its cursor (C_CURSOR)
                end = off + size
                if off < end <= ring.limit:             # size > 0 and the chunk has room
                    m[0] = (end + ring.mask) & ring.nmask
                    a = ring.alloc_class()              # no __init__: the fastest way to make one
                    a._block = ring.block
                    a.offset = off
                    a.size = size
                    a._frame = self._frame_number
                    return a
        return self._allocate_frame_checked(size, intent, usage, alignment, name)

    # -- batches ----------------------------------------------------------------------------------
    def allocate_frame_batch(self, sizes: Any, intent: GpuMemoryIntent | str = _DYNAMIC
                             ) -> GpuBatch:
        """Allocate ``len(sizes)`` ranges of the current frame in one kernel call.

        Each range is aligned like :meth:`allocate_frame` with the intent's default usage.
        Returns a :class:`~framealloc.gpu.batch.GpuBatch` (offsets, sizes, buffers). FA401 for
        sizes that are not positive integers, FA411 outside a frame or while a
        :meth:`frame_cursor` of the intent is open.
        """
        self._check_open()
        sz = as_sizes(sizes, check_positive=False)      # the kernel checks the signs
        ring = self._frame_hot.get(intent) if type(intent) is GpuMemoryIntent else None
        if ring is None:                                 # not the plain case: validate all
            intent = coerce_intent(intent)
            self._check_frame_open()
            ring = self._ring(intent, self._candidate_types(intent, 1)[0])
            self._check_not_leased(ring)
        n = sz.shape[0]
        offsets = np.empty(n, np.int64)
        index = np.zeros(n, np.int32)        # rows of the ring's chunk table, then see below
        other: list[Block] = []              # chunks of other memory types (fallbacks)
        frame = self._frame_number
        snap = ring.snapshot()
        k = ring.bump_batch(sz, offsets, index, 0, frame)
        if k != n:
            if k < 0:
                bad_size(sz, -1 - k)             # the kernel checked every size: nothing bumped
            other = self._frame_batch_rest(ring, snap, sz, offsets, index, k, frame)
        blocks: list[Any] = list(ring.blocks)
        if other:
            fix = index < 0
            index[fix] = len(blocks) - 1 - index[fix]
            blocks += other
        return GpuBatch(self, offsets, sz, index, blocks, frame, ring.kind)

    def _frame_batch_rest(self, ring: FrameRing, snap: tuple, sz: np.ndarray,
                          offsets: np.ndarray, index: np.ndarray, k: int,
                          frame: int) -> list[Block]:
        """Ranges ``k`` onwards of a frame batch once no chunk of the slot has room: the slow
        path adds a chunk (or falls back to another memory type) for each range that does not
        fit. Returns the chunks of other memory types, ``index[i] = -1 - j`` for ``other[j]``.
        On an error every ring is as before the batch (``snap`` is ``ring``'s), new chunks are
        released, and the error propagates."""
        n = sz.shape[0]
        usage = ring.kind.usage
        saved = {key: r.snapshot() for key, r in self._rings.items()
                 if r is not ring and not r.leased}
        saved[(ring.intent, ring.memory_type)] = snap
        fallbacks = self._fallbacks
        other: list[Block] = []
        try:
            while k != n:
                block, off = self._frame_bump(int(sz[k]), ring.intent, usage, 0)
                offsets[k] = off
                if block is ring.block:
                    index[k] = ring.row
                else:
                    other.append(block)
                    index[k] = -len(other)
                k = ring.bump_batch(sz, offsets, index, k + 1, frame)
        except BaseException:
            for key in [key for key, r in self._rings.items()
                        if key not in saved and not r.leased]:
                for chunk in self._rings.pop(key).all_chunks():
                    self._mem.release_block(chunk)
            for key, state in saved.items():
                for chunk in self._rings[key].restore(state):
                    self._mem.release_block(chunk)
            self._fallbacks = fallbacks
            raise
        return other

    def allocate_batch(self, sizes: Any, intent: GpuMemoryIntent | str =
                       GpuMemoryIntent.DEVICE_LOCAL,
                       lifetime: GpuLifetime | str = GpuLifetime.PERSISTENT) -> GpuBatch:
        """Allocate ``len(sizes)`` Persistent (or Transient) ranges in one kernel call; free
        them all with ``batch.free()``. Lifetime FRAME is :meth:`allocate_frame_batch`.

        Ranges come from the intent's preferred memory type (no fallback to other types) and
        must be smaller than ``GpuConfig.dedicated_threshold``. On failure (FA405 device out of
        memory, FA406 budget) nothing stays allocated.
        """
        from .intents import coerce_lifetime
        tlsf_alloc_batch = load_kernels()[5]
        self._check_open()
        intent = coerce_intent(intent)
        lifetime = coerce_lifetime(lifetime)
        if lifetime is _FRAME:
            return self.allocate_frame_batch(sizes, intent)
        sz = as_sizes(sizes)
        n = sz.shape[0]
        biggest = int(sz.max(initial=1))
        mt = self._candidate_types(intent, biggest)[0]
        threshold = self._config.dedicated_threshold
        assert threshold is not None
        if biggest >= threshold:
            raise GpuSizeError(
                f"a batch range of {biggest} bytes reaches GpuConfig.dedicated_threshold "
                f"({threshold}); allocate it with allocate_persistent()", code="FA401")
        usage = BufferUsage.default_for(intent)
        kind = self._kind(intent, lifetime, usage, None)
        tag = self._tag(kind)
        align = self._alignment(int(usage), 0, mt)
        pool = self._mem.pool(mt, lifetime)
        nodes = np.empty(n, np.int64)
        offsets = np.empty(n, np.int64)
        index = np.empty(n, np.int32)
        added: list[Block] = []
        self._mem.drain()                 # before the rollback copy: a drain changes totals
        saved = self._totals.copy()
        k = 0
        while True:
            k, status = tlsf_alloc_batch(pool.nodes, pool.hdr, pool.totals, sz, align, tag,
                                         nodes, offsets, index, k)
            if k == n:
                break
            if status == -2:                      # NEED_NODES
                pool.grow()
                continue
            size = int(sz[k])
            try:
                block = self._mem.new_block(mt, self._mem.pool_block_size(mt, size), KIND_BLOCK,
                                            min_size=size)
                pool.add_block(block)
            except BaseException:
                self._free_batch(pool, nodes[:k], immediate=True)
                for b in added:
                    self._mem.release_block(b)
                self._totals[:] = saved          # as if nothing had been allocated
                raise
            added.append(block)
        return GpuBatch(self, offsets, sz, index, list(pool.blocks), -1, kind, pool, nodes)

    def _free_batch(self, pool: Any, nodes: np.ndarray, immediate: bool = False) -> None:
        free_batch = load_kernels()[6]
        r = free_batch(pool.nodes, pool.hdr, pool.totals, nodes,
                       0 if immediate else self._free_key)
        if r < 0:
            raise GpuDoubleFreeError("ranges of this batch are not live (freed twice?)",
                                     code="FA410")
        if r:
            self._mem.block_emptied(pool)

    def frame_cursor(self, intent: GpuMemoryIntent | str = _DYNAMIC) -> FrameCursor:
        """Lend the frame ring of ``intent`` to @njit code for this frame (see
        :class:`~framealloc.gpu.batch.FrameCursor`): its ``state`` record is bumped by
        ``framealloc.kernels.gpu_tlsf.frame_bump``/``frame_bump_batch`` inside your kernels,
        which return -1 / stop when the chunk (``buffer``) is full. Use it as a context manager;
        ``end_frame`` closes it. FA411 outside a frame or when one is already open.
        """
        self._check_open()
        intent = coerce_intent(intent)
        self._check_frame_open()
        ring = self._ring(intent, self._candidate_types(intent, 1)[0])
        self._check_not_leased(ring)
        if ring.block is None:                   # give it a chunk (of this memory type) to bump
            try:
                chunk = self._mem.new_block(ring.memory_type, self._config.frame_chunk_size,
                                            KIND_CHUNK, min_size=1)
            except GpuOutOfMemoryError as e:
                raise GpuOutOfMemoryError(
                    f"no frame chunk of the preferred memory type for {intent.name} ({e}); "
                    "allocate_frame_batch() can fall back to other types", code="FA405") from e
            ring.add_chunk(chunk, 0, self._frame_number)
        ring.leased = True
        self._hot_table.pop(intent, None)
        cursor = FrameCursor(self, ring)
        self._cursors.append(cursor)
        return cursor

    def _return_cursor(self, ring: FrameRing) -> None:
        ring.take_back()                         # detach the lent row
        ring.leased = False
        self._cursors = [c for c in self._cursors if c._ring is not None]
        if self._hot_table.get(ring.intent) is None and \
                self._types_for[ring.intent][:1] == [ring.memory_type]:
            self._hot_table[ring.intent] = ring

    def _check_frame_open(self) -> None:
        if not self._in_frame:
            raise GpuFrameStateError(
                "Frame allocation with no frame open; call gpu.begin_frame() first (or use "
                "`with gpu.frame():`)", code="FA411")

    def _check_not_leased(self, ring: FrameRing) -> None:
        if ring.leased:
            raise GpuFrameStateError(
                f"a frame_cursor() of intent {ring.intent.name} is open: allocate through it "
                "(in @njit code) or close it first", code="FA411")

    def free(self, allocation: GpuAllocation) -> None:
        """Free a Persistent/Transient allocation (same as ``allocation.free()``).

        When frames are in use, the range is reused only after the GPU finished the frame in
        which it was freed (it may still be read by work in flight); :meth:`wait_idle`
        reclaims such ranges at once when you stop running frames.
        """
        if not isinstance(allocation, GpuAllocation):
            raise GpuDoubleFreeError(f"free() takes a GpuAllocation, got "
                                     f"{type(allocation).__name__}", code="FA410")
        block = allocation._block
        if block is None:
            raise GpuDoubleFreeError("this GPU allocation was already freed", code="FA410")
        if block.owner is not self:
            raise GpuDoubleFreeError("this GPU allocation belongs to another GpuAllocator; "
                                     "free it through its own allocator", code="FA410")
        self._check_open()
        if allocation._kind.lifetime is _FRAME:
            raise GpuDoubleFreeError(
                "Frame allocations are not freed one by one: their memory is recycled after "
                "end_frame() once the GPU has finished the frame", code="FA410")
        allocation._block = None
        pool = block.pool
        if pool is not None:
            if pool.free(allocation._node, self._free_key) >= 0:
                self._mem.block_emptied(pool, block)
            return
        size = allocation.size
        if self._free_key:
            self._deferred.setdefault(self._free_key, []).append((block, -1, size))
            self._pending_free += size
            # Counted as freed now (like pooled ranges, whose kernel does it).
            t = self._totals
            t[int(block.lifetime) - 1] -= size
            t[2] -= 1
            t[4] += size
            t[8 + block.heap] -= size
        else:
            self._mem.release_range(block, -1, size)

    # -- transfers ------------------------------------------------------------------------------
    def upload(self, dst: GpuAllocation, array: Any, offset: int = 0) -> None:
        """Copy ``array``'s bytes into ``dst`` at ``offset`` with a GPU copy from staging memory.

        Inside a frame the copy is batched and submitted by ``end_frame`` (the array is copied
        into staging memory now, so it may be reused at once). Outside a frame it is submitted
        and waited for before returning. Raises FA412 when it cannot be done.
        """
        self._check_open()
        dblock = self._transfer_target(dst, "upload destination", _TRANSFER_DST)
        data = as_bytes(array)
        n = data.size
        off = check_offset(offset, n, dst.size, "upload")
        if n == 0:
            return
        dpos = dst.offset + off
        # Large uploads go in pieces, each submitted as soon as it is staged: copying the next
        # piece into staging overlaps the GPU copying the previous one.
        pipelined = n > _UPLOAD_PIECE
        pieces = [(s, min(_UPLOAD_PIECE, n - s)) for s in range(0, n, _UPLOAD_PIECE)]
        if self._in_frame:
            for start, m in pieces:
                sblock, soff = self._frame_bump(m, _STAGING, _TRANSFER_SRC, 0)
                self._write_staging(sblock, soff, data[start:start + m])
                self._xfer.record(self._slot, sblock, soff, dblock, dpos + start, m)
                if pipelined:
                    self._xfer.submit(self._slot)
        else:
            staged: list[tuple[Block, int, int]] = []
            try:
                self._xfer.finish_immediate()
                for start, m in pieces:
                    sblock, soff, snode = self._internal_alloc(m, _STAGING, _TRANSFER_SRC)
                    staged.append((sblock, snode, m))
                    self._write_staging(sblock, soff, data[start:start + m])
                    self._xfer.submit_immediate(sblock, soff, dblock, dpos + start, m)
                self._xfer.finish_immediate()
            finally:
                for sblock, snode, m in staged:
                    self._free_internal(sblock, snode, m)
        self._bytes_uploaded += n

    def readback(self, src: GpuAllocation, dtype: Any = np.uint8,
                 shape: int | tuple[int, ...] | None = None, *, offset: int = 0,
                 size: int | None = None) -> np.ndarray:
        """Copy ``src`` back to a new NumPy array (through readback staging memory).

        Submits the copies recorded so far in this frame first, so an upload followed by a
        readback reads the uploaded data. Waits for the GPU (up to ``fence_timeout_s``).
        ``shape=None`` reads whole elements of ``dtype`` from ``offset`` (or ``size`` bytes).
        """
        self._check_open()
        sblock = self._transfer_target(src, "readback source", _TRANSFER_SRC)
        dt = np.dtype(dtype)
        if dt.hasobject or dt.itemsize == 0:
            raise GpuTransferError(f"cannot read back into dtype {dt}", code="FA412")
        off = check_offset(offset, 0, src.size, "readback")
        if shape is not None:
            shape_t = (int(shape),) if not isinstance(shape, tuple) else tuple(map(int, shape))
            n = int(np.prod(shape_t, dtype=np.int64)) * dt.itemsize
        else:
            n = (src.size - off if size is None else int(size))
            n -= n % dt.itemsize
            shape_t = (n // dt.itemsize,)
        if n < 0 or off + n > src.size:
            raise GpuTransferError(
                f"readback of {n} bytes at offset {off} passes the end of the {src.size}-byte "
                "allocation", code="FA412")
        if n == 0:
            return np.empty(shape_t, dt)
        if self._xfer.has_pending(self._slot):
            self._xfer.submit(self._slot)
        rblock, roff, rnode = self._internal_alloc(n, _READBACK, _TRANSFER_DST)
        try:
            self._xfer.run_immediate(sblock, src.offset + off, rblock, roff, n)
            if not rblock.coherent:
                self._mem.flush_or_invalidate(rblock, roff, n, flush=False)
            assert rblock.array is not None, "readback memory is host-visible (mapped)"
            out = np.array(rblock.array[roff:roff + n])
        finally:
            self._free_internal(rblock, rnode, n)
        self._bytes_read_back += n
        return out.view(dt).reshape(shape_t)

    def copy(self, src: GpuAllocation, dst: GpuAllocation, size: int | None = None, *,
             src_offset: int = 0, dst_offset: int = 0) -> None:
        """GPU-to-GPU copy between two allocations (batched in a frame, else immediate).

        FA412 when the ranges do not fit or overlap in the same buffer (a GPU copy cannot)."""
        self._check_open()
        sblock = self._transfer_target(src, "copy source", _TRANSFER_SRC)
        dblock = self._transfer_target(dst, "copy destination", _TRANSFER_DST)
        so = check_offset(src_offset, 0, src.size, "copy source")
        do = check_offset(dst_offset, 0, dst.size, "copy destination")
        n = min(src.size - so, dst.size - do) if size is None else int(size)
        if n <= 0 or so + n > src.size or do + n > dst.size:
            raise GpuTransferError(
                f"copy of {n} bytes from offset {so} of a {src.size}-byte source to offset {do} "
                f"of a {dst.size}-byte destination does not fit", code="FA412")
        s0, d0 = src.offset + so, dst.offset + do
        if sblock is dblock and s0 < d0 + n and d0 < s0 + n:
            # vkCmdCopyBuffer forbids overlapping regions (VUID-vkCmdCopyBuffer-pRegions-00117)
            raise GpuTransferError(
                f"copy of {n} bytes from offset {so} to offset {do} overlaps itself in the "
                "same buffer, which a GPU copy cannot do; copy into a separate allocation first "
                "(two copies) or choose ranges that do not overlap", code="FA412")
        if self._in_frame:
            self._xfer.record(self._slot, sblock, src.offset + so, dblock, dst.offset + do, n)
        else:
            self._xfer.run_immediate(sblock, src.offset + so, dblock, dst.offset + do, n)

    def submit(self) -> None:
        """Submit the copies batched so far in this frame now (end_frame does it anyway)."""
        self._check_open()
        if self._xfer.has_pending(self._slot):
            self._xfer.submit(self._slot)

    # -- statistics ---------------------------------------------------------------------------
    def current_bytes(self) -> int:
        """Bytes in live allocations: persistent + transient + the open frame's frame memory."""
        frame = sum(r.used_bytes() for r in self._rings.values()) if self._in_frame else 0
        return self.live_pooled_bytes() + frame

    def live_pooled_bytes(self) -> int:
        """Bytes in live Persistent and Transient allocations."""
        self._mem.drain()
        t = self._totals
        return int(t[0] + t[1])

    def reserved_bytes(self) -> int:
        """Device memory held by the allocator (blocks, frame chunks, dedicated)."""
        return self._budget.reserved_total

    def budget(self) -> list[HeapBudget]:
        """Cheap per-heap usage and budget (one driver query at most): call it every frame."""
        self._mem.drain()
        return self._budget.heap_budgets()

    def stats(self) -> GpuStats:
        """Full statistics (:class:`~framealloc.gpu.GpuStats`); walks every block."""
        return collect_stats(self)

    def dump_json(self, detailed: bool = True, indent: int | None = 2) -> str:
        """A JSON document of blocks, allocations, free ranges and fragmentation."""
        return dump_json(self, detailed=detailed, indent=indent)

    # -- teardown -------------------------------------------------------------------------------
    def deferred_blocks(self) -> int:
        """Released blocks whose device memory waits for their last NumPy view to die."""
        return self._mem.deferred_blocks()

    def close(self) -> None:
        """Wait for the GPU, free every block and destroy every device object. Idempotent.

        Host arrays that are still alive keep their block mapped until they die (see
        :meth:`deferred_blocks`); a context framealloc created waits for them before
        destroying the device.
        """
        if self._closed:
            return
        with contextlib.suppress(GpuError):
            if self._xfer.has_pending(self._slot):
                self._xfer.submit(self._slot)
        with contextlib.suppress(GpuError):
            self._backend.wait_idle()
        self._xfer.destroy()
        chunks: list[Block] = []
        for ring in self._rings.values():
            chunks.extend(ring.all_chunks())
            ring.clear()
        self._deferred.clear()
        self._pending_free = 0
        self._pool_hot.clear()
        self._frame_hot = _EMPTY
        self._in_frame = False
        self._closed = True
        self._mem.release_all(chunks)
        if self._owns_backend:
            self._backend.close()

    def __enter__(self) -> GpuAllocator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        if not getattr(self, "_closed", True):
            with contextlib.suppress(Exception):
                self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"frame {self._frame_number}"
        return (f"<GpuAllocator {self._info.backend}:{self._info.name!r} {state} "
                f"reserved={self.reserved_bytes()} B>")

    # == internals ===========================================================================
    def _check_open(self) -> None:
        if self._closed:
            raise GpuStaleAllocationError("this GpuAllocator is closed; create a new one",
                                          code="FA409")

    def _kind(self, intent: GpuMemoryIntent, lifetime: GpuLifetime, usage: BufferUsage,
              name: str | None) -> AllocKind:
        key = (intent, lifetime, usage, name)
        kind = self._kinds.get(key) if name is None else None
        if kind is None:
            kind = AllocKind(intent, lifetime, usage, name)
            if name is None:
                self._kinds[key] = kind
        return kind

    def _alignment(self, usage: int, requested: int, memory_type: int) -> int:
        key = (usage, requested, memory_type)
        a = self._align_cache.get(key)
        if a is None:
            lim = self._limits
            a = max(self._config.min_alignment, requested)
            if usage & _UNIFORM:
                a = max(a, lim.min_uniform_offset_alignment)
            if usage & _STORAGE:
                a = max(a, lim.min_storage_offset_alignment)
            if usage & _TEXEL:
                a = max(a, lim.min_texel_offset_alignment)
            if self._mem.non_coherent(memory_type):
                a = max(a, self._mem.atom)
            a = next_pow2(a)
            self._align_cache[key] = a
        return a

    def _candidate_types(self, intent: GpuMemoryIntent, size: int) -> list[int]:
        types = self._types_for[intent]
        if not types:
            raise GpuUnsupportedError(
                f"no memory type of {self._info.name!r} can hold a buffer for intent "
                f"{intent.name} (it needs HOST_VISIBLE memory the buffer accepts); use "
                "DEVICE_LOCAL with upload()/readback()", code="FA404")
        lim = self._limits
        if size > lim.max_buffer_size or size > lim.max_memory_allocation_size:
            raise GpuSizeError(
                f"{size} bytes is more than this device allows in one buffer "
                f"(maxBufferSize {lim.max_buffer_size}, maxMemoryAllocationSize "
                f"{lim.max_memory_allocation_size}); split the data", code="FA401")
        biggest = self._biggest_heap[intent]
        if size > biggest:
            raise GpuSizeError(
                f"{size} bytes is larger than every heap usable for {intent.name} "
                f"(largest: {biggest} bytes); split the data", code="FA401")
        return types

    def _build_hot_table(self) -> None:
        for intent in GpuMemoryIntent:
            types = self._types_for[intent]
            if types:
                self._hot_table[intent] = self._ring(intent, types[0])

    def _ring(self, intent: GpuMemoryIntent, memory_type: int) -> FrameRing:
        ring = self._rings.get((intent, memory_type))
        if ring is None:
            usage = BufferUsage.default_for(intent)
            kind = self._kind(intent, _FRAME, usage, None)
            ring = FrameRing(intent, memory_type, self._config.frames_in_flight,
                             self._alignment(int(usage), 0, memory_type), kind,
                             self._class_of(kind))
            ring.slot = self._slot
            self._rings[(intent, memory_type)] = ring
        return ring

    def _allocate_frame_checked(self, size: Any, intent: Any, usage: Any, alignment: Any,
                                name: Any) -> GpuAllocation:
        """Slow path of allocate_frame: validate everything, then bump (growing if needed)."""
        self._check_open()
        intent = coerce_intent(intent)
        size = check_size(size)
        usage = check_usage(usage, intent)
        alignment = check_alignment(alignment)
        if name is not None and not isinstance(name, str):
            raise GpuUsageError(f"name must be a str or None, got {name!r}", code="FA403")
        if not self._in_frame:
            raise GpuFrameStateError(
                "Frame allocation with no frame open; call gpu.begin_frame() first (or use "
                "`with gpu.frame():`), or allocate with lifetime PERSISTENT/TRANSIENT",
                code="FA411")
        block, off = self._frame_bump(size, intent, usage, alignment)
        a = _new(GpuAllocation)
        a._block = block
        a.offset = off
        a.size = size
        a._kind = self._kind(intent, _FRAME, usage, name)
        a._frame = self._frame_number
        return a

    def _frame_bump(self, size: int, intent: GpuMemoryIntent, usage: int,
                    alignment: int) -> tuple[Block, int]:
        errors: list[GpuError] = []
        created: list[tuple[GpuMemoryIntent, int]] = []
        for i, mt in enumerate(self._candidate_types(intent, size)):
            align = self._alignment(int(usage), alignment, mt)
            if (intent, mt) not in self._rings:
                created.append((intent, mt))
            ring = self._ring(intent, mt)
            self._check_not_leased(ring)
            found = ring.bump(size, align, self._frame_number)
            if found is not None:
                return found
            # A new chunk is bumped from offset 0, so it needs no room for alignment padding.
            chunk_size = max(self._config.frame_chunk_size, next_pow2(size))
            try:
                chunk = self._mem.new_block(mt, chunk_size, KIND_CHUNK, min_size=size)
            except (GpuOutOfMemoryError, GpuBudgetExceededError) as e:
                errors.append(e)
                continue
            ring.add_chunk(chunk, size, self._frame_number)
            if i:
                self._fallbacks += 1
            return chunk, 0
        for key in created:                      # as before the call: no ring of its own
            del self._rings[key]
        raise self._combine_errors(errors, size, intent)

    def _tag(self, kind: AllocKind) -> int:
        tag = self._kind_tags.get(kind)
        if tag is None:
            tag = self._kind_tags[kind] = len(self._kind_list)
            self._kind_list.append(kind)
        return tag

    def _allocate_pooled(self, size: int, intent: GpuMemoryIntent, lifetime: GpuLifetime,
                         usage: BufferUsage, alignment: int, name: str | None) -> GpuAllocation:
        types = self._candidate_types(intent, size)
        errors: list[GpuError] = []
        kind = self._kind(intent, lifetime, usage, name)
        tag = self._tag(kind)
        for i, mt in enumerate(types):
            align = self._alignment(int(usage), alignment, mt)
            try:
                block, off, node = self._mem.pool_alloc(size, align, mt, lifetime, tag)
            except (GpuOutOfMemoryError, GpuBudgetExceededError) as e:
                errors.append(e)
                continue
            if i:
                self._fallbacks += 1
            a = _new(GpuAllocation)
            a._block = block
            a.offset = off
            a.size = size
            a._kind = kind
            a._node = node
            a._frame = -1
            if block.kind == KIND_DEDICATED:
                block.name = name
            elif (not i and name is None and not alignment and lifetime is _PERSISTENT
                  and usage == BufferUsage.default_for(intent)):
                self._make_pool_hot(intent, block.pool, align, kind, tag)
            return a
        raise self._combine_errors(errors, size, intent)

    def _make_pool_hot(self, intent: GpuMemoryIntent, pool: Any, align: int, kind: AllocKind,
                       tag: int) -> None:
        threshold = self._config.dedicated_threshold
        self._pool_hot[intent] = (
            pool.alloc_ep, pool.nodes, pool.hdr, pool.totals, align, tag, threshold,
            self._class_of(kind), pool, kind, pool.queued)

    def _class_of(self, kind: AllocKind) -> type[GpuAllocation]:
        """The allocation class with ``kind`` built in, one per kind."""
        cls = self._classes.get(kind)
        if cls is None:
            cls = self._classes[kind] = frame_allocation_class(kind)
        return cls

    def _pool_grown(self, pool: Any) -> None:
        """A pool's node table was reallocated: fast paths holding the old one are rebuilt."""
        self._pool_hot.clear()

    def _internal_alloc(self, size: int, intent: GpuMemoryIntent,
                        usage: BufferUsage) -> tuple[Block, int, int]:
        """Staging memory for an immediate transfer (freed as soon as the copy completed);
        ``(block, offset, node)``. Not counted as allocated (its kernel counts it live until
        freed)."""
        errors: list[GpuError] = []
        for mt in self._candidate_types(intent, size):
            try:
                block, off, node = self._mem.pool_alloc(
                    size, self._alignment(int(usage), 0, mt), mt, _TRANSIENT, -1)
            except (GpuOutOfMemoryError, GpuBudgetExceededError) as e:
                errors.append(e)
                continue
            self._totals[3] -= size       # internal: not an allocation of the user's
            return block, off, node
        raise self._combine_errors(errors, size, intent)

    def _free_internal(self, block: Block, node: int, size: int) -> None:
        if self._closed:
            return
        # The GPU may still use it when a transfer timed out: then it is freed once that finished.
        if not self._xfer.defer_while_busy(block, node):
            self._release_internal(block, node)

    def _release_internal(self, block: Block, node: int) -> None:
        if node >= 0:
            pool = block.pool
            if pool is None:             # released with its pool (allocator closed)
                return
            size = int(pool.nodes["request"][node])
            self._mem.release_range(block, node)
        else:
            size = block.requested
            self._mem.release_range(block, -1, size)
        self._totals[4] -= size          # internal: not a free of the user's

    def _release_deferred(self, upto: int) -> None:
        self._mem.drain()
        for key in [k for k in self._deferred if k <= upto]:
            for block, _node, size in self._deferred.pop(key):
                self._pending_free -= size
                self._mem.release_block(block)
        for pool in self._mem.pools.values():
            if pool.pending[0] >= 0:
                if load_kernels()[4](pool.nodes, pool.hdr, pool.totals, upto):
                    self._mem.block_emptied(pool)

    def _combine_errors(self, errors: list[GpuError], size: int,
                        intent: GpuMemoryIntent) -> GpuError:
        if all(isinstance(e, GpuBudgetExceededError) for e in errors):
            return errors[0]
        detail = "; ".join(str(e) for e in errors)
        return GpuOutOfMemoryError(
            f"no memory type could supply {size} bytes for {intent.name} ({detail}); free "
            "memory, end frames, or use try_allocate()", code="FA405")

    # -- transfers (internals) ----------------------------------------------------------------
    def _transfer_target(self, alloc: Any, what: str, need: BufferUsage) -> Block:
        if not isinstance(alloc, GpuAllocation):
            raise GpuTransferError(f"the {what} must be a GpuAllocation, got "
                                   f"{type(alloc).__name__}", code="FA412")
        block = alloc._check_alive()
        if block.owner is not self:
            raise GpuTransferError(f"the {what} belongs to another GpuAllocator", code="FA412")
        if not alloc._kind.usage & need:
            raise GpuTransferError(
                f"the {what} was allocated without BufferUsage.{need.name}; allocate it with "
                f"usage including {need.name} (the intent defaults do)", code="FA412")
        return block

    def _write_staging(self, block: Block, offset: int, data: np.ndarray) -> None:
        n = data.size
        block.array[offset:offset + n] = data  # type: ignore[index]
        if not block.coherent:
            self._mem.flush_or_invalidate(block, offset, n, flush=True)
