"""The issue's kernel: `x += frame temporary` is numpy's in-place add into the caller's array."""
from numba import njit


@njit(nogil=True)
def foo(a, x, iters):
    for _ in range(iters):
        a.begin_frame()
        x += a.frame_zeros(x.shape, x.dtype)
        a.end_frame()
    return x
