"""Intents, lifetimes, usage flags and request validation (no device needed)."""
from __future__ import annotations

import numpy as np
import pytest

from framealloc.gpu import (BufferUsage, GpuAlignmentError, GpuAllocRequirements, GpuLifetime,
                            GpuMemoryIntent, GpuSizeError, GpuUsageError)


def test_defaults_and_string_names():
    r = GpuAllocRequirements(100)
    assert (r.intent, r.lifetime) == (GpuMemoryIntent.DEVICE_LOCAL, GpuLifetime.PERSISTENT)
    assert r.usage == BufferUsage.default_for(GpuMemoryIntent.DEVICE_LOCAL)
    r = GpuAllocRequirements(np.int64(64), "Staging", "frame")
    assert r.size == 64 and type(r.size) is int
    assert r.intent is GpuMemoryIntent.STAGING and r.lifetime is GpuLifetime.FRAME
    assert GpuAllocRequirements(1, "upload").intent is GpuMemoryIntent.STAGING
    assert GpuAllocRequirements(1, "device-local").intent is GpuMemoryIntent.DEVICE_LOCAL


@pytest.mark.parametrize("intent,expected", [
    (GpuMemoryIntent.STAGING, BufferUsage.TRANSFER_SRC),
    (GpuMemoryIntent.READBACK, BufferUsage.TRANSFER_DST),
])
def test_default_usage(intent, expected):
    assert GpuAllocRequirements(8, intent).usage == expected


def test_host_access_by_intent():
    assert not GpuMemoryIntent.DEVICE_LOCAL.host_access
    assert all(i.host_access for i in (GpuMemoryIntent.STAGING, GpuMemoryIntent.READBACK,
                                       GpuMemoryIntent.DYNAMIC))


def test_usage_values_are_vulkan_bits():
    # VkBufferUsageFlagBits values, so they can be passed to Vulkan unchanged.
    assert BufferUsage.TRANSFER_SRC == 0x1 and BufferUsage.STORAGE == 0x20
    assert BufferUsage.INDIRECT == 0x100 and BufferUsage.all() == 0x1FF


@pytest.mark.parametrize("size", [0, -1, 1.5, "8", None, True, 1 << 48])
def test_bad_sizes(size):
    with pytest.raises(GpuSizeError) as ei:
        GpuAllocRequirements(size)
    assert ei.value.code == "FA401" and isinstance(ei.value, ValueError)
    assert str(ei.value).startswith("FA401: ")


@pytest.mark.parametrize("alignment", [3, -4, 1 << 17, 2.0, "16"])
def test_bad_alignment(alignment):
    with pytest.raises(GpuAlignmentError) as ei:
        GpuAllocRequirements(64, alignment=alignment)
    assert ei.value.code == "FA402"


@pytest.mark.parametrize("kwargs,fragment", [
    (dict(usage=0), "empty"),
    (dict(usage=0x400), "does not support"),
    (dict(intent=GpuMemoryIntent.STAGING, usage=BufferUsage.STORAGE), "TRANSFER_SRC"),
    (dict(intent=GpuMemoryIntent.READBACK, usage=BufferUsage.TRANSFER_SRC), "TRANSFER_DST"),
    (dict(intent="vram"), "GpuMemoryIntent"),
    (dict(intent=7), "GpuMemoryIntent"),
    (dict(lifetime="forever"), "GpuLifetime"),
    (dict(usage=1.0), "BufferUsage"),
    (dict(name=5), "name"),
])
def test_impossible_combinations(kwargs, fragment):
    with pytest.raises(GpuUsageError) as ei:
        GpuAllocRequirements(64, **kwargs)
    assert ei.value.code == "FA403" and fragment in str(ei.value)


def test_alignment_zero_means_device_default():
    assert GpuAllocRequirements(8, alignment=0).alignment == 0
    assert GpuAllocRequirements(8, alignment=256).alignment == 256
