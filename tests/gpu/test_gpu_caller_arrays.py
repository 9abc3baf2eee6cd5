"""No GPU call changes or keeps hold of the caller's arrays.

A batch used to keep the caller's ``sizes`` array itself and mark it read-only, so after
``gpu.allocate_batch(sizes)`` the user's own array could no longer be written, and writing it
before that would have changed what the batch reported. Every public call that takes an array
is listed here (a test checks the list against the signatures, so a new one cannot be
forgotten) and called with a writeable and a read-only array: the array keeps its contents and
flags, and what the call returned does not change when the caller writes the array later.
"""
from __future__ import annotations

import inspect

import numpy as np
import pytest

import framealloc.gpu as fg
from framealloc.gpu import GpuMemoryIntent as Intent, UnifiedAllocator

from .test_gpu_unified import FakeCpu

SIZES = np.array([256, 64, 4096, 16], np.int64)
DATA = np.arange(64, dtype=np.float32)


def _frame_batch(gpu, arr):
    return gpu.allocate_frame_batch(arr, Intent.DEVICE_LOCAL), (lambda b: b.sizes)


def _persistent_batch(gpu, arr):
    return gpu.allocate_batch(arr), (lambda b: b.sizes)


def _upload(gpu, arr):
    dst = gpu.allocate_persistent(arr.nbytes, Intent.DEVICE_LOCAL)
    gpu.upload(dst, arr)
    return dst, (lambda d: gpu.readback(d, arr.dtype))


def _staging_write(gpu, arr):
    unified = UnifiedAllocator(FakeCpu(), gpu)
    staging = unified.create_staging_buffer(arr.nbytes)
    staging.write(arr)
    return staging, (lambda s: s.allocation.host_array(arr.size, arr.dtype).copy())


def _transfer(gpu, arr):
    unified = UnifiedAllocator(FakeCpu(), gpu)
    dst = unified.transfer_to_gpu(arr, lifetime=fg.GpuLifetime.PERSISTENT)
    return dst, (lambda d: gpu.readback(d, arr.dtype))


#: (class, method, parameter) -> (the array it takes, a call returning (result, what it
#: reports), whether it runs inside a frame)
CALLS = {
    ("GpuAllocator", "allocate_frame_batch", "sizes"): (SIZES, _frame_batch, True),
    ("GpuAllocator", "allocate_batch", "sizes"): (SIZES, _persistent_batch, False),
    ("GpuAllocator", "upload", "array"): (DATA, _upload, False),
    ("StagingBuffer", "write", "array"): (DATA, _staging_write, True),
    ("UnifiedAllocator", "transfer_to_gpu", "source"): (DATA, _transfer, False),
}
NOT_ARRAYS = {"dtype", "context", "backend_options", "context_options"}


def test_every_public_call_taking_an_array_is_listed():
    found = set()
    for cname in fg.__all__:
        cls = getattr(fg, cname)
        if not isinstance(cls, type):
            continue
        for name, fn in inspect.getmembers(cls, callable):
            if name.startswith("_"):
                continue
            try:
                params = inspect.signature(fn).parameters.values()
            except (TypeError, ValueError):
                continue
            for p in params:
                ann = str(p.annotation)
                if p.name not in NOT_ARRAYS and ("Any" in ann or "ndarray" in ann):
                    found.add((cname, name, p.name))
    assert found == set(CALLS)


@pytest.mark.parametrize("writeable", [True, False], ids=["writeable", "read-only"])
@pytest.mark.parametrize("key", list(CALLS), ids=lambda k: f"{k[0]}.{k[1]}")
def test_call_leaves_the_callers_array_alone(any_gpu, key, writeable):
    base, call, in_frame = CALLS[key]
    arr = base.copy()
    arr.setflags(write=writeable)
    if in_frame:
        with any_gpu.frame():
            _check(any_gpu, call, arr, base, writeable)
    else:
        _check(any_gpu, call, arr, base, writeable)


def _check(gpu, call, arr, base, writeable):
    result, reported = call(gpu, arr)
    seen = np.array(reported(result), copy=True)
    assert arr.flags.writeable == writeable, "the call changed the caller's array's flags"
    assert np.array_equal(arr, base), "the call changed the caller's array"
    if writeable:
        arr[:] = 1                       # the caller reuses its array...
        assert np.array_equal(reported(result), seen), "...and the result followed it"
