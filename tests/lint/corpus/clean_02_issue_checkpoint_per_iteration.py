"""The issue's kernel with one frame and a checkpoint per iteration."""
from numba import njit


@njit(nogil=True)
def foo(a, x, iters):
    a.begin_frame()
    for _ in range(iters):
        cp = a.frame_checkpoint()
        x += a.frame_zeros(x.shape, x.dtype)
        a.rollback_to(cp)
    a.end_frame()
    return x
