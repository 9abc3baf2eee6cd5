"""The Vulkan backend (loaded on first use; needs the ``vulkan`` package and a Vulkan driver).

>>> from framealloc.gpu.vk import vulkan_available
>>> ok, reason = vulkan_available()
>>> isinstance(ok, bool) and isinstance(reason, str)
True
"""
from __future__ import annotations

from ..errors import GpuError
from .backend import VulkanBackend, VulkanBlock, VulkanRecorder
from .context import DebugMessage, VulkanContext

__all__ = ["VulkanContext", "VulkanBackend", "VulkanBlock", "VulkanRecorder", "DebugMessage",
           "vulkan_available"]


def vulkan_available(validation: bool = False) -> tuple[bool, str]:
    """``(True, device name)`` when a Vulkan device can be created, else ``(False, why)``.

    Creates and destroys a throw-away instance and device; use it to decide whether to skip.
    """
    try:
        with VulkanContext(validation=validation) as ctx:
            return True, ctx.device_name
    except GpuError as e:
        return False, str(e)
