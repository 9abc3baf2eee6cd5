"""Test-suite wide set-up: a fresh numba cache, NRT statistics, and CI's no-skip rule."""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile

# Before numba is imported anywhere: a cache of our own (numba's cache does not notice changes in
# other modules, so a stale one could test old code) and NRT allocation statistics for leak checks.
if "NUMBA_CACHE_DIR" not in os.environ:
    # Only when the caller gave none (scripts/test.sh does): a directory removed at exit.
    _cache = tempfile.mkdtemp(prefix="framealloc-numba-")
    os.environ["NUMBA_CACHE_DIR"] = _cache
    atexit.register(shutil.rmtree, _cache, True)
os.environ["NUMBA_NRT_STATS"] = "1"

import pytest  # noqa: E402

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """In CI (``CI=true``) a skipped test is a failure: every test, GPU ones included, must run."""
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where every test must run: {reason}"
