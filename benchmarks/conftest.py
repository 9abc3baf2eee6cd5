"""Benchmark-suite set-up: a fresh numba cache, NRT statistics off, machine info in the JSON."""
from __future__ import annotations

import os
import platform
import shutil
import tempfile

# Before numba is imported: numba's cache only notices changes to the cached function's own file,
# so a cache left over from an older framealloc could time old code. A cache of our own, removed
# at exit, unless the caller chose one.
if "NUMBA_CACHE_DIR" not in os.environ:
    _CACHE = tempfile.mkdtemp(prefix="framealloc-bench-numba-")
    os.environ["NUMBA_CACHE_DIR"] = _CACHE
else:
    _CACHE = None
# NRT statistics add atomic counters to every NRT allocation, which would slow np.empty down.
os.environ["NUMBA_NRT_STATS"] = "0"

import pytest  # noqa: E402


def _loadavg() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:  # not available on this platform
        return "?"


_LOAD_START = _loadavg()


def pytest_sessionfinish(session, exitstatus):
    if _CACHE is not None:
        shutil.rmtree(_CACHE, ignore_errors=True)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            info = dict(line.split(":", 1) for line in f if ":" in line)
        info = {k.strip(): v.strip() for k, v in info.items()}
        name = info.get("model name", platform.processor())
        return f"{name} (family {info.get('cpu family', '?')}, model {info.get('model', '?')})"
    except OSError:
        return platform.processor() or platform.machine()


def machine_summary() -> dict:
    """What the ratio table needs to say where it was measured."""
    import llvmlite
    import numba
    import numpy as np

    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        usable = os.cpu_count()
    return {
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpu_usable": usable,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "llvmlite": llvmlite.__version__,
        "numba_num_threads": numba.config.NUMBA_NUM_THREADS,
        "platform": platform.platform(),
        "loadavg_start": _LOAD_START,
        "loadavg_end": _loadavg(),
    }


def pytest_benchmark_update_machine_info(config, machine_info):
    machine_info["framealloc"] = machine_summary()


@pytest.fixture
def alloc():
    """A fresh allocator with default settings (stats are always on)."""
    import framealloc as fa

    a = fa.SmartAlloc()
    yield a
    a.close()
