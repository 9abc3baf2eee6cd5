"""Planted: a layout view is kept on the object past its frame (FA601)."""
import numpy as np


class Particles:
    def __init__(self, alloc, n):
        self.alloc = alloc
        self.pos = np.zeros((n, 3), np.float32)
        self.layout = alloc.frame_layout(acc=((n, 3), np.float32))

    def step(self, dt):
        with self.alloc.frame():
            s = self.layout.alloc()
            s.acc[:] = -self.pos
            self.pos += dt * dt * s.acc
            self.last_acc = s.acc  # expect: FA601
