"""The edges a user crosses (issue "fast at every edge"): frames and checkpoints per iteration,
frame calls from Python, the first call of a user kernel.

* E1/E2: a ``begin_frame(); end_frame()`` pair, and a ``frame_checkpoint(); rollback_to(cp)``
  pair, inside @njit with nothing allocated between (ns per pair; target <= 3 ns). E2 also
  times a ``scope_begin(); scope_end(s)`` pair (a nested scope is a checkpoint pair that pops
  itself: target within 1.2x of the checkpoint pair, measured in the same run).
* E3: the loop a user ports from a numba reproducer: one small temporary per iteration, scoped by
  a frame per iteration (framealloc), by a checkpoint per iteration inside one frame, or made by
  ``np.empty`` (target: the frame per iteration >= 5x faster than ``np.empty``).
* E4: ``begin_frame(); end_frame()`` from Python (target <= 0.5 us per pair).
* E5: the first call of a user kernel doing begin_frame / frame_array / end_frame, in a fresh
  process, with framealloc's own kernels already in numba's cache, against the same kernel with
  ``np.empty`` (target <= 1.5x); and the same with an empty cache (a new user's first run;
  target <= 3 s). The time is measured inside the process, around the first call only (the
  ratio table reads ``median_inside_s``; the benchmark's own time is the whole process).
* E7: the P2 particle batch with a tag and 4 budgets on, against the same without (target
  <= 1.2x): the budget lease a row takes must scale with the frame, not run out every few
  batches.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np
import pytest
from numba import njit

import framealloc as fa

from ._common import EMPTY, FRAME, label, timed

N = 100_000
PAIRS = "E1: begin_frame + end_frame pair in @njit"
CP_PAIRS = "E2: frame_checkpoint + rollback_to pair in @njit"
SCOPE = "framealloc (scope_begin + scope_end)"
PER_ITER = "E3: one 64 B temporary per loop iteration in @njit"
CHECKPOINT = "framealloc (checkpoint per iteration)"
PY_PAIRS = "E4: begin_frame + end_frame pair from Python"
FIRST_CALL = "E5: first call of a user kernel, fresh process, framealloc's kernels cached"
COLD = "E5: first call of a user kernel, fresh process, empty numba cache"
REPO = Path(__file__).resolve().parents[1]


@njit
def _frame_pairs(alloc, n):
    for _ in range(n):
        alloc.begin_frame()
        alloc.end_frame()


@njit
def _checkpoint_pairs(alloc, n):
    for _ in range(n):
        cp = alloc.frame_checkpoint()
        alloc.rollback_to(cp)


@njit
def _scope_pairs(alloc, n):
    for _ in range(n):
        s = alloc.scope_begin()
        alloc.scope_end(s)


@njit
def _frame_per_iteration(alloc, n):
    acc = 0.0
    for i in range(n):
        alloc.begin_frame()
        a = alloc.frame_array(16, np.float32)
        a[0] = i
        acc += a[0]
        alloc.end_frame()
    return acc


@njit
def _checkpoint_per_iteration(alloc, n):
    acc = 0.0
    for i in range(n):
        cp = alloc.frame_checkpoint()
        a = alloc.frame_array(16, np.float32)
        a[0] = i
        acc += a[0]
        alloc.rollback_to(cp)
    return acc


@njit
def _empty_per_iteration(n):
    acc = 0.0
    for i in range(n):
        a = np.empty(16, np.float32)
        a[0] = i
        acc += a[0]
    return acc


def test_frame_pair_njit(benchmark, alloc):
    timed(benchmark, lambda: _frame_pairs(alloc, N), group=PAIRS, competitor=FRAME, ops=N,
          unit="pair")
    assert not alloc.in_frame


@pytest.mark.parametrize("competitor", [FRAME, SCOPE])
def test_checkpoint_pair_njit(benchmark, alloc, competitor):
    fn = _checkpoint_pairs if competitor == FRAME else _scope_pairs
    with alloc.frame():
        timed(benchmark, lambda: fn(alloc, N), group=CP_PAIRS, competitor=competitor, ops=N,
              unit="pair")


@pytest.mark.parametrize("competitor", [FRAME, CHECKPOINT, EMPTY])
def test_one_temporary_per_iteration(benchmark, alloc, competitor):
    if competitor == FRAME:
        fn = lambda: _frame_per_iteration(alloc, N)  # noqa: E731
    elif competitor == CHECKPOINT:
        fn = lambda: _checkpoint_per_iteration(alloc, N)  # noqa: E731
    else:
        fn = lambda: _empty_per_iteration(N)  # noqa: E731
    if competitor == CHECKPOINT:
        with alloc.frame():     # the one frame the checkpoints scope into
            result = timed(benchmark, fn, group=PER_ITER, competitor=competitor, ops=N,
                           unit="iteration")
    else:
        result = timed(benchmark, fn, group=PER_ITER, competitor=competitor, ops=N,
                       unit="iteration")
    assert result == sum(range(N))


def test_frame_pair_python(benchmark, alloc):
    begin, end = alloc.begin_frame, alloc.end_frame

    def fn():
        for _ in range(1000):
            begin()
            end()
    timed(benchmark, fn, group=PY_PAIRS, competitor=FRAME, ops=1000, unit="pair")


# -- E5: compile time, in fresh processes ------------------------------------------------------

USER_SCRIPT = textwrap.dedent('''
    import json, sys, time
    import numpy as np
    import framealloc as fa
    from numba import njit
    alloc = fa.SmartAlloc()

    if sys.argv[1] == "framealloc":
        @njit
        def kernel(alloc, n):
            alloc.begin_frame()
            acc = 0.0
            for i in range(n):
                a = alloc.frame_array(16, np.float32)
                a[0] = i
                acc += a[0]
            alloc.end_frame()
            return acc
        t0 = time.perf_counter()
        kernel(alloc, 10)
    else:
        @njit
        def kernel(n):
            acc = 0.0
            for i in range(n):
                a = np.empty(16, np.float32)
                a[0] = i
                acc += a[0]
            return acc
        t0 = time.perf_counter()
        kernel(10)
    print(json.dumps(time.perf_counter() - t0))
''')


def _first_call(script: Path, competitor: str, cache: str) -> float:
    env = dict(os.environ, NUMBA_CACHE_DIR=cache,
               PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    out = subprocess.run([sys.executable, str(script), competitor], env=env, check=True,
                         capture_output=True, text=True, timeout=300).stdout
    return json.loads(out.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def user_script(tmp_path_factory):
    d = tmp_path_factory.mktemp("e5")
    (d / "user.py").write_text(USER_SCRIPT)
    warm = tempfile.mkdtemp(prefix="framealloc-e5-", dir=d)
    _first_call(d / "user.py", FRAME, warm)     # fills the cache with framealloc's kernels
    return d / "user.py", warm


@pytest.mark.parametrize("competitor", [FRAME, EMPTY])
def test_first_call_warm_cache(benchmark, user_script, competitor):
    """The user's kernel is compiled in every process (it is not cached); framealloc's are."""
    script, warm = user_script
    inside = []
    label(benchmark, group=FIRST_CALL, competitor=competitor, ops=1, unit="first call")
    benchmark.pedantic(lambda: inside.append(_first_call(script, competitor, warm)), rounds=3,
                       iterations=1)
    benchmark.extra_info["median_inside_s"] = statistics.median(inside)


@pytest.mark.parametrize("competitor", [FRAME, EMPTY])
def test_first_call_empty_cache(benchmark, user_script, competitor, tmp_path):
    script, _ = user_script
    caches = iter(range(100))

    inside = []

    def run():
        inside.append(_first_call(script, competitor, str(tmp_path / f"cache{next(caches)}")))
    label(benchmark, group=COLD, competitor=competitor, ops=1, unit="first call")
    benchmark.pedantic(run, rounds=2, iterations=1)
    benchmark.extra_info["median_inside_s"] = statistics.median(inside)


# -- E7: the P2 batch with a tag and 4 budgets on --------------------------------------------------
BUDGETED = "E7: P2 1000-particle batch in @njit, tag + 4 budgets on vs off"


@pytest.mark.parametrize("competitor", [FRAME + " (tag + 4 budgets)", FRAME])
def test_particle_batch_budgets(benchmark, competitor):
    from .test_njit_alloc import BATCH_FRAMES, BATCHES_PER_FRAME, particles_frame
    from .test_org import budgeted_alloc

    alloc = budgeted_alloc() if competitor != FRAME else fa.SmartAlloc()
    try:
        if competitor != FRAME:
            alloc.push_tag("bench")
        timed(benchmark, lambda: particles_frame(alloc, BATCH_FRAMES, BATCHES_PER_FRAME),
              group=BUDGETED, competitor=competitor, ops=BATCH_FRAMES * BATCHES_PER_FRAME,
              unit="batch")
    finally:
        if competitor != FRAME:
            alloc.pop_tag()
        alloc.close()
