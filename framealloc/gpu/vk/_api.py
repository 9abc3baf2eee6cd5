"""Loading the ``vulkan`` package lazily and turning VkResult codes into framealloc errors."""
from __future__ import annotations

from typing import Any

from ..errors import GpuDeviceError, GpuOutOfMemoryError, GpuUnavailableError

__all__ = ["load", "check", "result_name", "VK_SUCCESS", "VK_TIMEOUT", "VK_NOT_READY"]

VK_SUCCESS = 0
VK_NOT_READY = 1
VK_TIMEOUT = 2
_OOM = {-1: "VK_ERROR_OUT_OF_HOST_MEMORY", -2: "VK_ERROR_OUT_OF_DEVICE_MEMORY"}
# Results that mean "this machine cannot run the request" rather than "a call went wrong".
_UNAVAILABLE = {-3: "VK_ERROR_INITIALIZATION_FAILED", -6: "VK_ERROR_LAYER_NOT_PRESENT",
                -7: "VK_ERROR_EXTENSION_NOT_PRESENT", -8: "VK_ERROR_FEATURE_NOT_PRESENT",
                -9: "VK_ERROR_INCOMPATIBLE_DRIVER"}
# The `vulkan` package maps VK_ERROR_VALIDATION_FAILED_EXT to None; we name it ourselves.
_EXTRA_NAMES = {-1000011001: "VK_ERROR_VALIDATION_FAILED_EXT", -4: "VK_ERROR_DEVICE_LOST",
                -5: "VK_ERROR_MEMORY_MAP_FAILED", -10: "VK_ERROR_TOO_MANY_OBJECTS"}

_module: Any = None


def load() -> Any:
    """The ``vulkan`` module, or :class:`GpuUnavailableError` (FA414) saying what is missing."""
    global _module
    if _module is not None:
        return _module
    try:
        import vulkan
    except ImportError as e:
        raise GpuUnavailableError(
            f"the Python package `vulkan` is not installed ({e}); install it with "
            "`pip install framealloc[vulkan]`", code="FA414") from e
    except OSError as e:  # the package raises OSError when libvulkan cannot be loaded
        raise GpuUnavailableError(
            f"the Vulkan loader (libvulkan) was not found ({e}); install libvulkan1 and a driver "
            "(mesa-vulkan-drivers gives the CPU device lavapipe): scripts/install-vulkan.sh",
            code="FA414") from e
    _module = vulkan
    return vulkan


def result_name(result: int) -> str:
    if result in _OOM:
        return _OOM[result]
    if result in _UNAVAILABLE:
        return _UNAVAILABLE[result]
    if result in _EXTRA_NAMES:
        return _EXTRA_NAMES[result]
    return f"VkResult {result}"


def check(result: int, call: str, *, creating: bool = False) -> None:
    """Raise the framealloc error for a failed Vulkan ``call``; nothing on VK_SUCCESS.

    Out-of-memory results raise :class:`GpuOutOfMemoryError` (FA405); while creating the
    instance/device, missing layers/extensions/drivers raise :class:`GpuUnavailableError`
    (FA414); anything else :class:`GpuDeviceError` (FA413).
    """
    if result == VK_SUCCESS:
        return
    name = result_name(result)
    if result in _OOM:
        raise GpuOutOfMemoryError(
            f"{call} failed with {name}: the device could not supply the memory; free memory or "
            "use smaller allocations", code="FA405")
    if creating and result in _UNAVAILABLE:
        raise GpuUnavailableError(
            f"{call} failed with {name}; this machine's Vulkan installation cannot provide what "
            "was asked (check the driver, layers and extensions; scripts/install-vulkan.sh)",
            code="FA414")
    raise GpuDeviceError(
        f"{call} failed with {name}; run with validation=True to find the cause"
        + ("; after VK_ERROR_DEVICE_LOST close the allocator and create a new one"
           if result == -4 else ""), code="FA413")
