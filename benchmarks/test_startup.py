"""P7: a fresh process with a warm numba cache: ``import framealloc``, a SmartAlloc, first frame.

The user's code is a module with one ``@njit(cache=True)`` function making one frame allocation.
A first process fills a private numba cache (``NUMBA_CACHE_DIR`` in a temp folder); then fresh
processes are timed from the outside (wall time of the whole ``python user_script.py``, interpreter
start-up included). Each process also reports, from the inside, where its time went.

Also checked: ``import framealloc`` alone, that it imports neither numba nor llvmlite (so it
cannot compile anything), and that the warm-cache process compiles nothing (numba's compile event).
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ._common import label

REPO = Path(__file__).resolve().parents[1]
ROUNDS = 15

USER_KERNEL = textwrap.dedent('''
    import numpy as np
    from numba import njit


    @njit(cache=True)
    def first_alloc(alloc):
        a = alloc.frame_array(16, np.float32)
        a[0] = 1.0
        return a[0]
''')

USER_SCRIPT = textwrap.dedent('''
    import json, sys, time
    t0 = time.perf_counter()
    import framealloc as fa
    t1 = time.perf_counter()
    numba_at_import = "numba" in sys.modules or "llvmlite" in sys.modules
    alloc = fa.SmartAlloc()
    t2 = time.perf_counter()
    compiled = []
    if "--count-compiles" in sys.argv:
        from numba.core import event
        class Listener(event.Listener):
            def on_start(self, ev):
                compiled.append(str(ev.data.get("dispatcher", "?")))
            def on_end(self, ev):
                pass
        event.register("numba:compile", Listener())
    import user_kernel
    t3 = time.perf_counter()
    with alloc.frame():
        value = user_kernel.first_alloc(alloc)
    t4 = time.perf_counter()
    assert value == 1.0
    print(json.dumps({"import_framealloc": t1 - t0, "smartalloc": t2 - t1,
                      "import_user_module": t3 - t2, "first_frame": t4 - t3,
                      "total_inside": t4 - t0,
                      "numba_at_import": numba_at_import, "compiled": compiled}))
''')

IMPORT_ONLY = ("import sys, framealloc; "
               "print(int('numba' in sys.modules or 'llvmlite' in sys.modules))")


@pytest.fixture(scope="module")
def user_dir(tmp_path_factory):
    """A user project (script + cached kernel module) and a private numba cache, warmed once."""
    d = tmp_path_factory.mktemp("p7")
    (d / "user_kernel.py").write_text(USER_KERNEL)
    (d / "user_script.py").write_text(USER_SCRIPT)
    env = dict(os.environ)
    env["NUMBA_CACHE_DIR"] = str(d / "numba_cache")
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(d)] + (
        [env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env.pop("NUMBA_DISABLE_JIT", None)
    cold = _run([sys.executable, "user_script.py"], d, env)
    return d, env, cold


def _run(cmd, cwd, env):
    out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{cmd} failed:\n{out.stdout}\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_first_frame_warm_cache(benchmark, user_dir):
    d, env, cold = user_dir
    inside = []
    check = _run([sys.executable, "user_script.py", "--count-compiles"], d, env)

    def one_process():
        inside.append(_run([sys.executable, "user_script.py"], d, env))

    rounds = ROUNDS if benchmark.enabled else 1
    label(benchmark, group="P7: fresh process, warm numba cache", competitor="import + first frame",
          ops=1, unit="process")
    benchmark.pedantic(one_process, rounds=rounds, iterations=1)
    med = {k: statistics.median(r[k] for r in inside)
           for k in ("import_framealloc", "smartalloc", "import_user_module", "first_frame",
                     "total_inside")}
    benchmark.extra_info.update(
        inside_median_s=med, cold_cache_total_inside_s=cold["total_inside"],
        numba_at_import=any(r["numba_at_import"] for r in inside),
        compiled_with_warm_cache=check["compiled"])


def test_import_only(benchmark, user_dir):
    d, env, _ = user_dir
    flags = []

    def one_process():
        out = subprocess.run([sys.executable, "-c", IMPORT_ONLY], cwd=d, env=env,
                             capture_output=True, text=True, check=True)
        flags.append(out.stdout.strip() == "1")

    rounds = ROUNDS if benchmark.enabled else 1
    label(benchmark, group="P7: fresh process, warm numba cache", competitor="import framealloc",
          ops=1, unit="process")
    benchmark.pedantic(one_process, rounds=rounds, iterations=1)
    benchmark.extra_info.update(numba_at_import=any(flags),
                                importtime_top=_importtime_top(d, env))


def test_python_startup(benchmark, user_dir):
    """Control: an interpreter that imports only numpy."""
    d, env, _ = user_dir
    rounds = ROUNDS if benchmark.enabled else 1
    label(benchmark, group="P7: fresh process, warm numba cache", competitor="control",
          ops=1, unit="process", what="python -c 'import numpy'")
    benchmark.pedantic(lambda: subprocess.run([sys.executable, "-c", "import numpy"], cwd=d,
                                              env=env, check=True),
                       rounds=rounds, iterations=1)


def _importtime_top(d, env, n=8):
    """The slowest modules (cumulative µs) of ``python -X importtime -c 'import framealloc'``."""
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", "import framealloc"], cwd=d,
                         env=env, capture_output=True, text=True, check=True)
    rows = []
    for line in out.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            rows.append((int(parts[1]), parts[2].rstrip()))
    rows.sort(reverse=True)
    return [f"{us} us {name.strip()}" for us, name in rows[:n]]


def test_numpy_numba_startup(benchmark, user_dir):
    """Reference of the relative P7 target: an interpreter that imports numpy and numba."""
    d, env, _ = user_dir
    rounds = ROUNDS if benchmark.enabled else 1
    label(benchmark, group="P7: fresh process, warm numba cache", competitor="import numpy, numba",
          ops=1, unit="process", what="python -c 'import numpy, numba'")
    benchmark.pedantic(lambda: subprocess.run([sys.executable, "-c", "import numpy, numba"],
                                              cwd=d, env=env, check=True),
                       rounds=rounds, iterations=1)
