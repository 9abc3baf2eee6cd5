"""Planted: a reshaped view of frame memory is returned (FA604)."""
from numba import njit


@njit(cache=True)
def tiles(alloc, img, t):
    h, w = img.shape
    alloc.begin_frame()
    flat = alloc.frame_array(h * w, img.dtype)
    k = 0
    for by in range(0, h, t):
        for bx in range(0, w, t):
            for y in range(by, by + t):
                for x in range(bx, bx + t):
                    flat[k] = img[y, x]
                    k += 1
    blocks = flat.reshape((h // t) * (w // t), t * t)
    alloc.end_frame()
    return blocks  # expect: FA604
