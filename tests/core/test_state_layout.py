"""Every state array an allocator holds is a structured dtype documented in kernels/layout.py.

The arrays are not listed by hand: a live SmartAlloc that uses every kind of allocation (frames,
checkpoints, size classes, typed pools, the tracked heap, groups, handles, streaming, scratch
pools, tags, budgets, phases, retention, collections) is walked through its object graph, the way
``tests/safety/state.py`` snapshots state, and every numpy array found must be one of:

* a structured array whose dtype is a documented layout (``layout.layout_of``), every field with
  its line of documentation;
* plain words of such an array (the int64 views the kernels index): its bytes lie inside a
  structured state array found in the same walk;
* memory that a documented pointer field of a state record names (a frame chunk, a scratch
  buffer, a slot table's NRT buffer, a page): reached through the layout, not beside it;
* memory handed out by the public API (a heap array, a handle's block, a streaming asset).

So a new kind of state kept in a bare int64 array fails here until it gets a layout.
"""
from __future__ import annotations

import collections
import threading
import types
import weakref

import numpy as np
import pytest

import framealloc as fa
from framealloc.kernels import layout as L

#: Layouts that describe memory inside a buffer another record points at, so no numpy array of
#: their dtype exists: the slot-table columns and page table (NRT buffers of a pool header) and
#: the collection headers (in frame memory, at the start of the collection's allocation).
EMBEDDED = {"SLOT", "PAGE", "VEC_HEADER", "MAP_HEADER"}


def _walk(roots) -> list[tuple[str, np.ndarray]]:
    """Every numpy array reachable from ``roots`` through framealloc objects and containers."""
    out: list = []
    seen: set = set()

    def walk(obj, path):
        if id(obj) in seen or isinstance(obj, (int, float, str, bytes, bool, type(None))):
            return
        seen.add(id(obj))
        if isinstance(obj, np.ndarray):
            out.append((path, obj))
            return
        if isinstance(obj, weakref.ref):
            target = obj()
            if target is not None:
                walk(target, path + "()")
            return
        if isinstance(obj, (weakref.WeakSet, weakref.WeakValueDictionary)):
            for i, v in enumerate(list(obj.values() if hasattr(obj, "values") else obj)):
                walk(v, f"{path}<{i}>")
            return
        if isinstance(obj, (weakref.WeakKeyDictionary, weakref.finalize, memoryview, type,
                            types.FunctionType, types.MethodType, types.BuiltinFunctionType,
                            types.ModuleType, threading.local, type(threading.Lock()),
                            type(threading.RLock()))):
            return
        if isinstance(obj, dict):
            for k, v in list(obj.items()):
                walk(v, f"{path}[{k!r}]")
            return
        if isinstance(obj, (list, tuple, set, frozenset, collections.deque)):
            for i, v in enumerate(list(obj)):
                walk(v, f"{path}[{i}]")
            return
        if not (type(obj).__module__ or "").startswith("framealloc"):
            return
        names = list(vars(obj)) if hasattr(obj, "__dict__") else []
        for cls in type(obj).__mro__:
            names += [s for s in getattr(cls, "__slots__", ())
                      if s not in ("__weakref__", "__dict__")]
        for name in sorted(set(names)):
            try:
                value = object.__getattribute__(obj, name)
            except AttributeError:
                continue
            walk(value, f"{path}.{name}")

    for i, r in enumerate(roots):
        walk(r, f"#{i}")
    return out


def _bounds(a: np.ndarray) -> tuple[int, int]:
    lo, hi = np.lib.array_utils.byte_bounds(a) if hasattr(np.lib, "array_utils") else \
        np.byte_bounds(a)
    return lo, hi


def _regions(structured) -> list[tuple[int, int, str]]:
    """``(start, end, what)`` of the memory the pointer fields of the state records name."""
    out = []
    for path, rec in structured:
        lay = L.layout_of(rec.dtype)
        name = lay.name if lay is not None else None
        for r in rec.reshape(-1):
            if name == "ARENA_ROW" and r["base"]:
                out.append((r["base"], r["base"] + r["capacity"], f"{path}: frame chunk"))
            elif name == "SCRATCH_POOL" and r["base"]:
                out.append((r["base"], r["base"] + r["cap"], f"{path}: scratch buffer"))
            elif name == "POOL_HEADER" and r["mi"]:
                cap, isz = int(r["cap"]), int(r["itemsize"])
                if r["data"]:     # a typed pool: [records | generations | stack | tags]
                    out.append((r["data"], r["data"] + L.typed_buffer_bytes(cap, isz),
                                f"{path}: typed pool buffer"))
                else:             # a size class: [generations | stack | tags], the page table
                    out.append((r["gen"], r["gen"] + L.class_buffer_bytes(cap),
                                f"{path}: slot columns"))
            if name == "POOL_HEADER" and r["pt_mi"]:
                pt = int(r["pt"])
                out.append((pt, pt + r["pt_cap"] * L.PAGE_DTYPE.itemsize, f"{path}: page table"))
                from framealloc._slots import nrt_bytes
                pages = nrt_bytes(int(r["pt_mi"]), pt, int(r["pt_cap"]) * L.PAGE_DTYPE.itemsize)
                for p in pages.view(L.PAGE_DTYPE)[:int(r["npages"])]:
                    if p["data"]:
                        out.append((p["data"], p["data"] + r["page_bytes"], f"{path}: page"))
    return out


def _scenario():
    """A SmartAlloc using every kind of state (in an open frame), the objects to walk from, and
    what its API handed out."""
    alloc = fa.SmartAlloc()
    handed: list = []
    rec = np.dtype([("x", "f8"), ("n", "i4")])
    typed = alloc.typed_pool(rec, 8)
    handed.append(typed.acquire())
    alloc.set_budget(soft=1 << 40, hard=1 << 41)
    alloc.set_tag_budget("physics", hard=1 << 40)
    heap_h = alloc.handles
    h = heap_h.alloc(16, np.float64)
    handed.append(heap_h.resolve(h))
    stream = alloc.streaming(1 << 16)
    aid = stream.reserve(64)
    stream.feed(aid, bytes(64))
    handed.append(stream.access(aid))
    group = alloc.create_group("g")
    handed.append(alloc.group_alloc(group, 4))
    scratch = alloc.scratch_pool("layout-test", 4096)
    handed.append(scratch.array(8, np.int64))
    alloc.begin_frame()
    with alloc.tag("physics"):
        with alloc.phase("update"):
            handed.append(alloc.frame_array(10, np.float64))
            cp = alloc.frame_checkpoint()
            handed.append(alloc.frame_zeros(3, np.int32))
            alloc.rollback_to(cp)
            vec = alloc.frame_vec(np.int64, 8)
            vec.push(1)
            fmap = alloc.frame_map(np.int64, np.float64, 8)
            fmap[3] = 1.5
            handed.append(alloc.frame_retained(np.float32, fa.RetentionPolicy.Discard, (4,)))
            box = alloc.pool_alloc(np.float64, 4)
            handed.append(box.array)
            handed.append(alloc.heap_array(32, np.float64))
            key = alloc.pools.acquire(40)
            handed.append(alloc.pools.view(key, np.float64, 5))
    # The process-wide scratch registry (the allocator's scratch state holds a row of it).
    # A debug-mode allocator adds its table of @njit allocation sites (DEBUG_SITE).
    roots = [alloc, typed, heap_h, stream, scratch, vec, fmap, box, L.scratch_registry(),
             fa.SmartAlloc(debug=True)]
    return alloc, roots, handed   # noqa: FA604 - the frame stays open until the fixture ends


@pytest.fixture(scope="module")
def live():
    alloc, roots, handed = _scenario()
    yield alloc, roots, handed
    alloc.end_frame()
    alloc.close()


def _problems(roots, handed) -> list[str]:
    """What the walk from ``roots`` finds that breaks the rule of the module docstring."""
    arrays = _walk(roots)
    # Structured arrays, found directly or as the record behind int64 words (``.base``).
    structured = [(p, a) for p, a in arrays if a.dtype.names is not None]
    structured += [(p + ".base", a.base) for p, a in arrays
                   if a.dtype.names is None and isinstance(a.base, np.ndarray)
                   and a.base.dtype.names is not None]
    undocumented = []
    for path, a in structured:
        lay = L.layout_of(a.dtype)
        if lay is None:
            undocumented.append(f"{path}: dtype {a.dtype} is no layout of kernels/layout.py")
            continue
        missing = [f for f in a.dtype.names if not lay.fields.get(f, "").strip()]
        if missing:
            undocumented.append(f"{path}: fields {missing} of {lay.name} are not documented")

    state = [_bounds(a) + (p,) for p, a in structured]
    regions = _regions(structured)
    given = [_bounds(a) for a in handed if isinstance(a, np.ndarray)]
    for path, a in arrays:
        if a.dtype.names is not None or a.size == 0:
            continue
        lo, hi = _bounds(a)
        if any(s <= lo and hi <= e for s, e, _ in state):
            continue        # words of a structured state array
        if any(s <= lo and hi <= e for s, e, _ in regions):
            continue        # memory a documented pointer field names
        if any(lo < e and s < hi for s, e in given):
            continue        # memory the API handed out (user data)
        undocumented.append(f"{path}: {a.dtype} {a.shape} is not a structured state array, nor "
                            "words of one, nor memory a state record points at")
    return undocumented


def test_every_state_array_has_a_documented_layout(live):
    alloc, roots, handed = live
    problems = _problems(roots, handed)
    assert not problems, "\n".join(problems)
    assert any(a.dtype == L.ARENA_DTYPE for _, a in _walk(roots)), "the walk found no arena rows"


def test_a_bare_state_array_is_noticed(live):
    """The check itself: a bare int64 array held by a part, or a record of no layout, fails."""
    _, roots, handed = live
    extra = {"counters": np.zeros(4, np.int64),
             "table": np.zeros(2, [("a", "<i8"), ("b", "<i8")])}
    problems = _problems(roots + [extra], handed)
    assert len(problems) == 2 and "counters" in problems[1] + problems[0], problems


def test_every_layout_is_used(live):
    """No layout is stale: each is the dtype of a state array (or a field of one), or one of the
    EMBEDDED layouts of memory a record points at."""
    _, roots, _ = live
    used = set()
    for _, a in _walk(roots):
        rec = a if a.dtype.names is not None else a.base   # counters: words of their record
        if not isinstance(rec, np.ndarray) or rec.dtype.names is None:
            continue
        lay = L.layout_of(rec.dtype)
        if lay is not None:
            used.add(lay.name)
            subs = {rec.dtype.fields[f][0].base for f in rec.dtype.names}
            used.update(x.name for x in L.LAYOUTS.values() if x.dtype in subs)
    assert set(L.LAYOUTS) - used == EMBEDDED


def test_constants_are_generated_from_the_dtypes():
    """The word indices the kernels use are the dtype's field offsets (one source of truth)."""
    for name, (_, off) in ((n, L.ARENA_DTYPE.fields[n][:2]) for n in L.ARENA_DTYPE.names):
        assert L.F[name] * 8 == off
    for name in L.POOL_HEADER_DTYPE.names:
        assert L.H[name.upper()] * 8 == L.POOL_HEADER_DTYPE.fields[name][1]
    pairs = {
        L.ORG_HEADER_DTYPE: {"ntags": L.H_NTAGS, "budgets": L.H_BUDGETS, "soft": L.H_SOFT},
        L.BUDGET_DTYPE: {"hard": L.B_HARD, "used": L.B_USED, "soft_seen": L.B_SOFT_SEEN},
        L.TAG_COUNTERS_DTYPE: {"current": L.C_CURRENT, "frees": L.C_FREES},
        L.SCRATCH_POOL_DTYPE: {"cursor": L.S_CURSOR, "ntags": L.S_NTAGS},
        L.ORG_ROW_HEADER_DTYPE: {"depth": L.RB_DEPTH, "ooms": L.RB_OOMS,
                                 "charge_ids": L.RB_CHARGE_IDS},
    }
    for dt, fields in pairs.items():
        for f, w in fields.items():
            assert dt.fields[f][1] == 8 * w, (dt, f)
    assert L.ORG_HDR_WORDS * 8 == L.ORG_HEADER_DTYPE.itemsize
    assert L.row_block_words(64) * 8 == L.org_row_dtype(64).itemsize
    assert L.org_row_dtype(64).fields["tag_bytes"][1] == 8 * L.RB_HDR


def test_layout_imports_nothing_from_framealloc():
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(L))
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {("." * n.level) + (n.module or "") for n in ast.walk(tree)
                 if isinstance(n, ast.ImportFrom)}
    assert imported <= {"numpy", "threading", "__future__", "enum", "typing"}, imported


def test_field_tables_render():
    for name in L.LAYOUTS:
        table = L.field_table(name)
        for f in L.LAYOUTS[name].fields:
            assert f" {f}" in table
