"""Table-driven: each bad input raises the documented exception and code, and the allocator's
state arrays are byte-identical before and after."""
from __future__ import annotations

import numpy as np
import pytest

import framealloc as fa
from framealloc import AllocConfig, KiB

from .conftest import snapshot

F32 = np.float32

# (id, call(alloc), exception, code, needs an open frame)
CASES = [
    ("outside-frame", lambda a: a.frame_array(4, F32), fa.FrameStateError, "FA001", False),
    ("outside-frame-batch", lambda a: a.frame_alloc_batch(F32, 4), fa.FrameStateError, "FA001", False),
    ("outside-frame-try", lambda a: a.try_frame_array(4, F32), fa.FrameStateError, "FA001", False),
    ("begin-twice", lambda a: a.begin_frame(), fa.FrameStateError, "FA002", True),
    ("end-without-begin", lambda a: a.end_frame(), fa.FrameStateError, "FA003", False),
    ("negative-size", lambda a: a.frame_array(-1, F32), fa.AllocSizeError, "FA004", True),
    ("negative-dim", lambda a: a.frame_array((3, -2), F32), fa.AllocSizeError, "FA004", True),
    ("negative-count", lambda a: a.frame_slice(F32, -7), fa.AllocSizeError, "FA004", True),
    ("float-size", lambda a: a.frame_array(2.5, F32), fa.AllocSizeError, "FA004", True),
    ("float-dim", lambda a: a.frame_array((2, 1.0), F32), fa.AllocSizeError, "FA004", True),
    ("string-size", lambda a: a.frame_array("10", F32), fa.AllocSizeError, "FA004", True),
    ("none-size", lambda a: a.frame_array(None, F32), fa.AllocSizeError, "FA004", True),
    ("overflow", lambda a: a.frame_array((1 << 40, 1 << 40), F32), fa.AllocSizeError, "FA005", True),
    ("overflow-1d", lambda a: a.frame_array(1 << 60, F32), fa.AllocSizeError, "FA005", True),
    ("too-many-dims", lambda a: a.frame_array((1,) * 33, F32), fa.AllocSizeError, "FA014", True),
    ("object-dtype", lambda a: a.frame_array(3, object), fa.UnsupportedDtypeError, "FA006", True),
    ("record-with-object", lambda a: a.frame_array(3, [("x", "O")]), fa.UnsupportedDtypeError, "FA006", True),
    ("unsized-bytes", lambda a: a.frame_array(3, "S"), fa.UnsupportedDtypeError, "FA006", True),
    ("unsized-void", lambda a: a.frame_array(3, "V"), fa.UnsupportedDtypeError, "FA006", True),
    ("not-a-dtype", lambda a: a.frame_array(3, "nonsense"), fa.UnsupportedDtypeError, "FA006", True),
    ("subarray-dtype", lambda a: a.frame_array((2, 2), ("f8", 3)), fa.UnsupportedDtypeError, "FA006", True),
    ("align-3", lambda a: a.frame_array(3, F32, align=3), fa.AlignmentError, "FA007", True),
    ("align-0", lambda a: a.frame_array(3, F32, align=0), fa.AlignmentError, "FA007", True),
    ("align-negative", lambda a: a.frame_array(3, F32, align=-8), fa.AlignmentError, "FA007", True),
    ("align-8192", lambda a: a.frame_array(3, F32, align=8192), fa.AlignmentError, "FA007", True),
    ("align-float", lambda a: a.frame_array(3, F32, align=8.0), fa.AlignmentError, "FA007", True),
    ("rollback-garbage", lambda a: a.rollback_to("cp"), fa.CheckpointError, "FA010", True),
]


@pytest.mark.parametrize("name,call,exc,code,in_frame", CASES, ids=[c[0] for c in CASES])
def test_bad_input(name, call, exc, code, in_frame):
    a = fa.SmartAlloc()
    a.begin_frame()
    a.frame_array(5, F32)      # some live state to preserve
    if not in_frame:
        a.end_frame()
    before = snapshot(a)
    with pytest.raises(exc) as ei:
        call(a)
    assert ei.value.code == code
    assert str(ei.value).startswith(code)
    assert snapshot(a) == before
    # ...and the allocator is still usable
    if not a.in_frame:
        a.begin_frame()
    assert a.frame_array(3, F32).shape == (3,)
    a.end_frame()
    a.close()


def test_exhausted_error_policy_state_unchanged():
    a = fa.SmartAlloc(AllocConfig(on_frame_exhausted="error", frame_capacity=KiB(4)))
    with a.frame():
        a.frame_array(KiB(3), np.uint8)
        before = snapshot(a)
        with pytest.raises(fa.ArenaExhaustedError) as ei:
            a.frame_array(KiB(2), np.uint8)
        assert ei.value.code == "FA008" and snapshot(a) == before
    a.close()


def test_closed_allocator():
    a = fa.SmartAlloc()
    a.close()
    with pytest.raises(fa.FrameStateError) as ei:
        a.begin_frame()
    assert ei.value.code == "FA015"
    for call in (lambda: a.end_frame(), lambda: a.frame_array(3)):
        with pytest.raises(fa.FrameStateError, match="FA015"):
            call()


def test_close_inside_a_frame_block():
    a = fa.SmartAlloc()
    with a.frame():
        v = a.frame_array(4)
        v[:] = 2.0
        a.close()                      # leaving the block must not raise
    assert (v == 2.0).all()


def test_too_many_threads():
    import threading

    a = fa.SmartAlloc(AllocConfig(max_threads=1))
    a.begin_frame()
    errors = []

    def worker():
        try:
            a.begin_frame()
        except fa.ConfigError as e:
            errors.append(e.code)

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert errors == ["FA012"]
    a.end_frame()
    a.close()


def test_every_core_code_is_explained():
    for code in ["FA%03d" % i for i in range(1, 19)]:
        text = fa.explain(code)
        assert text.startswith(code) and len(text) > 60
    assert fa.explain("fa001") == fa.explain("FA001")
    with pytest.raises(KeyError):
        fa.explain("FA999")


def test_errors_pickle_with_their_code():
    import pickle

    e = fa.ArenaExhaustedError("out of room", code="FA008")
    e2 = pickle.loads(pickle.dumps(e))
    assert type(e2) is fa.ArenaExhaustedError and e2.code == "FA008" and str(e2) == str(e)
    assert fa.FrameStateError("FA002: x").code == "FA002"
