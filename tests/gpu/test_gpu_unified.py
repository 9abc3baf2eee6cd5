"""UnifiedAllocator: one frame loop, staging buffers, real transfers, a CPU+GPU budget."""
from __future__ import annotations

import types

import numpy as np
import pytest

import framealloc
from framealloc.gpu import (GpuAllocRequirements, GpuConfigError, GpuFrameStateError,
                            GpuMemoryIntent as Intent, GpuTransferError, StagingBuffer,
                            UnifiedAllocator, UnifiedBudget, UnifiedBudgetExceededError,
                            UnifiedBudgetWarning)


class FakeCpu:
    """The minimal SmartAlloc interface UnifiedAllocator relies on."""

    def __init__(self) -> None:
        self.in_frame = False
        self.frames = 0
        self.held = 0

    def begin_frame(self) -> None:
        assert not self.in_frame
        self.in_frame = True

    def end_frame(self) -> None:
        assert self.in_frame
        self.in_frame = False
        self.frames += 1
        self.held = 0                          # frame memory released

    def frame_array(self, shape, dtype) -> np.ndarray:
        arr = np.empty(shape, dtype)
        self.held += arr.nbytes
        return arr

    def stats(self):
        return types.SimpleNamespace(total_current=self.held)


@pytest.fixture
def unified(any_gpu):
    return UnifiedAllocator(FakeCpu(), any_gpu)


def test_one_frame_loop_drives_both(unified):
    n = unified.begin_frame()
    assert unified.cpu.in_frame and unified.gpu.in_frame and n == unified.gpu.frame_number
    assert unified.end_frame() == n
    assert not unified.cpu.in_frame and not unified.gpu.in_frame and unified.cpu.frames == 1
    with unified.frame():
        pass
    assert unified.cpu.frames == 2


def test_staging_transfer_is_a_real_copy(unified):
    with unified.frame():
        verts = unified.cpu.frame_array((64, 3), np.float32)
        verts[:] = np.arange(192, dtype=np.float32).reshape(64, 3)
        staging = unified.create_staging_buffer(verts.nbytes)
        assert isinstance(staging, StagingBuffer) and staging.size == verts.nbytes
        staging.host_array(verts.shape, verts.dtype)[:] = verts
        on_gpu = unified.transfer_to_gpu(staging)
        assert on_gpu.intent is Intent.DEVICE_LOCAL and on_gpu.size == verts.nbytes
        back = unified.gpu.readback(on_gpu, np.float32, verts.shape)
    assert np.array_equal(back, verts)


def test_transfer_of_arrays_and_into_existing_destinations(unified):
    gpu = unified.gpu
    dst = gpu.allocate_persistent(1024, Intent.DEVICE_LOCAL)
    data = np.arange(128, dtype=np.float32)
    with unified.frame():
        assert unified.transfer_to_gpu(data, dst, dst_offset=512) is dst
        staging = unified.create_staging_buffer(64)
        staging.write(np.full(16, 5, np.float32))
        unified.transfer_to_gpu(staging, dst)
    back = gpu.readback(dst, np.float32)
    assert np.array_equal(back[128:], data) and (back[:16] == 5).all()


def test_transfers_that_cannot_be_done_raise(unified):
    gpu = unified.gpu
    with unified.frame():
        staging = unified.create_staging_buffer(256)
        small = gpu.allocate_persistent(128, Intent.DEVICE_LOCAL)
        with pytest.raises(GpuTransferError, match="do not fit"):
            unified.transfer_to_gpu(staging, small)
        with pytest.raises(GpuTransferError):
            unified.transfer_to_gpu(np.zeros(0, np.float32))
        with pytest.raises(GpuTransferError):
            unified.transfer_to_gpu(staging, "gpu buffer")
    for _ in range(gpu.frames_in_flight):
        with unified.frame():
            pass
    assert not staging.alive
    with unified.frame():
        with pytest.raises(GpuTransferError) as ei:
            unified.transfer_to_gpu(staging)
    assert ei.value.code == "FA412" and "stale" in str(ei.value)
    with pytest.raises(GpuFrameStateError):
        unified.create_staging_buffer(16)           # outside a frame


def test_usage_falls_when_memory_is_freed(unified):
    gpu = unified.gpu
    assert unified.get_usage() == (0, 0)
    a = gpu.allocate_persistent(10_000)
    unified.begin_frame()
    unified.cpu.frame_array(1000, np.uint8)
    unified.create_staging_buffer(4096)
    cpu, gpu_bytes = unified.get_usage()
    assert cpu == 1000 and gpu_bytes >= 10_000 + 4096
    unified.end_frame()
    assert unified.get_usage() == (0, 10_000)
    a.free()
    assert unified.get_usage() == (0, 0)


def test_unified_budget_hard_and_soft(any_gpu):
    events = []
    unified = UnifiedAllocator(FakeCpu(), any_gpu,
                               budget=UnifiedBudget(soft=6000, hard=10_000, on_soft=events.append))
    with unified.frame():
        unified.cpu.frame_array(5000, np.uint8)
        unified.create_staging_buffer(512)
        with pytest.warns(UnifiedBudgetWarning):
            unified.create_staging_buffer(1024)       # 5000 + 512 + 1024 > 6000
        assert len(events) == 1 and events[0].scope == "unified"
        before = unified.get_usage()
        with pytest.raises(UnifiedBudgetExceededError) as ei:
            unified.create_staging_buffer(8192)
        assert ei.value.code == "FA418" and isinstance(ei.value, MemoryError)
        assert unified.get_usage() == before
        with pytest.raises(UnifiedBudgetExceededError):
            unified.allocate_gpu(GpuAllocRequirements(8192))
        with pytest.raises(UnifiedBudgetExceededError):
            unified.transfer_to_gpu(np.zeros(2048, np.float32))
    assert unified.allocate_gpu(GpuAllocRequirements(1024)).alive   # frame ended: room again


def test_bad_construction():
    with pytest.raises(GpuConfigError):
        UnifiedAllocator(object(), None)
    with pytest.raises(GpuConfigError):
        UnifiedBudget(soft=10, hard=5)


def test_cpu_errors_end_the_gpu_frame_too(any_gpu):
    class Broken(FakeCpu):
        def begin_frame(self):
            raise RuntimeError("cpu side failed")

    unified = UnifiedAllocator(Broken(), any_gpu)
    with pytest.raises(RuntimeError):
        unified.begin_frame()
    assert not any_gpu.in_frame


def test_with_the_real_smartalloc(any_gpu):
    cpu = framealloc.SmartAlloc()
    unified = UnifiedAllocator(cpu, any_gpu)
    assert unified.get_usage() == (0, 0)
    with unified.frame():
        pos = unified.cpu.frame_array((100, 3), np.float32)
        pos[:] = 1.25
        on_gpu = unified.transfer_to_gpu(pos)
        cpu_bytes, gpu_bytes = unified.get_usage()
        # The CPU side is the SmartAlloc's live bytes: this frame's array, nothing else.
        nbytes = pos.nbytes
        assert cpu_bytes == cpu.stats().total_current == nbytes
        assert gpu_bytes >= nbytes
        back = unified.gpu.readback(on_gpu, np.float32, (100, 3))
    assert (back == 1.25).all()
    assert unified.get_usage() == (0, 0)           # both frames ended: nothing held
    assert cpu.stats().frame.frames_ended == 1 and cpu.stats().frame.allocated == nbytes
    cpu.close()


def test_failed_transfers_free_the_destination_they_made(any_gpu):
    from framealloc.gpu import GpuLifetime
    unified = UnifiedAllocator(FakeCpu(), any_gpu)
    gpu = any_gpu
    src = np.zeros(100, np.float32)
    no_src = gpu.allocate_persistent(64, Intent.DEVICE_LOCAL,
                                     usage=framealloc.gpu.BufferUsage.STORAGE)
    before = gpu.stats().allocation_count, gpu.current_bytes()
    for call in (
        lambda: unified.transfer_to_gpu(src, lifetime=GpuLifetime.PERSISTENT, dst_offset=-1),
        lambda: unified.transfer_to_gpu(src, lifetime=GpuLifetime.PERSISTENT, dst_offset=10**6),
        lambda: unified.transfer_to_gpu(src, lifetime=GpuLifetime.PERSISTENT, dst_offset=1.5),
        lambda: unified.transfer_to_gpu(np.array([object(), object()]),
                                        lifetime=GpuLifetime.PERSISTENT),
        lambda: unified.transfer_to_gpu(no_src, lifetime=GpuLifetime.PERSISTENT),  # no TRANSFER_SRC
    ):
        with pytest.raises(GpuTransferError) as ei:
            call()
        assert ei.value.code == "FA412"
        assert (gpu.stats().allocation_count, gpu.current_bytes()) == before
    ok = unified.transfer_to_gpu(src, lifetime=GpuLifetime.PERSISTENT)
    assert gpu.current_bytes() == before[1] + src.nbytes
    ok.free()
    no_src.free()


def test_a_failed_begin_frame_does_not_advance_gpu_frames():
    from framealloc.gpu import GpuAllocator, GpuConfig
    cpu = framealloc.SmartAlloc()
    gpu = GpuAllocator.null(GpuConfig(frames_in_flight=2))
    unified = UnifiedAllocator(cpu, gpu)
    with unified.frame():
        ubo = gpu.allocate_frame(64)
    frame = gpu.frame_number
    cpu.begin_frame()                               # a CPU frame left open by mistake
    for _ in range(3):
        with pytest.raises(framealloc.FrameStateError) as ei:
            unified.begin_frame()
        assert ei.value.code == "FA002"
        assert gpu.frame_number == frame and not gpu.in_frame and ubo.alive
    cpu.end_frame()
    with unified.frame():
        assert gpu.in_frame and cpu.in_frame
    assert gpu.frame_number == frame + 1
    cpu.close()
    gpu.close()


def test_a_failed_gpu_begin_frame_ends_the_cpu_frame(any_gpu):
    cpu = FakeCpu()
    unified = UnifiedAllocator(cpu, any_gpu)
    any_gpu.begin_frame()                           # GPU frame already open: FA40x
    with pytest.raises(GpuFrameStateError):
        unified.begin_frame()
    assert not cpu.in_frame
    any_gpu.end_frame()
