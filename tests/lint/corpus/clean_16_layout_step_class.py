"""A simulation class: per-frame scratch from a layout, state copied back into its own arrays."""
import numpy as np


class Particles:
    def __init__(self, alloc, n):
        self.alloc = alloc
        self.pos = np.zeros((n, 3), np.float32)
        self.vel = np.zeros((n, 3), np.float32)
        self.energy = 0.0
        self.layout = alloc.frame_layout(acc=((n, 3), np.float32), speed=(n, np.float32))

    def step(self, dt):
        with self.alloc.frame():
            s = self.layout.alloc()
            s.acc[:] = -self.pos
            self.vel += dt * s.acc
            self.pos[:] = self.pos + dt * self.vel
            np.sqrt((self.vel ** 2).sum(axis=1), out=s.speed)
            self.energy = float(0.5 * (s.speed ** 2).sum())
        return self.energy
