"""The frame fast paths inlined into @njit code (``arena.begin_fast``, ``end_fast``,
``checkpoint``, ``rollback_fast``) leave an arena row exactly as the cached kernels do.

Python's begin_frame / frame_checkpoint / rollback_to / end_frame call the kernels; @njit code
takes the fast paths when nothing stands in the way. The same history run both ways on two
allocators must give the same row, field by field (addresses aside), with and without budgets
(budgets send @njit code to the kernels too)."""
from __future__ import annotations

import numpy as np
import pytest
from numba import njit

import framealloc as fa
from framealloc.kernels.layout import ARENA_FIELDS

#: Fields that hold addresses or ids, which differ between two allocators.
ADDRESSES = {"base", "meminfo", "orgrow", "org", "owner"}


@njit
def njit_history(alloc, frames):
    for f in range(frames):
        alloc.begin_frame()
        a = alloc.frame_array(16 + f, np.float32)
        a[0] = 1.0
        cp = alloc.frame_checkpoint()
        b = alloc.frame_array(100, np.float64)
        b[0] = 2.0
        alloc.rollback_to(cp)
        c = alloc.frame_array(3, np.int8)
        c[0] = 3
        alloc.end_frame()


def python_history(alloc, frames):
    for f in range(frames):
        alloc.begin_frame()
        a = alloc.frame_array(16 + f, np.float32)
        a[0] = 1.0
        cp = alloc.frame_checkpoint()
        b = alloc.frame_array(100, np.float64)
        b[0] = 2.0
        alloc.rollback_to(cp)
        c = alloc.frame_array(3, np.int8)
        c[0] = 3
        alloc.end_frame()


def row_fields(alloc) -> dict:
    row = alloc._rows[alloc._arena().slot, 0]
    return {f: int(row[f]) for f in ARENA_FIELDS if f not in ADDRESSES}


@pytest.mark.parametrize("budgets", [False, True], ids=["fast", "budgets"])
@pytest.mark.parametrize("frames", [1, 5])
def test_fast_paths_leave_the_row_as_the_kernels_do(budgets, frames):
    allocs = [fa.SmartAlloc(), fa.SmartAlloc()]
    if budgets:
        for a in allocs:
            a.set_budget(hard=1 << 30, kind="frame")
    njit_history(allocs[0], frames)
    python_history(allocs[1], frames)
    assert row_fields(allocs[0]) == row_fields(allocs[1])
    s0, s1 = (a.stats().frame for a in allocs)
    assert s0 == s1
    for a in allocs:
        a.close()
