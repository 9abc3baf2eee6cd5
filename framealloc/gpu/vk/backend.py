"""VulkanBackend: the backend protocol on a real Vulkan device, through ``vulkan.lib``.

Each block is one ``VkDeviceMemory`` with one ``VkBuffer`` (every supported usage) bound at
offset 0 and, when host-visible, mapped once for its whole life. The allocator sub-allocates
ranges of it, so no Vulkan call happens per allocation. Structures for the calls that repeat
(buffer/memory creation, flushes, copies, submits) are built once and reused.

>>> from framealloc.gpu import GpuAllocator
>>> with GpuAllocator.vulkan() as gpu:                 # doctest: +SKIP
...     print(gpu.device_info().name)
llvmpipe (LLVM 15.0.6, 256 bits)
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import GpuDeviceError, GpuUnavailableError
from ..intents import BufferUsage
from ..memtypes import MemoryProperties
from ..protocol import DeviceInfo, DeviceLimits
from . import _api
from .context import VulkanContext, _version_str

__all__ = ["VulkanBackend", "VulkanBlock", "VulkanRecorder"]

_ALL_USAGE = int(BufferUsage.all())
_MEMORY_HOST_VISIBLE = 0x2
_STAGE_TRANSFER = 0x1000
_STAGE_HOST = 0x4000
_STAGE_ALL_COMMANDS = 0x10000
_ACCESS_TRANSFER_READ = 0x800
_ACCESS_TRANSFER_WRITE = 0x1000
_ACCESS_HOST_READ = 0x2000
_ACCESS_MEMORY_READ = 0x8000
_ACCESS_MEMORY_WRITE = 0x10000
_NS = 1_000_000_000


class VulkanBlock:
    """A ``VkDeviceMemory`` + ``VkBuffer`` pair (see :class:`~framealloc.gpu.BackendBlock`)."""

    __slots__ = ("size", "memory_type_index", "buffer", "memory", "host_address",
                 "allocation_size", "destroyed")

    def __init__(self, size: int, memory_type_index: int, buffer: Any, memory: Any,
                 host_address: int, allocation_size: int) -> None:
        self.size = size
        self.memory_type_index = memory_type_index
        self.buffer = buffer
        self.memory = memory
        self.host_address = host_address
        self.allocation_size = allocation_size
        self.destroyed = False

    def __repr__(self) -> str:
        return f"<VulkanBlock {self.size} B type={self.memory_type_index}>"


class VulkanBackend:
    """Implements :class:`~framealloc.gpu.GpuBackend` on a :class:`VulkanContext`.

    ``owns_context``: close the context in :meth:`close`. A context created by framealloc
    destroys its device only once every block is freed, so a NumPy view of mapped memory never
    outlives the mapping. With :meth:`VulkanContext.adopt` the device is yours: destroy it only
    after ``GpuAllocator.close()`` and after the host views are gone
    (``allocator.deferred_blocks() == 0``).
    """

    def __init__(self, context: VulkanContext, *, owns_context: bool = False) -> None:
        if context.closed:
            raise GpuUnavailableError("the VulkanContext is closed", code="FA414")
        self.context = context
        self._owns_context = owns_context
        self.ffi = ffi = context.ffi
        self.lib = context.lib
        self._vk = vk = context._vk
        self._device = context.device
        self._live_blocks = 0
        self.closed = False
        # Structures reused by every block creation / flush (never shared across threads).
        self._bci = ffi.new("VkBufferCreateInfo*")
        self._bci.sType = vk.VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO
        self._bci.usage = _ALL_USAGE
        self._bci.sharingMode = vk.VK_SHARING_MODE_EXCLUSIVE
        self._mai = ffi.new("VkMemoryAllocateInfo*")
        self._mai.sType = vk.VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO
        self._range = ffi.new("VkMappedMemoryRange*")
        self._range.sType = vk.VK_STRUCTURE_TYPE_MAPPED_MEMORY_RANGE
        self._pbuf = ffi.new("VkBuffer*")
        self._pmem = ffi.new("VkDeviceMemory*")
        self._pdata = ffi.new("void**")
        self._reqs = ffi.new("VkMemoryRequirements*")
        self._budget_props: tuple[Any, Any] | None = None     # (properties2, budget) structs
        self.info = self._describe()

    # -- device description ---------------------------------------------------------------------
    def _describe(self) -> DeviceInfo:
        ffi, lib, vk, ctx = self.ffi, self.lib, self._vk, self.context
        mp = ffi.new("VkPhysicalDeviceMemoryProperties*")
        lib.vkGetPhysicalDeviceMemoryProperties(ctx.physical_device, mp)
        memory = MemoryProperties.from_lists(
            [(mp.memoryTypes[i].propertyFlags, mp.memoryTypes[i].heapIndex)
             for i in range(mp.memoryTypeCount)],
            [(mp.memoryHeaps[i].size, mp.memoryHeaps[i].flags) for i in range(mp.memoryHeapCount)])
        m3 = ffi.new("VkPhysicalDeviceMaintenance3Properties*")
        m3.sType = vk.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES
        m4 = ffi.new("VkPhysicalDeviceMaintenance4Properties*")
        m4.sType = vk.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_4_PROPERTIES
        p2 = ffi.new("VkPhysicalDeviceProperties2*")
        p2.sType = vk.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2
        p2.pNext = m3
        has_m4 = ctx.device_api_version >= (1 << 22 | 3 << 12)
        if has_m4:
            m3.pNext = m4
        lib.vkGetPhysicalDeviceProperties2(ctx.physical_device, p2)
        lim = p2.properties.limits
        limits = DeviceLimits(
            min_uniform_offset_alignment=int(lim.minUniformBufferOffsetAlignment),
            min_storage_offset_alignment=int(lim.minStorageBufferOffsetAlignment),
            min_texel_offset_alignment=int(lim.minTexelBufferOffsetAlignment),
            non_coherent_atom_size=int(lim.nonCoherentAtomSize),
            min_memory_map_alignment=int(lim.minMemoryMapAlignment),
            max_memory_allocation_count=int(lim.maxMemoryAllocationCount),
            max_memory_allocation_size=int(m3.maxMemoryAllocationSize) or (1 << 40),
            max_buffer_size=int(m4.maxBufferSize) if has_m4 else (1 << 40))
        # memoryTypeBits is the same for every buffer with the same usage/flags (spec
        # guarantee), so one probe buffer tells which types a block buffer accepts.
        self._bci.size = 65536
        _api.check(lib.vkCreateBuffer(self._device, self._bci, ffi.NULL, self._pbuf),
                   "vkCreateBuffer")
        lib.vkGetBufferMemoryRequirements(self._device, self._pbuf[0], self._reqs)
        bits = int(self._reqs.memoryTypeBits)
        lib.vkDestroyBuffer(self._device, self._pbuf[0], ffi.NULL)
        if ctx.memory_budget:
            bp = ffi.new("VkPhysicalDeviceMemoryBudgetPropertiesEXT*")
            bp.sType = vk.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_BUDGET_PROPERTIES_EXT
            mp2 = ffi.new("VkPhysicalDeviceMemoryProperties2*")
            mp2.sType = vk.VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_PROPERTIES_2
            mp2.pNext = bp
            self._budget_props = (mp2, bp)
        return DeviceInfo(
            name=ctx.device_name, backend="vulkan", device_type=ctx.device_type,
            api_version=_version_str(ctx.device_api_version), memory=memory, limits=limits,
            buffer_memory_type_bits=bits, memory_budget_ext=bool(ctx.memory_budget),
            extra={"queue_family_index": ctx.queue_family_index,
                   "validation": bool(getattr(ctx, "validation", False))})

    def heap_budgets(self) -> list[tuple[int, int]] | None:
        if self._budget_props is None:
            return None
        mp2, bp = self._budget_props
        self.lib.vkGetPhysicalDeviceMemoryProperties2(self.context.physical_device, mp2)
        n = len(self.info.memory.heaps)
        return [(int(bp.heapUsage[i]), int(bp.heapBudget[i])) for i in range(n)]

    # -- blocks ---------------------------------------------------------------------------------
    def create_block(self, memory_type_index: int, size: int) -> VulkanBlock:
        ffi, lib, dev = self.ffi, self.lib, self._device
        if self.closed:
            raise GpuDeviceError("the Vulkan backend is closed", code="FA413")
        self._bci.size = size
        _api.check(lib.vkCreateBuffer(dev, self._bci, ffi.NULL, self._pbuf), "vkCreateBuffer")
        buffer = self._pbuf[0]
        try:
            lib.vkGetBufferMemoryRequirements(dev, buffer, self._reqs)
            if not (self._reqs.memoryTypeBits >> memory_type_index) & 1:
                raise GpuDeviceError(
                    f"the driver refuses memory type {memory_type_index} for a buffer of "
                    f"{size} bytes (memoryTypeBits {int(self._reqs.memoryTypeBits):#b})",
                    code="FA413")
            alloc_size = int(self._reqs.size)
            self._mai.allocationSize = alloc_size
            self._mai.memoryTypeIndex = memory_type_index
            _api.check(lib.vkAllocateMemory(dev, self._mai, ffi.NULL, self._pmem),
                       "vkAllocateMemory")
        except BaseException:
            lib.vkDestroyBuffer(dev, buffer, ffi.NULL)
            raise
        memory = self._pmem[0]
        address = 0
        try:
            _api.check(lib.vkBindBufferMemory(dev, buffer, memory, 0), "vkBindBufferMemory")
            flags = self.info.memory.types[memory_type_index].flags
            if flags & _MEMORY_HOST_VISIBLE:
                _api.check(lib.vkMapMemory(dev, memory, 0, alloc_size, 0, self._pdata),
                           "vkMapMemory")
                address = int(ffi.cast("uintptr_t", self._pdata[0]))
        except BaseException:
            lib.vkDestroyBuffer(dev, buffer, ffi.NULL)
            lib.vkFreeMemory(dev, memory, ffi.NULL)
            raise
        self._live_blocks += 1
        self.context._block_created()
        return VulkanBlock(size, memory_type_index, buffer, memory, address, alloc_size)

    def destroy_block(self, block: VulkanBlock) -> None:
        if block.destroyed:
            return
        block.destroyed = True
        ffi, lib, dev = self.ffi, self.lib, self._device
        if block.host_address:
            lib.vkUnmapMemory(dev, block.memory)
        lib.vkDestroyBuffer(dev, block.buffer, ffi.NULL)
        lib.vkFreeMemory(dev, block.memory, ffi.NULL)
        self._live_blocks -= 1
        # The context may now destroy a device whose close() was waiting for this block.
        self.context._block_destroyed()

    def host_view(self, block: VulkanBlock) -> np.ndarray:
        """uint8 array over the mapping; its base is a cffi buffer (not an ndarray), so every
        NumPy view derived from it keeps *this* array alive (see blocks.Block.release)."""
        ffi = self.ffi
        buf = ffi.buffer(ffi.cast("char *", block.host_address), block.size)
        return np.frombuffer(buf, np.uint8)

    def _mapped_range(self, block: VulkanBlock, offset: int, size: int, call: Any,
                      what: str) -> None:
        r = self._range
        r.memory = block.memory
        r.offset = offset
        r.size = size
        _api.check(call(self._device, 1, r), what)

    def flush(self, block: VulkanBlock, offset: int, size: int) -> None:
        self._mapped_range(block, offset, size, self.lib.vkFlushMappedMemoryRanges,
                           "vkFlushMappedMemoryRanges")

    def invalidate(self, block: VulkanBlock, offset: int, size: int) -> None:
        self._mapped_range(block, offset, size, self.lib.vkInvalidateMappedMemoryRanges,
                           "vkInvalidateMappedMemoryRanges")

    @property
    def live_blocks(self) -> int:
        return self._live_blocks

    # -- commands -------------------------------------------------------------------------------
    def create_recorder(self) -> VulkanRecorder:
        return VulkanRecorder(self)

    def wait_idle(self) -> None:
        if not self.closed:
            _api.check(self.lib.vkDeviceWaitIdle(self._device), "vkDeviceWaitIdle")

    def close(self) -> None:
        """Stop creating blocks and close an owned context (whose device is destroyed once the
        last block is freed, possibly later when the last host view dies)."""
        if self.closed:
            return
        self.closed = True
        if self._owns_context:
            self.context.close()


class VulkanRecorder:
    """Command buffers and fences of one frame slot (see :class:`~framealloc.gpu.CommandRecorder`).

    Each submission gets its own command buffer and fence from small reusable lists; ``reset``
    (after ``wait``) recycles them with one ``vkResetCommandPool``. Consecutive copies between
    the same two buffers become one ``vkCmdCopyBuffer`` with several regions.
    """

    def __init__(self, backend: VulkanBackend) -> None:
        self._b = backend
        ffi, lib, vk = backend.ffi, backend.lib, backend._vk
        self._ffi, self._lib = ffi, lib
        self._device = backend._device
        self._queue = backend.context.queue
        info = ffi.new("VkCommandPoolCreateInfo*")
        info.sType = vk.VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO
        info.flags = vk.VK_COMMAND_POOL_CREATE_TRANSIENT_BIT
        info.queueFamilyIndex = backend.context.queue_family_index
        p = ffi.new("VkCommandPool*")
        _api.check(lib.vkCreateCommandPool(self._device, info, ffi.NULL, p), "vkCreateCommandPool")
        self._pool = p[0]
        self._cmds: list[Any] = []
        self._fences = ffi.new("VkFence[]", 64)
        self._fence_count = 0
        self._used = 0               # submissions since the last reset
        self._recorded = False       # a command buffer was begun since the last reset
        self._recording: Any = None  # command buffer being recorded, or None
        self._pair: tuple[Any, Any] | None = None
        self._regions: list[tuple[int, int, int]] = []
        self._destroyed = False
        # Reused structures.
        self._alloc_info = ffi.new("VkCommandBufferAllocateInfo*")
        self._alloc_info.sType = vk.VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO
        self._alloc_info.commandPool = self._pool
        self._alloc_info.level = vk.VK_COMMAND_BUFFER_LEVEL_PRIMARY
        self._alloc_info.commandBufferCount = 1
        self._begin_info = ffi.new("VkCommandBufferBeginInfo*")
        self._begin_info.sType = vk.VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO
        self._begin_info.flags = vk.VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT
        self._fence_info = ffi.new("VkFenceCreateInfo*")
        self._fence_info.sType = vk.VK_STRUCTURE_TYPE_FENCE_CREATE_INFO
        self._submit_info = ffi.new("VkSubmitInfo*")
        self._submit_info.sType = vk.VK_STRUCTURE_TYPE_SUBMIT_INFO
        self._pcmd = ffi.new("VkCommandBuffer[1]")
        self._barrier_in = self._memory_barrier(vk, _ACCESS_MEMORY_WRITE,
                                                _ACCESS_TRANSFER_READ | _ACCESS_TRANSFER_WRITE)
        self._barrier_tt = self._memory_barrier(vk, _ACCESS_TRANSFER_WRITE,
                                                _ACCESS_TRANSFER_READ | _ACCESS_TRANSFER_WRITE)
        self._barrier_out = self._memory_barrier(
            vk, _ACCESS_TRANSFER_WRITE, _ACCESS_MEMORY_READ | _ACCESS_MEMORY_WRITE
            | _ACCESS_HOST_READ)

    def _memory_barrier(self, vk: Any, src: int, dst: int) -> Any:
        mb = self._ffi.new("VkMemoryBarrier*")
        mb.sType = vk.VK_STRUCTURE_TYPE_MEMORY_BARRIER
        mb.srcAccessMask = src
        mb.dstAccessMask = dst
        return mb

    def _barrier(self, src_stage: int, dst_stage: int, mb: Any) -> None:
        self._lib.vkCmdPipelineBarrier(self._recording, src_stage, dst_stage, 0, 1, mb, 0,
                                       self._ffi.NULL, 0, self._ffi.NULL)

    def _begin(self) -> None:
        ffi, lib = self._ffi, self._lib
        if self._used == len(self._cmds):
            p = ffi.new("VkCommandBuffer*")
            _api.check(lib.vkAllocateCommandBuffers(self._device, self._alloc_info, p),
                       "vkAllocateCommandBuffers")
            self._cmds.append(p[0])
        cmd = self._cmds[self._used]
        _api.check(lib.vkBeginCommandBuffer(cmd, self._begin_info), "vkBeginCommandBuffer")
        self._recorded = True
        self._recording = cmd
        # Order this batch after all earlier work on the queue (uploads and user shaders).
        self._barrier(_STAGE_ALL_COMMANDS, _STAGE_TRANSFER, self._barrier_in)

    def _flush_regions(self) -> None:
        regions = self._regions
        if not regions:
            return
        arr = self._ffi.new("VkBufferCopy[]", len(regions))
        for i, (so, do, n) in enumerate(regions):
            r = arr[i]
            r.srcOffset = so
            r.dstOffset = do
            r.size = n
        src, dst = self._pair  # type: ignore[misc]
        self._lib.vkCmdCopyBuffer(self._recording, src, dst, len(regions), arr)
        self._regions = []

    def copy(self, src: VulkanBlock, src_offset: int, dst: VulkanBlock, dst_offset: int,
             size: int) -> None:
        if self._recording is None:
            self._begin()
        pair = (src.buffer, dst.buffer)
        if self._pair != pair:
            self._flush_regions()
            self._pair = pair
        self._regions.append((src_offset, dst_offset, size))

    def barrier(self) -> None:
        if self._recording is None:
            return
        self._flush_regions()
        self._barrier(_STAGE_TRANSFER, _STAGE_TRANSFER, self._barrier_tt)

    def has_pending(self) -> bool:
        return self._recording is not None

    def _fence(self, index: int) -> Any:
        if index == self._fence_count:
            if index == len(self._fences):
                grown = self._ffi.new("VkFence[]", 2 * len(self._fences))
                for i in range(self._fence_count):
                    grown[i] = self._fences[i]
                self._fences = grown
            p = self._ffi.new("VkFence*")
            _api.check(self._lib.vkCreateFence(self._device, self._fence_info, self._ffi.NULL, p),
                       "vkCreateFence")
            self._fences[index] = p[0]
            self._fence_count += 1
        return self._fences[index]

    def submit(self) -> None:
        lib, si = self._lib, self._submit_info
        count = 0
        if self._recording is not None:
            self._flush_regions()
            # Make the copies visible to later work on the queue and to the host.
            self._barrier(_STAGE_TRANSFER, _STAGE_ALL_COMMANDS | _STAGE_HOST, self._barrier_out)
            _api.check(lib.vkEndCommandBuffer(self._recording), "vkEndCommandBuffer")
            self._pcmd[0] = self._recording
            si.pCommandBuffers = self._pcmd
            count = 1
        si.commandBufferCount = count
        if not count:
            si.pCommandBuffers = self._ffi.NULL
        # One batch (possibly without command buffers) and a fence: the fence signals once all
        # work submitted earlier to the queue has completed. (submitCount 0 would do too, but
        # lavapipe handles it several times slower.)
        self._recording = None
        self._pair = None
        fence = self._fence(self._used)
        _api.check(lib.vkQueueSubmit(self._queue, 1, si, fence), "vkQueueSubmit")
        self._used += 1

    def wait(self, timeout_s: float) -> bool:
        if self._used == 0:
            return True
        result = self._lib.vkWaitForFences(self._device, self._used, self._fences, 1,
                                           int(timeout_s * _NS))
        if result == _api.VK_TIMEOUT:
            return False
        _api.check(result, "vkWaitForFences")
        return True

    def is_complete(self) -> bool:
        return self.wait(0.0)

    def reset(self) -> None:
        if self._used:
            _api.check(self._lib.vkResetFences(self._device, self._used, self._fences),
                       "vkResetFences")
            if self._recorded:
                _api.check(self._lib.vkResetCommandPool(self._device, self._pool, 0),
                           "vkResetCommandPool")
                self._recorded = False
            self._used = 0

    def destroy(self) -> None:
        if self._destroyed:
            return
        self._destroyed = True
        ffi, lib = self._ffi, self._lib
        for i in range(self._fence_count):
            lib.vkDestroyFence(self._device, self._fences[i], ffi.NULL)
        lib.vkDestroyCommandPool(self._device, self._pool, ffi.NULL)
