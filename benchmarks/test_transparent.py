"""Transparent frames on three published numba programs, kernels untouched, call site changed.

Each program is timed twice in one run, side by side: as published (``kernel(...)``) and with
one frame around the call (``with alloc.frame(): kernel(...)``) inside a ``fa.transparent(alloc)``
scope entered once at start-up, as an application would. The kernels are re-typed in our own
words from the published programs:

* T1, numba issue 8101's allocation loop: ``for i in range(n): x += np.zeros_like(x)``;
* T2, the Lennard-Jones kernel of numba-examples written with array expressions: per particle,
  the displacement array, squared distances, inverse powers and forces are temporaries;
* T5, the NumPy half: a Python loop of small array expressions, one frame per step, in a
  ``fa.transparent(alloc, numpy=True)`` scope, against the same loop without frames (and with
  frames but NumPy's own handler, to show what the frames themselves cost);
* T3, the Black-Scholes example of numba's documentation/numba-examples, array-expression form,
  called per batch of options.

Costs (T4): an allocation loop compiled after the hook was installed vs the same loop compiled
before (outside any scope, and inside a scope with no frame open), and the cold compile time of
the Lennard-Jones kernel in fresh processes with and without the install (the hook cannot be
uninstalled within a process, and a process's first compile pays numba's own set-up, so each
process warms the compiler on another kernel first and times only the user kernel's compile).
"""
from __future__ import annotations

import inspect
import json
import os
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from numba import njit

from ._common import label, timed

T1 = "T1: numba#8101 `x += np.zeros_like(x)` loop"
T2 = "T2: Lennard-Jones forces, array expressions"
T3 = "T3: Black-Scholes, array expressions"
T4 = "T4: cost outside frames: np.empty(16) loop in @njit"
T5 = "T5: NumPy from Python, `a = x*y + z; b = a*a - x` per step"
PLAIN_NUMPY = "NumPy (plain loop)"
NUMPY_FRAMES = "transparent frame per step (numpy=True)"
FRAMES_ONLY = "frame per step, NumPy's own handler (numpy=False)"
NUMPY_ONE_FRAME = "one transparent frame around the loop (numpy=True)"
ORIGINAL = "numba (original call)"
WRAPPED = "transparent frame"
NO_ALLOC = "no allocation (the temporary preallocated: the ceiling)"
BEFORE = "compiled before install"
AFTER = "compiled after install, no scope"
NOFRAME = "compiled after install, scope open, no frame"
T4_COMPILE = "T4: cold compile of the Lennard-Jones kernel, fresh process"
COMPILE_PLAIN = "numba alone"
COMPILE_INSTALLED = "after fa.install_transparent()"
COMPILE_ROUNDS = 5
REPO = Path(__file__).resolve().parents[1]


# -- the programs (as published, re-typed) ---------------------------------------------------

def accumulate(x, n):
    for _ in range(n):
        x += np.zeros_like(x)
    return x


def accumulate_preallocated(x, z, n):
    """T1's work with no allocation at all: what any allocator could at best reach."""
    for _ in range(n):
        z[:] = 0
        x += z
    return x


def lj_forces(pos, eps, sigma):
    n = pos.shape[0]
    forces = np.zeros_like(pos)
    energy = 0.0
    s2 = sigma * sigma
    for i in range(n):
        d = pos[i] - pos
        r2 = (d * d).sum(axis=1)
        r2[i] = np.inf
        inv6 = (s2 / r2) ** 3
        energy += 4.0 * eps * (inv6 * inv6 - inv6).sum()
        mag = 24.0 * eps * (2.0 * inv6 * inv6 - inv6) / r2
        fx = (mag * d[:, 0]).sum()
        fy = (mag * d[:, 1]).sum()
        fz = (mag * d[:, 2]).sum()
        forces[i, 0] = fx
        forces[i, 1] = fy
        forces[i, 2] = fz
    return forces, 0.5 * energy


def _cnd(d):
    a1, a2, a3, a4, a5 = 0.31938153, -0.356563782, 1.781477937, -1.821255978, 1.330274429
    k = 1.0 / (1.0 + 0.2316419 * np.abs(d))
    ret = 0.3989422804014327 * np.exp(-0.5 * d * d) * \
        (k * (a1 + k * (a2 + k * (a3 + k * (a4 + k * a5)))))
    return np.where(d > 0, 1.0 - ret, ret)


def black_scholes(price, strike, years, rate, vol):
    sqrt_t = np.sqrt(years)
    d1 = (np.log(price / strike) + (rate + 0.5 * vol * vol) * years) / (vol * sqrt_t)
    d2 = d1 - vol * sqrt_t
    cnd1 = _cnd_jit(d1)
    cnd2 = _cnd_jit(d2)
    exp_rt = np.exp(-rate * years)
    call = price * cnd1 - strike * exp_rt * cnd2
    put = strike * exp_rt * (1.0 - cnd2) - price * (1.0 - cnd1)
    return call, put


def black_scholes_batches(price, strike, years, rate, vol, batch):
    total = 0.0
    for s in range(0, price.shape[0], batch):
        call, put = black_scholes_jit(price[s:s + batch], strike[s:s + batch],
                                      years[s:s + batch], rate, vol)
        total += call.sum() - put.sum()
    return total


def alloc_loop(n):
    acc = 0.0
    for i in range(n):
        a = np.empty(16, np.float32)
        a[0] = i
        acc += a[0]
    return acc


_cnd_jit = njit(_cnd)
black_scholes_jit = njit(black_scholes)


# -- set-up: compile the "before install" variants first, then install -------------------------

@pytest.fixture(scope="module")
def setup():
    import framealloc as fa
    from framealloc.transparent import transparent_status

    pre_installed = transparent_status().installed
    before_loop = njit(alloc_loop)
    before_loop(10)
    t0 = time.perf_counter()
    assert fa.install_transparent()
    install_s = time.perf_counter() - t0
    kernels = {
        "accumulate": njit(accumulate),
        "accumulate_preallocated": njit(accumulate_preallocated),
        "lj": njit(lj_forces),
        "bs": njit(black_scholes_batches),
        "after_loop": njit(alloc_loop),
    }
    alloc = fa.SmartAlloc()
    info = {"install_s": install_s, "hook_pre_installed": pre_installed}
    yield kernels, before_loop, alloc, info
    alloc.close()


def _pair(benchmark, setup, which, group, ops, call, **extra):
    import framealloc as fa

    kernels, _, alloc, info = setup
    if which == ORIGINAL:
        fn = call
        return timed(benchmark, fn, group=group, competitor=ORIGINAL, ops=ops, **extra, **info)
    with fa.transparent(alloc) as scope:
        def fn():
            with alloc.frame():
                return call()
        result = timed(benchmark, fn, group=group, competitor=WRAPPED, ops=ops, **extra, **info)
        assert scope.stats().served > 0
    return result


@pytest.mark.parametrize("n", [16, 1000])
@pytest.mark.parametrize("which", [ORIGINAL, WRAPPED, NO_ALLOC])
def test_t1_zeros_like_loop(benchmark, setup, which, n):
    kernels = setup[0]
    x = np.zeros(n)
    iters = 20000 if n <= 16 else 5000
    if which == NO_ALLOC:
        z = np.empty(n)
        fn = kernels["accumulate_preallocated"]
        timed(benchmark, lambda: fn(x, z, iters), group=f"{T1}, x of {n} float64",
              competitor=NO_ALLOC, ops=iters, unit="iteration", **setup[3])
        return
    _pair(benchmark, setup, which, f"{T1}, x of {n} float64", iters,
          lambda: kernels["accumulate"](x, iters), unit="iteration")


@pytest.mark.parametrize("n", [64, 256, 1024])
@pytest.mark.parametrize("which", [ORIGINAL, WRAPPED])
def test_t2_lennard_jones(benchmark, setup, which, n):
    kernels = setup[0]
    pos = np.random.default_rng(1).random((n, 3)) * n ** (1 / 3) * 1.5
    _pair(benchmark, setup, which, f"{T2}, N={n}", n,
          lambda: kernels["lj"](pos, 1.0, 1.0), unit="particle")


@pytest.mark.parametrize("batch", [64, 1024, 8192])
@pytest.mark.parametrize("which", [ORIGINAL, WRAPPED])
def test_t3_black_scholes(benchmark, setup, which, batch):
    kernels = setup[0]
    rng = np.random.default_rng(2)
    n = 65536
    price, strike, years = rng.uniform(5, 30, n), rng.uniform(1, 100, n), rng.uniform(0.25, 10, n)
    _pair(benchmark, setup, which, f"{T3}, batches of {batch} options", n,
          lambda: kernels["bs"](price, strike, years, 0.02, 0.30, batch), unit="option")


@pytest.mark.parametrize("which", [BEFORE, AFTER, NOFRAME])
def test_t4_cost_outside_frames(benchmark, setup, which):
    import framealloc as fa

    kernels, before_loop, alloc, info = setup
    n = 100_000
    fn = {BEFORE: before_loop, AFTER: kernels["after_loop"],
          NOFRAME: kernels["after_loop"]}[which]
    if which != NOFRAME:
        timed(benchmark, lambda: fn(n), group=T4, competitor=which, ops=n, **info)
        return
    with fa.transparent(alloc) as scope:
        timed(benchmark, lambda: fn(n), group=T4, competitor=which, ops=n, **info)
    assert scope.stats().served == 0 and scope.stats().outside > 0


COMPILE_SCRIPT = textwrap.dedent('''
    import json, sys, time
    import numpy as np
    from numba import njit

    @njit
    def warm_up(x):                 # numba's one-off set-up is not the user kernel's cost
        return (x * 2.0).sum()

    warm_up(np.zeros(3))
    install_s = 0.0
    if sys.argv[1] == "installed":
        import framealloc as fa
        t0 = time.perf_counter()
        assert fa.install_transparent()
        install_s = time.perf_counter() - t0

    {kernel}

    fn = njit(lj_forces)
    t0 = time.perf_counter()
    fn.compile("(float64[:, ::1], float64, float64)")
    print(json.dumps({{"compile_s": time.perf_counter() - t0, "install_s": install_s}}))
''')


@pytest.fixture(scope="module")
def compile_runs(tmp_path_factory):
    """Fresh processes compiling the Lennard-Jones kernel cold, with and without the install,
    alternated so that both see the same machine; framealloc's own kernels come from a warmed
    private numba cache, as in a user's second run."""
    d = tmp_path_factory.mktemp("t4c")
    script = d / "compile_lj.py"
    script.write_text(COMPILE_SCRIPT.format(kernel=inspect.getsource(lj_forces)))
    env = dict(os.environ, NUMBA_CACHE_DIR=str(d / "cache"),
               PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))

    def one(kind):
        out = subprocess.run([sys.executable, str(script), kind], env=env, check=True,
                             capture_output=True, text=True, timeout=600).stdout
        return json.loads(out.strip().splitlines()[-1])

    one("installed")                                    # fills the cache (probe, kernels)
    runs: dict = {COMPILE_PLAIN: [], COMPILE_INSTALLED: []}
    for _ in range(COMPILE_ROUNDS):
        runs[COMPILE_PLAIN].append(one("plain"))
        runs[COMPILE_INSTALLED].append(one("installed"))
    return runs, one


@pytest.mark.parametrize("which", [COMPILE_PLAIN, COMPILE_INSTALLED])
def test_t4_compile_time(benchmark, compile_runs, which):
    """The compile time of a user kernel with the hook installed vs without: the median of the
    alternated fresh processes and of the one this test runs (its wall time is pytest's figure),
    each timed inside; the one-off install in extra_info."""
    all_runs, one = compile_runs
    runs = all_runs[which]
    kind = "installed" if which == COMPILE_INSTALLED else "plain"
    label(benchmark, group=T4_COMPILE, competitor=which, ops=1, unit="compile")
    benchmark.pedantic(lambda: runs.append(one(kind)), rounds=1, iterations=1)
    benchmark.extra_info.update(
        median_inside_s=statistics.median(r["compile_s"] for r in runs),
        compile_s=[r["compile_s"] for r in runs],
        install_s=statistics.median(r["install_s"] for r in runs))


def numpy_steps(x, y, z, steps):
    acc = 0.0
    for _ in range(steps):
        a = x * y + z
        b = a * a - x
        acc += b[0]
    return acc


@pytest.mark.parametrize("n", [16, 1000])
@pytest.mark.parametrize("which", [PLAIN_NUMPY, NUMPY_FRAMES, FRAMES_ONLY, NUMPY_ONE_FRAME])
def test_t5_numpy_from_python(benchmark, setup, which, n):
    """What a NumPy user writes: a loop of small temporaries, one frame per step."""
    import framealloc as fa

    alloc, info = setup[2], setup[3]
    rng = np.random.default_rng(5)
    x, y, z = rng.random(n), rng.random(n), rng.random(n)
    steps = 200
    group = f"{T5}, {n} float64"
    if which == PLAIN_NUMPY:
        timed(benchmark, lambda: numpy_steps(x, y, z, steps), group=group, competitor=which,
              ops=steps, unit="step", **info)
        return

    def one_frame():
        with alloc.frame():
            return numpy_steps(x, y, z, steps)

    def framed():
        acc = 0.0
        for _ in range(steps):
            with alloc.frame():
                a = x * y + z
                b = a * a - x
                acc += b[0]
        return acc

    fn = one_frame if which == NUMPY_ONE_FRAME else framed
    with fa.transparent(alloc, numpy=which != FRAMES_ONLY) as scope:
        timed(benchmark, fn, group=group, competitor=which, ops=steps, unit="step", **info)
    assert (scope.stats().numpy > 0) == (which != FRAMES_ONLY)
