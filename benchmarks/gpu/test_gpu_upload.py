"""Staged upload bandwidth: 64 MiB from a NumPy array to device-local memory, vs the bare GPU
copy of the same size with the data already in host-visible memory.

framealloc's round: ``begin_frame``, ``upload`` (copies the array into the staging ring in
4 MiB pieces, each submitted at once), ``end_frame``, then waiting for the GPU. The bare round:
submit a pre-recorded ``vkCmdCopyBuffer`` and wait for its fence.
"""
from __future__ import annotations

import pytest

from framealloc.gpu import GpuAllocator, GpuConfig

from . import _cases


@pytest.fixture(scope="module")
def cases(vk_context):
    gpu = GpuAllocator.vulkan(GpuConfig(), context=vk_context)
    built = {c.name: c for c in _cases.upload_cases(vk_context, gpu)}
    _cases.warm_up(list(built.values()))
    yield built
    for c in built.values():
        c.close()
    gpu.close()


@pytest.mark.parametrize("name", [_cases.UPLOAD_FA, _cases.UPLOAD_BARE, _cases.MEMCPY])
def test_upload(benchmark, cases, name):
    case = cases[name]
    benchmark.group = case.group
    benchmark.extra_info.update(competitor=case.name, ops=case.ops, unit=case.unit,
                                bytes=_cases.NBYTES)
    benchmark.pedantic(case.fn, rounds=15, iterations=1, warmup_rounds=1)
