"""A byte snapshot of *all* of an allocator's state, found by walking the object graph.

The safety tables (use after close, bad inputs) assert that a refused call leaves the allocator
exactly as it was. Listing the state by hand would forget the next part someone adds, so this walks
everything a :class:`framealloc.SmartAlloc` (or a pool, a scratch pool, ...) reaches: every numpy
array, every Python-level registry (dicts, lists, sets, plain values) and the NRT buffers the pool
headers point at (slot tables, records, page tables). Caches that are rebuilt on demand (typed
views of a chunk, memoryviews over arrays, weak references, locks, finalizers) are skipped: they
are not state, only faster ways to read it.
"""
from __future__ import annotations

import collections
import threading
import types
import weakref

import numpy as np

#: Attribute names that hold caches or synchronisation, never state.
SKIP_ATTRS = frozenset({
    "_tls", "_lock", "lock", "_finalizer", "finalizer", "_arenas", "views", "chunk", "m", "ob",
    "_m", "_tm", "mv", "_on_dead", "_state_cache", "_ctypes", "_buf", "pages", "_c", "_type",
    "_numba_type_", "_owner_ref", "_heap_ref", "_alloc_ref", "_owner", "_refs_cache",
    "gens", "stack", "tags_view", "pt", "serial",
})

_SCALARS = (int, float, complex, str, bytes, bool, type(None), np.integer, np.floating, np.bool_)


def _nrt_parts(obj) -> list:
    """Bytes of the NRT buffers a pool header points at (not reachable as numpy arrays)."""
    from framealloc.pool import SizeClassPools
    from framealloc.typed_pool import TypedPool

    if isinstance(obj, SizeClassPools):
        from tests.pools.conftest import classes_snapshot
        return [classes_snapshot(obj)]
    if isinstance(obj, TypedPool):
        from tests.pools.conftest import pool_snapshot
        return [pool_snapshot(obj)]
    return []


def _walk(obj, out: list, seen: set, path: str) -> None:
    if isinstance(obj, _SCALARS):
        out.append((path, repr(obj)))
        return
    if id(obj) in seen:
        return
    if isinstance(obj, weakref.ref):          # registries hold their parts weakly: follow them
        target = obj()
        if target is not None:
            _walk(target, out, seen, path + "()")
        return
    if isinstance(obj, (weakref.WeakSet, weakref.WeakValueDictionary)):
        for i, v in enumerate(sorted(obj.values() if hasattr(obj, "values") else obj, key=id)):
            _walk(v, out, seen, f"{path}<{i}>")
        return
    if isinstance(obj, (weakref.WeakKeyDictionary, weakref.finalize, memoryview,
                        types.FunctionType, types.MethodType, types.BuiltinFunctionType,
                        type(threading.Lock()), type(threading.RLock()), threading.local,
                        type, types.ModuleType)):
        return
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):
        out.append((path, (obj.dtype.str, obj.shape, obj.tobytes())))
        return
    if isinstance(obj, np.generic):
        out.append((path, repr(obj)))
        return
    if isinstance(obj, dict):
        for k in sorted(obj, key=repr):
            if isinstance(k, str) and k in SKIP_ATTRS:
                continue
            _walk(obj[k], out, seen, f"{path}[{k!r}]")
        return
    if isinstance(obj, (list, tuple, collections.deque)):
        for i, v in enumerate(obj):
            _walk(v, out, seen, f"{path}[{i}]")
        return
    if isinstance(obj, (set, frozenset)):
        out.append((path, sorted(repr(v) for v in obj)))
        return
    mod = type(obj).__module__ or ""
    if not mod.startswith("framealloc"):
        return
    for part in _nrt_parts(obj):
        out.append((path + "<nrt>", part))
    names = []
    if hasattr(obj, "__dict__"):
        names += list(vars(obj))
    for cls in type(obj).__mro__:
        names += [s for s in getattr(cls, "__slots__", ()) if s not in ("__weakref__", "__dict__")]
    for name in sorted(set(names)):
        if name in SKIP_ATTRS:
            continue
        try:
            value = object.__getattribute__(obj, name)
        except AttributeError:
            continue
        _walk(value, out, seen, f"{path}.{name}")


def state_of(*objs) -> list:
    """Everything the objects reach, as ``[(path, value)]``: compare two snapshots with ``==``
    (and print the paths of a difference with :func:`diff`)."""
    out: list = []
    seen: set = set()
    for i, obj in enumerate(objs):
        _walk(obj, out, seen, f"#{i}")
    return out


def diff(before: list, after: list, limit: int = 10) -> str:
    """The first paths whose values differ between two snapshots (for assertion messages)."""
    a, b = dict(before), dict(after)
    lines = [f"{k}: changed" for k in a if k in b and a[k] != b[k]]
    lines += [f"{k}: gone" for k in a if k not in b]
    lines += [f"{k}: new" for k in b if k not in a]
    return "; ".join(lines[:limit]) or "no difference"
