"""Snapshots: an allocator's statistics, frame history, configuration and threads at one moment,
saved and loaded as versioned JSON (``framealloc/schemas/snapshot-1.schema.json``), compared
with ``-``, rendered as an HTML report.

Loading a snapshot only parses JSON and checks it against the shipped schema: nothing is
unpickled, imported or executed, and a malformed or hostile file raises
:class:`~framealloc.SnapshotError` (FA500; FA501 for a format version this framealloc does not
read).

>>> import json, numpy as np, framealloc as fa
>>> alloc = fa.SmartAlloc()
>>> with alloc.frame():
...     _ = alloc.frame_array(1000, np.uint8)
>>> snap = alloc.snapshot(label="after one frame")
>>> again = fa.Snapshot.from_json(snap.to_json())
>>> again.stats["frame"]["allocated"], again.history[0]["frame_bytes"].tolist()
(1000, [1000])
"""
from __future__ import annotations

import json
import math
import os
import re
import sys
import time
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from importlib import resources
from typing import Any

from .errors import SnapshotError, error
from .kernels import status as ST
from .history import FrameHistory

__all__ = ["Snapshot", "SnapshotDiff", "SCHEMA_VERSION", "schema", "merge_snapshots"]

#: The format version this framealloc writes and reads.
SCHEMA_VERSION = 1
FORMAT = "framealloc-snapshot"
#: Largest snapshot file :meth:`Snapshot.load` reads (a report is for people, not a data lake).
MAX_BYTES = 256 << 20
_MAX_DEPTH = 32

_schema_cache: dict | None = None


def schema() -> dict:
    """The JSON Schema of the snapshot format (shipped with the package).

    >>> import framealloc as fa
    >>> fa.snapshot_schema()["properties"]["version"]
    {'const': 1}
    """
    global _schema_cache
    if _schema_cache is None:
        text = resources.files("framealloc").joinpath(
            f"schemas/snapshot-{SCHEMA_VERSION}.schema.json").read_text(encoding="utf-8")
        _schema_cache = json.loads(text)
    return _schema_cache


# -- a small JSON Schema checker: the subset the shipped schema uses ----------------------------

_TYPES = {
    "null": lambda v: v is None,
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)
    and math.isfinite(v),
    "string": lambda v: isinstance(v, str),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
}


def _resolve(root: dict, node: dict) -> dict:
    while "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/$defs/"), ref
        node = root["$defs"][ref[len("#/$defs/"):]]
    return node


def _check(root: dict, node: dict, value: Any, where: str, depth: int = 0) -> None:
    """Raise SnapshotError (FA500) where ``value`` does not match schema ``node``."""
    if depth > _MAX_DEPTH:
        raise SnapshotError(f"FA500: {where} is nested too deeply")
    node = _resolve(root, node)
    if "const" in node and (value != node["const"] or
                            isinstance(value, bool) != isinstance(node["const"], bool)):
        raise SnapshotError(f"FA500: {where} must be {node['const']!r}, got {_short(value)}")
    if "enum" in node and value not in node["enum"]:
        raise SnapshotError(f"FA500: {where} must be one of {node['enum']}, got {_short(value)}")
    types = node.get("type")
    if types is not None:
        types = [types] if isinstance(types, str) else types
        if not any(_TYPES[t](value) for t in types):
            raise SnapshotError(f"FA500: {where} must be {' or '.join(types)}, got "
                                f"{type(value).__name__}")
    if isinstance(value, str):
        if len(value) > node.get("maxLength", math.inf):
            raise SnapshotError(f"FA500: {where} is longer than {node['maxLength']} characters")
        if "pattern" in node:
            if not re.fullmatch(node["pattern"].strip("^$"), value):
                raise SnapshotError(f"FA500: {where} is not a code like FA155: {_short(value)}")
    elif isinstance(value, list) and "items" in node:
        for i, item in enumerate(value):
            _check(root, node["items"], item, f"{where}[{i}]", depth + 1)
    elif isinstance(value, dict):
        missing = [k for k in node.get("required", ()) if k not in value]
        if missing:
            raise SnapshotError(f"FA500: {where} lacks {', '.join(map(repr, missing))}")
        props = node.get("properties", {})
        extra = node.get("additionalProperties", True)
        for k, v in value.items():
            sub = props.get(k)
            if sub is None:
                if extra is False:
                    raise SnapshotError(f"FA500: {where} has an unknown field {_short(k)}")
                if extra is True:
                    continue
                sub = extra
            _check(root, sub, v, f"{where}.{k}", depth + 1)


def _short(v) -> str:
    r = repr(v)
    return r if len(r) <= 60 else r[:57] + "..."


def validate(data: Any) -> None:
    """Check decoded JSON against the snapshot schema; SnapshotError (FA500/FA501) if it does
    not match. Never evaluates anything it reads."""
    if isinstance(data, dict) and data.get("format") == FORMAT and \
            data.get("version") != SCHEMA_VERSION:
        raise error(ST.SNAPSHOT_VERSION, version=_short(data.get("version")))
    root = schema()
    _check(root, root, data, "snapshot")
    for h in data["history"]:
        cols = h["columns"]
        n = len(cols["frame"])
        if any(len(c) != n for c in cols.values()) or \
                any(len(t) != n for t in h["tags"].values()):
            raise SnapshotError("FA500: snapshot.history: columns of different lengths")


def _no_constants(name: str):
    raise SnapshotError(f"FA500: {name} is not JSON")


# -- the snapshot -------------------------------------------------------------------------------

@dataclass
class Snapshot:
    """An allocator at one moment (:meth:`SmartAlloc.snapshot`): ``stats`` (the dict of
    ``AllocStats.to_dict()``), ``history`` (a :class:`~framealloc.FrameHistory` per thread),
    ``config`` (the AllocConfig fields), ``warnings`` (diagnostics with their codes), ``label``
    and ``created_unix``.

    ``save(path)`` / ``Snapshot.load(path)`` write and read JSON; ``b - a`` (or ``b.diff(a)``)
    is a :class:`SnapshotDiff`; ``to_html()`` is a self-contained report; in Jupyter a snapshot
    displays as a compact table and timeline.

    >>> import framealloc as fa, tempfile, os
    >>> alloc = fa.SmartAlloc()
    >>> a = alloc.snapshot()
    >>> with alloc.frame():
    ...     _ = alloc.frame_array(64)
    >>> path = os.path.join(tempfile.mkdtemp(), "snap.json")
    >>> alloc.snapshot().save(path)
    >>> (fa.Snapshot.load(path) - a).stats["frame"]["allocated"]
    512
    """

    stats: dict
    history: list = field(default_factory=list)
    config: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)
    label: str = ""
    created_unix: float = 0.0
    framealloc_version: str = ""

    # -- JSON ---------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """The JSON document (format version :data:`SCHEMA_VERSION`)."""
        return {"format": FORMAT, "version": SCHEMA_VERSION,
                "framealloc_version": self.framealloc_version,
                "created_unix": float(self.created_unix), "label": self.label,
                "config": self.config, "stats": self.stats,
                "history": [h.to_dict() for h in self.history], "warnings": self.warnings}

    def to_json(self, indent: int | None = None) -> str:
        """The snapshot as JSON text."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def save(self, path: str | os.PathLike) -> None:
        """Write the snapshot to ``path`` as JSON (UTF-8)."""
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.to_json())

    @classmethod
    def from_dict(cls, data: Any) -> "Snapshot":
        """A snapshot from decoded JSON, checked against the schema (FA500/FA501)."""
        validate(data)
        return cls(stats=data["stats"], history=[FrameHistory.from_dict(h)
                                                 for h in data["history"]],
                   config=data["config"], warnings=data["warnings"], label=data["label"],
                   created_unix=float(data["created_unix"]),
                   framealloc_version=data["framealloc_version"])

    @classmethod
    def from_json(cls, text: str | bytes) -> "Snapshot":
        """A snapshot from JSON text (FA500 if it is not a valid snapshot)."""
        try:
            data = json.loads(text, parse_constant=_no_constants)
        except SnapshotError:
            raise
        except (ValueError, RecursionError, TypeError) as e:   # JSONDecodeError is a ValueError
            raise SnapshotError(f"FA500: not a JSON snapshot ({type(e).__name__}: "
                                f"{_short(str(e))}); pass a file written by Snapshot.save") \
                from None
        return cls.from_dict(data)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Snapshot":
        """Read a snapshot written by :meth:`save` (FA500 if the file is not one; at most
        256 MiB are read). Only parses JSON: safe on files from anyone."""
        with open(path, "rb") as f:
            raw = f.read(MAX_BYTES + 1)
        if len(raw) > MAX_BYTES:
            raise SnapshotError(f"FA500: {os.fspath(path)!r} is larger than {MAX_BYTES} bytes; "
                                "not a snapshot this reader opens")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise SnapshotError(f"FA500: {os.fspath(path)!r} is not UTF-8 text; pass a file "
                                "written by Snapshot.save") from None
        return cls.from_json(text)

    # -- comparing ----------------------------------------------------------------------------
    def diff(self, before: "Snapshot") -> "SnapshotDiff":
        """What changed from ``before`` to this snapshot (also ``self - before``)."""
        if not isinstance(before, Snapshot):
            raise TypeError(f"diff needs a Snapshot, got {type(before).__name__}")
        return SnapshotDiff(_delta(before.stats, self.stats), before.label, self.label,
                            self.created_unix - before.created_unix)

    def __sub__(self, other: "Snapshot") -> "SnapshotDiff":
        if not isinstance(other, Snapshot):
            return NotImplemented
        return self.diff(other)

    # -- views --------------------------------------------------------------------------------
    def to_html(self) -> str:
        """A self-contained HTML report (no network; see ``python -m framealloc report``)."""
        from .report import render
        return render(self)

    def _repr_html_(self) -> str:
        from .report import compact_html
        return compact_html(self)

    def plot(self, ax=None, by: str = "kind"):
        """A matplotlib chart of memory per frame (stacked by ``"kind"`` or ``"tag"``) for the
        first thread's history; returns the Axes. Needs matplotlib (FA502 without it)."""
        from .plotting import plot_history
        return plot_history(self, ax=ax, by=by)

    def __repr__(self) -> str:
        frames = sum(len(h) for h in self.history)
        return (f"Snapshot(label={self.label!r}, threads={len(self.stats.get('threads', []))}, "
                f"frames={frames}, total_current={self.stats.get('total_current')})")


def _delta(a, b):
    """``b - a`` for every number both have (recursively through dicts); others left out."""
    out = {}
    for k, vb in b.items():
        va = a.get(k) if isinstance(a, dict) else None
        if isinstance(vb, dict):
            out[k] = _delta(va if isinstance(va, dict) else {}, vb)
        elif isinstance(vb, (int, float)) and not isinstance(vb, bool):
            if va is None:
                va = 0
            if isinstance(va, (int, float)) and not isinstance(va, bool):
                out[k] = vb - va
    return out


@dataclass
class SnapshotDiff:
    """``after - before``: ``stats`` has the same shape as a snapshot's stats, holding the
    change of every number (a tag or budget only in ``after`` counts from 0).

    >>> import numpy as np, framealloc as fa
    >>> alloc = fa.SmartAlloc()
    >>> a = alloc.snapshot()
    >>> box = alloc.pool_box(np.zeros(4))
    >>> d = alloc.snapshot() - a
    >>> d.stats["pool"]["current"], d.changed()["total_current"]
    (32, 32)
    """

    stats: dict
    before_label: str = ""
    after_label: str = ""
    seconds: float = 0.0

    def changed(self) -> dict:
        """Only what changed, flattened: ``{"pool.current": 32, ...}`` plus the totals."""
        flat: dict = {}

        def walk(d, prefix):
            for k, v in d.items():
                if isinstance(v, dict):
                    walk(v, f"{prefix}{k}.")
                elif v:
                    flat[f"{prefix}{k}"] = v
        walk(self.stats, "")
        return flat

    def _repr_html_(self) -> str:
        from .report import diff_html
        return diff_html(self)


def capture(alloc, label: str = "") -> Snapshot:
    """The snapshot of ``alloc`` (``SmartAlloc.snapshot``)."""
    from .config import AllocConfig
    version = getattr(sys.modules.get("framealloc"), "__version__", "")
    if not alloc.closed:
        alloc.check_behaviour()        # the behaviour filter looks now (FA51x, warned as usual)
    stats = alloc.stats()
    d = stats.to_dict()
    hist = []
    for t in stats.threads:
        if not t.ended:
            h = alloc.history(t.slot)
            hist.append(h)
    cfg = {f.name: _jsonable(getattr(alloc.config, f.name)) for f in fields(AllocConfig)}
    warns = _warnings_of(d) + [e.to_dict() for e in alloc.behaviour_events]
    return Snapshot(stats=d, history=hist, config=cfg, warnings=warns,
                    label=str(label), created_unix=time.time(), framealloc_version=version)


def _jsonable(v):
    if is_dataclass(v) and not isinstance(v, type):      # AllocConfig.behaviour
        return {k: _jsonable(x) for k, x in asdict(v).items()}
    return list(v) if isinstance(v, tuple) else v


def _warnings_of(stats: dict) -> list:
    """The diagnostics the statistics record, each with its code: budget events (FA155 soft,
    FA154 hard refusals) and phases left open at end_frame (FA159). (``capture`` adds the
    behaviour filter's reports, FA510-FA516.)"""
    out = []
    for ev in stats.get("budget_events", []):
        soft = ev["kind"] == "soft"
        out.append({"code": "FA155" if soft else "FA154",
                    "category": "BudgetWarning" if soft else "BudgetExceededError",
                    "message": (f"the {ev['budget']} budget "
                                f"{'passed its soft limit' if soft else 'refused a request'} of "
                                f"{ev['limit']} bytes ({ev['used']} used, {ev['request']} "
                                "requested)"),
                    "frame": ev["frame"], "thread_slot": ev["thread_slot"]})
    phases = stats.get("phases", {})
    open_paths = [path for path, p in phases.get("paths", {}).items()
                  if p.get("open_at_end_frame")]
    if phases.get("frames_with_open_phases") or open_paths:
        out.append({"code": "FA159", "category": "PhaseWarning",
                    "message": f"phases were still open at end_frame in "
                               f"{phases.get('frames_with_open_phases', 0)} frame(s)"
                               + (f": {', '.join(map(repr, open_paths))}" if open_paths else ""),
                    "frame": -1, "thread_slot": -1})
    return out


# -- merging the snapshots of several allocators (one per process or machine) -------------------

#: Fields that are the largest of the parts, not their sum.
_MAX_FIELDS = frozenset({"max_bytes", "max_allocations", "max_wall_ns"})
#: Fields that name or place an entry (equal in every part that has the entry).
_SAME_FIELDS = frozenset({"path", "name", "depth", "size"})
#: Figures of one part kept in the merged ``stats["workers"]`` (the per-part breakdown).
_PART_KINDS = ("frame", "pool", "typed_pools", "heap", "scratch", "handles", "streaming")
_PART_FIELDS = ("current", "peak", "reserved", "allocated", "allocations")
_PART_TOTALS = ("total_current", "total_reserved", "total_allocated", "total_freed")


def _merge_values(key: str, values: list):
    """One merged value from the parts' values of ``key`` (parts without it left out)."""
    first = values[0]
    if all(isinstance(v, dict) for v in values):
        return _merge_dicts(values)
    if key in ("soft", "hard"):  # a budget's limits: each part's limit, added; None if unlimited
        return None if any(v is None for v in values) else sum(values)
    if isinstance(first, bool):
        return any(values)
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        if key in _MAX_FIELDS:
            return max(values)
        if key in _SAME_FIELDS:
            return first
        return sum(values)
    if isinstance(first, list):
        return [item for v in values for item in v]
    return first


def _merge_dicts(dicts: list) -> dict:
    out: dict = {}
    keys = list(dict.fromkeys(k for d in dicts for k in d))
    for k in keys:
        have = [d[k] for d in dicts if k in d]
        if k == "classes":  # pool size classes, matched by size
            by_size: dict = {}
            for row in (r for v in have for r in v):
                by_size.setdefault(row["size"], []).append(row)
            out[k] = [_merge_dicts(rows) for _, rows in sorted(by_size.items())]
        else:
            out[k] = _merge_values(k, have)
    return out


def merge_snapshots(parts: dict, label: str = "") -> Snapshot:
    """One snapshot of several allocators (each worker process of a cluster, say):
    ``parts`` maps a name (a worker address) to its :class:`Snapshot`.

    Statistics are merged exactly: every count and byte figure is the sum over the parts, per
    kind, tag, phase, budget and pool size class (``max_*`` phase fields are the largest;
    ``peak`` is the sum of each part's own peak: a bound on the simultaneous peak, which no part
    measured; a budget's limits add up, None where a part has none). Threads, their frame
    histories, budget events and warnings are kept per part: each thread entry carries
    ``"worker"`` and is named ``"<part>: <thread>"``, with slots renumbered so they stay unique
    (events and histories follow). ``stats["workers"]`` holds each part's own totals, per kind,
    for the per-worker table of :meth:`Snapshot.to_html`. The result is an ordinary snapshot:
    save it, diff it, render it. ``config`` is the first part's (by name).

    >>> import numpy as np, framealloc as fa
    >>> a, b = fa.SmartAlloc(), fa.SmartAlloc()
    >>> with a.frame(): _ = a.frame_array(10)
    >>> with b.frame(): _ = b.frame_array(5)
    >>> m = fa.merge_snapshots({"w1": a.snapshot(), "w2": b.snapshot()})
    >>> m.stats["frame"]["allocated"], [t["thread_name"] for t in m.stats["threads"]]
    (120, ['w1: MainThread', 'w2: MainThread'])
    >>> m.stats["workers"]["w2"]["frame"]["allocated"]
    40
    """
    from dataclasses import replace as _replace

    if not parts:
        raise ValueError("merge_snapshots needs at least one snapshot")
    names = sorted(parts)
    snaps = [parts[n] for n in names]
    for n, snap in zip(names, snaps):
        if not isinstance(snap, Snapshot):
            raise TypeError(f"merge_snapshots: {n!r} is a {type(snap).__name__}, not a Snapshot")
    stats = _merge_dicts([{k: v for k, v in sn.stats.items()
                           if k not in ("threads", "budget_events", "workers")} for sn in snaps])
    threads: list = []
    events: list = []
    history: list = []
    warnings: list = []
    workers: dict = {}
    for name, snap in zip(names, snaps):
        slots: dict = {}
        for t in snap.stats.get("threads", []):
            t = dict(t)
            if t.get("slot") is not None:
                slots[t["slot"]] = len(threads)
                t["slot"] = len(threads)
            t["thread_name"] = f"{name}: {t.get('thread_name', '')}"
            t["worker"] = name
            threads.append(t)

        def slot(old, slots=slots):
            return slots.get(old, -1) if old is not None and old >= 0 else old
        for ev in snap.stats.get("budget_events", []):
            events.append({**ev, "thread_slot": slot(ev["thread_slot"])})
        for h in snap.history:
            history.append(_replace(h, thread_slot=slot(h.thread_slot)))
        for w in snap.warnings:
            warnings.append({**w, "message": f"[{name}] {w['message']}",
                             "thread_slot": slot(w["thread_slot"])})
        st = snap.stats
        workers[name] = {
            **{k: {f: st.get(k, {}).get(f) for f in _PART_FIELDS if f in st.get(k, {})}
               for k in _PART_KINDS},
            **{k: st.get(k) for k in _PART_TOTALS},
            "threads": len(st.get("threads", [])),
            "frames_ended": st.get("frame", {}).get("frames_ended", 0),
            "warnings": len(snap.warnings), "label": snap.label}
    stats["threads"] = threads
    stats["budget_events"] = events
    stats["workers"] = workers
    return Snapshot(stats=stats, history=history, config=dict(snaps[0].config),
                    warnings=warnings, label=label or f"{len(snaps)} merged snapshots",
                    created_unix=max(sn.created_unix for sn in snaps),
                    framealloc_version=snaps[0].framealloc_version)
