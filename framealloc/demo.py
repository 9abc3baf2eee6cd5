"""Particle demo: framealloc's frame arena against np.empty, side by side, in @njit kernels.

Run ``python -m framealloc.demo`` (``--help`` for options, ``--window`` to watch the particles,
``--gpu`` to run the particle update as a Vulkan compute shader on frame buffers against the CPU
``@njit`` version: ``framealloc.gpu.vk.compute``).
Two scenarios, each run twice per frame on its own copy of the particles: once with every
scratch array from the frame arena, once with the same arrays from ``np.empty``/``np.zeros``.
Both versions run the same arithmetic in the same order, so they must end with identical
particles (checked).

* **neighbours** (where allocation matters): 2-D particles stirred in a box and pushed apart
  by their neighbours. Each sub-step bins the particles into a grid (per-step scratch) and, per
  particle, makes six small temporaries: its neighbour list, the offsets, relative velocities,
  distances, weights and force, the way NumPy-style code is written.
* **fountain**: spawn/kill through a typed pool, a ``FrameMap`` neighbour grid, forces in frame
  arrays with one small temporary per particle, a ``FrameVec`` of the dead. Allocation is a
  small part of this frame, so the gain is small.

The kernels are module-level ``@njit(cache=True)`` functions (``framealloc._demo_kernels``):
the first run compiles them (tens of seconds), later runs load them from numba's cache.
The output is a table (framealloc vs np.empty: time per frame, allocations, memory), where the
gain comes from, and a PNG plot of frame time and memory of both versions.

From Python (``tests/core/test_demo.py`` runs this)::

    from framealloc import demo
    result = demo.run(frames=40, particles=500, spawn=50, progress=False, plot="demo.png")
    result.same, result.flat, result.scenarios["neighbours"].median_ms("numpy")
"""
from __future__ import annotations

import argparse
import itertools
import sys
import textwrap
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, TextIO

import numpy as np

import framealloc as fa
from framealloc._demo_window import WindowUnavailable

SCENARIOS = ("neighbours", "fountain")
DEFAULT_PLOT = "framealloc-demo.png"
COMPILING = "compiling kernels (first run only; later runs load them from numba's cache)..."


@dataclass
class ScenarioResult:
    """What one scenario measured, frame by frame (time in seconds, memory in bytes).

    ``framealloc_s``/``numpy_s``: each version's kernel time per frame (``numpy_s`` is empty
    without the baseline). ``reserved``: bytes of arena the allocator holds after each frame.
    ``frame_bytes``/``frame_allocations``: bytes and allocations the frame arena handed out in
    each frame, which is also what the np.empty version asks malloc for (and frees) each frame.
    ``live``: particles after each frame. ``nrt_framealloc``/``nrt_numpy``: NRT allocations
    (numba's runtime: malloc + meminfo) during one extra frame of each version, counted with
    numba's NRT statistics (None where this numba cannot count them).
    """

    name: str
    framealloc_s: list[float] = field(default_factory=list)
    numpy_s: list[float] = field(default_factory=list)
    reserved: list[int] = field(default_factory=list)
    frame_bytes: list[int] = field(default_factory=list)
    frame_allocations: list[int] = field(default_factory=list)
    live: list[int] = field(default_factory=list)
    nrt_framealloc: int | None = None
    nrt_numpy: int | None = None
    same: bool = True

    @property
    def frames(self) -> int:
        return len(self.framealloc_s)

    @property
    def growths(self) -> list[int]:
        """The frames after which the arena held more than after the frame before."""
        return [f for f in range(1, len(self.reserved)) if self.reserved[f] > self.reserved[f - 1]]

    @property
    def flat(self) -> bool:
        """The arena grew only for frames that asked for more than every frame before them:
        churn (the same scratch every frame) never makes it grow."""
        return all(self.frame_bytes[f] > max(self.frame_bytes[:f]) for f in self.growths)

    def median_ms(self, version: str) -> float:
        """Median time per frame of ``"framealloc"`` or ``"numpy"`` over the second half."""
        t = self.framealloc_s if version == "framealloc" else self.numpy_s
        return float(np.median(t[len(t) // 2:])) * 1e3 if t else float("nan")

    def _pairs(self) -> tuple[np.ndarray, np.ndarray]:
        half = len(self.numpy_s) // 2
        return np.array(self.framealloc_s[half:]), np.array(self.numpy_s[half:])

    @property
    def ratio(self) -> float:
        """np.empty time / framealloc time: the median over the second half of each frame's ratio.

        Both versions run back to back in every frame, so a frame slowed down by the machine
        (another process, an interrupt) is compared with a neighbour in time: the per-frame
        ratio is steadier than the ratio of the two medians on a busy machine.
        """
        t_fa, t_np = self._pairs()
        return float(np.median(t_np / t_fa)) if len(t_np) else float("nan")

    @property
    def saved_ms(self) -> float:
        """np.empty time - framealloc time per frame, the median over the second half."""
        t_fa, t_np = self._pairs()
        return float(np.median(t_np - t_fa)) * 1e3 if len(t_np) else float("nan")


@dataclass
class DemoResult:
    """The whole run: how long the kernels took to get ready, and each scenario's result."""

    kernels_s: float
    from_cache: bool
    scenarios: dict[str, ScenarioResult]
    plot: str | None = None

    @property
    def same(self) -> bool:
        return all(s.same for s in self.scenarios.values())

    @property
    def flat(self) -> bool:
        return all(s.flat for s in self.scenarios.values())


# -- kernels: compiled once, then loaded from numba's cache ---------------------------------------
def _kernels():
    from framealloc import _demo_kernels     # imports numba: only when the demo runs

    return _demo_kernels


def kernel_dispatchers(scenarios: Iterable[str] = SCENARIOS, baseline: bool = True) -> list:
    """The top-level ``@njit`` kernels the given scenarios call (their callees are compiled in)."""
    K = _kernels()
    names = {"neighbours": ["neighbours_step", "neighbours_step_numpy"],
             "fountain": ["frame_step", "frame_step_numpy"]}
    return [getattr(K, n) for s in scenarios for n in names[s][:2 if baseline else 1]]


def _ticker(out: TextIO, t0: float) -> Callable[[], None]:
    """On a terminal, rewrite the 'compiling' line with the seconds elapsed; returns a stop."""
    if not (hasattr(out, "isatty") and out.isatty()):
        print(COMPILING, file=out, flush=True)
        return lambda: None
    done = threading.Event()

    def tick():
        while not done.wait(1.0):
            print(f"\r{COMPILING} {time.perf_counter() - t0:.0f} s", end="", file=out, flush=True)

    print(COMPILING, end="", file=out, flush=True)
    thread = threading.Thread(target=tick, daemon=True)
    thread.start()

    def stop():
        done.set()
        thread.join()
        print(f"\r{COMPILING} {time.perf_counter() - t0:.1f} s", file=out, flush=True)
    return stop


def prepare_kernels(scenarios: Iterable[str] = SCENARIOS, baseline: bool = True,
                    out: TextIO = sys.stdout) -> tuple[float, bool]:
    """Compile the demo's kernels, or load them from numba's cache; print how long it took.

    Returns ``(seconds, from_cache)``: ``from_cache`` is True when every kernel was loaded from
    numba's cache (a cache hit and no compilation), as on every run after the first.
    """
    scenarios = list(scenarios)
    t0 = time.perf_counter()
    stop = _ticker(out, t0)
    try:
        K = _kernels()
        warm = fa.SmartAlloc()
        try:
            if "fountain" in scenarios:
                with warm.frame():
                    K.frame_step(warm, warm.typed_pool(K.PARTICLE, 16), 0, 1)
                if baseline:
                    pool = fa.TypedPool(K.PARTICLE, 16)
                    K.frame_step_numpy(pool, 0, 1)
                    pool.close()
            if "neighbours" in scenarios:
                pos, vel = K.neighbours_state(16)
                count = np.zeros(16, np.int32)
                with warm.frame():
                    K.neighbours_step(warm, pos, vel, count, 1)
                if baseline:
                    K.neighbours_step_numpy(pos, vel, count, 1)
        finally:
            warm.close()
    finally:
        stop()
    seconds = time.perf_counter() - t0
    kernels = kernel_dispatchers(scenarios, baseline)
    from_cache = all(sum(k.stats.cache_hits.values()) > 0 and not sum(k.stats.cache_misses.values())
                     for k in kernels)
    how = ("loaded from numba's cache" if from_cache
           else "compiled; numba cached them, the next run loads them in about a second")
    print(f"kernels ready in {seconds:.2f} s ({how})", file=out, flush=True)
    return seconds, from_cache


def _nrt_allocations(fn: Callable[[], object]) -> int | None:
    """NRT allocations (numba's runtime malloc) made by ``fn()``, or None if not countable."""
    try:
        from numba.core.runtime import _nrt_python as nrt
        enabled = nrt.memsys_stats_enabled()
        count = nrt.memsys_get_stats_alloc
    except (ImportError, AttributeError):
        return None
    if not enabled:
        nrt.memsys_enable_stats()
    try:
        before = count()
        fn()
        return count() - before
    finally:
        if not enabled:                 # leave numba as it was (a test suite may count leaks)
            nrt.memsys_disable_stats()


def _progress(iterable, total, enabled: bool, desc: str):
    if not enabled:
        return iterable
    try:
        from tqdm import tqdm
    except ImportError:
        return iterable
    return tqdm(iterable, total=total, unit="frame", desc=desc, leave=False, file=sys.stderr)


def _record(res: ScenarioResult, alloc: fa.SmartAlloc, before) -> None:
    after = alloc.stats().frame
    res.frame_bytes.append(after.allocated - before.allocated)
    res.frame_allocations.append(after.allocations - before.allocations)
    res.reserved.append(after.reserved)


# -- the scenarios ---------------------------------------------------------------------------------
def run_neighbours(frames: int | None = 300, particles: int = 4000, substeps: int = 2,
                   baseline: bool = True, progress: bool = True, window=None,
                   out: TextIO = sys.stdout) -> ScenarioResult:
    """The neighbours scenario (see the module's docstring); ``frames=None`` runs until the
    window is closed. ``window``: a ``ParticleWindow`` to draw the framealloc version in."""
    K = _kernels()
    res = ScenarioResult("neighbours")
    alloc = fa.SmartAlloc()
    pos, vel = K.neighbours_state(particles)
    count = np.zeros(particles, np.int32)
    pos_np, vel_np, count_np = pos.copy(), vel.copy(), count.copy()
    frame_iter = range(frames) if frames is not None else itertools.count()
    for f in _progress(frame_iter, frames, progress and window is None, "neighbours"):
        before = alloc.stats().frame
        with alloc.frame():
            t = time.perf_counter()
            K.neighbours_step(alloc, pos, vel, count, substeps)
            res.framealloc_s.append(time.perf_counter() - t)
        _record(res, alloc, before)
        if baseline:
            t = time.perf_counter()
            K.neighbours_step_numpy(pos_np, vel_np, count_np, substeps)
            res.numpy_s.append(time.perf_counter() - t)
        res.live.append(particles)
        if window is not None:
            if f == 0:
                print(f"window open ({window.driver}): Esc or close it to stop", file=out,
                      flush=True)
            last = slice(-60, None)
            t_fa = np.median(res.framealloc_s[last]) * 1e3
            t_np = f"{np.median(res.numpy_s[last]) * 1e3:.2f} ms" if baseline else "-"
            lines = [f"frame {f}: {particles} particles, {substeps} sub-steps, "
                     f"{res.frame_allocations[-1]} temporaries",
                     f"framealloc {t_fa:.2f} ms   np.empty {t_np}   (kernel time per frame)",
                     "colour: neighbours 0 (blue) .. 6+ (red)    Esc: quit"]
            if not window.draw(pos, count, lines):
                break
    with alloc.frame():
        res.nrt_framealloc = _nrt_allocations(
            lambda: K.neighbours_step(alloc, pos, vel, count, substeps))
    if baseline:
        res.nrt_numpy = _nrt_allocations(
            lambda: K.neighbours_step_numpy(pos_np, vel_np, count_np, substeps))
        res.same = (np.array_equal(pos, pos_np) and np.array_equal(vel, vel_np)
                    and np.array_equal(count, count_np))
    alloc.close()
    return res


def run_fountain(frames: int = 300, spawn: int = 200, baseline: bool = True,
                 progress: bool = True) -> ScenarioResult:
    """The fountain scenario (see the module's docstring): ``spawn`` particles per frame."""
    K = _kernels()
    res = ScenarioResult("fountain")
    alloc = fa.SmartAlloc()
    pool = alloc.typed_pool(K.PARTICLE, 1024)
    pool_np = fa.TypedPool(K.PARTICLE, 1024) if baseline else None
    for f in _progress(range(frames), frames, progress, "fountain"):
        before = alloc.stats().frame
        with alloc.frame():
            t = time.perf_counter()
            K.frame_step(alloc, pool, f, spawn)
            res.framealloc_s.append(time.perf_counter() - t)
        _record(res, alloc, before)
        if baseline:
            t = time.perf_counter()
            K.frame_step_numpy(pool_np, f, spawn)
            res.numpy_s.append(time.perf_counter() - t)
        res.live.append(len(pool))
    with alloc.frame():
        res.nrt_framealloc = _nrt_allocations(lambda: K.frame_step(alloc, pool, frames, spawn))
    if baseline:
        res.nrt_numpy = _nrt_allocations(lambda: K.frame_step_numpy(pool_np, frames, spawn))
        a, b = pool.data[pool.alive], pool_np.data[pool_np.alive]
        res.same = (len(a) == len(b) and np.array_equal(pool.live_indices(), pool_np.live_indices())
                    and np.array_equal(a, b))
        pool_np.close()
    pool.close()
    alloc.close()
    return res


# -- report: table, where the gain comes from, plot ------------------------------------------------
def _kib(n: float) -> str:
    return f"{n / 1024:,.0f} KiB" if n < 10 * 2**20 else f"{n / 2**20:,.1f} MiB"


def _opt(n: int | None) -> str:
    return "n/a" if n is None else f"{n:,}"


def report(result: DemoResult, out: TextIO = sys.stdout) -> None:
    """Print the side-by-side table and, per scenario, where the difference comes from."""
    rows = list(result.scenarios.values())
    baseline = all(r.numpy_s for r in rows)
    print("\nframealloc vs np.empty: kernel time per frame, medians over the second half (each "
          "version on its own\ncopy of the particles, back to back in every frame; the ratio is "
          "the median of the per-frame ratios)", file=out)
    head = (f"{'scenario':<11}{'particles':>10}{'temporaries':>13}{'NRT allocs/frame':>22}"
            f"{'framealloc':>12}{'np.empty':>10}{'np.empty /':>12}")
    sub = f"{'':<11}{'(end)':>10}{'per frame':>13}{'framealloc':>12}{'np.empty':>10}" \
          f"{'ms':>12}{'ms':>10}{'framealloc':>12}"
    print(head, file=out)
    print(sub, file=out)
    for r in rows:
        t_fa, t_np = r.median_ms("framealloc"), r.median_ms("numpy")
        ratio = f"{r.ratio:.2f}x" if baseline else "-"
        print(f"{r.name:<11}{r.live[-1]:>10,}{r.frame_allocations[-1]:>13,}"
              f"{_opt(r.nrt_framealloc):>12}{_opt(r.nrt_numpy) if baseline else '-':>10}"
              f"{t_fa:>12.3f}{t_np if baseline else float('nan'):>10.3f}{ratio:>12}", file=out)
    print("\nWhere the difference comes from:", file=out)
    for r in rows:
        n = r.frame_allocations[-1]
        grown = len(r.growths)
        mem = f"framealloc's arena holds {_kib(r.reserved[-1])}"
        if not r.flat:
            mem += ", NOT flat: it grew for a frame no larger than an earlier one"
        elif grown == 0:
            mem += " (its first chunk, never grown)"
        else:
            mem += (", grown once, for a frame larger than any before" if grown == 1 else
                    f", grown {grown} times, each for a frame larger than any before")
        if not baseline:
            print(textwrap.fill(f"* {r.name}: {n:,} temporaries per frame; {mem}.", 100,
                                subsequent_indent="  "), file=out)
            continue
        saved = r.saved_ms
        wrappers = ""
        if r.nrt_numpy is not None and r.nrt_framealloc == r.nrt_numpy - n:
            wrappers = ", the wrappers of the arrays passed in, which np.empty's count includes too"
        note = (f"* {r.name}: {n:,} temporaries per frame ({_kib(r.frame_bytes[-1])}). np.empty "
                f"makes each one an NRT allocation (malloc and a meminfo, then free; "
                f"{_opt(r.nrt_numpy)} counted in one frame); framealloc bumps a cursor in memory "
                f"it already holds (NRT allocations in one frame: {_opt(r.nrt_framealloc)}"
                f"{wrappers}). The frames differ by {saved:.3f} ms, "
                f"{saved * 1e6 / max(n, 1):.1f} ns per temporary, {1 - 1 / r.ratio:.0%} of the "
                f"np.empty frame; the rest is the same code in both. Memory: {mem}; np.empty "
                f"mallocs and frees the same bytes every frame.")
        print(textwrap.fill(note, 100, subsequent_indent="  "), file=out)
        print(f"  Same particles at the end: {'yes' if r.same else 'NO'}.", file=out)
    if baseline:
        print(textwrap.fill(
            "A frame gains only what it spent allocating: many small temporaries per particle "
            "(neighbours) gain more than one per particle (fountain). Timings on a shared machine "
            "move between runs: read the ratios.", 100), file=out)


def plot_results(result: DemoResult):
    """A matplotlib ``Figure``: per scenario, time per frame and memory of both versions."""
    from matplotlib.figure import Figure

    rows = list(result.scenarios.values())
    fig = Figure(figsize=(11, 3.4 * len(rows)), layout="constrained")
    axes = fig.subplots(len(rows), 2, squeeze=False)
    for r, (ax_t, ax_m) in zip(rows, axes):
        if r.numpy_s:
            ax_t.plot(np.array(r.numpy_s) * 1e3, label=f"np.empty ({r.median_ms('numpy'):.2f} ms)",
                      color="tab:orange", lw=0.8)
        ax_t.plot(np.array(r.framealloc_s) * 1e3,
                  label=f"framealloc ({r.median_ms('framealloc'):.2f} ms)", color="tab:blue",
                  lw=0.8)
        ax_t.set_title(f"{r.name}: kernel time per frame (medians over the second half)")
        ax_t.set_xlabel("frame")
        ax_t.set_ylabel("ms")
        ax_t.set_ylim(bottom=0)
        ax_t.legend(loc="upper left")
        kib = 1 / 1024
        ax_m.plot(np.array(r.frame_bytes) * kib, color="tab:orange", lw=1,
                  label="np.empty: malloc'd and freed per frame (same bytes as framealloc hands "
                        "out)" if r.numpy_s else "bytes handed out per frame")
        ax_m.plot(np.array(r.reserved) * kib, color="tab:blue", lw=2,
                  label="framealloc: arena held (reused every frame)")
        ax_m.set_title(f"{r.name}: scratch memory")
        ax_m.set_xlabel("frame")
        ax_m.set_ylabel("KiB")
        ax_m.set_ylim(bottom=0)
        ax_m.legend(loc="lower right", fontsize="small")
    return fig


# -- the whole demo --------------------------------------------------------------------------------
def run(frames: int | None = 300, spawn: int = 200, particles: int = 4000, substeps: int = 2,
        scenarios: Iterable[str] = SCENARIOS, baseline: bool = True, progress: bool = True,
        plot: str | None = DEFAULT_PLOT, window: bool = False, fps: int = 60,
        out: TextIO = sys.stdout) -> DemoResult:
    """Run the demo and print its report; returns the measurements (:class:`DemoResult`).

    ``plot``: where to save the PNG (None: no plot). ``window``: draw the neighbours scenario
    live with pygame (``framealloc[window]``); ``frames=None`` then runs until it is closed.
    """
    scenarios = list(scenarios)
    unknown = set(scenarios) - set(SCENARIOS)
    if unknown:
        raise ValueError(f"unknown scenario(s) {sorted(unknown)}: use {', '.join(SCENARIOS)}")
    if frames is None and not window:
        raise ValueError("frames=None (run until the window is closed) needs window=True")
    win = None
    if window:
        from framealloc._demo_window import ParticleWindow

        win = ParticleWindow(fps=fps)        # fails early (no pygame, no display), before compiling
        scenarios = ["neighbours"]
    try:
        seconds, cached = prepare_kernels(scenarios, baseline, out)
        results = {}
        for name in scenarios:
            if name == "neighbours":
                results[name] = run_neighbours(frames, particles, substeps, baseline, progress,
                                               win, out)
            else:
                results[name] = run_fountain(frames, spawn, baseline, progress)
    finally:
        if win is not None:
            win.close()
    result = DemoResult(seconds, cached, results)
    report(result, out)
    if plot:
        try:
            fig = plot_results(result)
        except ImportError:
            print("no plot: matplotlib is missing (pip install \"framealloc[demo]\")", file=out)
        else:
            fig.savefig(plot, dpi=100)
            result.plot = plot
            print(f"plot of frame times and memory: {plot}", file=out)
    return result


def _run_gpu(frames: int, particles: int) -> int:
    """``--gpu``: framealloc.gpu.vk.compute.run_demo, per-frame times and the CPU/GPU difference."""
    from framealloc.gpu import GpuError
    try:
        from framealloc.gpu.vk.compute import run_demo
        run = run_demo(frames, particles, out=sys.stdout)
    except GpuError as e:                # no Vulkan, no glslangValidator: the message says what
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0 if run.ok else 1


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m framealloc.demo",
                                description=__doc__.split("\n")[0])
    p.add_argument("--frames", type=int, default=None,
                   help="frames per scenario (default 300; with --window: until closed)")
    p.add_argument("--particles", type=int, default=4000, help="neighbours: particles")
    p.add_argument("--substeps", type=int, default=2, help="neighbours: sub-steps per frame")
    p.add_argument("--spawn", type=int, default=200, help="fountain: particles spawned per frame")
    p.add_argument("--scenario", choices=SCENARIOS + ("all",), default="all")
    p.add_argument("--no-baseline", action="store_true", help="skip the np.empty versions")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--plot", default=DEFAULT_PLOT, help=f"PNG to write (default {DEFAULT_PLOT})")
    p.add_argument("--no-plot", action="store_true")
    p.add_argument("--window", action="store_true",
                   help="draw the neighbours scenario live with pygame (framealloc[window])")
    p.add_argument("--fps", type=int, default=60, help="with --window: frames per second at most")
    p.add_argument("--gpu", action="store_true",
                   help="run the particle update as a Vulkan compute shader on frame buffers "
                        "instead, against the CPU @njit version (default 60 frames)")
    args = p.parse_args(argv)
    if args.gpu:
        return _run_gpu(args.frames if args.frames is not None else 60, args.particles)
    frames = args.frames if args.frames is not None else (None if args.window else 300)
    scenarios = SCENARIOS if args.scenario == "all" else (args.scenario,)
    try:
        result = run(frames, args.spawn, args.particles, args.substeps, scenarios,
                     baseline=not args.no_baseline, progress=not args.no_progress,
                     plot=None if args.no_plot else args.plot, window=args.window, fps=args.fps)
    except WindowUnavailable as e:       # no pygame, no display: the message says what to do
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0 if result.flat and result.same else 1


if __name__ == "__main__":
    raise SystemExit(main())
