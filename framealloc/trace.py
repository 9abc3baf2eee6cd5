"""Trace export: ``with alloc.trace("run.json"):`` writes the frames the calling thread ends in
the block as Chrome trace-event JSON, which Perfetto UI (ui.perfetto.dev) and chrome://tracing
open: each frame a slice on its thread, frame bytes per kind and per tag as counter tracks,
budget events and the behaviour filter's reports (FA51x) as instant events. It is read from the
frame history when the block exits, so tracing costs nothing per frame (frames past
``AllocConfig.history`` in one block are dropped: raise ``history`` for long traces).

Frames ended on the @njit fast path carry no timestamp; their slices are spread evenly between
the neighbouring frames that do (the trace says so in each such slice's ``args.timed``).

>>> import json, os, tempfile, numpy as np, framealloc as fa
>>> alloc = fa.SmartAlloc()
>>> path = os.path.join(tempfile.mkdtemp(), "run.json")
>>> with alloc.trace(path):
...     for n in range(3):
...         with alloc.frame():
...             _ = alloc.frame_array(100 * (n + 1), np.uint8)
>>> events = json.load(open(path))["traceEvents"]
>>> [e["args"]["frame"] for e in events if e["ph"] == "C" and e["name"] == "frame bytes by kind"]
[100, 200, 300]
"""
from __future__ import annotations

import json
import os
import time
from contextlib import contextmanager

import numpy as np

from .errors import error
from .kernels import status as ST

__all__ = ["trace", "events"]


def events(history, start_ns: float, stop_ns: float, budget_events=(), thread_name: str = "",
           pid: int = 1, behaviour_events=()) -> list:
    """The trace events of ``history`` (a FrameHistory) recorded between ``start_ns`` and
    ``stop_ns`` (``time.perf_counter_ns`` clock); budget events and the behaviour filter's
    reports (:class:`~framealloc.BehaviourEvent`) of its frames become instant events."""
    tid = history.thread_slot + 1
    out = [{"ph": "M", "name": "process_name", "pid": pid, "tid": 0,
            "args": {"name": "framealloc"}},
           {"ph": "M", "name": "thread_name", "pid": pid, "tid": tid,
            "args": {"name": thread_name or f"slot {history.thread_slot}"}}]
    n = len(history)
    if n == 0:
        return out
    ends = history["end_ns"].astype(float)
    timed = ~np.isnan(ends)
    # Fast-path frames: spread between the known ends (the block's start and stop anchor them).
    xs = np.concatenate(([-1], np.flatnonzero(timed), [n]))
    ys = np.concatenate(([start_ns], ends[timed], [max(stop_ns, np.nanmax(ends) if
                                                        timed.any() else stop_ns)]))
    # Monotonic: the timestamp counter's calibration is good to a fraction of a per cent, so a
    # converted end may land a little before the block's start or its neighbour.
    filled = np.maximum.accumulate(np.interp(np.arange(n), xs, ys))
    begins = np.concatenate(([min(start_ns, filled[0])], filled[:-1]))
    frames = history["frame"].tolist()
    fb = history["frame_bytes"].tolist()
    ob = history["other_bytes"].tolist()
    tb = history["transparent_bytes"].tolist() if "transparent_bytes" in history.columns \
        else [0] * n
    for i in range(n):
        ts, te = begins[i] / 1e3, filled[i] / 1e3
        out.append({"ph": "X", "name": f"frame {frames[i]}", "cat": "frame", "pid": pid,
                    "tid": tid, "ts": ts, "dur": max(te - ts, 0.0),
                    "args": {"frame": frames[i], "bytes": fb[i],
                             "allocations": int(history["frame_allocations"][i]),
                             "peak": int(history["peak"][i]),
                             "heap_fallbacks": int(history["heap_fallbacks"][i]),
                             "timed": bool(timed[i])}})
        out.append({"ph": "C", "name": "frame bytes by kind", "pid": pid, "tid": tid, "ts": te,
                    "args": {"frame": fb[i], "pool/heap/scratch": max(ob[i], 0),
                             **({"transparent": tb[i]} if tb[i] else {})}})
        if history.tags:
            out.append({"ph": "C", "name": "frame bytes by tag", "pid": pid, "tid": tid,
                        "ts": te, "args": {(k or "(untagged)"): int(v[i])
                                           for k, v in history.tags.items()}})
    index = {f: i for i, f in enumerate(frames)}
    for ev in budget_events:
        found = index.get(ev.frame)
        if found is None or ev.thread_slot != history.thread_slot:
            continue
        i = found
        code = "FA155 soft" if ev.kind == "soft" else "FA154 hard"
        out.append({"ph": "i", "s": "t", "name": f"{code} budget {ev.budget}", "cat": "budget",
                    "pid": pid, "tid": tid,
                    "ts": begins[i] / 1e3,
                    "args": {"budget": ev.budget, "limit": ev.limit, "used": ev.used,
                             "request": ev.request, "frame": ev.frame}})
    for bev in behaviour_events:
        found = index.get(bev.frame)
        if found is None or bev.thread_slot != history.thread_slot:
            continue
        out.append({"ph": "i", "s": "t", "name": f"{bev.code} behaviour", "cat": "behaviour",
                    "pid": pid, "tid": tid, "ts": filled[found] / 1e3,
                    "args": {"code": bev.code, "message": bev.message, "frame": bev.frame,
                             "subject": bev.subject}})
    return out


def trace(alloc, path: str | os.PathLike):
    """``SmartAlloc.trace``: record the calling thread's frames in the block, write them to
    ``path`` when it exits (even on an exception). FA504 for a path that is not one (at the
    call), FA503 for a trace inside a trace."""
    if not isinstance(path, (str, os.PathLike)):
        raise error(ST.BAD_DIAG_ARG, what="trace path", value=repr(path)[:60],
                    fix="pass a file path (str or os.PathLike)")
    return _trace(alloc, path)


@contextmanager
def _trace(alloc, path):
    if getattr(alloc, "_tracing", False):
        raise error(ST.TRACE_STATE)
    ta = alloc._arena()
    first = alloc.frame_number + (0 if alloc.in_frame else 1)
    start = time.perf_counter_ns()
    alloc._tracing = True
    try:
        yield alloc
    finally:
        alloc._tracing = False
        stop = time.perf_counter_ns()
        h = alloc.history(ta.slot)
        keep = h["frame"] >= first
        from .history import FrameHistory
        sub = FrameHistory(h.data[keep], {k: v[keep] for k, v in h.tags.items()}, h.thread_slot)
        stats = alloc.stats()
        doc = {"traceEvents": events(sub, start, stop, stats.budget_events, ta.name,
                                     behaviour_events=alloc.behaviour_events),
               "displayTimeUnit": "ms",
               "otherData": {"framealloc": "frame history trace", "frames": len(sub)}}
        text = json.dumps(doc, allow_nan=False)    # one string: the C encoder (json.dump to a
        with open(path, "w", encoding="utf-8") as f:    # file streams through the Python one,
            f.write(text)                               # ~5x slower)

