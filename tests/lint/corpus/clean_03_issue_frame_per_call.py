"""The issue's kernel with one frame per call; the driver loops in Python."""
from numba import njit


@njit(nogil=True)
def foo_step(a, x):
    a.begin_frame()
    x += a.frame_zeros(x.shape, x.dtype)
    a.end_frame()
    return x


def foo(a, x, iters):
    for _ in range(iters):
        x = foo_step(a, x)
    return x
