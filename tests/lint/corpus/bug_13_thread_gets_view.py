"""Planted: a background writer thread gets the frame view itself (FA201)."""
import threading

import numpy as np


def snapshot_async(alloc, field, path):
    with alloc.frame():
        small = alloc.frame_array((field.shape[0] // 2, field.shape[1] // 2), np.float32)
        small[:] = field[::2, ::2]
        writer = threading.Thread(target=np.save, args=(path, small))  # expect: FA201
        writer.start()
    return writer
