"""Non-coherent memory (flush/invalidate with nonCoherentAtomSize), budgets, out-of-memory."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

from framealloc.gpu import (BudgetEvent, DeviceLimits, GpuAllocator, GpuAllocRequirements,
                            GpuBudget, GpuBudgetExceededError, GpuBudgetWarning, GpuConfig,
                            GpuConfigError,
                            GpuMemoryIntent as Intent, GpuOutOfMemoryError, NullBackend)
from framealloc.gpu.memtypes import MemoryFlags as F, MemoryProperties
from framealloc.gpu.null_backend import integrated_memory

MiB = 1 << 20
ATOM = 256
NON_COHERENT = MemoryProperties.from_lists(
    types=[(F.DEVICE_LOCAL, 0), (F.HOST_VISIBLE | F.HOST_CACHED, 1)],
    heaps=[(256 * MiB, True), (256 * MiB, False)])


@pytest.fixture
def nc_gpu():
    backend = NullBackend(memory=NON_COHERENT, limits=DeviceLimits(non_coherent_atom_size=ATOM))
    gpu = GpuAllocator(backend, GpuConfig(block_size=MiB, frame_chunk_size=1 << 16))
    yield gpu, backend
    gpu.close()
    assert not backend.live_blocks


def test_non_coherent_needs_flush_and_allocations_never_share_an_atom(nc_gpu):
    gpu, backend = nc_gpu
    a = gpu.allocate_persistent(100, Intent.DYNAMIC)
    b = gpu.allocate_persistent(100, Intent.DYNAMIC)
    assert not a.coherent
    assert a.offset % ATOM == 0 and b.offset % ATOM == 0 and abs(a.offset - b.offset) >= ATOM
    dl = gpu.allocate_persistent(100, Intent.DEVICE_LOCAL)
    a.host_array()[:] = 7
    gpu.copy(a, dl)                       # without a flush the GPU sees stale memory
    assert not gpu.readback(dl).any()
    a.flush()
    gpu.copy(a, dl)
    assert (gpu.readback(dl) == 7).all()
    assert all(off % ATOM == 0 for _, off, _ in backend.flushes)


def test_upload_and_readback_flush_and_invalidate_for_you(nc_gpu):
    gpu, backend = nc_gpu
    dl = gpu.allocate_persistent(10_000, Intent.DEVICE_LOCAL)
    data = np.random.default_rng(4).random(1250)
    with gpu.frame():
        gpu.upload(dl, data)
    assert np.array_equal(gpu.readback(dl, np.float64), data)
    assert backend.flushes and backend.invalidates


def test_invalidate_makes_gpu_writes_visible(nc_gpu):
    gpu, backend = nc_gpu
    rb = gpu.allocate_persistent(512, Intent.READBACK)
    view = rb.host_array()
    dl = gpu.allocate_persistent(512, Intent.DEVICE_LOCAL)
    gpu.upload(dl, np.full(512, 9, np.uint8))
    gpu.copy(dl, rb)
    assert not view.any()                 # host cache still holds the old bytes
    rb.invalidate()
    assert (view == 9).all()


# -- budgets -----------------------------------------------------------------------------------
def _null(budget: GpuBudget, memory=None, **kw) -> tuple[GpuAllocator, NullBackend]:
    backend = NullBackend(memory=memory, **kw)
    return GpuAllocator(backend, GpuConfig(block_size=4 * MiB, budget=budget)), backend


def test_hard_budget_raises_and_changes_nothing():
    gpu, _ = _null(GpuBudget(hard=6 * MiB))
    gpu.allocate_persistent(MiB)
    assert gpu.reserved_bytes() == 4 * MiB
    before = gpu.stats()
    with pytest.raises(GpuBudgetExceededError) as ei:
        gpu.allocate_persistent(3 * MiB)          # dedicated (>= 2 MiB): 4 + 3 > 6
    assert ei.value.code == "FA406" and "GpuBudget.hard" in str(ei.value)
    after = gpu.stats()
    assert (after.reserved_bytes, after.allocation_count, after.current) == \
        (before.reserved_bytes, before.allocation_count, before.current)
    assert gpu.try_allocate(GpuAllocRequirements(3 * MiB)) is None
    assert gpu.allocate_persistent(MiB).alive     # still usable
    gpu.close()


def test_blocks_shrink_to_fit_a_budget():
    gpu, _ = _null(GpuBudget(hard=3 * MiB))
    a = gpu.allocate_persistent(100_000)
    assert gpu.reserved_bytes() <= 3 * MiB and a.alive
    gpu.close()


def test_soft_budget_warns_once_and_calls_back():
    events: list[BudgetEvent] = []
    gpu, _ = _null(GpuBudget(soft=5 * MiB, on_soft=events.append))
    gpu.allocate_persistent(MiB)
    with pytest.warns(GpuBudgetWarning) as rec:
        gpu.allocate_persistent(3 * MiB, Intent.DYNAMIC)       # 4 + 3 MiB > 5 MiB
    assert rec[0].message.code == "FA407"
    assert len(events) == 1 and events[0].scope == "total" and events[0].limit == 5 * MiB
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gpu.allocate_persistent(3 * MiB, Intent.DYNAMIC)       # still over: no second warning
    assert len(events) == 1
    gpu.close()


def test_per_heap_limits_and_driver_budget():
    two_heaps = MemoryProperties.from_lists(
        types=[(F.DEVICE_LOCAL, 0), (F.HOST_VISIBLE | F.HOST_COHERENT, 1)],
        heaps=[(64 * MiB, True), (64 * MiB, False)])
    gpu, _ = _null(GpuBudget(heap_hard={1: 4 * MiB}), memory=two_heaps)
    gpu.allocate_persistent(MiB, Intent.STAGING)
    with pytest.raises(GpuBudgetExceededError, match="heap_hard"):
        gpu.allocate_persistent(3 * MiB, Intent.STAGING)
    assert gpu.allocate_persistent(3 * MiB, Intent.DEVICE_LOCAL).alive   # other heap unaffected
    gpu.close()
    # VK_EXT_memory_budget: others use 60 MiB of heap 0's 62 MiB budget, 63 of heap 1's 64.
    gpu, backend = _null(GpuBudget(), memory=two_heaps,
                         memory_budget=[(60 * MiB, 62 * MiB), (0, 64 * MiB)])
    spilled = gpu.allocate_persistent(3 * MiB, Intent.DEVICE_LOCAL)
    assert spilled.memory_type_index == 1 and gpu.stats().memory_type_fallbacks == 1
    backend.memory_budget[1] = (63 * MiB, 64 * MiB)
    with pytest.raises(GpuBudgetExceededError, match="device budget"):
        gpu.allocate_persistent(3 * MiB, Intent.DEVICE_LOCAL)
    heaps = gpu.budget()
    assert heaps[0].from_driver and heaps[0].budget == 62 * MiB
    assert heaps[1].usage == 63 * MiB + 3 * MiB
    gpu.close()


def test_bad_budget_config():
    for kwargs in (dict(soft=10, hard=5), dict(hard=0), dict(heap_hard={0: -1}),
                   dict(on_soft=3)):
        with pytest.raises(GpuConfigError) as ei:
            GpuBudget(**kwargs)
        assert ei.value.code == "FA417"
    for kwargs in (dict(block_size=3 * MiB), dict(frames_in_flight=0), dict(min_alignment=3),
                   dict(device_budget_fraction=0), dict(fence_timeout_s=-1), dict(budget=5)):
        with pytest.raises(GpuConfigError):
            GpuConfig(**kwargs)


# -- out of memory -------------------------------------------------------------------------------
def test_null_device_oom_is_clean_and_recoverable():
    backend = NullBackend(memory=integrated_memory(16 * MiB))
    gpu = GpuAllocator(backend, GpuConfig(block_size=4 * MiB,
                                          budget=GpuBudget(respect_device_budget=False)))
    big = gpu.allocate_persistent(10 * MiB)
    with pytest.raises(GpuOutOfMemoryError) as ei:
        gpu.allocate_persistent(8 * MiB)
    assert ei.value.code == "FA405" and isinstance(ei.value, MemoryError)
    assert gpu.stats().oom_count >= 1
    big.free()
    assert gpu.allocate_persistent(8 * MiB).alive
    gpu.close()


def test_object_count_cap_gives_oom_code():
    gpu = GpuAllocator(NullBackend(), GpuConfig(block_size=1 << 16, max_memory_allocations=2,
                                                dedicated_threshold=1 << 15))
    gpu.allocate_persistent(1 << 15)
    gpu.allocate_persistent(1 << 15)
    with pytest.raises(GpuOutOfMemoryError, match="cap"):
        gpu.allocate_persistent(1 << 15)
    gpu.close()


OOM_CHILD = textwrap.dedent("""
    import resource, sys
    import numpy as np
    from framealloc.gpu import GpuAllocator, GpuConfig, GpuOutOfMemoryError, GpuMemoryIntent
    from framealloc.gpu.vk import VulkanContext
    messages = []
    ctx = VulkanContext(validation=True, debug_callback=messages.append)
    gpu = GpuAllocator.vulkan(GpuConfig(block_size=1 << 22), context=ctx)
    vm = int([l for l in open("/proc/self/status") if l.startswith("VmSize")][0].split()[1]) * 1024
    resource.setrlimit(resource.RLIMIT_AS, (vm + (256 << 20), resource.RLIM_INFINITY))
    try:
        gpu.allocate_persistent(1 << 30, GpuMemoryIntent.DEVICE_LOCAL)
        print("NO-OOM")
    except GpuOutOfMemoryError as e:
        print("OOM", e.code)
    a = gpu.allocate_persistent(1 << 16)
    data = np.arange(1 << 14, dtype=np.float32)
    gpu.upload(a, data)
    print("USABLE", bool(np.array_equal(gpu.readback(a, np.float32), data)))
    print("STATS", gpu.stats().oom_count)
    gpu.close()
    ctx.close()
    # Mesa reports the failed vkAllocateMemory itself (a GENERAL message); anything else
    # (a validation message, another error) would be a bug.
    driver_oom = [m for m in messages
                  if m.types == 0x1 and "VK_ERROR_OUT_OF_DEVICE_MEMORY" in m.message]
    others = [(m.id_name, m.message[:300]) for m in messages if m not in driver_oom]
    print("DRIVER_OOM_REPORTS", len(driver_oom))
    print("OTHER_MESSAGES", others)
""")


@pytest.mark.gpu
def test_vulkan_oom_under_ulimit_is_clean(vulkan_instance):
    """lavapipe returns VK_ERROR_OUT_OF_DEVICE_MEMORY when the address space is limited."""
    env = dict(os.environ)
    proc = subprocess.run([sys.executable, "-c", OOM_CHILD], capture_output=True, text=True,
                          timeout=120, env=env)
    out = proc.stdout
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "OOM FA405" in out, out
    assert "USABLE True" in out, out
    assert "STATS 1" in out, out
    assert "OTHER_MESSAGES []" in out, out
