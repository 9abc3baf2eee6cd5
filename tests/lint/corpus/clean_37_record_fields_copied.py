"""Particles in a frame batch of records; the fields are copied into the caller's arrays."""
import numpy as np

PARTICLE = np.dtype([("pos", np.float32, 3), ("vel", np.float32, 3), ("mass", np.float32)])


def spawn(alloc, n, rng, out_pos, out_vel):
    with alloc.frame():
        batch = alloc.frame_alloc_batch(PARTICLE, n)
        batch["pos"] = rng.random((n, 3))
        batch["vel"] = 0.0
        batch["mass"] = 1.0
        heavy = batch[batch["mass"] > 0.5]
        out_pos[:] = batch["pos"]
        out_vel[:] = batch["vel"]
    return heavy
