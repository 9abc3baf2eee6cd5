"""Overhead of each integration against the same code without framealloc (docs/integrations.md).

``python benchmarks/integrations_overhead.py`` runs the loops of the examples in examples/ both
ways, best of several repeats, and prints one markdown table. Wall-clock figures of whole loops
(physics step, ECS frame, asyncio task, Dask chunk), not micro-benchmarks.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

import async_tasks  # noqa: E402
import ecs_particles  # noqa: E402
import physics_particles  # noqa: E402


def _row(name, unit, t_fa, t_plain):
    return (f"| {name} | {t_fa:.1f} {unit} | {t_plain:.1f} {unit} | {t_fa - t_plain:+.1f} {unit} "
            f"| {t_fa / t_plain:.2f}x |")


def dask_chunks(repeats: int = 3):
    import dask_particles as dp
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        client.register_plugin(dp.FrameAllocPlugin())
        best = {}
        for name, fn in (("fa", dp.simulate), ("plain", dp.simulate_plain)):
            client.gather(client.map(fn, range(8), pure=False))
            for _ in range(repeats):
                t = time.perf_counter()
                client.gather(client.map(fn, range(64), pure=False))
                best[name] = min(best.get(name, 1e9), (time.perf_counter() - t) / 64 * 1e3)
        return best["fa"], best["plain"]


def main() -> None:
    rows = ["| integration (loop) | with framealloc | without | difference | ratio |",
            "|---|---|---|---|---|"]
    t_fa, t_plain = physics_particles.overhead(200, 300, 5)
    rows.append(_row("pymunk: 200 balls, one step + contacts + @njit kernel per frame",
                     "us/frame", t_fa * 1e6, t_plain * 1e6))
    for phases in (True, False):
        t_fa, t_plain = ecs_particles.overhead(300, 20, 5, phases=phases)
        rows.append(_row(f"esper: ~1200 particles, 3 processors, phases {'on' if phases else 'off'}",
                         "us/frame", t_fa * 1e6, t_plain * 1e6))
    costs = async_tasks.per_task_cost(10_000, 250, 3)
    rows.append(_row("asyncio: task_frame + one frame_array vs np.empty", "us/task",
                     *costs["light"]))
    rows.append(_row("asyncio: task with 2 arrays + @njit kernel vs np.empty", "us/task",
                     *costs["kernel"]))
    t_fa, t_plain = dask_chunks()
    rows.append(_row("Dask: chunk of 2000 particles x 50 frames, 2 worker processes", "ms/chunk",
                     t_fa, t_plain))
    print("\n".join(rows))


if __name__ == "__main__":
    main()
