"""Planted: `+=` on a list extends it: the frame view goes into a long-lived list (FA601)."""
import numpy as np


class Recorder:
    def __init__(self, alloc):
        self.alloc = alloc
        self.frames = []
        self.total = np.zeros(16, np.float32)

    def capture(self, signal):
        with self.alloc.frame():
            window = self.alloc.frame_array(signal.shape, np.float32)
            window[:] = signal
            self.total += window
            self.frames += [window]  # expect: FA601
