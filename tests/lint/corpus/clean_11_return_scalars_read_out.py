"""Values read out of frame memory (`float(view[0])`, reductions) are not frame memory."""
from numba import njit


@njit(cache=True)
def stats(alloc, x):
    alloc.begin_frame()
    sorted_x = alloc.frame_array(x.shape[0], x.dtype)
    sorted_x[:] = x
    sorted_x.sort()
    lo = float(sorted_x[0])
    hi = float(sorted_x[-1])
    median = sorted_x[sorted_x.shape[0] // 2]
    total = sorted_x.sum()
    alloc.end_frame()
    return lo, hi, median, total / x.shape[0]
