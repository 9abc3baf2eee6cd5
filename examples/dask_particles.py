"""A particle simulation split into chunks across Dask worker processes, each worker with its own
SmartAlloc (FrameAllocPlugin); the results equal a single-process run, the stats are merged.

``python examples/dask_particles.py`` runs it on a two-process LocalCluster and prints the merged
report and the overhead against the same chunks allocating with ``np.empty``. On a real cluster,
replace the LocalCluster by ``Client("tcp://scheduler:8786")``: nothing else changes.
"""
from __future__ import annotations

import time

import numpy as np
from numba import njit

import framealloc as fa
from framealloc.integrations.dask import FrameAllocPlugin, gather_report, get_alloc  # noqa: F401

STEPS = 50


@njit(cache=True)
def advance(pos, vel, force, dt):
    for i in range(pos.shape[0]):
        force[i] = -pos[i] - 0.05 * vel[i]
        vel[i] += force[i] * dt
        pos[i] += vel[i] * dt


def simulate(seed: int, n: int = 2000, alloc=None) -> float:
    """One chunk: ``n`` particles for STEPS frames; frame arrays from the worker's allocator."""
    alloc = alloc if alloc is not None else get_alloc()
    rng = np.random.default_rng(seed)
    state = rng.standard_normal((2, n))
    for _ in range(STEPS):
        with alloc.frame():
            pos = alloc.frame_array(n, np.float64)
            vel = alloc.frame_array(n, np.float64)
            force = alloc.frame_array(n, np.float64)
            pos[:], vel[:] = state
            advance(pos, vel, force, 0.01)
            state[0], state[1] = pos, vel
    return float(state[0].sum() + state[1].sum())


def simulate_plain(seed: int, n: int = 2000) -> float:
    """The same chunk with np.empty."""
    rng = np.random.default_rng(seed)
    state = rng.standard_normal((2, n))
    for _ in range(STEPS):
        pos, vel, force = np.empty(n), np.empty(n), np.empty(n)
        pos[:], vel[:] = state
        advance(pos, vel, force, 0.01)
        state[0], state[1] = pos, vel
    return float(state[0].sum() + state[1].sum())


def run(client, chunks: int = 8, n: int = 2000):
    """Run the chunks on the cluster; returns (results, merged report)."""
    client.register_plugin(FrameAllocPlugin(fa.AllocConfig()))
    results = client.gather(client.map(simulate, range(chunks), n=n, pure=False))
    return results, gather_report(client)


if __name__ == "__main__":
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True) as cluster, \
            Client(cluster) as client:
        results, report = run(client)
        local = fa.SmartAlloc()
        assert results == [simulate(s, alloc=local) for s in range(8)]
        print("results equal a single-process run;", len(report.workers), "workers")
        print("merged frame stats:", report.total["frame"])
        for addr, s in report.workers.items():
            print(f"  {addr}: {s.frame.frames_ended} frames, {s.frame.allocated} bytes")
        import os
        import tempfile
        page = os.path.join(tempfile.mkdtemp(), "dask_report.html")
        with open(page, "w", encoding="utf-8") as f:
            f.write(report.to_html())                 # the merged report, a table of workers
        print("merged HTML report:", page)
        for name, fn in (("framealloc", simulate), ("np.empty", simulate_plain)):
            client.gather(client.map(fn, range(8), pure=False))        # warm
            t = time.perf_counter()
            client.gather(client.map(fn, range(64), pure=False))
            print(f"{name}: {(time.perf_counter() - t) / 64 * 1e3:.2f} ms per chunk")
