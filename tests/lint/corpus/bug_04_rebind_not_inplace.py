"""Planted: `x = a.frame_zeros(...)` rebinds x to frame memory (unlike `x += ...`), so returning x
after the frame hands out recycled memory (FA604)."""
from numba import njit


@njit(nogil=True)
def foo_step(a, x):
    a.begin_frame()
    y = x
    x = a.frame_zeros(x.shape, x.dtype)
    x += y
    a.end_frame()
    return x  # expect: FA604
