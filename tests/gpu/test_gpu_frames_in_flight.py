"""Frame-ring recycling never hands out memory the GPU may still read: it waits for fences."""
from __future__ import annotations

import numpy as np
import pytest

from framealloc.gpu import (GpuAllocator, GpuConfig, GpuMemoryIntent as Intent, GpuTimeoutError,
                            NullBackend)

CFG = dict(block_size=1 << 20, frame_chunk_size=1 << 16)


def test_begin_frame_waits_for_the_fence_of_the_recycled_frame():
    backend = NullBackend(manual_completion=True)
    gpu = GpuAllocator(backend, GpuConfig(frames_in_flight=2, fence_timeout_s=0.0, **CFG))
    dst = [gpu.allocate_persistent(256) for _ in range(3)]
    data = [np.full(64, i + 1, np.float32) for i in range(3)]
    for i in range(2):                      # frames 1 and 2: uploads the GPU has not run yet
        with gpu.frame():
            gpu.upload(dst[i], data[i])
    assert backend.pending_submissions == 2
    with pytest.raises(GpuTimeoutError) as ei:
        gpu.begin_frame()                   # frame 3 reuses frame 1's ring slot
    assert ei.value.code == "FA416"
    assert not gpu.in_frame and gpu.frame_number == 2, "a failed begin_frame changed state"
    backend.complete(1)                     # the GPU finishes frame 1 only
    with gpu.frame():
        gpu.upload(dst[2], data[2])         # may reuse frame 1's staging memory now
    backend.manual_completion = False
    backend.complete()
    for d, expected in zip(dst, data):
        assert np.array_equal(gpu.readback(d, np.float32), expected)
    gpu.close()


@pytest.mark.parametrize("frames_in_flight", [1, 2, 3])
def test_staging_of_frames_in_flight_is_never_overwritten(frames_in_flight):
    """The GPU runs each frame's copies only when the allocator is about to recycle it: every
    upload must still read the data of its own frame."""
    backend = NullBackend(manual_completion=True)
    gpu = GpuAllocator(backend, GpuConfig(frames_in_flight=frames_in_flight,
                                          fence_timeout_s=0.0, **CFG))
    dst = [gpu.allocate_persistent(4096) for _ in range(12)]
    rng = np.random.default_rng(frames_in_flight)
    data = [rng.integers(0, 255, 4096, dtype=np.uint8) for _ in dst]
    for i, d in enumerate(dst):
        while True:
            try:
                gpu.begin_frame()  # noqa: FA606 - ended after the upload below
                break
            except GpuTimeoutError:
                backend.complete(1)         # let the GPU finish the oldest frame, then retry
        gpu.upload(d, data[i])
        gpu.allocate_frame(3000)            # frame memory churn in the same slot
        gpu.end_frame()
    backend.manual_completion = False
    backend.complete()
    assert all(np.array_equal(gpu.readback(d), x) for d, x in zip(dst, data))
    gpu.close()
    assert not backend.live_blocks


@pytest.mark.gpu
def test_vulkan_frame_memory_waits_for_work_the_user_submitted(vk_context):
    """A command buffer of the user reads a frame allocation but waits on a timeline semaphore
    that only the host signals: the allocator must not recycle that frame until then."""
    import vulkan as vk

    ffi, lib, dev = vk_context.ffi, vk_context.lib, vk_context.device
    gpu = GpuAllocator.vulkan(GpuConfig(frames_in_flight=2, fence_timeout_s=0.2, **CFG),
                              context=vk_context)
    keep = []

    def new(ctype, **fields):
        obj = ffi.new(ctype + "*")
        for k, v in fields.items():
            setattr(obj, k, v)
        keep.append(obj)
        return obj

    stype = new("VkSemaphoreTypeCreateInfo", sType=vk.VK_STRUCTURE_TYPE_SEMAPHORE_TYPE_CREATE_INFO,
                semaphoreType=vk.VK_SEMAPHORE_TYPE_TIMELINE, initialValue=0)
    sinfo = new("VkSemaphoreCreateInfo", sType=vk.VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO,
                pNext=stype)
    psem = ffi.new("VkSemaphore*")
    assert lib.vkCreateSemaphore(dev, sinfo, ffi.NULL, psem) == 0
    pinfo = new("VkCommandPoolCreateInfo", sType=vk.VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
                queueFamilyIndex=vk_context.queue_family_index)
    ppool = ffi.new("VkCommandPool*")
    assert lib.vkCreateCommandPool(dev, pinfo, ffi.NULL, ppool) == 0
    ainfo = new("VkCommandBufferAllocateInfo",
                sType=vk.VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO, commandPool=ppool[0],
                level=vk.VK_COMMAND_BUFFER_LEVEL_PRIMARY, commandBufferCount=1)
    pcmd = ffi.new("VkCommandBuffer[1]")
    assert lib.vkAllocateCommandBuffers(dev, ainfo, pcmd) == 0
    try:
        result = gpu.allocate_persistent(1024, Intent.DEVICE_LOCAL)
        pattern_a = np.arange(256, dtype=np.float32)
        gpu.begin_frame()                                   # frame 1
        src = gpu.allocate_frame(1024, Intent.DYNAMIC)
        src.host_array(256, np.float32)[:] = pattern_a
        src_range = (src.buffer, src.offset)
        # The user's command buffer: copy src -> result, after a wait on the semaphore.
        begin = new("VkCommandBufferBeginInfo",
                    sType=vk.VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO)
        assert lib.vkBeginCommandBuffer(pcmd[0], begin) == 0
        region = new("VkBufferCopy", srcOffset=src.offset, dstOffset=result.offset, size=1024)
        lib.vkCmdCopyBuffer(pcmd[0], src.buffer, result.buffer, 1, region)
        assert lib.vkEndCommandBuffer(pcmd[0]) == 0
        values = ffi.new("uint64_t[1]", [1])
        tinfo = new("VkTimelineSemaphoreSubmitInfo",
                    sType=vk.VK_STRUCTURE_TYPE_TIMELINE_SEMAPHORE_SUBMIT_INFO,
                    waitSemaphoreValueCount=1, pWaitSemaphoreValues=values)
        stages = ffi.new("VkPipelineStageFlags[1]", [vk.VK_PIPELINE_STAGE_TRANSFER_BIT])
        submit = new("VkSubmitInfo", sType=vk.VK_STRUCTURE_TYPE_SUBMIT_INFO, pNext=tinfo,
                     waitSemaphoreCount=1, pWaitSemaphores=psem, pWaitDstStageMask=stages,
                     commandBufferCount=1, pCommandBuffers=pcmd)
        keep += [values, stages]
        assert lib.vkQueueSubmit(vk_context.queue, 1, submit, ffi.NULL) == 0
        gpu.end_frame()                                     # its fence covers the user's work
        with gpu.frame():                                   # frame 2, the other slot
            pass
        with pytest.raises(GpuTimeoutError):
            gpu.begin_frame()  # noqa: FA606 - frame 3 needs frame 1's fence: times out
        assert gpu.frame_number == 2 and src.alive
        signal = new("VkSemaphoreSignalInfo", sType=vk.VK_STRUCTURE_TYPE_SEMAPHORE_SIGNAL_INFO,
                     semaphore=psem[0], value=1)
        assert lib.vkSignalSemaphore(dev, signal) == 0
        gpu.begin_frame()                                   # now frame 1 is recycled
        assert not src.alive
        reuse = gpu.allocate_frame(1024, Intent.DYNAMIC)
        assert (reuse.buffer, reuse.offset) == src_range  # the same memory, handed out again
        reuse.host_array(256, np.float32)[:] = -1.0
        gpu.end_frame()
        assert np.array_equal(gpu.readback(result, np.float32), pattern_a)
    finally:
        lib.vkDeviceWaitIdle(dev)
        lib.vkDestroyCommandPool(dev, ppool[0], ffi.NULL)
        lib.vkDestroySemaphore(dev, psem[0], ffi.NULL)
        gpu.close()
