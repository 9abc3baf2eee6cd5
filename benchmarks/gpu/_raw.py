"""The competitors, written directly against ``vulkan.lib`` with structures built once (the
fastest way to call Vulkan from Python, as framealloc itself does)."""
from __future__ import annotations

from typing import Any

STORAGE_TRANSFER = 0x20 | 0x2 | 0x1     # STORAGE | TRANSFER_DST | TRANSFER_SRC


class RawBuffers:
    """One vkCreateBuffer + vkGetBufferMemoryRequirements + vkAllocateMemory +
    vkBindBufferMemory and the matching destroy/free per buffer: what an allocator that does
    not sub-allocate costs per buffer."""

    def __init__(self, ctx: Any, memory_type_index: int, size: int) -> None:
        import vulkan as vk
        self.ffi, self.lib, self.dev = ctx.ffi, ctx.lib, ctx.device
        ffi = self.ffi
        self.bci = ffi.new("VkBufferCreateInfo*")
        self.bci.sType = vk.VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO
        self.bci.size = size
        self.bci.usage = STORAGE_TRANSFER
        self.bci.sharingMode = vk.VK_SHARING_MODE_EXCLUSIVE
        self.mai = ffi.new("VkMemoryAllocateInfo*")
        self.mai.sType = vk.VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO
        self.mai.memoryTypeIndex = memory_type_index
        self.pbuf = ffi.new("VkBuffer*")
        self.pmem = ffi.new("VkDeviceMemory*")
        self.reqs = ffi.new("VkMemoryRequirements*")

    def create_destroy(self, count: int) -> None:
        lib, dev, null = self.lib, self.dev, self.ffi.NULL
        bci, mai, pbuf, pmem, reqs = self.bci, self.mai, self.pbuf, self.pmem, self.reqs
        for _ in range(count):
            if lib.vkCreateBuffer(dev, bci, null, pbuf):
                raise RuntimeError("vkCreateBuffer failed")
            buf = pbuf[0]
            lib.vkGetBufferMemoryRequirements(dev, buf, reqs)
            mai.allocationSize = reqs.size
            if lib.vkAllocateMemory(dev, mai, null, pmem):
                raise RuntimeError("vkAllocateMemory failed")
            mem = pmem[0]
            lib.vkBindBufferMemory(dev, buf, mem, 0)
            lib.vkDestroyBuffer(dev, buf, null)
            lib.vkFreeMemory(dev, mem, null)


class RawCopy:
    """A pre-recorded vkCmdCopyBuffer of ``size`` bytes between two buffers, submitted and
    waited for: the GPU copy alone, with the data already in host-visible memory."""

    def __init__(self, ctx: Any, src: Any, src_offset: int, dst: Any, dst_offset: int,
                 size: int) -> None:
        import vulkan as vk
        self.ffi, self.lib, self.dev, self.queue = ctx.ffi, ctx.lib, ctx.device, ctx.queue
        ffi, lib, dev = self.ffi, self.lib, self.dev
        pinfo = ffi.new("VkCommandPoolCreateInfo*")
        pinfo.sType = vk.VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO
        pinfo.queueFamilyIndex = ctx.queue_family_index
        p = ffi.new("VkCommandPool*")
        assert lib.vkCreateCommandPool(dev, pinfo, ffi.NULL, p) == 0
        self.pool = p[0]
        ainfo = ffi.new("VkCommandBufferAllocateInfo*")
        ainfo.sType = vk.VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO
        ainfo.commandPool = self.pool
        ainfo.level = vk.VK_COMMAND_BUFFER_LEVEL_PRIMARY
        ainfo.commandBufferCount = 1
        self.cmd = ffi.new("VkCommandBuffer[1]")
        assert lib.vkAllocateCommandBuffers(dev, ainfo, self.cmd) == 0
        begin = ffi.new("VkCommandBufferBeginInfo*")
        begin.sType = vk.VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO
        assert lib.vkBeginCommandBuffer(self.cmd[0], begin) == 0
        region = ffi.new("VkBufferCopy*")
        region.srcOffset, region.dstOffset, region.size = src_offset, dst_offset, size
        lib.vkCmdCopyBuffer(self.cmd[0], src, dst, 1, region)
        assert lib.vkEndCommandBuffer(self.cmd[0]) == 0
        finfo = ffi.new("VkFenceCreateInfo*")
        finfo.sType = vk.VK_STRUCTURE_TYPE_FENCE_CREATE_INFO
        pf = ffi.new("VkFence[1]")
        assert lib.vkCreateFence(dev, finfo, ffi.NULL, pf) == 0
        self.fence = pf
        self.submit = ffi.new("VkSubmitInfo*")
        self.submit.sType = vk.VK_STRUCTURE_TYPE_SUBMIT_INFO
        self.submit.commandBufferCount = 1
        self.submit.pCommandBuffers = self.cmd

    def run(self) -> None:
        lib = self.lib
        assert lib.vkQueueSubmit(self.queue, 1, self.submit, self.fence[0]) == 0
        assert lib.vkWaitForFences(self.dev, 1, self.fence, 1, 10**10) == 0
        lib.vkResetFences(self.dev, 1, self.fence)

    def close(self) -> None:
        self.lib.vkDestroyFence(self.dev, self.fence[0], self.ffi.NULL)
        self.lib.vkDestroyCommandPool(self.dev, self.pool, self.ffi.NULL)


class VmaBuffers:
    """vmaCreateBuffer + vmaDestroyBuffer through PyPI ``pyvma`` (VMA 2.0) on our device.

    pyvma has its own cffi types, so handles and function pointers cross between the two FFIs
    as integers; VMA gets the loader's function pointers in a VmaVulkanFunctions table.
    """

    _INSTANCE_FUNCS = ("vkGetPhysicalDeviceProperties", "vkGetPhysicalDeviceMemoryProperties")

    def __init__(self, ctx: Any, size: int) -> None:
        from pyvma import _pyvma
        self.pffi, self.plib = pffi, plib = _pyvma.ffi, _pyvma.lib
        vffi, vlib = ctx.ffi, ctx.lib

        def addr(cdata: Any) -> int:
            return int(vffi.cast("uintptr_t", cdata))

        funcs = pffi.new("VmaVulkanFunctions*")
        for name, field in pffi.typeof("VmaVulkanFunctions").fields:
            if name in self._INSTANCE_FUNCS:
                fp = vlib.vkGetInstanceProcAddr(ctx.instance, name.encode())
            else:
                fp = vlib.vkGetDeviceProcAddr(ctx.device, name.encode())
            setattr(funcs, name, pffi.cast(field.type, addr(fp)))
        info = pffi.new("VmaAllocatorCreateInfo*")
        info.physicalDevice = pffi.cast("VkPhysicalDevice", addr(ctx.physical_device))
        info.device = pffi.cast("VkDevice", addr(ctx.device))
        info.pVulkanFunctions = funcs
        self._keep = (funcs, info)
        pa = pffi.new("VmaAllocator*")
        if plib.vmaCreateAllocator(info, pa):
            raise RuntimeError("vmaCreateAllocator failed")
        self.allocator = pa[0]
        self.bci = pffi.new("VkBufferCreateInfo*")
        self.bci.sType = 12                       # VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO
        self.bci.size = size
        self.bci.usage = STORAGE_TRANSFER
        self.aci = pffi.new("VmaAllocationCreateInfo*")
        self.aci.usage = plib.VMA_MEMORY_USAGE_GPU_ONLY
        self.pbuf = pffi.new("VkBuffer*")
        self.palloc = pffi.new("VmaAllocation*")

    def create_destroy(self, count: int) -> None:
        plib, a, bci, aci = self.plib, self.allocator, self.bci, self.aci
        pbuf, palloc, null = self.pbuf, self.palloc, self.pffi.NULL
        for _ in range(count):
            if plib.vmaCreateBuffer(a, bci, aci, pbuf, palloc, null):
                raise RuntimeError("vmaCreateBuffer failed")
            plib.vmaDestroyBuffer(a, pbuf[0], palloc[0])

    def close(self) -> None:
        self.plib.vmaDestroyAllocator(self.allocator)


def vma_available() -> bool:
    try:
        import pyvma._pyvma  # noqa: F401
    except ImportError:
        return False
    return True
