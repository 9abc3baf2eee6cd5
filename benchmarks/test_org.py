"""P1 with tags and budgets on, the cost of a tag push/pop in @njit, and budget checks from Python.

The P1 kernels are the ones of ``test_njit_alloc`` (same loop, same writes); here the allocator
runs them inside a Python tag block, with four budgets applying to every allocation: total,
frame kind, the tag's, and the thread's frame budget. Limits are far above what the loop uses,
so every allocation is checked and none refused. Tags attribute frame bytes when the tag
changes and budgets are leased ``AllocConfig.budget_lease`` bytes at a time, so the hot path is
the same single compare.
"""
from __future__ import annotations

import numpy as np
import pytest
from numba import njit

import framealloc as fa

from ._common import CONTROL, EMPTY, FRAME, timed
from .test_njit_alloc import ARRAY_CASES, FRAMES, PER_FRAME

P1_ORG = "P1 (tags + budgets on): 64 B array in @njit"
TAG_PUSH = "ctx: tag push+pop in @njit"
PY_BUDGET = "ctx: frame_array(16, float32) from Python, budgets on vs off"
PY_POOL_BUDGET = "ctx: pool_box(16 float32) from Python, budgets on vs off"
ON, OFF = FRAME + " (tag + 4 budgets)", FRAME + " (no tag, no budget)"


def budgeted_alloc() -> fa.SmartAlloc:
    alloc = fa.SmartAlloc()
    alloc.set_budget(soft=fa.GiB(1), hard=fa.GiB(2))
    alloc.set_budget(hard=fa.GiB(1), kind="frame")
    alloc.set_budget(hard=fa.GiB(1), kind="pool")
    alloc.set_tag_budget("bench", soft=fa.MiB(512), hard=fa.GiB(1))
    alloc.set_thread_frame_budget(hard=fa.GiB(1))
    return alloc


@pytest.fixture
def org_alloc():
    alloc = budgeted_alloc()
    alloc.push_tag("bench")
    yield alloc
    alloc.pop_tag()
    alloc.close()


@pytest.mark.parametrize("competitor", [FRAME, EMPTY, CONTROL])
def test_p1_tags_budgets(benchmark, org_alloc, competitor):
    frame, empty, control = ARRAY_CASES["P1: 64 B array in @njit"]
    if competitor == FRAME:
        fn = lambda: frame(org_alloc, FRAMES, PER_FRAME)  # noqa: E731
    elif competitor == EMPTY:
        fn = lambda: empty(FRAMES, PER_FRAME)  # noqa: E731
    else:
        buf = np.zeros(1024, np.float32)
        fn = lambda: control(buf, FRAMES, PER_FRAME)  # noqa: E731
    timed(benchmark, fn, group=P1_ORG, competitor=competitor, ops=FRAMES * PER_FRAME)
    if competitor == FRAME:   # the tag really got the bytes
        assert org_alloc.stats().tags["bench"].kinds["frame"]["allocated"] > 0


@njit
def push_pop(alloc, tid, n):
    alloc.begin_frame()
    for _ in range(n):
        alloc.push_tag(tid)
        alloc.pop_tag()
    alloc.end_frame()
    return n


@njit
def push_alloc_pop(alloc, tid, n):
    acc = 0.0
    alloc.begin_frame()
    for i in range(n):
        alloc.push_tag(tid)
        a = alloc.frame_array(16, np.float32)
        a[0] = i
        acc += a[0]
        alloc.pop_tag()
    alloc.end_frame()
    return acc


@pytest.mark.parametrize("competitor", ["push+pop", "push+alloc+pop", "push+pop, 4 budgets"])
def test_tag_push_pop(benchmark, competitor):
    alloc = budgeted_alloc() if "budgets" in competitor else fa.SmartAlloc()
    tid = alloc.tag_id("bench::inner")
    n = 100_000
    kernel = push_alloc_pop if "alloc" in competitor else push_pop
    timed(benchmark, lambda: kernel(alloc, tid, n), group=TAG_PUSH, competitor=competitor,
          ops=n, unit="push+pop")


@pytest.mark.parametrize("competitor", [ON, OFF])
def test_python_budget_overhead(benchmark, competitor):
    alloc = budgeted_alloc() if competitor == ON else fa.SmartAlloc()
    if competitor == ON:
        alloc.push_tag("bench")
    n = 1000
    dt = np.dtype(np.float32)

    def run():
        alloc.begin_frame()
        for _ in range(n):
            alloc.frame_array(16, dt)
        alloc.end_frame()

    timed(benchmark, run, group=PY_BUDGET, competitor=competitor, ops=n)


@pytest.mark.parametrize("competitor", [ON, OFF])
def test_python_pool_budget_overhead(benchmark, competitor):
    alloc = budgeted_alloc() if competitor == ON else fa.SmartAlloc()
    if competitor == ON:
        alloc.push_tag("bench")
    n = 1000
    dt = np.dtype(np.float32)

    def run():
        boxes = [alloc.pool_alloc(dt, 16) for _ in range(n)]
        for b in boxes:
            b.free()

    timed(benchmark, run, group=PY_POOL_BUDGET, competitor=competitor, ops=n)
