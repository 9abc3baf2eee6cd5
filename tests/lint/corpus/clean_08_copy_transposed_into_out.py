"""Blocked transpose through a frame tile: views (`.T`, slices) stay inside the frame, the data is
copied into the caller's array."""
import numpy as np


def transpose_blocked(alloc, a, out, block=64):
    rows, cols = a.shape
    with alloc.frame():
        tile = alloc.frame_array((block, block), a.dtype)
        for r in range(0, rows, block):
            for c in range(0, cols, block):
                h = min(block, rows - r)
                w = min(block, cols - c)
                view = tile[:h, :w]
                view[:, :] = a[r:r + h, c:c + w]
                out[c:c + w, r:r + h] = view.T
    return out


def transpose(alloc, a):
    return transpose_blocked(alloc, a, np.empty(a.shape[::-1], a.dtype))
