"""prange rows with a `try_` frame allocation and a fallback that writes straight to `out`."""
import numpy as np
from numba import njit, prange


@njit(parallel=True, cache=True)
def blur_rows(alloc, img, out):
    h, w = img.shape
    alloc.begin_frame()
    for i in prange(h):
        tmp = alloc.try_frame_array(w, np.float32)
        if tmp is None:
            out[i, :] = img[i, :]
            continue
        tmp[0] = img[i, 0]
        tmp[w - 1] = img[i, w - 1]
        for j in range(1, w - 1):
            tmp[j] = (img[i, j - 1] + img[i, j] + img[i, j + 1]) / 3.0
        out[i, :] = tmp
    alloc.end_frame()
    return out
