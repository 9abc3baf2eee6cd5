"""GPU memory: intents, a backend protocol, a Vulkan backend and a null (host) backend.

Describe *what* memory is for (:class:`GpuMemoryIntent`, :class:`GpuLifetime`,
:class:`BufferUsage`); :class:`GpuAllocator` picks memory types, sub-allocates large blocks,
recycles frame memory after the GPU's fences, stages uploads/readbacks and keeps budgets and
statistics. :class:`UnifiedAllocator` joins it with a CPU ``SmartAlloc``.

Importing this package never imports the ``vulkan`` package; the Vulkan backend loads on first
use (``GpuAllocator.vulkan()`` or ``framealloc.gpu.vk``).

>>> from framealloc.gpu import GpuAllocator, GpuMemoryIntent
>>> with GpuAllocator.null() as gpu, gpu.frame():
...     a = gpu.allocate_frame(1024, GpuMemoryIntent.STAGING)
...     a.size
1024
"""
from __future__ import annotations

from typing import Any

from .allocation import BufferRange, GpuAllocation
from .allocator import GpuAllocator
from .batch import FrameCursor, GpuBatch
from .config import BudgetEvent, GpuBudget, GpuConfig
from .errors import (GpuAlignmentError, GpuBudgetExceededError, GpuBudgetWarning,
                     GpuConfigError, GpuDeviceError, GpuDoubleFreeError, GpuError,
                     GpuFrameStateError, GpuNotMappableError, GpuOutOfMemoryError, GpuSizeError,
                     GpuStaleAllocationError, GpuTimeoutError, GpuTransferError,
                     GpuUnavailableError, GpuUnsupportedError, GpuUsageError, GpuViewError,
                     UnifiedBudgetExceededError, UnifiedBudgetWarning)
from .intents import BufferUsage, GpuAllocRequirements, GpuLifetime, GpuMemoryIntent
from .memtypes import MemoryFlags, MemoryHeap, MemoryProperties, MemoryType, choose_memory_types
from .null_backend import NullBackend, NullBackendMisuse
from .protocol import BackendBlock, CommandRecorder, DeviceInfo, DeviceLimits, GpuBackend
from .budget import HeapBudget
from .stats import GpuStats
from .unified import StagingBuffer, UnifiedAllocator, UnifiedBudget
from .virtual import LinearAllocator, VirtualAllocator

__all__ = [
    "FrameCursor", "GpuBatch",
    "GpuMemoryIntent", "GpuLifetime", "BufferUsage", "GpuAllocRequirements",
    "GpuAllocator", "GpuAllocation", "BufferRange", "GpuConfig", "GpuBudget", "BudgetEvent",
    "GpuStats", "HeapBudget",
    "GpuBackend", "BackendBlock", "CommandRecorder", "DeviceInfo", "DeviceLimits",
    "NullBackend", "NullBackendMisuse",
    "MemoryFlags", "MemoryType", "MemoryHeap", "MemoryProperties", "choose_memory_types",
    "VirtualAllocator", "LinearAllocator",
    "UnifiedAllocator", "UnifiedBudget", "StagingBuffer",
    "GpuError", "GpuSizeError", "GpuAlignmentError", "GpuUsageError", "GpuUnsupportedError",
    "GpuOutOfMemoryError", "GpuBudgetExceededError", "GpuBudgetWarning", "GpuNotMappableError",
    "GpuStaleAllocationError", "GpuDoubleFreeError", "GpuFrameStateError", "GpuTransferError",
    "GpuDeviceError", "GpuUnavailableError", "GpuViewError", "GpuTimeoutError",
    "GpuConfigError", "UnifiedBudgetExceededError", "UnifiedBudgetWarning",
]

# Loaded on first access (and kept out of __all__, so `import *` never loads `vulkan`).
_LAZY = {"VulkanContext", "VulkanBackend", "vulkan_available"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from . import vk
        return getattr(vk, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
