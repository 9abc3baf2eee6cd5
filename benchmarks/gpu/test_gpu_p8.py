"""P8: frame-lifetime GPU sub-allocation from Python vs one Vulkan buffer + memory per request.

Every competitor makes ``N`` 256-byte buffer ranges per round. framealloc's round is a whole
frame: ``N`` ``allocate_frame`` calls plus ``end_frame`` and the next ``begin_frame`` (fence
wait, submit, recycling), so the per-frame cost is included, amortised over ``N``.
"""
from __future__ import annotations

import pytest

from framealloc.gpu import GpuAllocator, GpuConfig

from . import _cases


@pytest.fixture(scope="module")
def cases(vk_context):
    gpu = GpuAllocator.vulkan(GpuConfig(), context=vk_context)
    gpu.begin_frame()
    built = {c.name: c for c in _cases.p8_cases(vk_context, gpu)}
    _cases.warm_up(list(built.values()))
    yield built
    gpu.end_frame()
    for c in built.values():
        c.close()
    gpu.close()


@pytest.mark.parametrize("name", [_cases.FRAMEALLOC, _cases.RAW, _cases.VMA, _cases.HOT,
                                  _cases.TLSF])
def test_p8(benchmark, cases, name):
    if name not in cases:
        pytest.skip("pyvma is not installed (optional benchmark extra; it needs g++)")
    case = cases[name]
    benchmark.group = case.group
    benchmark.extra_info.update(competitor=case.name, ops=case.ops, unit=case.unit)
    benchmark.pedantic(case.fn, rounds=100 if name != _cases.TLSF else 20, iterations=1)
