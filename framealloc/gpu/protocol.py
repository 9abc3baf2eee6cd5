"""The backend protocol: what a device must provide for :class:`~framealloc.gpu.GpuAllocator`.

A backend only knows how to create big blocks of device memory (each with one buffer over it),
map them, flush/invalidate them and record/submit/wait copy commands. Everything that decides
*what* to allocate (memory types, sub-allocation, frames in flight, budgets, stats) lives in the
backend-independent allocator, so it behaves identically on every backend.

Two backends implement it: :class:`~framealloc.gpu.vk.VulkanBackend` (a real device through the
``vulkan`` package) and :class:`~framealloc.gpu.null_backend.NullBackend` (host memory, for
machines without Vulkan and for tests).

>>> from framealloc.gpu import NullBackend, GpuBackend
>>> isinstance(NullBackend(), GpuBackend)
True
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, runtime_checkable

import numpy as np

from .memtypes import MemoryProperties

__all__ = ["DeviceLimits", "DeviceInfo", "BackendBlock", "CommandRecorder", "GpuBackend"]


@dataclass(frozen=True)
class DeviceLimits:
    """The device limits that matter for sub-allocating buffers (bytes)."""

    min_uniform_offset_alignment: int = 256
    min_storage_offset_alignment: int = 64
    min_texel_offset_alignment: int = 64
    non_coherent_atom_size: int = 64
    min_memory_map_alignment: int = 64
    max_memory_allocation_count: int = 4096
    max_memory_allocation_size: int = 1 << 40
    max_buffer_size: int = 1 << 40


@dataclass(frozen=True)
class DeviceInfo:
    """What the allocator needs to know about a device; ``buffer_memory_type_bits`` is the
    ``memoryTypeBits`` of a block buffer created with every :class:`BufferUsage` flag."""

    name: str
    backend: str
    device_type: str
    api_version: str
    memory: MemoryProperties
    limits: DeviceLimits
    buffer_memory_type_bits: int
    memory_budget_ext: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly description (used by the stats dump)."""
        return {
            "name": self.name, "backend": self.backend, "device_type": self.device_type,
            "api_version": self.api_version, "memory_budget_ext": self.memory_budget_ext,
            "buffer_memory_type_bits": self.buffer_memory_type_bits,
            "memory_types": self.memory.describe(),
            "heaps": [{"index": i, "size": h.size, "device_local": h.device_local}
                      for i, h in enumerate(self.memory.heaps)],
            "limits": dict(self.limits.__dict__),
        }


@runtime_checkable
class BackendBlock(Protocol):
    """One device-memory object with one buffer bound over all of it."""

    size: int
    memory_type_index: int
    buffer: Any          # the native buffer handle (VkBuffer for Vulkan) users bind ranges of
    host_address: int    # address of the persistent mapping, 0 when not mapped


#: A backend's own block type: each backend takes back only the blocks it made.
_Block = TypeVar("_Block", bound=BackendBlock)
_BlockIn = TypeVar("_BlockIn", bound=BackendBlock, contravariant=True)


@runtime_checkable
class CommandRecorder(Protocol[_BlockIn]):
    """Records copies into command buffers and submits them with fences, in order.

    The recorder makes each submission safe on its own: it orders the first command after all
    earlier work on the queue and makes the last transfer writes visible to the host and to
    later work. ``barrier`` orders copies recorded before it against copies recorded after it.
    """

    def copy(self, src: _BlockIn, src_offset: int, dst: _BlockIn, dst_offset: int,
             size: int) -> None: ...

    def barrier(self) -> None: ...

    def has_pending(self) -> bool: ...

    def submit(self) -> None: ...

    def wait(self, timeout_s: float) -> bool: ...

    def is_complete(self) -> bool: ...

    def reset(self) -> None: ...

    def destroy(self) -> None: ...


@runtime_checkable
class GpuBackend(Protocol[_Block]):
    """A device that :class:`~framealloc.gpu.GpuAllocator` can sub-allocate."""

    info: DeviceInfo

    def create_block(self, memory_type_index: int, size: int) -> _Block:
        """Allocate ``size`` bytes of the memory type, create one buffer over it (all usages),
        and map it persistently when host-visible. Raises GpuOutOfMemoryError (FA405)."""
        ...

    def destroy_block(self, block: _Block) -> None: ...

    def host_view(self, block: _Block) -> np.ndarray:
        """A writable uint8 array over the whole mapping of a host-visible block."""
        ...

    def flush(self, block: _Block, offset: int, size: int) -> None: ...

    def invalidate(self, block: _Block, offset: int, size: int) -> None: ...

    def heap_budgets(self) -> list[tuple[int, int]] | None:
        """``(usage, budget)`` per heap from the driver, or None when it cannot tell."""
        ...

    def create_recorder(self) -> CommandRecorder[_Block]: ...

    def wait_idle(self) -> None: ...

    def close(self) -> None: ...
