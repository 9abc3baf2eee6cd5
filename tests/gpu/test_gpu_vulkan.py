"""Vulkan-specific behaviour: contexts, adopted handles, mapping lifetime, teardown."""
from __future__ import annotations

import gc

import numpy as np
import pytest

from framealloc.gpu import GpuAllocator, GpuConfig, GpuMemoryIntent as Intent

pytestmark = pytest.mark.gpu
SMALL = GpuConfig(block_size=1 << 20, frame_chunk_size=1 << 16)


def test_device_info_and_limits(vk_gpu):
    info = vk_gpu.device_info()
    assert info.backend == "vulkan" and info.name
    lim = info.limits
    for value in (lim.min_uniform_offset_alignment, lim.min_storage_offset_alignment,
                  lim.non_coherent_atom_size):
        assert value > 0 and value & (value - 1) == 0
    assert lim.max_memory_allocation_count >= 4096
    assert info.buffer_memory_type_bits
    heaps = vk_gpu.budget()
    assert len(heaps) == len(info.memory.heaps) and all(h.budget > 0 for h in heaps)
    assert heaps[0].from_driver == info.memory_budget_ext


def test_host_view_outlives_allocator_close(vk_context):
    gpu = GpuAllocator.vulkan(SMALL, context=vk_context)
    a = gpu.allocate_persistent(4096, Intent.DYNAMIC)
    view = a.host_array(1024, np.float32)[10:20]        # a slice of a view of the mapping
    view[:] = 42.0
    gpu.close()
    assert gpu.deferred_blocks() == 1 and gpu.backend.live_blocks == 1
    assert (view == 42.0).all()                         # still mapped: no dangling pointer
    view[:] = 1.0
    del view
    gc.collect()
    assert gpu.deferred_blocks() == 0 and gpu.backend.live_blocks == 0


def test_owned_context_waits_for_views_before_destroying_the_device():
    from framealloc.gpu.vk import vulkan_available
    ok, reason = vulkan_available()
    if not ok:
        pytest.skip(reason)
    gpu = GpuAllocator.vulkan(SMALL)                    # creates and owns its own device
    ctx = gpu.backend.context
    view = gpu.allocate_persistent(256, Intent.STAGING).host_array(dtype=np.float64)
    view[:] = 3.0
    gpu.close()
    assert ctx.closed and not ctx.destroyed             # the view still needs the device
    assert view.sum() == 3.0 * view.size
    del view
    gc.collect()
    assert ctx.destroyed


def test_adopting_handles_created_with_the_vulkan_package():
    """A renderer's own instance/device/queue (made with the `vulkan` package's wrappers)."""
    from framealloc.gpu.vk import VulkanContext, vulkan_available
    ok, reason = vulkan_available()
    if not ok:
        pytest.skip(reason)
    import vulkan as vk

    app = vk.VkApplicationInfo(pApplicationName="renderer", apiVersion=vk.VK_MAKE_VERSION(1, 2, 0))
    instance = vk.vkCreateInstance(vk.VkInstanceCreateInfo(pApplicationInfo=app), None)
    try:
        physical = vk.vkEnumeratePhysicalDevices(instance)[0]
        families = vk.vkGetPhysicalDeviceQueueFamilyProperties(physical)
        family = next(i for i, f in enumerate(families) if f.queueFlags & vk.VK_QUEUE_TRANSFER_BIT
                      or f.queueFlags & vk.VK_QUEUE_GRAPHICS_BIT)
        qinfo = vk.VkDeviceQueueCreateInfo(queueFamilyIndex=family, queueCount=1,
                                           pQueuePriorities=[1.0])
        device = vk.vkCreateDevice(physical, vk.VkDeviceCreateInfo(pQueueCreateInfos=[qinfo]),
                                   None)
        queue = vk.vkGetDeviceQueue(device, family, 0)
        ctx = VulkanContext.adopt(instance, physical, device, queue, family)
        gpu = GpuAllocator.vulkan(SMALL, context=ctx)
        dst = gpu.allocate_persistent(1024)
        with gpu.frame():
            gpu.upload(dst, np.arange(256, dtype=np.int32))
        assert np.array_equal(gpu.readback(dst, np.int32), np.arange(256, dtype=np.int32))
        gpu.close()
        ctx.close()
        assert gpu.deferred_blocks() == 0
        vk.vkDestroyDevice(device, None)                # still ours to destroy
    finally:
        vk.vkDestroyInstance(instance, None)


def test_vulkan_available_reports_a_device():
    from framealloc.gpu.vk import vulkan_available
    ok, reason = vulkan_available()
    assert isinstance(ok, bool) and reason
    if not ok:
        pytest.skip(reason)


def test_block_buffers_accept_every_usage(vk_gpu):
    # One VkBuffer per block, created with every BufferUsage: a range can be bound as anything.
    from framealloc.gpu import BufferUsage
    a = vk_gpu.allocate_persistent(256, Intent.DEVICE_LOCAL, BufferUsage.all())
    lim = vk_gpu.device_info().limits
    assert a.offset % max(lim.min_uniform_offset_alignment, lim.min_storage_offset_alignment,
                          lim.min_texel_offset_alignment) == 0
    buffer, offset, size = a.descriptor()
    assert buffer is not None and size == 256


def test_big_upload_through_a_dedicated_frame_chunk(vk_gpu):
    gpu = vk_gpu
    n = 3 << 20                                         # larger than block and chunk sizes
    dst = gpu.allocate_persistent(n, Intent.DEVICE_LOCAL)
    assert dst.dedicated
    data = np.random.default_rng(5).integers(0, 255, n, dtype=np.uint8)
    with gpu.frame():
        gpu.upload(dst, data)
    assert np.array_equal(gpu.readback(dst), data)
