"""Exceptions and warnings raised by :mod:`framealloc.gpu` (codes FA401–FA419).

Every class subclasses :class:`framealloc.errors.FrameAllocError` (so ``.code`` holds the
``FAnnn`` code) and the builtin that fits, so ``except MemoryError`` or ``except ValueError``
keep working. ``framealloc.explain(code)`` gives the long explanation of each code.

>>> from framealloc.gpu import GpuAllocator, GpuSizeError
>>> with GpuAllocator.null() as gpu:
...     try:
...         gpu.allocate_persistent(0)
...     except GpuSizeError as e:
...         print(e.code)
FA401
"""
from __future__ import annotations

from ..errors import FrameAllocError, FrameAllocWarning

__all__ = [
    "GpuError",
    "GpuSizeError",
    "GpuAlignmentError",
    "GpuUsageError",
    "GpuUnsupportedError",
    "GpuOutOfMemoryError",
    "GpuBudgetExceededError",
    "GpuBudgetWarning",
    "GpuNotMappableError",
    "GpuStaleAllocationError",
    "GpuDoubleFreeError",
    "GpuFrameStateError",
    "GpuTransferError",
    "GpuDeviceError",
    "GpuUnavailableError",
    "GpuViewError",
    "GpuTimeoutError",
    "GpuConfigError",
    "UnifiedBudgetExceededError",
    "UnifiedBudgetWarning",
]


class GpuError(FrameAllocError):
    """Base class of every GPU-memory error (codes FA4xx)."""

    default_code = "FA400"


class GpuSizeError(GpuError, ValueError):
    """A GPU allocation size is zero, negative, not an integer or beyond the device (FA401)."""

    default_code = "FA401"


class GpuAlignmentError(GpuError, ValueError):
    """A requested alignment is not a power of two or is too large (FA402)."""

    default_code = "FA402"


class GpuUsageError(GpuError, ValueError):
    """Intent, lifetime and usage flags do not make a possible buffer together (FA403)."""

    default_code = "FA403"


class GpuUnsupportedError(GpuError, RuntimeError):
    """The device has no memory type that can serve this intent for this buffer (FA404)."""

    default_code = "FA404"


class GpuOutOfMemoryError(GpuError, MemoryError):
    """The device (or the allocation-count limit) could not supply the memory (FA405)."""

    default_code = "FA405"


class GpuBudgetExceededError(GpuError, MemoryError):
    """A hard GPU budget (yours or the device's per-heap budget) stops the allocation (FA406)."""

    default_code = "FA406"


class GpuBudgetWarning(GpuError, FrameAllocWarning):
    """A soft GPU budget was crossed (FA407); issued with :func:`warnings.warn`."""

    default_code = "FA407"


class GpuNotMappableError(GpuError, ValueError):
    """Host access was asked of memory whose intent does not allow it (FA408)."""

    default_code = "FA408"


class GpuStaleAllocationError(GpuError, RuntimeError):
    """An allocation was used after it was freed, after its frame was recycled, or after the
    allocator was closed (FA409)."""

    default_code = "FA409"


class GpuDoubleFreeError(GpuError, RuntimeError):
    """An allocation was freed twice, or freed through an allocator that does not own it (FA410)."""

    default_code = "FA410"


class GpuFrameStateError(GpuError, RuntimeError):
    """The GPU frame is not in the state the call needs (FA411)."""

    default_code = "FA411"


class GpuTransferError(GpuError, ValueError):
    """An upload, readback or copy cannot be done as asked (FA412)."""

    default_code = "FA412"


class GpuDeviceError(GpuError, RuntimeError):
    """A Vulkan call failed unexpectedly (for example the device was lost) (FA413)."""

    default_code = "FA413"


class GpuUnavailableError(GpuError, RuntimeError):
    """No Vulkan loader, driver or suitable device is available (FA414)."""

    default_code = "FA414"


class GpuViewError(GpuError, ValueError):
    """A host array view does not fit its allocation (shape, dtype, offset or alignment) (FA415)."""

    default_code = "FA415"


class GpuTimeoutError(GpuError, TimeoutError):
    """Waiting for the GPU to finish a frame took longer than the configured timeout (FA416)."""

    default_code = "FA416"


class GpuConfigError(GpuError, ValueError):
    """A :class:`~framealloc.gpu.GpuConfig` or budget value is invalid (FA417)."""

    default_code = "FA417"


class UnifiedBudgetExceededError(GpuError, MemoryError):
    """The unified CPU+GPU hard budget stops the allocation (FA418)."""

    default_code = "FA418"


class UnifiedBudgetWarning(GpuError, FrameAllocWarning):
    """The unified CPU+GPU soft budget was crossed (FA419); issued with :func:`warnings.warn`."""

    default_code = "FA419"
