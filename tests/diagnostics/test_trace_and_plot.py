"""Trace export (issue 14, item 5) and matplotlib plots (item 4)."""
from __future__ import annotations

import json

import jsonschema
import matplotlib
import numpy as np
import pytest
from numba import njit

import framealloc as fa

matplotlib.use("Agg")

#: The event types the trace writes (Chrome trace-event format, the fields we rely on).
_NUM = {"type": "number"}
TRACE_SCHEMA = {
    "type": "object", "required": ["traceEvents"],
    "properties": {"traceEvents": {"type": "array", "items": {"oneOf": [
        {"type": "object", "required": ["ph", "name", "pid", "tid", "args"],
         "properties": {"ph": {"const": "M"},
                        "name": {"enum": ["process_name", "thread_name"]},
                        "args": {"type": "object", "required": ["name"]}}},
        {"type": "object", "required": ["ph", "name", "cat", "pid", "tid", "ts", "dur", "args"],
         "properties": {"ph": {"const": "X"}, "ts": _NUM, "dur": {"type": "number", "minimum": 0},
                        "args": {"type": "object", "required": ["frame", "bytes"]}}},
        {"type": "object", "required": ["ph", "name", "pid", "tid", "ts", "args"],
         "properties": {"ph": {"const": "C"}, "ts": _NUM,
                        "args": {"type": "object", "additionalProperties": _NUM}}},
        {"type": "object", "required": ["ph", "s", "name", "pid", "tid", "ts"],
         "properties": {"ph": {"const": "i"}, "s": {"enum": ["t", "p", "g"]}, "ts": _NUM}},
    ]}}}}


@njit
def _njit_frames(alloc, tid, n):
    for i in range(n):
        alloc.begin_frame()
        alloc.frame_array(8 * (i + 1), np.uint8)
        if i % 2:
            alloc.push_tag(tid)
            alloc.frame_array(16, np.uint8)
            alloc.pop_tag()
        alloc.end_frame()


def _run(alloc, path):
    alloc.set_budget(soft=250)
    with pytest.warns(fa.BudgetWarning):
        with alloc.trace(path):
            for i in range(6):
                with alloc.frame(), alloc.tag("py"):
                    alloc.frame_array(50 * (i + 1), np.uint8)
            _njit_frames(alloc, alloc.tag_id("nj"), 10)


def test_trace_matches_the_format_and_rebuilds_the_history(tmp_path):
    alloc = fa.SmartAlloc()
    with alloc.frame():                       # before the block: not in the trace
        alloc.frame_array(999, np.uint8)
    path = tmp_path / "run.json"
    _run(alloc, path)
    doc = json.loads(path.read_text())
    jsonschema.validate(doc, TRACE_SCHEMA)
    ev = doc["traceEvents"]
    h = alloc.history()
    h = h.data[h["frame"] >= 2], {k: v[h["frame"] >= 2] for k, v in h.tags.items()}
    slices = [e for e in ev if e["ph"] == "X"]
    kinds = [e for e in ev if e["ph"] == "C" and e["name"] == "frame bytes by kind"]
    tags = [e for e in ev if e["ph"] == "C" and e["name"] == "frame bytes by tag"]
    # round trip: per-frame totals rebuilt from the trace equal the history
    assert [e["args"]["frame"] for e in slices] == h[0]["frame"].tolist()
    assert [e["args"]["frame"] for e in kinds] == h[0]["frame_bytes"].tolist()
    assert [e["args"]["bytes"] for e in slices] == h[0]["frame_bytes"].tolist()
    for name, col in h[1].items():
        assert [e["args"][name or "(untagged)"] for e in tags] == col.tolist()
    # slices are ordered, non-overlapping, on one thread
    ts = [(e["ts"], e["ts"] + e["dur"]) for e in slices]
    assert all(a[1] <= b[0] + 1e-6 for a, b in zip(ts, ts[1:]))
    # frames the end_frame kernel closed carry a clock (with a budget on, the @njit ones too)
    assert sum(e["args"]["timed"] for e in slices) == int((~np.isnan(h[0]["end_ns"])).sum())
    budget = [e for e in ev if e["ph"] == "i"]
    assert budget and all(e["name"].startswith("FA155") for e in budget)


def test_trace_inside_a_trace_is_fa503(tmp_path):
    alloc = fa.SmartAlloc()
    with alloc.trace(tmp_path / "a.json"):
        with pytest.raises(fa.DiagnosticsError) as e:
            with alloc.trace(tmp_path / "b.json"):
                pass
    assert e.value.code == "FA503"
    assert json.loads((tmp_path / "a.json").read_text())["traceEvents"]


@pytest.mark.parametrize("by", ["kind", "tag"])
def test_plot_history(tmp_path, by):
    alloc = fa.SmartAlloc()
    _run(alloc, tmp_path / "t.json")
    for source in (alloc, alloc.snapshot(), alloc.history()):
        ax = fa.plot_history(source, by=by)
        assert len(ax.patches) > 0 and ax.get_xlabel() == "frame"
    ax = alloc.snapshot().plot(by=by)
    n = len(alloc.history())
    assert len(ax.patches) == n * (2 if by == "kind" else len(alloc.history().tags))
    with pytest.raises(fa.DiagnosticsError) as e:
        fa.plot_history(alloc, by="colour")
    assert e.value.code == "FA504"


def test_plot_without_matplotlib_is_fa502(monkeypatch):
    import builtins
    real = builtins.__import__

    def no_mpl(name, *a, **k):
        if name.startswith("matplotlib"):
            raise ImportError(name)
        return real(name, *a, **k)
    monkeypatch.setattr(builtins, "__import__", no_mpl)
    with pytest.raises(fa.DiagnosticsError) as e:
        fa.plot_history(fa.SmartAlloc())
    assert e.value.code == "FA502"
