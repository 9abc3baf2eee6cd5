"""@njit callers of the creation methods for tests/core/test_creation.py (cached: a module of
its own, so editing the tests keeps numba's cache of these)."""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def k_like(alloc, a):
    e = alloc.frame_empty_like(a)
    z = alloc.frame_zeros_like(a)
    z2 = alloc.frame_zeros_like(a, np.float32)
    f = alloc.frame_full_like(a, 3)
    f2 = alloc.frame_full_like(a, 2.5, np.float64)
    c = alloc.frame_copy(a)
    t = alloc.try_frame_copy(a)
    return e.shape, z, z2, f, f2, c, t


@njit(cache=True)
def k_full(alloc, shape, vi, vf):
    return alloc.frame_full(shape, vi), alloc.frame_full(shape, vf), \
        alloc.frame_full(shape, vf, np.int32), alloc.try_frame_full(shape, True)


@njit(cache=True)
def k_arange1(alloc, stop):
    return alloc.frame_arange(stop)


@njit(cache=True)
def k_arange3(alloc, start, stop, step):
    return alloc.frame_arange(start, stop, step)


@njit(cache=True)
def k_arange_f4(alloc, start, stop, step):
    return alloc.frame_arange(start, stop, step, np.float32)


@njit(cache=True)
def k_arange_i4(alloc, start, stop, step):
    return alloc.try_frame_arange(start, stop, step, np.int32)


@njit(cache=True)
def k_concatenate(alloc, a, b, axis):
    return alloc.frame_concatenate((a, b), axis), alloc.frame_concatenate((a, b, a), None), \
        alloc.try_frame_concatenate([a, a], axis)


@njit(cache=True)
def k_stack(alloc, a, b, axis):
    return alloc.frame_stack((a, b), axis), alloc.try_frame_stack([a, a, a], axis)


@njit(cache=True)
def k_take(alloc, a, idx, axis):
    return alloc.frame_take(a, idx, axis), alloc.try_frame_take(a, idx)


@njit(cache=True)
def k_compress(alloc, cond, a, axis, flat_cond):
    return alloc.frame_compress(cond, a, axis), alloc.try_frame_compress(flat_cond, a)


@njit(cache=True)
def k_nonzero(alloc, a):
    return alloc.frame_nonzero(a), alloc.frame_where(a)


@njit(cache=True)
def k_concat_seq(alloc, arrays, axis):
    return alloc.frame_concatenate(arrays, axis)


@njit(cache=True)
def k_stack_seq(alloc, arrays, axis):
    return alloc.frame_stack(arrays, axis)
