"""Particle-system demo: spawn/kill through a typed pool, per-frame scratch from the frame arena.

Run ``python -m framealloc.demo`` (``--help`` for options). Every frame, ``@njit`` kernels spawn
particles into a :class:`~framealloc.TypedPool`, bin them into a neighbour grid (a ``FrameMap``
of cell -> count), compute forces into frame arrays with a per-particle temporary, move them,
and collect the dead into a ``FrameVec`` before releasing them to the pool. The same simulation
with its scratch memory from ``np.empty``/``np.zeros`` runs side by side on its own pool; both
must produce the same particles. The output shows per-frame times and that framealloc's memory
stays flat once the loop is steady.
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np

import framealloc as fa

PARTICLE = np.dtype([("pos", "f4", 3), ("vel", "f4", 3), ("life", "f4")])
CELL = 0.25         # neighbour-grid cell size
DT = 1.0 / 60.0


def _build_kernels():
    from numba import njit

    @njit(cache=True)
    def cell_key(p):
        cx = np.int64(np.floor(p[0] / CELL))
        cy = np.int64(np.floor(p[1] / CELL))
        cz = np.int64(np.floor(p[2] / CELL))
        return (cx * 73856093) ^ (cy * 19349663) ^ (cz * 83492791)

    @njit(cache=True)
    def spawn(pool, frame, n):
        for k in range(n):
            i = pool.acquire()
            d = pool.data                       # re-read: acquire may grow the pool
            h = ((frame * 7919 + k * 104729) % 1000) / 1000.0
            d[i].pos[0] = 2.0 * h - 1.0
            d[i].pos[1] = 2.0
            d[i].pos[2] = 1.0 - 2.0 * h
            d[i].vel[0] = 0.5 - h
            d[i].vel[1] = 3.0 * h
            d[i].vel[2] = h - 0.5
            d[i].life = 1.0 + 2.0 * h

    @njit(cache=True)
    def integrate(d, idx, force, died):
        """Move particle ``idx[j]`` by ``force[j]``; ``died[j]`` tells whether it ran out of life."""
        for j in range(len(idx)):
            i = idx[j]
            for c in range(3):
                d[i].vel[c] += force[j, c] * DT
                d[i].pos[c] += d[i].vel[c] * DT
            if d[i].pos[1] < 0.0:               # bounce on the floor
                d[i].pos[1] = -d[i].pos[1]
                d[i].vel[1] = -0.6 * d[i].vel[1]
            d[i].life -= DT
            died[j] = d[i].life <= 0.0

    @njit(cache=True)
    def frame_step(alloc, pool, frame, spawn_n):
        """One frame (opened by the caller); every scratch array comes from the frame arena."""
        spawn(pool, frame, spawn_n)
        idx = pool.live_indices()
        n = len(idx)
        d = pool.data
        grid = alloc.frame_map(np.int64, np.int32, n)            # neighbour grid: cell -> count
        for j in range(n):
            key = cell_key(d[idx[j]].pos)
            grid[key] = grid.get(key, 0) + 1
        force = alloc.frame_zeros((n, 3), np.float32)
        for j in range(n):
            p = d[idx[j]].pos
            crowd = grid[cell_key(p)]
            tmp = alloc.frame_array(3, np.float32)               # a per-particle temporary
            tmp[0] = -0.3 * p[0] * crowd
            tmp[1] = -9.8
            tmp[2] = -0.3 * p[2] * crowd
            force[j, :] = tmp
        died = alloc.frame_array(n, np.bool_)
        integrate(d, idx, force, died)
        dead = alloc.frame_vec(np.int64, n)
        for j in range(n):
            if died[j]:
                dead.push(idx[j])
        for k in range(len(dead)):
            pool.release(dead[k])
        return len(grid)

    @njit(cache=True)
    def frame_step_numpy(pool, frame, spawn_n):
        """The same frame with np.empty/np.zeros scratch (same algorithms, same hash map)."""
        spawn(pool, frame, spawn_n)
        idx = pool.live_indices()
        n = len(idx)
        d = pool.data
        slots = 8
        while 2 * slots < 3 * n + 3:
            slots *= 2
        keys = np.empty(slots, np.int64)  # noqa: FA607 - the np.empty baseline
        used = np.zeros(slots, np.bool_)
        counts = np.zeros(slots, np.int32)
        cells = 0
        mask = slots - 1
        for j in range(n):
            key = cell_key(d[idx[j]].pos)
            s = (key * 0x9E3779B1) & mask
            while used[s] and keys[s] != key:
                s = (s + 1) & mask
            if not used[s]:
                used[s] = True
                keys[s] = key
                cells += 1
            counts[s] += 1
        force = np.zeros((n, 3), np.float32)
        for j in range(n):
            p = d[idx[j]].pos
            key = cell_key(p)
            s = (key * 0x9E3779B1) & mask
            while keys[s] != key:
                s = (s + 1) & mask
            crowd = counts[s]
            tmp = np.empty(3, np.float32)  # noqa: FA607 - the np.empty baseline
            tmp[0] = -0.3 * p[0] * crowd
            tmp[1] = -9.8
            tmp[2] = -0.3 * p[2] * crowd
            force[j, :] = tmp
        died = np.empty(n, np.bool_)
        integrate(d, idx, force, died)
        dead = np.empty(n, np.int64)
        nd = 0
        for j in range(n):
            if died[j]:
                dead[nd] = idx[j]
                nd += 1
        for k in range(nd):
            pool.release(dead[k])
        return cells

    return frame_step, frame_step_numpy


def _progress(iterable, total, enabled):
    if not enabled:
        return iterable
    try:
        from tqdm import tqdm
    except ImportError:
        return iterable
    return tqdm(iterable, total=total, unit="frame", leave=False, file=sys.stderr)


def run(frames: int = 300, spawn: int = 200, baseline: bool = True, progress: bool = True,
        report_every: int = 50, out=sys.stdout) -> dict:
    """Run the demo; returns per-frame timings (seconds), memory traces (bytes) and checks."""
    step, step_np = _build_kernels()
    alloc = fa.SmartAlloc()
    pool = alloc.typed_pool(PARTICLE, 1024)
    pool_np = fa.TypedPool(PARTICLE, 1024) if baseline else None

    t0 = time.perf_counter()
    warm = fa.SmartAlloc()
    with warm.frame():
        step(warm, warm.typed_pool(PARTICLE, 16), 0, 1)           # compile or load from cache
    if baseline:
        step_np(fa.TypedPool(PARTICLE, 16), 0, 1)
    warm.close()
    print(f"kernels ready in {time.perf_counter() - t0:.2f} s", file=out)
    print(f"{'frame':>6} {'live':>6} {'cells':>6} {'framealloc':>11} {'np.empty':>10} "
          f"{'arena KiB':>10} {'frame used KiB':>15} {'pool cap':>9}", file=out)

    t_fa, t_np, reserved, live = [], [], [], []
    for f in _progress(range(frames), frames, progress):
        with alloc.frame():
            t = time.perf_counter()
            cells = step(alloc, pool, f, spawn)
            t_fa.append(time.perf_counter() - t)
            frame_bytes = alloc.stats().frame.current
        if baseline:
            t = time.perf_counter()
            step_np(pool_np, f, spawn)
            t_np.append(time.perf_counter() - t)
        s = alloc.stats().frame
        reserved.append(s.reserved)
        live.append(len(pool))
        if report_every and (f % report_every == 0 or f == frames - 1):
            np_ms = f"{t_np[-1] * 1e3:7.3f} ms" if baseline else f"{'-':>10}"
            print(f"{f:6d} {len(pool):6d} {cells:6d} {t_fa[-1] * 1e3:8.3f} ms {np_ms} "
                  f"{s.reserved / 1024:10.0f} {frame_bytes / 1024:15.1f} {pool.capacity:9d}",
                  file=out)

    same = True
    if baseline:
        a, b = pool.data[pool.alive], pool_np.data[pool_np.alive]
        same = (len(a) == len(b) and np.array_equal(pool.live_indices(), pool_np.live_indices())
                and np.allclose(a["pos"], b["pos"]) and np.allclose(a["life"], b["life"]))
    steady = reserved[len(reserved) // 2:]
    flat = len(set(steady)) == 1
    st = alloc.stats()
    med_fa = float(np.median(t_fa[len(t_fa) // 2:])) * 1e3
    print(f"\n{frames} frames, {spawn} spawned per frame, {live[-1]} particles alive at the end",
          file=out)
    print(f"  framealloc : median {med_fa:7.3f} ms/frame (second half)", file=out)
    if baseline:
        med_np = float(np.median(t_np[len(t_np) // 2:])) * 1e3
        print(f"  np.empty   : median {med_np:7.3f} ms/frame ({med_np / med_fa:.2f}x framealloc); "
              f"same particles: {'yes' if same else 'NO'}", file=out)
    print(f"  frame arena: {st.frame.allocations} allocations, "
          f"{st.frame.allocated / 2**20:.1f} MiB handed out in total, "
          f"{st.frame.chunks_grown} chunk(s) grown, {reserved[-1] / 1024:.0f} KiB reserved "
          f"-> {'flat' if flat else 'NOT flat'} over the second half", file=out)
    print(f"  typed pool: {st.typed_pools.current_allocations} live records, capacity "
          f"{pool.capacity}, {st.typed_pools.reserved / 1024:.0f} KiB", file=out)
    pool.close()
    if pool_np is not None:
        pool_np.close()
    alloc.close()
    return {"framealloc_s": t_fa, "numpy_s": t_np, "reserved": reserved, "live": live,
            "flat": flat, "same": same}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m framealloc.demo",
                                description=__doc__.split("\n")[0])
    p.add_argument("--frames", type=int, default=300)
    p.add_argument("--spawn", type=int, default=200, help="particles spawned per frame")
    p.add_argument("--no-baseline", action="store_true", help="skip the np.empty version")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--report-every", type=int, default=50)
    args = p.parse_args(argv)
    result = run(args.frames, args.spawn, baseline=not args.no_baseline,
                 progress=not args.no_progress, report_every=args.report_every)
    return 0 if result["flat"] and result["same"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
