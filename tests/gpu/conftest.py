"""Fixtures for the GPU tests.

* One Vulkan instance per session, with the Khronos validation layer (synchronization
  validation on) and a debug-utils messenger whose Python callback records every warning and
  error (one Python debug callback per process is what the `vulkan` package handles reliably).
* A fresh logical device per test on that instance, destroyed after the test, so the layer's
  leak report (VUID-vkDestroyDevice-device-00378) is checked for every test.
* Every Vulkan test asserts that the layer reported zero warnings and errors, including at
  device destruction and, for the session, at instance destruction.

Without a Vulkan loader/driver these tests skip with the reason (tests/conftest.py turns skips
into failures when CI=true).
"""
from __future__ import annotations

import gc

import pytest

from framealloc.gpu import GpuAllocator, GpuConfig, GpuError, NullBackend

SMALL = GpuConfig(block_size=1 << 20, frame_chunk_size=1 << 16, fence_timeout_s=5.0)


class ValidationLog:
    """Messages of severity warning or error recorded by the debug callback."""

    def __init__(self) -> None:
        self.messages: list = []

    def __call__(self, message) -> None:
        self.messages.append(message)

    def take(self) -> list:
        out, self.messages = self.messages, []
        return out


def _format(messages: list) -> str:
    return "\n".join(f"[{m.severity:#x}] {m.id_name}: {m.message[:400]}" for m in messages)


@pytest.fixture(scope="session")
def vulkan_instance():
    """(VulkanContext owning the instance and messenger, ValidationLog) for the session."""
    try:
        from framealloc.gpu.vk import VulkanContext
    except GpuError as e:  # pragma: no cover - depends on the machine
        pytest.skip(f"Vulkan unavailable: {e}")
    log = ValidationLog()
    try:
        ctx = VulkanContext(validation=True, sync_validation=True, debug_callback=log)
    except GpuError as e:
        pytest.skip(f"no Vulkan device with the validation layer: {e}")
    yield ctx, log
    ctx.close()
    leftover = log.take()
    assert not leftover, "validation messages at instance teardown:\n" + _format(leftover)


@pytest.fixture
def vk_context(vulkan_instance):
    """A new logical device (timeline semaphores on) for one test; zero validation messages
    allowed during the test and at device destruction (leak report)."""
    parent, log = vulkan_instance
    before = log.take()
    assert not before, "validation messages before the test:\n" + _format(before)
    ctx = parent.new_device(timeline_semaphores=True)
    yield ctx
    gc.collect()            # views caught in reference cycles (e.g. tracebacks) die now
    ctx.close()
    assert ctx.destroyed, "the device still has live memory after the test"
    msgs = log.take()
    assert not msgs, "validation layer reported:\n" + _format(msgs)


@pytest.fixture
def vk_gpu(vk_context):
    """A small-block GpuAllocator on the test's device; every block freed at the end."""
    gpu = GpuAllocator.vulkan(SMALL, context=vk_context)
    yield gpu
    gc.collect()
    gpu.close()
    assert gpu.backend.live_blocks == 0, "device memory still allocated after close()"


@pytest.fixture
def null_gpu():
    backend = NullBackend()
    gpu = GpuAllocator(backend, SMALL)
    yield gpu
    gpu.close()
    assert not backend.live_blocks, "null blocks still allocated after close()"


@pytest.fixture(params=["null", pytest.param("vulkan", marks=pytest.mark.gpu)])
def any_gpu(request):
    """The same test on the null backend and on Vulkan (lavapipe in CI)."""
    if request.param == "null":
        return request.getfixturevalue("null_gpu")
    return request.getfixturevalue("vk_gpu")
