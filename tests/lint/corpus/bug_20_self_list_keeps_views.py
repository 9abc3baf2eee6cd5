"""Planted: per-frame slices appended to a long-lived list (FA601)."""
import numpy as np


class Recorder:
    def __init__(self, alloc):
        self.alloc = alloc
        self.frames = []

    def capture(self, signal, k):
        with self.alloc.frame():
            window = self.alloc.frame_array(signal.shape, np.float32)
            window[:] = signal
            self.frames.append(window[:k])  # expect: FA601
