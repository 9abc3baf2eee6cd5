"""Frame history: the last ``AllocConfig.history`` frames of each thread, as a structured array.

The kernels write one ``HISTORY`` entry per frame when it ends (the @njit fast path included:
four stores) and, when the end_frame kernel closes the frame (frames ended from Python, tagged
frames, heap fallbacks, budgets, prange workers), a ``HISTORY_DETAIL`` entry with the frame's
number, heap fallbacks, bytes per tag and a timestamp (see ``kernels/layout.py``). This module
reads both rings into :class:`FrameHistory`: one row per frame, oldest first, with the columns
of :data:`HISTORY_RECORD`.

>>> import numpy as np, framealloc as fa
>>> alloc = fa.SmartAlloc()
>>> for n in (1, 2, 3):
...     with alloc.frame():
...         _ = alloc.frame_array(100 * n, np.uint8)
>>> h = alloc.history()
>>> h["frame"].tolist(), h["frame_bytes"].tolist()
([1, 2, 3], [100, 200, 300])
"""
from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from .kernels.layout import HD_FALLBACKS, HD_FRAME, HI_PEAK, HIST_WORDS

__all__ = ["FrameHistory", "HISTORY_RECORD", "tick_ns"]

#: One frame of :class:`FrameHistory` (``-1`` or NaN: not known for that frame).
HISTORY_RECORD = np.dtype([
    ("frame", "<i8"),              # frame number on its thread
    ("frame_bytes", "<i8"),        # frame bytes in use when it ended
    ("frame_allocations", "<i8"),  # frame allocations made in it
    ("peak", "<i8"),               # highest frame position reached in it
    ("heap_fallbacks", "<i8"),     # 'heap' policy fallbacks in it
    ("other_bytes", "<i8"),        # pool, heap and scratch bytes charged in it by the thread
    ("other_allocations", "<i8"),  # their allocations (-1: frame ended on the @njit fast path)
    ("budget_events", "<i8"),      # soft and hard budget events of the frame (last 256 kept)
    ("transparent_bytes", "<i8"),  # bytes transparent frames served in it (fa.transparent)
    ("transparent_allocations", "<i8"),  # their arrays
    ("transparent_alive", "<i8"),  # debug mode: of those, alive when it ended (-1: not counted)
    ("end_ns", "<f8"),             # when it ended (time.perf_counter_ns clock; NaN: not read)
    ("frame_time_ns", "<f8"),      # end_ns minus the previous frame's (NaN: either not read)
])

_calibration: tuple | None = None
_cal_lock = threading.Lock()


def tick_ns() -> tuple[float, int, int]:
    """``(ns per tick, ticks0, ns0)``: converts the CPU timestamp counter the end_frame kernel
    records to the ``time.perf_counter_ns`` clock, ``ns = ns0 + (ticks - ticks0) * ratio``.
    Measured once per process (about 20 ms); ``(nan, 0, 0)`` where the CPU has no counter."""
    global _calibration
    if _calibration is None:
        with _cal_lock:
            if _calibration is None:
                from .kernels.arena import read_cycles
                c0, n0 = read_cycles(), time.perf_counter_ns()
                time.sleep(0.02)
                c1, n1 = read_cycles(), time.perf_counter_ns()
                ratio = (n1 - n0) / (c1 - c0) if c1 > c0 else math.nan
                _calibration = (ratio, c1, n1)
    return _calibration


@dataclass
class FrameHistory:
    """The frames one thread ended most recently (at most ``AllocConfig.history``), oldest
    first: ``data`` is a structured array of :data:`HISTORY_RECORD` (``h["frame_bytes"]``
    reads a column), ``tags`` maps each tag path to its frame bytes per frame (heap fallbacks
    included; ``""`` is the untagged root), ``thread_slot`` is the thread's slot.

    >>> import numpy as np, framealloc as fa
    >>> alloc = fa.SmartAlloc()
    >>> with alloc.frame(), alloc.tag("physics"):
    ...     _ = alloc.frame_array(64, np.uint8)
    >>> alloc.history().tags["physics"].tolist()
    [64]
    """

    data: np.ndarray
    tags: dict = field(default_factory=dict)
    thread_slot: int = 0

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, column: str) -> np.ndarray:
        return self.data[column]

    @property
    def columns(self) -> tuple:
        """The column names (:data:`HISTORY_RECORD`)."""
        return tuple(self.data.dtype.names or ())

    def _repr_html_(self) -> str:
        from .report import history_html
        return history_html(self)

    def to_dict(self) -> dict:
        """JSON-ready: each column as a list (NaN as None), the tags, the slot."""
        cols = {}
        for name in self.data.dtype.names or ():
            col = self.data[name]
            if col.dtype.kind == "f":
                cols[name] = [None if math.isnan(v) else float(v) for v in col.tolist()]
            else:
                cols[name] = col.tolist()
        return {"thread_slot": self.thread_slot, "columns": cols,
                "tags": {k: v.tolist() for k, v in self.tags.items()}}

    @classmethod
    def from_dict(cls, d: dict) -> "FrameHistory":
        """The inverse of :meth:`to_dict`."""
        cols = d["columns"]
        n = len(cols["frame"])
        data = np.zeros(n, HISTORY_RECORD)
        for name in HISTORY_RECORD.names or ():
            if name not in cols:        # written before the column existed
                data[name] = -1 if name == "transparent_alive" else 0
                continue
            vals = cols[name]
            if HISTORY_RECORD[name].kind == "f":
                vals = [math.nan if v is None else v for v in vals]
            data[name] = vals
        return cls(data, {k: np.asarray(v, np.int64) for k, v in d["tags"].items()},
                   int(d["thread_slot"]))


def read(org, frames, slot: int, limit: int) -> FrameHistory:
    """The history of thread slot ``slot`` (``org``: the OrgPart, ``frames``: the FramesPart)."""
    rings = org.history_rings.get(slot)
    if rings is None:
        return FrameHistory(np.zeros(0, HISTORY_RECORD), {}, slot)
    hot, detail = rings
    row = frames.rows[slot, 0]
    last = int(row["frame_number"]) - (1 if row["frame_open"] else 0)
    n = max(0, min(limit, last))
    numbers = np.arange(last - n + 1, last + 1, dtype=np.int64)
    # One entry before the first, for the cumulative columns' differences.
    prev = numbers[0] - 1 if n else 0
    idx_all = np.concatenate(([prev], numbers)) & (len(hot) - 1)
    h = hot[idx_all]
    d = detail[idx_all]
    have = d["frame"] == np.concatenate(([prev], numbers))
    if prev == 0:
        have[0] = True          # frame 0: before anything, every counter 0
        h = h.copy()
        d = d.copy()
        h[0] = 0
        d[0] = 0
    out = np.zeros(n, HISTORY_RECORD)
    out["frame"] = numbers
    out["frame_bytes"] = h["bytes"][1:]
    out["frame_allocations"] = h["allocations"][1:]
    out["peak"] = h["peak"][1:]
    out["heap_fallbacks"] = np.where(have[1:], d["fallbacks"][1:], 0)
    out["other_bytes"] = np.diff(h["other_bytes"])
    both = have[1:] & have[:-1]
    out["other_allocations"] = np.where(both, np.diff(d["other_count"]), -1)
    # A frame with transparent allocations always ends through the end_frame kernel (the hook
    # marks the organisation block), so a frame without a detail entry had none.
    out["transparent_bytes"] = np.where(have[1:], d["tp_bytes"][1:], 0)
    out["transparent_allocations"] = np.where(have[1:], d["tp_count"][1:], 0)
    out["transparent_alive"] = np.where(have[1:], d["tp_alive"][1:], -1)
    ratio, c0, n0 = tick_ns() if have[1:].any() else (math.nan, 0, 0)
    ticks = d["ticks"].astype(np.float64)
    ends = np.where(have & (d["ticks"] != 0), n0 + (ticks - c0) * ratio, math.nan)
    if prev == 0:
        ends[0] = math.nan
    out["end_ns"] = ends[1:]
    out["frame_time_ns"] = ends[1:] - ends[:-1]
    # Budget events recorded for this slot, by frame.
    org.deliver_events()
    events = org._tag_reg()["events"] if org._reg is not None else []
    if events and n:
        counts: dict = {}
        for ev in events:
            if ev.thread_slot == slot:
                counts[ev.frame] = counts.get(ev.frame, 0) + 1
        out["budget_events"] = [counts.get(int(f), 0) for f in numbers.tolist()]
    # Bytes per tag: detail entries carry them; a frame without one was all untagged.
    names = list(org._tag_reg()["names"]) if org._reg is not None else [""]
    tag_bytes = d["tag_bytes"][1:, :len(names)]
    tags = {}
    for t, name in enumerate(names):
        col = np.where(have[1:], tag_bytes[:, t], out["frame_bytes"] if t == 0 else 0)
        if t == 0 or col.any():
            tags[name] = col.astype(np.int64)
    return FrameHistory(out, tags, slot)


def recent(org, frames, slot: int, n: int):
    """The last ``n`` ended frames of thread slot ``slot``, read straight from its rings for the
    behaviour filter (cheaper than :func:`read`): ``(frames, peak, heap_fallbacks)`` as int64
    arrays, oldest first, or None while the slot has ended fewer than ``n`` frames or keeps no
    history that long."""
    rings = org.history_rings.get(slot)
    if rings is None or n <= 0:
        return None
    hot, detail = rings
    row = frames.rows[slot, 0]
    last = int(row["frame_number"]) - (1 if row["frame_open"] else 0)
    if last < n or n > len(hot):
        return None
    numbers = np.arange(last - n + 1, last + 1, dtype=np.int64)
    idx = numbers & (len(hot) - 1)
    d = detail[idx]
    fallbacks = np.where(d["frame"] == numbers, d["fallbacks"], 0)
    return numbers, hot["peak"][idx], fallbacks


def ring_words(org, slot: int):
    """The history rings of thread slot ``slot`` as flat int64 memoryviews, for reading a few
    entries fast: ``(rings, hot words, detail words, index mask, detail words per entry)``, or
    None without history. ``rings`` is the pair of arrays they view (a recycled slot keeps it)."""
    rings = org.history_rings.get(slot)
    if rings is None:
        return None
    hot, detail = rings
    hw = memoryview(hot.view(np.int64).reshape(-1)).cast("B").cast("q")
    dw = memoryview(detail.view(np.int64).reshape(-1)).cast("B").cast("q")
    return rings, hw, dw, len(hot) - 1, detail.dtype.itemsize // 8


def last_entry(words, last: int) -> tuple:
    """``(peak of frame last, peak of the frame before, heap fallbacks of frame last)`` from
    :func:`ring_words` (frame ``last`` ended): the behaviour filter's quick look."""
    _, hw, dw, mask, step = words
    i = last & mask
    peak = hw[i * HIST_WORDS + HI_PEAK]
    before = hw[((last - 1) & mask) * HIST_WORDS + HI_PEAK] if last > 1 else 0
    fb = dw[i * step + HD_FALLBACKS] if dw[i * step + HD_FRAME] == last else 0
    return peak, before, fb


def soft_budget_frames(org, slot: int) -> set:
    """Frame numbers of thread slot ``slot`` that passed a soft budget, among the budget events
    kept (the last 256)."""
    if org._reg is None:
        return set()
    org.deliver_events()
    return {ev.frame for ev in org._tag_reg()["events"]
            if ev.thread_slot == slot and ev.kind == "soft"}
