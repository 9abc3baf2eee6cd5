"""Writes notebooks/*.ipynb from the cell sources below (run: python scripts/build_notebooks.py).

The notebooks are generated so that their code stays reviewable as plain Python; outputs are not
stored (the test suite executes them with small parameters: FRAMEALLOC_NB_SMALL=1).
"""
from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parent.parent / "notebooks"

QUICKSTART = [
    ("md", """# framealloc quickstart

Per-frame scratch memory for NumPy and Numba: a bump allocator whose views are ordinary
`ndarray`s, usable from Python and from inside your own `@njit` functions with the same object."""),
    ("code", """import numpy as np
from numba import njit
import framealloc as fa

alloc = fa.SmartAlloc()          # defaults need no arguments
alloc"""),
    ("md", """## Frames
Everything allocated in a frame is released at once by `end_frame()` (O(1)). Views stay valid
memory (each keeps its chunk alive) but alias the next frame's allocations: keep nothing across
frames."""),
    ("code", """with alloc.frame():
    pos = alloc.frame_array((1000, 3), np.float32)      # like np.empty
    acc = alloc.frame_zeros(1000, np.float64)           # like np.zeros
    one = alloc.frame_alloc(np.int64)                   # a 0-d array
    pair = alloc.frame_alloc_2(np.float32)              # arrays of 2 / 4 / 8
    pos[:] = 1.0
    print(pos.shape, acc.sum(), one.shape, pair.shape)
    print(alloc.stats().frame.current, "bytes in use in this frame")
print(alloc.stats().frame.current, "bytes after end_frame; frame number", alloc.frame_number)"""),
    ("md", """## Records for particle systems and alignment"""),
    ("code", """PARTICLE = np.dtype([("pos", "f4", 3), ("vel", "f4", 3), ("life", "f4")])
with alloc.frame():
    ps = alloc.frame_alloc_batch(PARTICLE, 5)
    ps["life"] = 1.0
    simd = alloc.frame_array(64, np.float32, align=64)
    print(ps, simd.ctypes.data % 64)"""),
    ("md", """## The same object inside `@njit`
Pass the SmartAlloc itself; the method names are the same, and allocation is a few instructions."""),
    ("code", """@njit(cache=True)
def simulate(alloc, frames, n):
    total = 0.0
    for f in range(frames):
        alloc.begin_frame()
        ps = alloc.frame_alloc_batch(PARTICLE, n)
        forces = alloc.frame_zeros((n, 3), np.float32)
        for i in range(n):
            ps[i].life = 1.0
            forces[i, 1] = -9.8
        cp = alloc.frame_checkpoint()              # speculative scratch...
        tmp = alloc.frame_array(n, np.float64)
        tmp[:] = 2.0
        total += tmp.sum()
        alloc.rollback_to(cp)                      # ...undone
        alloc.end_frame()
    return total

simulate(alloc, 10, 100), alloc.frame_number"""),
    ("md", """## Checkpoints from Python"""),
    ("code", """with alloc.frame():
    with alloc.checkpoint_guard() as g:
        alloc.frame_array(100)
        # no g.commit(): rolled back at the end of the block
    print("after guard:", alloc.stats().frame.current)
    ok, value = alloc.speculative(lambda: alloc.frame_array(10).size)
    print("speculative:", ok, value, alloc.stats().frame.current)"""),
    ("md", """## Policies and errors
Every error carries an `FA` code; `fa.explain(code)` says what to do."""),
    ("code", """small = fa.SmartAlloc(fa.AllocConfig(on_frame_exhausted="error", frame_capacity=fa.KiB(4)))
with small.frame():
    print(small.try_frame_array(10_000, np.uint8))           # None: does not fit
    try:
        small.frame_array(10_000, np.uint8)
    except fa.ArenaExhaustedError as e:
        print(e.code, "->", fa.explain(e.code).splitlines()[0])
small.close()"""),
    ("md", """## Stats"""),
    ("code", """import json
print(json.dumps(alloc.stats().to_dict()["frame"], indent=1))"""),
]

PERFORMANCE = [
    ("md", """# framealloc performance

Frame allocation vs `np.empty`, inside `@njit`, in `prange`, and from Python. Ratios are measured
side by side in one run; absolute numbers depend on the machine (see `docs/benchmarks.md` for the
benchmark suite and its caveats). Set `FRAMEALLOC_NB_SMALL=1` for a quick run."""),
    ("code", """import os, time
import numpy as np
import numba
from numba import njit, prange
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import framealloc as fa

SMALL = os.environ.get("FRAMEALLOC_NB_SMALL") == "1"
REPEATS = 3 if SMALL else 7
PER_FRAME = 200 if SMALL else 1000
FRAMES = 20 if SMALL else 200
SIZES = [1, 16, 256, 4096] if SMALL else [1, 4, 16, 64, 256, 1024, 4096, 16384]
alloc = fa.SmartAlloc()

def best_median(fn, *args):
    fn(*args)                                   # warm the JIT and the arena
    times = []
    for _ in range(REPEATS):
        t = time.perf_counter(); fn(*args); times.append(time.perf_counter() - t)
    return float(np.median(times))"""),
    ("md", """## Inside `@njit`, across sizes"""),
    ("code", """@njit(cache=True)
def with_frames(alloc, frames, per_frame, size):
    s = 0.0
    for f in range(frames):
        alloc.begin_frame()
        for i in range(per_frame):
            a = alloc.frame_array(size, np.float32)
            a[0] = i
            s += a[0]
        alloc.end_frame()
    return s

@njit(cache=True)
def with_numpy(frames, per_frame, size):
    s = 0.0
    for f in range(frames):
        for i in range(per_frame):
            a = np.empty(size, np.float32)  # noqa: FA607 - the baseline
            a[0] = i
            s += a[0]
    return s

n = FRAMES * PER_FRAME
fa_ns = [best_median(with_frames, alloc, FRAMES, PER_FRAME, s) / n * 1e9 for s in SIZES]
np_ns = [best_median(with_numpy, FRAMES, PER_FRAME, s) / n * 1e9 for s in SIZES]
fig, ax = plt.subplots()
ax.loglog([4 * s for s in SIZES], np_ns, "o-", label="np.empty in @njit")
ax.loglog([4 * s for s in SIZES], fa_ns, "o-", label="alloc.frame_array in @njit")
ax.set_xlabel("bytes per allocation"); ax.set_ylabel("ns per allocation"); ax.legend()
for s, a, b in zip(SIZES, fa_ns, np_ns):
    print(f"{4 * s:7d} B: frame {a:7.2f} ns   np.empty {b:7.2f} ns   {b / a:5.1f}x")"""),
    ("md", """## In `prange` (per-worker sub-arenas)
`np.empty` gets an index-dependent size so numba cannot hoist it out of the loop."""),
    ("code", """@njit(parallel=True, cache=True)
def prange_frames(alloc, frames, n):
    out = np.zeros(n)
    for f in range(frames):
        alloc.begin_frame()
        for i in prange(n):
            a = alloc.frame_array(16 + (i & 1), np.float32)
            a[0] = i
            out[i] += a[0]
        alloc.end_frame()
    return out

@njit(parallel=True, cache=True)
def prange_numpy(frames, n):
    out = np.zeros(n)
    for f in range(frames):
        for i in prange(n):
            a = np.empty(16 + (i & 1), np.float32)  # noqa: FA607 - the baseline
            a[0] = i
            out[i] += a[0]
    return out

n = 2_000 if SMALL else 20_000
t_fa = best_median(prange_frames, alloc, FRAMES // 4 or 1, n)
t_np = best_median(prange_numpy, FRAMES // 4 or 1, n)
print(f"{numba.get_num_threads()} threads: frame {t_fa * 1e3:.2f} ms, np.empty {t_np * 1e3:.2f} ms,"
      f" {t_np / t_fa:.1f}x")"""),
    ("md", """## From Python
A single allocation from Python cannot beat `np.empty` (a Python call plus one NumPy slice already
cost about what `np.empty` costs); it stays within a few times of it."""),
    ("code", """import timeit
py_sizes = SIZES[:3]
ratios = []
with alloc.frame():
    for s in py_sizes:
        k = 2_000 if SMALL else 20_000
        t_fa = min(timeit.repeat(lambda: alloc.frame_array(s, np.float32), number=k, repeat=3)) / k
        t_np = min(timeit.repeat(lambda: np.empty(s, np.float32), number=k, repeat=3)) / k
        ratios.append(t_fa / t_np)
        print(f"{4 * s:6d} B: frame_array {t_fa * 1e9:6.0f} ns, np.empty {t_np * 1e9:6.0f} ns")
fig, ax = plt.subplots()
ax.bar([str(4 * s) for s in py_sizes], ratios)
ax.set_xlabel("bytes"); ax.set_ylabel("frame_array time / np.empty time (Python)")"""),
    ("md", """## The particle demo: frame times, particles and memory
Spawn/kill through a typed pool, neighbour grid in a FrameMap, forces in frame arrays; the same
simulation with `np.empty` scratch side by side (`python -m framealloc.demo`)."""),
    ("code", """from framealloc import demo
res = demo.run(frames=40 if SMALL else 300, spawn=50 if SMALL else 200, progress=False,
               report_every=0)
fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(13, 3.5))
ax1.plot(np.array(res["numpy_s"]) * 1e3, label="np.empty scratch")
ax1.plot(np.array(res["framealloc_s"]) * 1e3, label="framealloc scratch")
ax1.set_xlabel("frame"); ax1.set_ylabel("ms"); ax1.legend()
ax2.plot(res["live"]); ax2.set_xlabel("frame"); ax2.set_ylabel("live particles")
ax3.plot(np.array(res["reserved"]) / 1024); ax3.set_xlabel("frame"); ax3.set_ylabel("arena KiB reserved")
assert res["flat"] and res["same"]"""),
]


def build(cells) -> nbformat.NotebookNode:
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [new_markdown_cell(src) if kind == "md" else new_code_cell(src) for kind, src in cells]
    return nb


def main() -> None:
    ROOT.mkdir(exist_ok=True)
    for name, cells in (("01_quickstart.ipynb", QUICKSTART), ("02_performance.ipynb", PERFORMANCE)):
        nbformat.write(build(cells), ROOT / name)
        print("wrote", ROOT / name)


if __name__ == "__main__":
    main()
