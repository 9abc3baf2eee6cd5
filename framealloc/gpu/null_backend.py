"""NullBackend: the backend protocol in host memory, for machines without Vulkan and for tests.

It behaves like a device with the memory table you give it (by default one heap and one
host-visible, coherent, device-local type, like an integrated GPU):

* device memory is host memory; each memory heap has its size as capacity, so running out
  raises :class:`~framealloc.gpu.GpuOutOfMemoryError` like a real driver;
* memory types without HOST_VISIBLE cannot be mapped; HOST_VISIBLE types without
  HOST_COHERENT keep a separate host copy that only ``flush``/``invalidate`` synchronise, with
  the atom-alignment rules of Vulkan, so a missing flush loses data just as on a real GPU;
* copies run in submission order when "the GPU" executes them: at once by default, or only
  when you call :meth:`NullBackend.complete` with ``manual_completion=True`` (so tests can hold
  frames in flight);
* misuse a validation layer would flag (copy from freed memory, misaligned flush, resetting an
  unfinished recorder) raises :class:`NullBackendMisuse`.

>>> from framealloc.gpu import GpuAllocator, NullBackend
>>> from framealloc.gpu.memtypes import MemoryProperties, MemoryFlags as F
>>> discrete = MemoryProperties.from_lists(
...     types=[(F.DEVICE_LOCAL, 0), (F.HOST_VISIBLE | F.HOST_COHERENT, 1)],
...     heaps=[(256 << 20, True), (512 << 20, False)])
>>> gpu = GpuAllocator(NullBackend(memory=discrete))
>>> gpu.memory_types_for("device_local"), gpu.memory_types_for("staging")
([0, 1], [1])
>>> gpu.close()
"""
from __future__ import annotations

import itertools
from typing import Sequence

import numpy as np

from .errors import GpuOutOfMemoryError
from .memtypes import MemoryFlags, MemoryProperties
from .protocol import DeviceInfo, DeviceLimits

__all__ = ["NullBackend", "NullBlock", "NullBackendMisuse", "integrated_memory"]


class NullBackendMisuse(RuntimeError):
    """framealloc used the null device in a way a Vulkan validation layer would report."""


def integrated_memory(heap_size: int = 1 << 30) -> MemoryProperties:
    """One heap, one DEVICE_LOCAL|HOST_VISIBLE|HOST_COHERENT|HOST_CACHED type (like lavapipe)."""
    f = (MemoryFlags.DEVICE_LOCAL | MemoryFlags.HOST_VISIBLE | MemoryFlags.HOST_COHERENT
         | MemoryFlags.HOST_CACHED)
    return MemoryProperties.from_lists([(f, 0)], [(heap_size, True)])


class NullBlock:
    """A "device memory" block: ``storage`` is what the GPU sees, ``mapped`` what the host sees."""

    __slots__ = ("size", "memory_type_index", "buffer", "host_address", "storage", "mapped",
                 "heap", "destroyed")

    def __init__(self, size: int, memory_type_index: int, buffer: int, heap: int,
                 host_visible: bool, coherent: bool) -> None:
        self.size = size
        self.memory_type_index = memory_type_index
        self.buffer = buffer
        self.heap = heap
        self.storage = np.zeros(size, np.uint8)
        if not host_visible:
            self.mapped = None
        elif coherent:
            self.mapped = self.storage
        else:
            self.mapped = np.zeros(size, np.uint8)
        self.host_address = 0 if self.mapped is None else self.mapped.ctypes.data
        self.destroyed = False


class _Batch:
    __slots__ = ("ops", "done")

    def __init__(self, ops: list) -> None:
        self.ops = ops
        self.done = False


class NullRecorder:
    """Records copies; a submission executes (in queue order) when the null GPU runs it."""

    def __init__(self, backend: NullBackend) -> None:
        self._backend = backend
        self._ops: list[tuple | None] = []      # copies; None: a barrier
        self._batches: list[_Batch] = []
        self.destroyed = False

    def copy(self, src: NullBlock, src_offset: int, dst: NullBlock, dst_offset: int,
             size: int) -> None:
        if src_offset < 0 or dst_offset < 0 or src_offset + size > src.size \
                or dst_offset + size > dst.size or size <= 0:
            raise NullBackendMisuse(f"copy region out of bounds ({src_offset}, {dst_offset}, "
                                    f"{size}) for blocks of {src.size}/{dst.size} bytes")
        self._ops.append((src, src_offset, dst, dst_offset, size))

    def barrier(self) -> None:
        self._ops.append(None)

    def has_pending(self) -> bool:
        return bool(self._ops)

    def submit(self) -> None:
        batch = _Batch(self._ops)
        self._ops = []
        self._batches.append(batch)
        self._backend._queue.append(batch)
        self._backend.submissions += 1
        if not self._backend.manual_completion:
            self._backend.complete()

    def wait(self, timeout_s: float) -> bool:
        return all(b.done for b in self._batches)

    def is_complete(self) -> bool:
        return all(b.done for b in self._batches)

    def reset(self) -> None:
        if not self.is_complete():
            raise NullBackendMisuse("recorder reset while its submissions are still executing")
        self._batches = []

    def destroy(self) -> None:
        self.destroyed = True


class NullBackend:
    """Host-memory implementation of :class:`~framealloc.gpu.GpuBackend`.

    ``memory``: the fake memory table (default :func:`integrated_memory`); ``limits``:
    :class:`DeviceLimits`; ``buffer_memory_type_bits``: types a block buffer accepts (default
    all); ``memory_budget``: per heap ``(other_usage, budget)``, reported as
    VK_EXT_memory_budget would (usage = this backend's blocks + ``other_usage``, as if other
    programs used memory too; ``None``: no budget extension); ``manual_completion``:
    submissions run only on :meth:`complete`.
    """

    def __init__(self, memory: MemoryProperties | None = None, limits: DeviceLimits | None = None,
                 *, buffer_memory_type_bits: int | None = None,
                 memory_budget: Sequence[tuple[int, int]] | None = None,
                 manual_completion: bool = False, name: str = "null device") -> None:
        props = integrated_memory() if memory is None else memory
        bits = (1 << len(props.types)) - 1 if buffer_memory_type_bits is None \
            else buffer_memory_type_bits
        self.info = DeviceInfo(
            name=name, backend="null", device_type="cpu", api_version="-", memory=props,
            limits=DeviceLimits() if limits is None else limits,
            buffer_memory_type_bits=bits, memory_budget_ext=memory_budget is not None)
        self.manual_completion = manual_completion
        self.memory_budget = None if memory_budget is None else list(memory_budget)
        self.heap_used = [0] * len(props.heaps)
        self.live_blocks: set[int] = set()
        self.blocks_created = 0
        self.submissions = 0
        self.flushes: list[tuple[int, int, int]] = []
        self.invalidates: list[tuple[int, int, int]] = []
        self._queue: list[_Batch] = []
        self._ids = itertools.count(1)
        self.closed = False

    # -- memory ---------------------------------------------------------------------------------
    def create_block(self, memory_type_index: int, size: int) -> NullBlock:
        props = self.info.memory
        if not (self.info.buffer_memory_type_bits >> memory_type_index) & 1:
            raise NullBackendMisuse(f"memory type {memory_type_index} is not in the buffer's "
                                    f"memoryTypeBits {self.info.buffer_memory_type_bits:#b}")
        mtype = props.types[memory_type_index]
        heap = mtype.heap_index
        if self.heap_used[heap] + size > props.heaps[heap].size:
            raise GpuOutOfMemoryError(
                f"null device: heap {heap} has {props.heaps[heap].size - self.heap_used[heap]} "
                f"bytes left, {size} requested", code="FA405")
        block = NullBlock(size, memory_type_index, next(self._ids), heap,
                          mtype.host_visible, mtype.host_coherent)
        self.heap_used[heap] += size
        self.live_blocks.add(block.buffer)
        self.blocks_created += 1
        return block

    def destroy_block(self, block: NullBlock) -> None:
        if block.destroyed:
            raise NullBackendMisuse("block destroyed twice")
        block.destroyed = True
        self.heap_used[block.heap] -= block.size
        self.live_blocks.discard(block.buffer)

    def host_view(self, block: NullBlock) -> np.ndarray:
        if block.mapped is None:
            raise NullBackendMisuse("mapping memory that is not HOST_VISIBLE")
        # A view, not the array itself: the allocator watches this object (weakref) to learn
        # when the last host view is gone, and the block must not keep it alive.
        return block.mapped[:]

    def _check_atom_range(self, block: NullBlock, offset: int, size: int, what: str) -> None:
        atom = self.info.limits.non_coherent_atom_size
        if block.mapped is None or block.mapped is block.storage:
            raise NullBackendMisuse(f"{what} of memory that is not host-visible and non-coherent")
        if offset % atom or (size % atom and offset + size != block.size) \
                or offset + size > block.size:
            raise NullBackendMisuse(f"{what} range ({offset}, {size}) breaks the "
                                    f"nonCoherentAtomSize {atom} rules")

    def flush(self, block: NullBlock, offset: int, size: int) -> None:
        self._check_atom_range(block, offset, size, "flush")
        block.storage[offset:offset + size] = block.mapped[offset:offset + size]  # type: ignore
        self.flushes.append((block.buffer, offset, size))

    def invalidate(self, block: NullBlock, offset: int, size: int) -> None:
        self._check_atom_range(block, offset, size, "invalidate")
        block.mapped[offset:offset + size] = block.storage[offset:offset + size]  # type: ignore
        self.invalidates.append((block.buffer, offset, size))

    def heap_budgets(self) -> list[tuple[int, int]] | None:
        if self.memory_budget is None:
            return None
        return [(used + extra, budget) for used, (extra, budget)
                in zip(self.heap_used, self.memory_budget)]

    # -- commands -------------------------------------------------------------------------------
    def create_recorder(self) -> NullRecorder:
        return NullRecorder(self)

    @property
    def pending_submissions(self) -> int:
        """Submissions the null GPU has not executed yet."""
        return len(self._queue)

    def complete(self, count: int | None = None) -> int:
        """Execute the oldest ``count`` pending submissions (all by default); return how many."""
        n = len(self._queue) if count is None else min(count, len(self._queue))
        for batch in self._queue[:n]:
            for op in batch.ops:
                if op is None:
                    continue
                src, so, dst, do, size = op
                if src.destroyed or dst.destroyed:
                    raise NullBackendMisuse("the GPU executed a copy touching freed memory")
                dst.storage[do:do + size] = src.storage[so:so + size]
            batch.done = True
        del self._queue[:n]
        return n

    def wait_idle(self) -> None:
        self.complete()

    def close(self) -> None:
        self.complete()
        self.closed = True

    def __repr__(self) -> str:
        return f"<NullBackend {len(self.live_blocks)} live blocks>"
