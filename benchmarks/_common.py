"""Shared helpers: one way to warm up, label and time a benchmark."""
from __future__ import annotations

#: Competitor labels used across the suite (the ratio table looks rows up by them).
FRAME = "framealloc"
EMPTY = "np.empty"
CONTROL = "control"


def timed(benchmark, fn, *, group: str, competitor: str, ops: int, unit: str = "alloc", **info):
    """Warm ``fn`` up with explicit calls, then time it.

    The first call compiles and grows the arena to the frame's peak; the second touches the chunk
    that end_frame sized for that peak (first-touch page faults), so timing starts in steady state.

    ``ops`` is how many operations one call performs (``ns/op = median / ops``); ``group`` and
    ``competitor`` name the row and column of the ratio table (``benchmarks/run.py``).
    """
    fn()
    fn()
    label(benchmark, group=group, competitor=competitor, ops=ops, unit=unit, **info)
    return benchmark(fn)


def label(benchmark, *, group: str, competitor: str, ops: int, unit: str = "alloc", **info):
    benchmark.group = group
    benchmark.extra_info.update(competitor=competitor, ops=ops, unit=unit, **info)
