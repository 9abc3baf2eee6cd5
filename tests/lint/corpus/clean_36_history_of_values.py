"""A monitor object keeps per-frame statistics as Python floats."""
import numpy as np


class Monitor:
    def __init__(self, alloc):
        self.alloc = alloc
        self.history = []
        self.peaks = {}

    def record(self, name, field):
        with self.alloc.frame():
            mag = self.alloc.frame_array(field.shape, np.float64)
            np.abs(field, out=mag)
            self.history.append(float(mag.mean()))
            self.peaks[name] = mag.max()
            self.last_shape = mag.shape
