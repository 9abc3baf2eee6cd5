"""Snapshots (issue 14, items 2 and 9): versioned JSON with a shipped schema, diffs, and loading
that never executes anything (a malformed or hostile file gets FA500)."""
from __future__ import annotations

import builtins
import copy
import json
import pickle
import random
import threading
import warnings

import jsonschema
import numpy as np
import pytest
from numba import njit

import framealloc as fa
from framealloc import snapshot as snapmod


@njit
def _njit_frames(alloc, n):
    for i in range(n):
        alloc.begin_frame()
        alloc.frame_array(8 * (i + 1), np.uint8)
        alloc.end_frame()


def _scenario(name):
    alloc = fa.SmartAlloc(fa.AllocConfig(history=0 if name == "no history" else 600))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if name in ("python", "no history", "closed"):
            for i in range(5):
                with alloc.frame():
                    alloc.frame_array(100 * (i + 1), np.uint8)
        elif name == "njit":
            _njit_frames(alloc, 20)
        elif name == "everything":
            alloc.set_budget(soft=64)
            alloc.set_tag_budget("physics", hard=1 << 20)
            keep = [alloc.pool_box(np.zeros(3)) for _ in range(3)] + [alloc.heap_array(100)]
            pool = alloc.scratch_pool("tmp", 4096)
            pool.array(10)
            _njit_frames(alloc, 3)
            for i in range(4):
                with alloc.frame():
                    with alloc.phase("update"):
                        with alloc.tag("physics"), alloc.phase("physics"):
                            alloc.frame_array(50 * (i + 1), np.uint8)
                        alloc.frame_array(10, np.uint8)
                    alloc.begin_phase("left-open")
            t = threading.Thread(target=lambda: _njit_frames(alloc, 2), name="<b>worker</b>")
            t.start()
            t.join()
            alloc._keep = keep        # live pool and heap bytes in the snapshot
        if name == "closed":
            alloc.close()
    return alloc


SCENARIOS = ["python", "njit", "everything", "no history", "closed"]


@pytest.fixture(scope="module")
def snapshots():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fa.BudgetWarning)
        return {name: _scenario(name).snapshot(label=name) for name in SCENARIOS}


def test_schema_is_a_valid_json_schema():
    jsonschema.Draft202012Validator.check_schema(fa.snapshot_schema())


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_snapshot_matches_the_schema_and_round_trips(snapshots, name, tmp_path):
    snap = snapshots[name]
    doc = json.loads(snap.to_json())
    jsonschema.Draft202012Validator(fa.snapshot_schema()).validate(doc)
    path = tmp_path / "s.json"
    snap.save(path)
    back = fa.Snapshot.load(path)
    assert back.to_dict() == doc
    assert back.label == name and back.framealloc_version == fa.__version__


def test_snapshot_content(snapshots):
    s = snapshots["everything"]
    assert s.config["history"] == 600 and s.config["strict"] is False
    assert s.stats["tags"]["physics"]["allocated"] == 50 + 100 + 150 + 200
    codes = {w["code"] for w in s.warnings}
    assert {"FA155", "FA159"} <= codes
    names = [t["thread_name"] for t in s.stats["threads"]]
    assert "MainThread" in names
    (main,) = [h for h in s.history if h.thread_slot == 0]
    assert main["frame_bytes"].tolist() == [8, 16, 24, 60, 110, 160, 210]
    assert len(snapshots["no history"].history[0]) == 0
    assert len(snapshots["closed"].history[0]) == 5


def test_diff(snapshots):
    alloc = fa.SmartAlloc()
    a = alloc.snapshot("a")
    with alloc.frame():
        alloc.frame_array(1000, np.uint8)
    box = alloc.pool_box(np.zeros(4))
    b = alloc.snapshot("b")
    d = b - a
    assert d == b.diff(a) and (d.before_label, d.after_label) == ("a", "b")
    assert d.stats["frame"]["allocated"] == 1000 and d.stats["pool"]["current"] == 32
    assert d.stats["total_current"] == 32
    assert (b - b).changed() == {}
    assert (a - b).stats["pool"]["current"] == -32
    # a tag that only exists in the later snapshot counts from zero
    with alloc.frame(), alloc.tag("new"):
        alloc.frame_array(7, np.uint8)
    assert (alloc.snapshot() - b).stats["tags"]["new"]["allocated"] == 7
    with pytest.raises(TypeError):
        b.diff({"stats": {}})
    del box


# -- malformed and hostile files -------------------------------------------------------------

def _load_text(text):
    return fa.Snapshot.from_json(text)


BAD_TEXTS = {
    "empty": "",
    "not json": "hello",
    "truncated": '{"format": "framealloc-snapshot", "version": 1',
    "NaN": '{"x": NaN}',
    "Infinity": '[Infinity]',
    "a list": "[1, 2, 3]",
    "a number": "42",
    "null": "null",
    "deep nesting": "[" * 100_000 + "]" * 100_000,
    "pickle-like": "cos\nsystem\n(S'echo hi'\ntR.",
}


@pytest.mark.parametrize("name", sorted(BAD_TEXTS))
def test_malformed_text_is_fa500(name):
    with pytest.raises(fa.SnapshotError) as e:
        _load_text(BAD_TEXTS[name])
    assert e.value.code == "FA500"


def test_bad_bytes_and_sizes_are_fa500(tmp_path, monkeypatch):
    p = tmp_path / "bad.json"
    p.write_bytes(b"\xff\xfe{" + pickle.dumps(object()))
    with pytest.raises(fa.SnapshotError) as e:
        fa.Snapshot.load(p)
    assert e.value.code == "FA500"
    good = tmp_path / "good.json"
    fa.SmartAlloc().snapshot().save(good)
    monkeypatch.setattr(snapmod, "MAX_BYTES", good.stat().st_size - 1)
    with pytest.raises(fa.SnapshotError) as e:
        fa.Snapshot.load(good)
    assert e.value.code == "FA500" and "larger" in str(e.value)


def test_other_versions_are_fa501(snapshots):
    for v in (0, 2, "1", None):
        doc = snapshots["python"].to_dict()
        doc["version"] = v
        with pytest.raises(fa.SnapshotError) as e:
            fa.Snapshot.from_dict(doc)
        assert e.value.code == "FA501"


def _paths(doc, prefix=()):
    """Every path to a value inside ``doc``."""
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc[:3]):
            yield from _paths(v, prefix + (i,))


def _set(doc, path, value):
    for k in path[:-1]:
        doc = doc[k]
    if value is _DELETE:
        if isinstance(doc, dict):
            del doc[path[-1]]
        else:
            doc.pop(path[-1])
    else:
        doc[path[-1]] = value


_DELETE = object()
MUTANTS = [_DELETE, None, "x" * 5000, -1, 1.5, True, [], {}, {"__reduce__": "os.system"},
           ["<script>alert(1)</script>"]]


def test_loader_agrees_with_the_schema_on_mutated_documents(snapshots):
    """Mutations of a real snapshot, each somewhere in the tree: the loader accepts exactly the
    documents the JSON Schema accepts, refusing the rest with FA500 (never another error)."""
    base = json.loads(snapshots["everything"].to_json())
    validator = jsonschema.Draft202012Validator(fa.snapshot_schema())
    paths = [p for p in _paths(base) if p]
    rng = random.Random(14)
    checked = refused = 0
    for path in rng.sample(paths, min(400, len(paths))):
        for value in rng.sample(MUTANTS, 3):
            doc = copy.deepcopy(base)
            _set(doc, path, value)
            schema_ok = validator.is_valid(doc)
            try:
                fa.Snapshot.from_dict(doc)
                ok = True
            except fa.SnapshotError as e:
                assert e.code in ("FA500", "FA501"), e
                ok = False
                refused += 1
            if ok != schema_ok and not (ok is False and path[0] == "history"):
                # the loader also checks what a schema cannot say: equal column lengths
                pytest.fail(f"{path} = {value!r}: loader {ok}, schema {schema_ok}")
            checked += 1
    assert checked >= 300 and refused > 50


def test_loading_executes_nothing(snapshots, tmp_path, monkeypatch):
    path = tmp_path / "s.json"
    snapshots["everything"].save(path)

    def boom(*a, **k):
        raise AssertionError("loading a snapshot must not execute or unpickle anything")
    for mod, name in ((pickle, "loads"), (pickle, "load"), (builtins, "eval"),
                      (builtins, "exec"), (builtins, "compile")):
        monkeypatch.setattr(mod, name, boom)
    snap = fa.Snapshot.load(path)
    monkeypatch.undo()
    assert snap.label == "everything"
