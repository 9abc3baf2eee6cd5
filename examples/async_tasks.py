"""Many asyncio tasks, each with its own frame arena (``async with alloc.task_frame():``).

Each task allocates scratch arrays (from Python and inside an @njit kernel), awaits between
steps while the other tasks run and allocate, and checks its data is still its own.
``python examples/async_tasks.py`` prints the per-task cost against the same tasks allocating
with ``np.empty``.

``framealloc lint`` knows that inside ``task_frame()`` the frame is the task's own: the data used
across ``await`` here is not reported (a ``with alloc.frame():`` block across an ``await`` is).
"""
from __future__ import annotations

import asyncio
import sys
import time

import numpy as np
from numba import njit

import framealloc as fa
from framealloc.integrations.tasks import task_arenas


@njit(cache=True)
def smooth(alloc, x):
    """A kernel that takes scratch from the task's arena."""
    out = alloc.frame_array(x.shape[0], np.float64)
    out[0] = x[0]
    for i in range(1, x.shape[0]):
        out[i] = 0.5 * (x[i] + out[i - 1])
    return out


async def job(alloc, k: int, n: int = 64) -> float:
    async with alloc.task_frame():
        x = alloc.frame_array(n, np.float64)
        x[:] = k
        await asyncio.sleep(0)                # other tasks allocate here
        y = smooth(alloc, x)
        await asyncio.sleep(0)
        assert (x == k).all() and y[-1] == k
        return float(y.sum())


async def job_plain(k: int, n: int = 64) -> float:
    x = np.empty(n, np.float64)
    x[:] = k
    await asyncio.sleep(0)
    y = np.empty(n, np.float64)
    y[0] = x[0]
    for i in range(1, n):
        y[i] = 0.5 * (x[i] + y[i - 1])
    await asyncio.sleep(0)
    assert (x == k).all() and y[-1] == k
    return float(y.sum())


async def job_light(alloc, k: int, n: int = 64) -> float:
    """Only a task frame and one Python frame_array: the per-task cost itself."""
    async with alloc.task_frame():
        x = alloc.frame_array(n, np.float64)
        x[:] = k
        await asyncio.sleep(0)
        return float(x[0])


async def job_light_plain(k: int, n: int = 64) -> float:
    x = np.empty(n, np.float64)
    x[:] = k
    await asyncio.sleep(0)
    return float(x[0])


def run(tasks: int = 1000, concurrent: int = 250, alloc=None):
    """Run ``tasks`` jobs, ``concurrent`` at a time; returns (results, alloc)."""
    alloc = alloc or fa.SmartAlloc(fa.AllocConfig(max_threads=concurrent + 8))

    async def main():
        out = []
        for start in range(0, tasks, concurrent):
            out += await asyncio.gather(*(job(alloc, k) for k in
                                          range(start, min(tasks, start + concurrent))))
        return out

    return asyncio.run(main()), alloc


def per_task_cost(tasks: int = 10_000, concurrent: int = 250, repeats: int = 3):
    """Best-of microseconds per task: {'light': (framealloc, np.empty), 'kernel': (...)}."""
    alloc = fa.SmartAlloc(fa.AllocConfig(max_threads=concurrent + 8))
    out = {}
    for name, fa_job, plain_job in (("light", job_light, job_light_plain),
                                    ("kernel", job, job_plain)):
        async def batch(make):
            for start in range(0, tasks, concurrent):
                await asyncio.gather(*(make(k) for k in range(start, start + concurrent)))

        best = [float("inf"), float("inf")]
        asyncio.run(batch(lambda k: fa_job(alloc, k)))      # warm: arenas made, kernel compiled
        for _ in range(repeats):
            for i, make in enumerate((lambda k: fa_job(alloc, k), plain_job)):
                t = time.perf_counter()
                asyncio.run(batch(make))
                best[i] = min(best[i], (time.perf_counter() - t) / tasks * 1e6)
        out[name] = tuple(best)
    return out


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    results, alloc = run(n)
    arenas = task_arenas(alloc)
    print(f"{len(results)} tasks, {arenas.created} arenas made, {arenas.taken} task frames, "
          f"frame bytes {alloc.stats().frame.allocated}")
    for name, (t_fa, t_plain) in per_task_cost().items():
        print(f"{name}: {t_fa:.1f} us per task with task_frame, {t_plain:.1f} us with np.empty "
              f"(+{t_fa - t_plain:.1f} us, {t_fa / t_plain:.2f}x)")
