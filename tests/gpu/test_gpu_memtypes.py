"""Memory-type selection: fake tables of real GPU shapes, end to end on the null backend, and the
real lavapipe table."""
from __future__ import annotations

import numpy as np
import pytest

from framealloc.gpu import (GpuAllocator, GpuConfig, GpuMemoryIntent as Intent, GpuNotMappableError,
                            GpuUnsupportedError, NullBackend)
from framealloc.gpu.memtypes import MemoryFlags as F, MemoryProperties, choose_memory_types

GiB = 1 << 30
DL, HV, HC, CACHED = F.DEVICE_LOCAL, F.HOST_VISIBLE, F.HOST_COHERENT, F.HOST_CACHED

# A typical discrete GPU without resizable BAR: VRAM heap + system heap, a 256 MiB BAR window.
DISCRETE = MemoryProperties.from_lists(
    types=[(DL, 0), (HV | HC, 1), (HV | HC | CACHED, 1), (DL | HV | HC, 2)],
    heaps=[(8 * GiB, True), (16 * GiB, False), (256 << 20, True)])
# The same with resizable BAR: all of VRAM is host-visible.
REBAR = MemoryProperties.from_lists(
    types=[(DL, 0), (DL | HV | HC, 0), (HV | HC, 1), (HV | HC | CACHED, 1)],
    heaps=[(8 * GiB, True), (16 * GiB, False)])
# A GPU whose only host-visible memory is cached but not coherent (some mobile GPUs).
NON_COHERENT = MemoryProperties.from_lists(
    types=[(DL, 0), (HV | CACHED, 0)], heaps=[(2 * GiB, True)])
# Device-local only: no host access at all.
DEVICE_ONLY = MemoryProperties.from_lists(types=[(DL, 0)], heaps=[(4 * GiB, True)])
# AMD-style extra types that need features framealloc does not enable, and lazily allocated.
WITH_SPECIAL = MemoryProperties.from_lists(
    types=[(DL | F.DEVICE_COHERENT_AMD | F.DEVICE_UNCACHED_AMD, 0), (DL | F.LAZILY_ALLOCATED, 0),
           (DL, 0), (HV | HC | F.DEVICE_COHERENT_AMD, 1), (HV | HC, 1), (DL | F.PROTECTED, 0)],
    heaps=[(8 * GiB, True), (16 * GiB, False)])
ALL = 0xFFFFFFFF


@pytest.mark.parametrize("props,intent,expected", [
    (DISCRETE, Intent.DEVICE_LOCAL, [0, 3, 1, 2]),
    (DISCRETE, Intent.STAGING, [1, 2, 3]),        # system memory, write-combined before cached
    (DISCRETE, Intent.READBACK, [2, 1, 3]),       # cached first: CPU reads are fast
    (DISCRETE, Intent.DYNAMIC, [3, 1, 2]),        # BAR window first, then system memory
    (REBAR, Intent.DEVICE_LOCAL, [0, 1, 2, 3]),
    (REBAR, Intent.DYNAMIC, [1, 2, 3]),
    (REBAR, Intent.STAGING, [2, 3, 1]),
    (NON_COHERENT, Intent.STAGING, [1]),
    (NON_COHERENT, Intent.READBACK, [1]),
    (DEVICE_ONLY, Intent.DEVICE_LOCAL, [0]),
    (DEVICE_ONLY, Intent.STAGING, []),
    (WITH_SPECIAL, Intent.DEVICE_LOCAL, [2, 4]),
    (WITH_SPECIAL, Intent.STAGING, [4]),
])
def test_preference_order(props, intent, expected):
    assert choose_memory_types(props, ALL, intent) == expected


def test_memory_type_bits_exclude_types():
    assert choose_memory_types(DISCRETE, 0b0110, Intent.DEVICE_LOCAL) == [1, 2]
    assert choose_memory_types(DISCRETE, 0b0001, Intent.READBACK) == []


def test_from_lists_rejects_bad_heap_index():
    with pytest.raises(ValueError):
        MemoryProperties.from_lists([(DL, 3)], [(GiB, True)])


def _gpu(props: MemoryProperties, **kw) -> GpuAllocator:
    cfg = GpuConfig(block_size=1 << 20, frame_chunk_size=1 << 16, **kw)
    return GpuAllocator(NullBackend(memory=props), cfg)


def test_discrete_end_to_end_places_intents_in_expected_types():
    with _gpu(DISCRETE) as gpu:
        placed = {i: gpu.allocate_persistent(256, i).memory_type_index for i in Intent}
        assert placed == {Intent.DEVICE_LOCAL: 0, Intent.STAGING: 1, Intent.READBACK: 2,
                          Intent.DYNAMIC: 3}
        with gpu.frame():
            assert gpu.allocate_frame(64, Intent.READBACK).memory_type_index == 2
        with pytest.raises(GpuNotMappableError):
            gpu.allocate_persistent(64, Intent.DEVICE_LOCAL).host_array()
        # Device-local data still round-trips through staging and readback memory.
        dl = gpu.allocate_persistent(4096, Intent.DEVICE_LOCAL)
        data = np.random.default_rng(1).random(512)
        gpu.upload(dl, data)
        assert np.array_equal(gpu.readback(dl, np.float64), data)


def test_full_heap_falls_back_to_next_type():
    small_vram = MemoryProperties.from_lists(
        types=[(DL, 0), (HV | HC, 1)], heaps=[(2 << 20, True), (64 << 20, False)])
    with _gpu(small_vram) as gpu:
        first = gpu.allocate_persistent(1 << 19, Intent.DEVICE_LOCAL)
        assert first.memory_type_index == 0
        spilled = [gpu.allocate_persistent(1 << 19, Intent.DEVICE_LOCAL) for _ in range(6)]
        assert {a.memory_type_index for a in spilled} == {0, 1}
        assert gpu.stats().memory_type_fallbacks >= 1


def test_device_without_host_visible_memory_rejects_host_intents():
    with _gpu(DEVICE_ONLY) as gpu:
        with pytest.raises(GpuUnsupportedError) as ei:
            gpu.allocate_persistent(64, Intent.DYNAMIC)
        assert ei.value.code == "FA404"
        dl = gpu.allocate_persistent(64, Intent.DEVICE_LOCAL)
        # upload needs staging memory, which this device cannot provide: a clear error.
        with pytest.raises(GpuUnsupportedError):
            gpu.upload(dl, np.zeros(16, np.float32))


def test_buffer_memory_type_bits_are_honoured():
    backend = NullBackend(memory=DISCRETE, buffer_memory_type_bits=0b0110)
    with GpuAllocator(backend, GpuConfig(block_size=1 << 20)) as gpu:
        assert gpu.allocate_persistent(64, Intent.DEVICE_LOCAL).memory_type_index == 1
        assert gpu.memory_types_for("dynamic") == [1, 2]


@pytest.mark.gpu
def test_real_lavapipe_table(vk_gpu):
    info = vk_gpu.device_info()
    props = info.memory
    assert props.types, "the device reports no memory types"
    for intent in Intent:
        types = vk_gpu.memory_types_for(intent)
        assert types, f"no memory type for {intent.name}"
        flags = props.types[types[0]].flags
        if intent.host_access:
            assert flags & HV
        assert all((info.buffer_memory_type_bits >> t) & 1 for t in types)
    if info.device_type == "cpu":   # lavapipe: one heap, one type with every host flag
        assert len(props.types) == 1 and props.types[0].flags & (DL | HV | HC | CACHED) \
            == DL | HV | HC | CACHED
        assert all(vk_gpu.memory_types_for(i) == [0] for i in Intent)
