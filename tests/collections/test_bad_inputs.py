"""Table-driven: each bad input to a collection or layout raises the documented exception and
code, and the allocator's state arrays are byte-identical before and after."""
from __future__ import annotations

import numpy as np
import pytest

import framealloc as fa
from framealloc.collection_codes import (
    CollectionCapacityError,
    CollectionDtypeError,
    CollectionEmptyError,
    CollectionFullError,
    CollectionIndexError,
    CollectionKeyError,
    CollectionValueError,
    FrameMapKeyError,
    LayoutError,
)

from .conftest import snapshot

F4 = np.float32


def _full_vec(a):
    v = a.frame_vec(F4, 1)
    v.push(1)
    return v


def _full_map(a):
    m = a.frame_map(np.int64, F4, 1)
    m[1] = 1
    return m


# (id, call(alloc), exception, code, needs an open frame)
CASES = [
    ("vec-negative-capacity", lambda a: a.frame_vec(F4, -1), CollectionCapacityError, "FA130", True),
    ("vec-float-capacity", lambda a: a.frame_vec(F4, 2.0), CollectionCapacityError, "FA130", True),
    ("vec-bool-capacity", lambda a: a.frame_vec(F4, True), CollectionCapacityError, "FA130", True),
    ("vec-none-capacity", lambda a: a.frame_vec(F4, None), CollectionCapacityError, "FA130", True),
    ("vec-huge-capacity", lambda a: a.frame_vec(F4, 1 << 60), CollectionCapacityError, "FA130", True),
    ("map-negative-capacity", lambda a: a.frame_map(np.int64, F4, -5), CollectionCapacityError, "FA130", True),
    ("map-huge-capacity", lambda a: a.frame_map(np.int64, F4, 1 << 50), CollectionCapacityError, "FA130", True),
    ("try-vec-negative-capacity", lambda a: a.try_frame_vec(F4, -1), CollectionCapacityError, "FA130", True),
    ("vec-object-dtype", lambda a: a.frame_vec(object, 3), fa.UnsupportedDtypeError, "FA006", True),
    ("vec-unsized-dtype", lambda a: a.frame_vec("S", 3), fa.UnsupportedDtypeError, "FA006", True),
    ("vec-not-a-dtype", lambda a: a.frame_vec("nonsense", 3), fa.UnsupportedDtypeError, "FA006", True),
    ("vec-subarray-dtype", lambda a: a.frame_vec(("f4", 3), 3), CollectionDtypeError, "FA136", True),
    ("map-float-keys", lambda a: a.frame_map(np.float64, F4, 3), CollectionDtypeError, "FA136", True),
    ("map-bool-keys", lambda a: a.frame_map(np.bool_, F4, 3), CollectionDtypeError, "FA136", True),
    ("map-string-keys", lambda a: a.frame_map("S4", F4, 3), CollectionDtypeError, "FA136", True),
    ("map-record-keys", lambda a: a.frame_map([("a", "i4")], F4, 3), CollectionDtypeError, "FA136", True),
    ("map-garbage-keys", lambda a: a.frame_map("nonsense", F4, 3), CollectionDtypeError, "FA136", True),
    ("map-object-values", lambda a: a.frame_map(np.int64, object, 3), fa.UnsupportedDtypeError, "FA006", True),
    ("map-subarray-values", lambda a: a.frame_map(np.int64, ("f8", 2), 3), CollectionDtypeError, "FA136", True),
    ("vec-outside-frame", lambda a: a.frame_vec(F4, 3), fa.FrameStateError, "FA001", False),
    ("map-outside-frame", lambda a: a.frame_map(np.int64, F4, 3), fa.FrameStateError, "FA001", False),
    ("layout-no-fields", lambda a: a.frame_layout(), LayoutError, "FA138", False),
    ("layout-bad-spec", lambda a: a.frame_layout(x=(3, F4, 8, 9)), LayoutError, "FA138", False),
    ("layout-bad-shape", lambda a: a.frame_layout(x=((2, -1), F4)), fa.AllocSizeError, "FA004", False),
    ("layout-outside-frame", lambda a: a.frame_layout(x=(3, F4)).alloc(), fa.FrameStateError, "FA001", False),
]

# Errors of operations on a collection: (id, make(alloc), call(obj), exception, code)
OPS = [
    ("push-full", _full_vec, lambda v: v.push(2), CollectionFullError, "FA131"),
    ("extend-full", _full_vec, lambda v: v.extend([2]), CollectionFullError, "FA131"),
    ("pop-empty", lambda a: a.frame_vec(F4, 3), lambda v: v.pop(), CollectionEmptyError, "FA132"),
    ("index", _full_vec, lambda v: v[1], CollectionIndexError, "FA133"),
    ("index-negative", _full_vec, lambda v: v[-2], CollectionIndexError, "FA133"),
    ("push-string", _full_vec, lambda v: v.__setitem__(0, "x"), CollectionValueError, "FA139"),
    ("map-full", _full_map, lambda m: m.insert(2, 2), CollectionFullError, "FA134"),
    ("map-missing", _full_map, lambda m: m[2], FrameMapKeyError, "FA135"),
    ("map-remove-missing", _full_map, lambda m: m.remove(2), FrameMapKeyError, "FA135"),
    ("map-float-key", _full_map, lambda m: m.get(1.5), CollectionKeyError, "FA137"),
    ("map-key-range", _full_map, lambda m: m.get(1 << 63), CollectionKeyError, "FA137"),
    ("map-bad-value", _full_map, lambda m: m.insert(1, "x"), CollectionValueError, "FA139"),
]


@pytest.mark.parametrize("name,call,exc,code,in_frame", CASES, ids=[c[0] for c in CASES])
def test_bad_input(name, call, exc, code, in_frame):
    a = fa.SmartAlloc()
    for _ in range(2):                # a chunk, live state, and a cached layout elsewhere
        a.begin_frame()
        a.frame_layout(y=(4, F4)).alloc()
        a.frame_array(5, F4)
        if _ < 1 or not in_frame:
            a.end_frame()
    before = snapshot(a)
    with pytest.raises(exc) as ei:
        call(a)
    assert ei.value.code == code and str(ei.value).startswith(code)
    assert fa.explain(code).startswith(code)
    assert snapshot(a) == before
    if not a.in_frame:
        a.begin_frame()
    assert len(a.frame_vec(F4, 3)) == 0          # still usable
    a.end_frame()
    a.close()


@pytest.mark.parametrize("name,make,call,exc,code", OPS, ids=[c[0] for c in OPS])
def test_bad_operation(name, make, call, exc, code):
    a = fa.SmartAlloc()
    with a.frame():
        obj = make(a)
        before = snapshot(a) + b"".join(x.tobytes() for x in (obj._hdr, getattr(obj, "_data", obj._hdr),
                                                              getattr(obj, "_state", obj._hdr),
                                                              getattr(obj, "_keys", obj._hdr),
                                                              getattr(obj, "_vals", obj._hdr)))
        with pytest.raises(exc) as ei:
            call(obj)
        assert ei.value.code == code and str(ei.value).startswith(code)
        after = snapshot(a) + b"".join(x.tobytes() for x in (obj._hdr, getattr(obj, "_data", obj._hdr),
                                                             getattr(obj, "_state", obj._hdr),
                                                             getattr(obj, "_keys", obj._hdr),
                                                             getattr(obj, "_vals", obj._hdr)))
        assert after == before
    a.close()


def test_every_code_is_explained():
    for n in range(130, 140):
        text = fa.explain(f"FA{n}")
        assert text.startswith(f"FA{n} ") and "Raised as: framealloc." in text
