"""GPU benchmark set-up: one Vulkan device for the session, no validation layer (timings).

Skips (with the reason) when no Vulkan device exists; ``benchmarks/gpu/report.py`` prints the
ratio table from a run's JSON.
"""
from __future__ import annotations

import pytest

from framealloc.gpu import GpuError


@pytest.fixture(scope="session")
def vk_context():
    try:
        from framealloc.gpu.vk import VulkanContext
        ctx = VulkanContext()
    except GpuError as e:
        pytest.skip(f"no Vulkan device: {e}")
    yield ctx
    ctx.close()
