"""Matplotlib charts of the frame history (matplotlib is optional: FA502 without it).

>>> import numpy as np, framealloc as fa
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> alloc = fa.SmartAlloc()
>>> for n in range(5):
...     with alloc.frame():
...         _ = alloc.frame_array(100 * (n + 1), np.uint8)
>>> ax = fa.plot_history(alloc)
>>> ax.get_ylabel()
'bytes per frame'
"""
from __future__ import annotations

from .errors import error
from .kernels import status as ST

__all__ = ["plot_history"]


def _history_of(source):
    from .history import FrameHistory
    if isinstance(source, FrameHistory):
        return source, {}
    if isinstance(getattr(source, "history", None), list) and \
            isinstance(getattr(source, "stats", None), dict):       # a Snapshot
        from .report import _budget_lines
        return (source.history[0] if source.history else None), _budget_lines(source.stats)
    if callable(getattr(source, "history", None)) and callable(getattr(source, "stats", None)):
        from .report import _budget_lines
        return source.history(), _budget_lines(source.stats().to_dict())
    raise error(ST.BAD_DIAG_ARG, what="plot_history source", value=type(source).__name__,
                fix="pass a SmartAlloc, Snapshot or FrameHistory")


def plot_history(source, ax=None, by: str = "kind"):
    """Memory per frame of ``source`` (a SmartAlloc: the calling thread; a Snapshot: its first
    thread; or a FrameHistory) as stacked bars by ``"kind"`` or ``"tag"``, with each frame's
    peak and the total/frame budget limits; returns the matplotlib Axes."""
    if by not in ("kind", "tag"):
        raise error(ST.BAD_DIAG_ARG, what="by", value=repr(by)[:60], fix="pass 'kind' or 'tag'")
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise error(ST.NEEDS_PACKAGE) from None
    from .report import _series
    history, budgets = _history_of(source)
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 3.2))
    ax.set_xlabel("frame")
    ax.set_ylabel("bytes per frame")
    if history is None or len(history) == 0:
        ax.set_title("no frames in the history")
        return ax
    frames = history["frame"]
    bottom = None
    for name, vals in _series(history, by):
        ax.bar(frames, vals, width=1.0, bottom=bottom, label=name, linewidth=0)
        bottom = vals if bottom is None else [a + b for a, b in zip(bottom, vals)]
    ax.plot(frames, history["peak"], "k_", markersize=6, label="peak")
    for name, limit in budgets.items():
        ax.axhline(limit, color="#e15759", linestyle="--", linewidth=1, label=name)
    ax.legend(loc="upper left", fontsize=8, ncol=4)
    ax.margins(x=0.01)
    return ax
