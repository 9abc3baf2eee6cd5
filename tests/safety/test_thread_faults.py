"""The thread-fault suite: close() at random moments while other threads use the allocator.

Each case runs :mod:`tests.safety.fault_worker` in a subprocess, so a crash is a failed test, not
a dead test run: exit status 0 means no signal, no corrupted data in any thread, every refusal an
FA-coded error (FA015 once closed), and all memory released once the threads are done.
Scenarios: frame loops in ``nogil`` kernels (a frame per iteration, and one long frame: the case
that crashed), typed pools and size-class pools in kernels, scratch pools in kernels, Python
threads (frames, pools, stats), every public method called around close() while kernels run, and
all of them at once.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from .fault_worker import Run

SCENARIOS = ["frames", "typed", "classes", "scratch", "python", "api", "mixed"]
SEEDS = [1, 2, 3]
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

_results: dict = {}


def _run(scenario: str, seed: int) -> dict:
    env = dict(os.environ)
    env["NUMBA_NRT_STATS"] = "1"
    env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run([sys.executable, "-m", "tests.safety.fault_worker", scenario,
                           str(seed)], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, (
        f"{scenario}/{seed} exited with {proc.returncode} "
        f"({'signal ' + str(-proc.returncode) if proc.returncode < 0 else 'checks failed'})\n"
        f"stdout: {proc.stdout[-3000:]}\nstderr: {proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow      # a stress test: ~40 s in all
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_close_at_a_random_moment(scenario, seed):
    result = _run(scenario, seed)
    assert result["errors"] == []
    assert sum(result["iterations"].values()) > 0, "the workers never ran"
    _results[(scenario, seed)] = result


@pytest.mark.slow      # reads the stress runs above
def test_close_waited_for_running_kernels():
    """Across the runs above, close() found compiled calls in flight and deferred the release
    (the path that used to free memory under them)."""
    if not _results:
        pytest.skip("run together with test_close_at_a_random_moment")
    assert any(r["in_flight_at_close"] > 0 for r in _results.values())


def test_worker_checks_can_fail(monkeypatch):
    """The worker's own checks report a corrupted value (so exit status 0 means something)."""
    run = Run("frames", 0)
    run.counts["x"] = [1, 1]
    run.alloc.close()
    for name, out in run.counts.items():
        if out[1]:
            run.fail(f"{name}: {out[1]} corrupted values")
    assert run.errors == ["x: 1 corrupted values"]
