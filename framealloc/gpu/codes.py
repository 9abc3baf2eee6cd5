"""Diagnostic codes of the GPU family (FA4xx), merged into ``framealloc.explain`` on first use.

>>> import framealloc
>>> framealloc.explain("FA405").splitlines()[0]
'FA405 GPU out of memory'
"""
from __future__ import annotations

from ..errors import CodeInfo

__all__ = ["CODES"]

CODES: dict[str, CodeInfo] = {}


def _add(code: str, title: str, explanation: str, exception: str) -> None:
    assert code not in CODES, f"duplicate diagnostic code {code}"
    # ``explain`` prints "Raised as: framealloc.<exception>", hence the "gpu." prefix.
    CODES[code] = CodeInfo(code, title, explanation.strip(), exception)


_add("FA401", "bad GPU allocation size", """
A GPU allocation size is zero, negative, not an integer, or larger than the device allows
(maxBufferSize, maxMemoryAllocationSize, or the size of every compatible memory heap).
Pass a positive Python/NumPy integer number of bytes, e.g. `gpu.allocate_persistent(arr.nbytes)`.
Split data larger than a heap into several allocations.""", "gpu.GpuSizeError")
_add("FA402", "bad GPU alignment", """
`alignment=` must be 0 (the default: the device's limits decide) or a power of two no larger
than 65536. The allocator already honours the device's buffer offset alignments for the usage
flags you pass; only ask for more when your own data layout needs it.""", "gpu.GpuAlignmentError")
_add("FA403", "impossible intent/usage combination", """
The intent, lifetime and usage flags do not describe a buffer that can exist: usage is empty or
has unknown bits, a Staging (upload) buffer lacks TRANSFER_SRC, a Readback buffer lacks
TRANSFER_DST, or an intent/lifetime value is not a GpuMemoryIntent/GpuLifetime.
Pass `usage=None` to get the intent's default usage, or add the missing BufferUsage flag.""",
     "gpu.GpuUsageError")
_add("FA404", "no compatible GPU memory type", """
None of the device's memory types both accepts the buffer (its memoryTypeBits) and has the
properties the intent requires (for Staging, Readback and Dynamic: HOST_VISIBLE).
Use another intent (DeviceLocal plus `upload()`/`readback()` works on every device), or check
`gpu.device_info().memory_types` to see what this device offers.""", "gpu.GpuUnsupportedError")
_add("FA405", "GPU out of memory", """
The device returned VK_ERROR_OUT_OF_DEVICE_MEMORY / OUT_OF_HOST_MEMORY for every compatible
memory type, or the allocator reached its cap on live device-memory objects
(GpuConfig.max_memory_allocations, kept far below the device's maxMemoryAllocationCount).
Nothing was changed and the allocator stays usable. Free persistent allocations, end frames so
frame memory is recycled, lower frames_in_flight, or use smaller buffers. `try_allocate()`
returns None instead of raising.""", "gpu.GpuOutOfMemoryError")
_add("FA406", "GPU hard budget exceeded", """
Creating device memory for this request would pass a hard budget: the global or per-heap hard
limit of GpuConfig.budget, or the heap's device budget (VK_EXT_memory_budget where available,
otherwise a fraction of the heap size). Nothing was changed.
Free memory, raise the budget (GpuBudget(hard=...)), or use `try_allocate()` to get None.""",
     "gpu.GpuBudgetExceededError")
_add("FA407", "GPU soft budget crossed", """
Device memory reserved by the allocator passed a soft budget (global or per heap). This is a
warning (GpuBudgetWarning, category of warnings.warn) and the `on_soft` callback of GpuBudget
is called once per crossing; the allocation succeeded. Turn it into an error with
`warnings.simplefilter("error", GpuBudgetWarning)`.""", "gpu.GpuBudgetWarning")
_add("FA408", "GPU memory not host-accessible", """
`host_array()`, `flush()` or `invalidate()` was called on an allocation whose intent does not
give host access. DeviceLocal memory is never mapped (even on devices where it happens to be
host-visible) so that code behaves the same on every GPU. Use `gpu.upload(dst, array)` /
`gpu.readback(src)`, or allocate with intent Staging, Readback or Dynamic.""",
     "gpu.GpuNotMappableError")
_add("FA409", "stale GPU allocation", """
The allocation was freed, its frame was recycled (a Frame allocation lives until the GPU has
finished the frame it was made in: `frames_in_flight` frames later), or its allocator was closed.
Allocate again in the current frame, or use lifetime Persistent for data that must last.
Host arrays made before the allocation went stale still point at the (reused) memory: drop them.""",
     "gpu.GpuStaleAllocationError")
_add("FA410", "GPU double free or foreign free", """
The allocation was already freed, or it belongs to another allocator, or it is a Frame
allocation (frame memory is released by end_frame, not one by one). Free each Persistent or
Transient allocation exactly once, on the allocator that made it.""", "gpu.GpuDoubleFreeError")
_add("FA411", "GPU frame state", """
A Frame allocation was requested with no frame open, `begin_frame()` was called twice, or
`end_frame()` was called without `begin_frame()`. Use `with gpu.frame(): ...` or pair the calls.
Persistent and Transient allocations, upload() and readback() also work outside frames.""",
     "gpu.GpuFrameStateError")
_add("FA412", "GPU transfer impossible", """
An upload, readback or copy cannot be done: the range falls outside the allocation, the array
is not C-contiguous bytes-compatible or is larger than the destination, the destination lacks
BufferUsage.TRANSFER_DST (or the source lacks TRANSFER_SRC), or the staging buffer is stale.
The message names the problem; nothing was recorded. framealloc never skips a transfer silently.""",
     "gpu.GpuTransferError")
_add("FA413", "Vulkan call failed", """
A Vulkan call returned an unexpected error (the message names the call and the VkResult), for
example VK_ERROR_DEVICE_LOST. Run with the validation layer
(`GpuAllocator.vulkan(validation=True)`) to find the cause; after a lost device, close the
allocator and create a new one.""", "gpu.GpuDeviceError")
_add("FA414", "no Vulkan device", """
The Vulkan backend cannot start: the Python package `vulkan` is not installed
(`pip install framealloc[vulkan]`), the Vulkan loader (libvulkan1) is missing, no driver exposes
a device (install mesa-vulkan-drivers for the CPU device lavapipe: scripts/install-vulkan.sh),
or a requested layer/extension is absent. `GpuAllocator.null()` runs the same API in host
memory.""",
     "gpu.GpuUnavailableError")
_add("FA415", "bad host array view", """
`allocation.host_array(shape, dtype, offset=)` does not fit: the view would pass the end of the
allocation, the offset is negative or misaligned for the dtype, or the dtype is an object or
unsized dtype. Ask for a smaller shape, or allocate `np.prod(shape) * dtype.itemsize` bytes.""",
     "gpu.GpuViewError")
_add("FA416", "GPU fence timeout", """
The GPU did not finish a frame (or a readback) within GpuConfig.fence_timeout_s. Frame memory is
recycled only after the GPU has finished with it, so the allocator waited and gave up; nothing was
recycled and the allocator stays usable. Check that work you submitted can complete (for example
that semaphores it waits on get signalled), or raise the timeout.""", "gpu.GpuTimeoutError")
_add("FA417", "invalid GPU configuration", """
A GpuConfig or GpuBudget value is invalid (the message says which one and the allowed range),
for example a block size that is not a power of two, frames_in_flight below 1, or a soft budget
above the hard one.""", "gpu.GpuConfigError")
_add("FA418", "unified CPU+GPU hard budget exceeded", """
UnifiedAllocator: the CPU bytes held by the SmartAlloc plus the GPU bytes held by the GPU
allocator plus this request would pass the unified hard budget. Nothing was allocated.
End frames, free memory, or raise UnifiedBudget(hard=...).""", "gpu.UnifiedBudgetExceededError")
_add("FA419", "unified CPU+GPU soft budget crossed", """
UnifiedAllocator: CPU plus GPU usage passed the unified soft budget. This is a warning
(UnifiedBudgetWarning) and the budget's `on_soft` callback is called once per crossing.""",
     "gpu.UnifiedBudgetWarning")
