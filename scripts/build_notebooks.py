"""Writes notebooks/*.ipynb from the cell sources below and executes them, outputs included.

Run ``python scripts/build_notebooks.py`` (needs ``framealloc[notebooks,demo]``; a few minutes:
notebook 02 measures a cold compile) and commit the notebooks it writes: they are stored with
their outputs and inline PNG plots, so that they read as executed wherever they are rendered.
The cells live here so that their code stays reviewable as plain Python; the test suite checks
that the committed notebooks are what this script writes, and executes them again with small
parameters (``FRAMEALLOC_NB_SMALL=1``), checking that every plot is produced.

Options: ``--no-execute`` writes the cells without outputs; ``--small`` executes with the small
parameters (quick, for a look; not for committing); names (``01``, ``02_performance``) pick
notebooks.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

REPO = Path(__file__).resolve().parent.parent
ROOT = REPO / "notebooks"

QUICKSTART = [
    ("md", """# framealloc quickstart

Per-frame scratch memory for NumPy and Numba: a bump allocator whose views are ordinary
`ndarray`s, usable from Python and from inside your own `@njit` functions with the same object."""),
    ("code", """%matplotlib inline
import numpy as np
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
    ("md", """`frame_alloc_batch` is like `np.empty`: the records are **not initialised**. A new frame
reuses the memory of the last one, so they hold whatever the last frame wrote there: below, the
`1.0`s written to `pos` in the cell above. Set every field, or ask for `frame_zeros`."""),
    ("code", """PARTICLE = np.dtype([("pos", "f4", 3), ("vel", "f4", 3), ("life", "f4")])
with alloc.frame():
    ps = alloc.frame_alloc_batch(PARTICLE, 5)         # uninitialised, like np.empty
    print("left over from the last frame:", ps[0])
    zs = alloc.frame_zeros(5, PARTICLE)               # zero-filled, like np.zeros
    zs["life"] = 1.0
    print("frame_zeros:", zs[0])
    simd = alloc.frame_array(64, np.float32, align=64)
    print("64-byte aligned:", simd.ctypes.data % 64 == 0)"""),
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
        print("raised:", e)                    # the code, what happened and what to do
print()
print(fa.explain("FA008"))                     # the longer explanation of a code
small.close()"""),
    ("md", """## Stats
`alloc.stats()` counts every frame: bytes in use, the peak, what was handed out in total, and
the arena's reserved memory. Below, a loop whose frames need between 160 KiB and 3 MiB, more
than the first 1 MiB chunk: the arena grows to fit the largest frame, then serves every frame
from the same memory."""),
    ("code", """import json
import matplotlib.pyplot as plt

used, reserved = [], []
for f in range(60):
    with alloc.frame():
        for k in range(1 + (f * 7919) % 19):           # a varying number of 160 KiB arrays
            alloc.frame_array(40960, np.float32)
        used.append(alloc.stats().frame.current)
    reserved.append(alloc.stats().frame.reserved)
fig, ax = plt.subplots(figsize=(7, 3))
ax.plot(np.array(used) / 1024, label="in use at the end of the frame's work")
ax.plot(np.array(reserved) / 1024, label="arena reserved")
ax.set_xlabel("frame"); ax.set_ylabel("KiB"); ax.set_ylim(bottom=0); ax.legend()
steady = reserved.index(reserved[-1])
ax.set_title(f"frames of {min(used) // 1024}-{max(used) // 1024} KiB served from "
             f"{reserved[-1] // 1024} KiB reserved, unchanged after frame {steady}")
print(json.dumps(alloc.stats().to_dict()["frame"], indent=1))"""),
    ("md", """## Seeing where memory goes
In a notebook the allocator's figures display as tables. The allocator keeps the last frames'
figures (`alloc.history()`, 600 frames by default), `fa.plot_history(alloc, by="tag")` draws
them stacked by tag (or by kind), and `alloc.snapshot()` records stats, history, config and
threads in one object that saves as JSON (`snap.save("run.json")`); `python -m framealloc
report run.json -o report.html` turns that file into a self-contained page.
`docs/diagnostics.md` has the rest: traces for Perfetto, debug mode, the behaviour filter."""),
    ("code", """game = fa.SmartAlloc()              # a new allocator, so its history holds only this loop
for f in range(120):
    with game.frame():
        with game.tag("physics"):
            game.frame_array(2048 + 256 * (f % 40), np.float32)   # grows, then drops back
        with game.tag("render"):
            game.frame_zeros(4096, np.float64)
game.stats()"""),
    ("code", """ax = fa.plot_history(game, by="tag")
ax.set_title("bytes per frame by tag")"""),
    ("code", """snap = game.snapshot()
snap"""),
]

PERFORMANCE = [
    ("md", """# framealloc performance study

Frame allocation against `np.empty`, measured side by side in this notebook's run: the cost of
one allocation by size, frames per second of the demo's neighbours scenario by particle count,
compile time on the first and on later runs, and memory over time. Each plot ends with a
one-line conclusion computed from its own numbers. Absolute numbers depend on the machine (the
stored copy ran on a shared 2-core machine, where timings move between runs: read the ratios);
`docs/benchmarks.md` has the benchmark suite and its caveats. `FRAMEALLOC_NB_SMALL=1` runs it
with small parameters (the test suite does)."""),
    ("code", """%matplotlib inline
import io, os, platform, subprocess, sys, tempfile, time
import numpy as np
import numba
from numba import njit, prange
import matplotlib.pyplot as plt
import framealloc as fa
from framealloc import demo

SMALL = os.environ.get("FRAMEALLOC_NB_SMALL") == "1"
REPEATS = 3 if SMALL else 7
PER_FRAME = 200 if SMALL else 1000
FRAMES = 20 if SMALL else 200
SIZES = [1, 16, 256, 4096] if SMALL else [1, 4, 16, 64, 256, 1024, 4096, 16384]
alloc = fa.SmartAlloc()
print(f"numpy {np.__version__}, numba {numba.__version__}, Python {platform.python_version()}, "
      f"{os.cpu_count()} CPUs, {platform.machine()}" + (" (small parameters)" if SMALL else ""))

def best_time(fn, *args):
    # the fastest of REPEATS runs, after one that warms the JIT and the arena: on a shared
    # machine the fastest run is the one least disturbed by other processes
    fn(*args)
    times = []
    for _ in range(REPEATS):
        t = time.perf_counter(); fn(*args); times.append(time.perf_counter() - t)
    return min(times)"""),
    ("md", """## 1. One allocation, by size (inside `@njit`)
A loop of frames, each making `PER_FRAME` arrays and writing one element of each, with
`alloc.frame_array` and with `np.empty`."""),
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
fa_ns = np.array([best_time(with_frames, alloc, FRAMES, PER_FRAME, s) / n * 1e9 for s in SIZES])
np_ns = np.array([best_time(with_numpy, FRAMES, PER_FRAME, s) / n * 1e9 for s in SIZES])
nbytes = [4 * s for s in SIZES]
for b, x, y in zip(nbytes, fa_ns, np_ns):
    print(f"{b:7d} B: frame_array {x:6.2f} ns   np.empty {y:7.2f} ns   {y / x:5.1f}x")
ratio = np_ns / fa_ns
small_r, large_r = ratio[:len(ratio) // 2].mean(), ratio[len(ratio) // 2:].mean()
conclusion = (f"frame_array is {small_r:.0f}x faster than np.empty up to {nbytes[len(ratio) // 2 - 1]} "
              f"B, {large_r:.1f}x from {nbytes[len(ratio) // 2]} B (a bump walks fresh memory; "
              f"malloc reuses a hot block)")
fig, ax = plt.subplots(figsize=(7, 4))
ax.loglog(nbytes, np_ns, "o-", color="tab:orange", label="np.empty in @njit")
ax.loglog(nbytes, fa_ns, "o-", color="tab:blue", label="alloc.frame_array in @njit")
ax.set_xlabel("bytes per allocation"); ax.set_ylabel("ns per allocation"); ax.legend()
ax.set_title(conclusion, fontsize=9)
print("Conclusion:", conclusion)"""),
    ("md", """## 2. Frames per second by particle count
The demo's *neighbours* scenario (`python -m framealloc.demo`): per particle and sub-step a
neighbour list and five more small temporaries, per sub-step four scratch arrays. Both versions
run back to back in every frame on their own copy of the particles; the ratio is the median of
the per-frame ratios. A frame gains only what it spends allocating, so expect far less than in
section 1."""),
    ("code", """counts = [250, 1000, 4000] if SMALL else [500, 1000, 2000, 4000, 8000, 16000]
frames = 12 if SMALL else 80
fps_fa, fps_np, ratios = [], [], []
for n in counts:
    r = demo.run_neighbours(frames=frames, particles=n, progress=False)
    assert r.same
    fps_fa.append(1e3 / r.median_ms("framealloc"))
    fps_np.append(1e3 / r.median_ms("numpy"))
    ratios.append(r.ratio)
    print(f"{n:6d} particles: framealloc {fps_fa[-1]:7.0f} fps, np.empty {fps_np[-1]:7.0f} fps, "
          f"{r.ratio:.2f}x ({r.frame_allocations[-1]:,} temporaries per frame)")
slope = np.log(fps_fa[-1] / fps_fa[0]) / np.log(counts[-1] / counts[0])
conclusion = (f"framealloc runs {min(ratios):.2f}-{max(ratios):.2f}x the frame rate of np.empty; "
              f"frames per second fall as particles^{slope:.1f}")
fig, ax = plt.subplots(figsize=(7, 4))
ax.loglog(counts, fps_np, "o-", color="tab:orange", label="np.empty scratch")
ax.loglog(counts, fps_fa, "o-", color="tab:blue", label="framealloc scratch")
ax.set_xlabel("particles"); ax.set_ylabel("frames per second (kernel time only)"); ax.legend()
ax.set_title(conclusion, fontsize=9)
print("Conclusion:", conclusion)"""),
    ("md", """## 3. Compile time: the first run and the next ones
Two fresh processes share an empty numba cache: the first compiles the demo's kernels (and
framealloc's own), the second loads them from the cache. This works because the demo's kernels
are module-level `@njit(cache=True)` functions: a function that closes over other jitted
functions gets a new cache key in every process and compiles again on every run."""),
    ("code", """code = ("import io; from framealloc import demo; "
        "print(demo.prepare_kernels(out=io.StringIO())[0])")
start = "import framealloc, framealloc.demo, framealloc._demo_kernels"
with tempfile.TemporaryDirectory() as cache:
    env = dict(os.environ, NUMBA_CACHE_DIR=cache)
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", start], env=env, check=True)
    startup = time.perf_counter() - t
    first, second = (float(subprocess.run([sys.executable, "-c", code], env=env, check=True,
                                          capture_output=True, text=True).stdout.split()[-1])
                     for _ in range(2))
print(f"process start and imports {startup:.2f} s; kernels ready: first run {first:.1f} s, "
      f"second run {second:.2f} s")
conclusion = (f"the first run compiles for {first:.0f} s; later runs load the kernels in "
              f"{second:.2f} s ({first / second:.0f}x less)")
fig, ax = plt.subplots(figsize=(7, 3))
ax.barh(["second run:\\nkernels from cache", "first run:\\nkernels compiled",
         "process start\\nand imports"], [second, first, startup],
        color=["tab:green", "tab:red", "tab:gray"])
ax.set_xlabel("seconds"); ax.set_title(conclusion, fontsize=9)
print("Conclusion:", conclusion)"""),
    ("md", """## 4. Memory over time
Both scenarios of the demo, frame by frame: the bytes of scratch each frame asks for (the
np.empty version mallocs and frees them; framealloc hands them out of its arena), and the
arena framealloc holds."""),
    ("code", """frames = 40 if SMALL else 300
runs = {"neighbours": demo.run_neighbours(frames=frames, particles=1000 if SMALL else 4000,
                                          progress=False),
        "fountain": demo.run_fountain(frames=frames, spawn=50 if SMALL else 200, progress=False)}
fig, axes = plt.subplots(1, 2, figsize=(12, 3.6))
notes = []
for ax, (name, r) in zip(axes, runs.items()):
    churn = np.cumsum(r.frame_bytes) / 2**20
    ax.plot(np.array(r.frame_bytes) / 2**20, color="tab:orange",
            label="scratch asked for in the frame (np.empty: malloc'd and freed)")
    ax.plot(np.array(r.reserved) / 2**20, lw=2, color="tab:blue", label="framealloc: arena held")
    ax.set_xlabel("frame"); ax.set_ylabel("MiB"); ax.set_ylim(bottom=0)
    ax.legend(loc="lower right")
    notes.append(f"{name}: arena {r.reserved[-1] / 2**20:.1f} MiB, "
                 f"grown {len(r.growths)}x; np.empty churned {churn[-1]:.0f} MiB")
    ax.set_title(notes[-1], fontsize=9)
grew = [name for name, r in runs.items() if r.reserved[-1] > r.reserved[0]]
assert all(r.flat for r in runs.values())
conclusion = (("the arena grew only for frames larger than any before (" + ", ".join(grew) + ")"
               if grew else "the arena kept its first chunk")
              + ", while np.empty mallocs and frees the same bytes every frame")
print("\\n".join(notes)); print("Conclusion:", conclusion)"""),
    ("md", """## 5. In `prange` (per-worker sub-arenas)
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
t_fa = best_time(prange_frames, alloc, FRAMES // 4 or 1, n)
t_np = best_time(prange_numpy, FRAMES // 4 or 1, n)
print(f"{numba.get_num_threads()} threads, {FRAMES // 4 or 1} frames of {n} allocations: "
      f"framealloc {t_fa * 1e3:.2f} ms, np.empty {t_np * 1e3:.2f} ms")
per = n * (FRAMES // 4 or 1)
print(f"Conclusion: in prange, np.empty takes {t_np / t_fa:.1f}x the time of frame_array "
      f"({t_np / per * 1e9:.1f} vs {t_fa / per * 1e9:.2f} ns per allocation, parallel start-up "
      f"included); with threads competing for few cores this ratio swings widely")"""),
    ("md", """## 6. From Python
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
conclusion = (f"from Python, frame_array takes {min(ratios):.1f}-{max(ratios):.1f}x the time of "
              f"np.empty: allocate inside @njit")
fig, ax = plt.subplots(figsize=(7, 3))
ax.bar([str(4 * s) for s in py_sizes], ratios)
ax.set_xlabel("bytes"); ax.set_ylabel("frame_array / np.empty time")
ax.set_title(conclusion, fontsize=9)
print("Conclusion:", conclusion)"""),
    ("md", """## 7. The demo's report
The table and plot `python -m framealloc.demo` prints and saves, for the runs of section 4."""),
    ("code", """result = demo.DemoResult(kernels_s=second, from_cache=True, scenarios=runs)
demo.report(result)
demo.plot_results(result)"""),
]


def build(cells) -> nbformat.NotebookNode:
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells = [new_markdown_cell(src) if kind == "md" else new_code_cell(src)
                for kind, src in cells]
    return nb


NOTEBOOKS = {"01_quickstart.ipynb": QUICKSTART, "02_performance.ipynb": PERFORMANCE}


def kernel_env(small: bool) -> dict[str, str]:
    """The environment of the notebook's kernel: this checkout's framealloc first on the path,
    matplotlib's inline backend (no MPLBACKEND from the caller), the size of the parameters."""
    env = dict(os.environ)
    env.pop("MPLBACKEND", None)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    if small:
        env["FRAMEALLOC_NB_SMALL"] = "1"
    else:
        env.pop("FRAMEALLOC_NB_SMALL", None)
    return env


def execute(nb: nbformat.NotebookNode, small: bool = False, timeout: int = 1800) -> None:
    """Run every cell of ``nb`` in a fresh kernel (in notebooks/), storing the outputs."""
    import nbclient

    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(kernel_env(small))        # the kernel inherits this process's environment
    try:
        nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                                resources={"metadata": {"path": str(ROOT)}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(saved)


def images(nb: nbformat.NotebookNode) -> list[tuple[int, str]]:
    """(cell index, base64 PNG) of every inline PNG in the outputs."""
    return [(i, o["data"]["image/png"]) for i, c in enumerate(nb.cells) if c.cell_type == "code"
            for o in c.get("outputs", []) if "image/png" in o.get("data", {})]


def problems(nb: nbformat.NotebookNode) -> list[str]:
    """What must not be stored: errors, and paths of this machine in the outputs."""
    found = []
    paths = {str(REPO), str(Path.home()), "/tmp/"}
    for i, c in enumerate(nb.cells):
        for o in c.get("outputs", []) if c.cell_type == "code" else []:
            if o.get("output_type") == "error":
                found.append(f"cell {i}: {o.get('ename')}: {o.get('evalue')}")
            text = str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", ""))
            found += [f"cell {i}: output names a machine path ({p})" for p in paths if p in text]
            if re.search(r"/(home|root|Users)/\w", text):
                found.append(f"cell {i}: output names a home directory")
    return found


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("names", nargs="*", help="notebooks to write (default: all), e.g. 01")
    p.add_argument("--no-execute", action="store_true", help="write the cells without outputs")
    p.add_argument("--small", action="store_true", help="execute with small parameters")
    args = p.parse_args(argv)
    ROOT.mkdir(exist_ok=True)
    for name, cells in NOTEBOOKS.items():
        if args.names and not any(name.startswith(n) for n in args.names):
            continue
        nb = build(cells)
        if not args.no_execute:
            print(f"executing {name}...", flush=True)
            execute(nb, small=args.small)
            bad = problems(nb)
            if bad:
                print(f"{name}: not written:\n  " + "\n  ".join(bad), file=sys.stderr)
                return 1
        nbformat.write(nb, ROOT / name)
        print(f"wrote notebooks/{name} ({len(images(nb))} PNG plots)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
