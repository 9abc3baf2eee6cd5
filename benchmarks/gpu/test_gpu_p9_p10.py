"""P9: persistent GPU ranges (allocate + free) vs VMA and raw Vulkan; P10: batch sub-allocation.

P9's framealloc round is ``N`` ``allocate_persistent(256).free()`` pairs on an allocator that
runs no frames (each free is immediate); VMA's is ``N`` ``vmaCreateBuffer`` +
``vmaDestroyBuffer``; raw Vulkan's a buffer, its memory, bind and destroy per range. P10 times
one ``allocate_frame_batch`` of ``N`` ranges (the frame change between rounds is untimed).
"""
from __future__ import annotations

import pytest

from . import _cases


@pytest.fixture(scope="module")
def cases(vk_context):
    built = {(c.group, c.name): c for c in
             _cases.persistent_cases(vk_context) + _cases.batch_cases(vk_context)}
    _cases.warm_up(list(built.values()))
    yield built
    for c in built.values():
        c.close()


@pytest.mark.parametrize("key", [(_cases.P9, _cases.TLSF), (_cases.P9, _cases.VMA),
                                 (_cases.P9, _cases.RAW), (_cases.P10, _cases.BATCH),
                                 (_cases.P10, _cases.POOL_BATCH)])
def test_p9_p10(benchmark, cases, key):
    if key not in cases:
        pytest.skip("pyvma is not installed (optional benchmark extra; it needs g++)")
    case = cases[key]
    benchmark.group = case.group
    benchmark.extra_info.update(competitor=case.name, ops=case.ops, unit=case.unit)
    benchmark.pedantic(case.fn, setup=case.setup, rounds=50, iterations=1)
