"""Frame-loop demo: an @njit particle step whose per-frame scratch comes from the frame arena.

Run ``python -m framealloc.demo`` (``--help`` for options). Each frame, the kernel allocates its
temporaries (forces, a per-cell count array, a batch of spawned particle records) from the
SmartAlloc passed in, and the same step written with ``np.empty`` runs side by side for comparison.
The output shows per-frame time for both, and that the arena's memory stays flat across frames.
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np

import framealloc as fa

PARTICLE = np.dtype([("pos", "f4", 3), ("vel", "f4", 3), ("life", "f4")])


def _build_kernels():
    from numba import njit

    @njit(cache=True)
    def step_frame(alloc, pos, vel, dt, cells):
        """One frame with scratch from the arena: the whole frame is one kernel call."""
        alloc.begin_frame()
        n = pos.shape[0]
        force = alloc.frame_zeros((n, 3), np.float32)
        count = alloc.frame_zeros(cells, np.int32)
        for i in range(n):  # many small temporaries, as real kernels make them
            tmp = alloc.frame_array(3, np.float32)
            tmp[0] = -pos[i, 0]
            tmp[1] = -9.8
            tmp[2] = -pos[i, 2]
            force[i, :] = tmp
            c = int((pos[i, 0] + 10.0) * 0.05 * cells) % cells
            count[c] += 1
        spawned = alloc.frame_alloc_batch(PARTICLE, 256)
        for k in range(256):
            spawned[k].life = 1.0
        for i in range(n):
            for d in range(3):
                vel[i, d] += force[i, d] * dt
                pos[i, d] += vel[i, d] * dt
        busiest = count.max()
        alloc.end_frame()
        return busiest

    @njit(cache=True)
    def step_frame_numpy(pos, vel, dt, cells):
        """The same frame with np.empty/np.zeros temporaries."""
        n = pos.shape[0]
        force = np.zeros((n, 3), np.float32)
        count = np.zeros(cells, np.int32)
        for i in range(n):
            tmp = np.empty(3, np.float32)  # noqa: FA607 - the baseline this demo compares against
            tmp[0] = -pos[i, 0]
            tmp[1] = -9.8
            tmp[2] = -pos[i, 2]
            force[i, :] = tmp
            c = int((pos[i, 0] + 10.0) * 0.05 * cells) % cells
            count[c] += 1
        spawned = np.empty(256, PARTICLE)
        for k in range(256):
            spawned[k].life = 1.0
        for i in range(n):
            for d in range(3):
                vel[i, d] += force[i, d] * dt
                pos[i, d] += vel[i, d] * dt
        return count.max()

    return step_frame, step_frame_numpy


def _progress(iterable, total, enabled):
    if not enabled:
        return iterable
    try:
        from tqdm import tqdm
    except ImportError:
        return iterable
    return tqdm(iterable, total=total, unit="frame", leave=False)


def run(frames: int = 300, particles: int = 20_000, cells: int = 64, progress: bool = True,
        out=sys.stdout) -> dict:
    """Run the demo; returns the per-frame timings (seconds) and the memory trace (bytes)."""
    step, step_np = _build_kernels()
    rng = np.random.default_rng(0)
    pos = rng.uniform(-10, 10, (particles, 3)).astype(np.float32)
    vel = np.zeros_like(pos)
    pos_np, vel_np = pos.copy(), vel.copy()
    alloc = fa.SmartAlloc()

    t0 = time.perf_counter()
    step(alloc, pos.copy(), vel.copy(), 0.0, cells)      # compile (or load from cache)
    step_np(pos.copy(), vel.copy(), 0.0, cells)
    print(f"kernels ready in {time.perf_counter() - t0:.2f} s", file=out)

    t_fa, t_np, reserved, peaks = [], [], [], []
    for _ in _progress(range(frames), frames, progress):
        t = time.perf_counter()
        step(alloc, pos, vel, 1e-3, cells)
        t_fa.append(time.perf_counter() - t)
        t = time.perf_counter()
        step_np(pos_np, vel_np, 1e-3, cells)
        t_np.append(time.perf_counter() - t)
        s = alloc.stats().frame
        reserved.append(s.reserved)
        peaks.append(s.peak)

    assert np.allclose(pos, pos_np), "both versions must compute the same simulation"
    s = alloc.stats().frame
    med_fa, med_np = float(np.median(t_fa)) * 1e3, float(np.median(t_np)) * 1e3
    print(f"{frames} frames x {particles} particles ({particles + 2} temporaries per frame)",
          file=out)
    print(f"  framealloc : median {med_fa:7.3f} ms/frame", file=out)
    print(f"  np.empty   : median {med_np:7.3f} ms/frame   ({med_np / med_fa:.2f}x the frame "
          "arena's time)", file=out)
    print(f"  arena: {s.allocations} allocations, {s.allocated / 2**20:.1f} MiB handed out in "
          f"total, peak {s.peak / 2**10:.1f} KiB per frame", file=out)
    flat = len(set(reserved[1:])) <= 1
    print(f"  reserved arena memory: {reserved[0] / 2**10:.0f} KiB after frame 1, "
          f"{reserved[-1] / 2**10:.0f} KiB after frame {frames} -> "
          f"{'flat' if flat else 'NOT flat'}", file=out)
    alloc.close()
    return {"framealloc_s": t_fa, "numpy_s": t_np, "reserved": reserved, "flat": flat}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m framealloc.demo", description=__doc__.split("\n")[0])
    p.add_argument("--frames", type=int, default=300)
    p.add_argument("--particles", type=int, default=20_000)
    p.add_argument("--cells", type=int, default=64)
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    result = run(args.frames, args.particles, args.cells, progress=not args.no_progress)
    return 0 if result["flat"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
