"""Debug mode (``AllocConfig(debug=True)``, issue 14 item 6): poisoning, allocation sites, escape
reports and cross-thread errors; and debug=False leaving everything as it was.

The tables are generated from the public API: every fixed-size NumPy dtype kind for poisoning,
every way a frame's memory is released (Python and @njit: end, rollback and scope end), every public name
of FrameVec/FrameMap and every SmartAlloc call that takes arrays for the thread checks.
"""
from __future__ import annotations

import inspect
import threading
import warnings

import numpy as np
import pytest
from numba import njit, prange

import framealloc as fa
from framealloc.debug import VIEW_TAKING

#: One dtype of each kind that frame memory can hold.
DTYPES = [np.float16, np.float32, np.float64, np.complex64, np.complex128, np.int8, np.int16,
          np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64, np.bool_,
          np.dtype([("x", "f4"), ("n", "i4")])]


@njit
def _njit_end(alloc):
    alloc.end_frame()


@njit
def _njit_rollback(alloc, cp):
    alloc.rollback_to(cp)


@njit
def _njit_scope_end(alloc, s):
    alloc.scope_end(s)


def _py_end(alloc, cp):
    alloc.end_frame()


def _py_rollback(alloc, cp):
    alloc.rollback_to(cp)


def _nj_end(alloc, cp):
    _njit_end(alloc)


def _nj_rollback(alloc, cp):
    _njit_rollback(alloc, cp)


def _py_scope_end(alloc, s):
    alloc.scope_end(s)


def _nj_scope_end(alloc, s):
    _njit_scope_end(alloc, s)


#: Every way a frame's memory is released: (name, release(alloc, mark)); ``mark`` comes from
#: :func:`_mark` (a scope for the scope ends, a checkpoint otherwise).
RELEASES = [("python end_frame", _py_end), ("python rollback_to", _py_rollback),
            ("njit end_frame", _nj_end), ("njit rollback_to", _nj_rollback),
            ("python scope_end", _py_scope_end), ("njit scope_end", _nj_scope_end)]


def _mark(alloc, how):
    return alloc.scope_begin() if "scope" in how else alloc.frame_checkpoint()


def _partial(how):
    """Whether ``how`` releases only what came after its mark (not the whole frame)."""
    return "rollback" in how or "scope" in how


def _filled(alloc, dtype, n=5):
    out = alloc.frame_array(n, dtype)
    out.view(np.uint8)[:] = 0x11      # a pattern that is not the poison
    return out


def _quiet():
    """Escape warnings are the subject of other tests; these keep views on purpose."""
    ctx = warnings.catch_warnings()
    ctx.__enter__()
    warnings.simplefilter("ignore", fa.FrameViewEscapedWarning)
    return ctx


@pytest.mark.parametrize("how,release", RELEASES, ids=[r[0] for r in RELEASES])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).str)
def test_released_memory_is_poisoned(dtype, how, release):
    """After end_frame or a rollback (from Python or inside @njit), a stale view reads 0xFF
    bytes: NaN for every float dtype, -1 for signed ints; memory before a checkpoint stays."""
    alloc = fa.SmartAlloc(debug=True)
    ctx = _quiet()
    try:
        alloc.begin_frame()
        kept = _filled(alloc, dtype)
        cp = _mark(alloc, how)
        stale = _filled(alloc, dtype)
        release(alloc, cp)
        assert (stale.view(np.uint8) == 0xFF).all()
        dt = np.dtype(dtype)
        if dt.kind in "fc":
            assert np.isnan(stale).all()
        elif dt.kind == "i":
            assert (stale == -1).all()
        elif dt.kind == "u":
            assert (stale == np.iinfo(dt).max).all()
        untouched = (kept.view(np.uint8) == 0x11).all()
        assert untouched == _partial(how)   # end_frame poisons the whole frame
        if alloc.in_frame:
            alloc.end_frame()
    finally:
        ctx.__exit__(None, None, None)


@pytest.mark.parametrize("how,release", RELEASES, ids=[r[0] for r in RELEASES])
@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.uint8], ids=str)
def test_debug_off_leaves_memory_untouched(dtype, how, release):
    """The default allocator never writes released memory: a stale view keeps its values until
    the next allocation there (the aliasing debug mode makes visible)."""
    alloc = fa.SmartAlloc()
    assert type(alloc) is fa.SmartAlloc
    alloc.begin_frame()
    _filled(alloc, dtype)
    cp = _mark(alloc, how)
    stale = _filled(alloc, dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")      # and no warning either
        release(alloc, cp)
    assert (stale.view(np.uint8) == 0x11).all()
    if alloc.in_frame:
        alloc.end_frame()


@njit
def _alloc_in_njit(alloc, n):
    a = alloc.frame_array(n, np.float64)
    a[:] = 1.5
    b = alloc.frame_zeros((n, 2), np.int32)
    b[:] = 7
    return a, b


@njit
def _frame_in_njit(alloc, n):
    alloc.begin_frame()
    a = alloc.frame_array(n, np.float32)
    a[:] = 2.5
    cp = alloc.frame_checkpoint()
    b = alloc.frame_array(n, np.int16)
    b[:] = 3
    alloc.rollback_to(cp)
    after_rollback = b.copy()
    alloc.end_frame()
    return a, after_rollback


@pytest.mark.parametrize("debug", [True, False])
def test_views_made_in_njit(debug):
    """Views allocated inside @njit code are poisoned too (and untouched without debug)."""
    alloc = fa.SmartAlloc(debug=debug)
    ctx = _quiet()
    try:
        a, after_rollback = _frame_in_njit(alloc, 4)
        if debug:
            assert np.isnan(a).all() and (after_rollback == -1).all()
        else:
            assert (a == 2.5).all() and (after_rollback == 3).all()
        alloc.begin_frame()
        x, y = _alloc_in_njit(alloc, 3)
        alloc.end_frame()
    finally:
        ctx.__exit__(None, None, None)
    if debug:
        assert np.isnan(x).all() and (y == -1).all()
    else:
        assert (x == 1.5).all() and (y == 7).all()


def test_heap_fallbacks_are_poisoned():
    """Under the "heap" policy, a fallback's memory is poisoned when its frame ends."""
    alloc = fa.SmartAlloc(on_frame_exhausted="heap", frame_chunk_size=4096,
                          frame_capacity=4096, debug=True)
    ctx = _quiet()
    try:
        with alloc.frame():
            big = alloc.frame_array(2048, np.float64)     # 16 KiB: beyond the chunk
            big[:] = 1.0
            assert alloc.stats().frame.heap_fallbacks == 1
    finally:
        ctx.__exit__(None, None, None)
    assert np.isnan(big).all()


def _line_of(marker: str) -> int:
    src, start = inspect.getsourcelines(test_escape_report_names_python_sites)
    return start + next(i for i, line in enumerate(src) if marker in line)


def test_escape_report_names_python_sites():
    """end_frame warns (FA021) about each frame view still referenced, with file:line of its
    allocation; the warning points at the line that ended the frame."""
    alloc = fa.SmartAlloc(debug=True)
    alloc.begin_frame()
    kept = alloc.frame_array((2, 3), np.float32)  # site: kept
    vec = alloc.frame_vec(np.int64, 4)  # site: vec
    dropped = alloc.frame_array(8)
    del dropped
    with pytest.warns(fa.FrameViewEscapedWarning) as rec:
        alloc.end_frame()  # site: end
    (w,) = rec
    text = str(w.message)
    assert w.message.code == "FA021" and text.startswith("FA021: 2 frame views")
    assert f"float32 (2, 3) made at test_debug_mode.py:{_line_of('site: kept')}" in text
    assert f"FrameVec made at test_debug_mode.py:{_line_of('site: vec')}" in text
    assert "float64 (8,)" not in text
    assert w.filename == __file__ and w.lineno == _line_of("site: end")
    assert kept.shape == (2, 3) and np.isnan(kept).all()
    assert not alloc.in_frame


def test_no_report_when_nothing_escapes():
    alloc = fa.SmartAlloc(debug=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(3):
            with alloc.frame():
                a = alloc.frame_zeros(10)
                v = alloc.frame_vec(np.int32, 3)
                layout = alloc.frame_layout(p=(4, np.float32), q=(2, np.int8))
                s = layout.alloc()
                _alloc_in_njit(alloc, 2)
                del a, v, s


def test_layout_views_are_reported_not_cached():
    """A debug allocator's layouts make fresh views each time (a cached view would be held
    across frames by the layout itself); a kept one is reported with its site."""
    alloc = fa.SmartAlloc(debug=True)
    layout = alloc.frame_layout(p=(4, np.float32))
    alloc.begin_frame()
    s1 = layout.alloc()
    with pytest.warns(fa.FrameViewEscapedWarning, match=r"float32 \(4,\) made at test_debug"):
        alloc.end_frame()
    alloc.begin_frame()
    s2 = layout.alloc()
    assert s2.p is not s1.p
    del s1, s2
    alloc.end_frame()


def test_escape_report_names_njit_functions():
    """Arrays made inside @njit code and returned are counted, with the @njit functions that
    allocated in the frame."""
    alloc = fa.SmartAlloc(debug=True)
    alloc.begin_frame()
    x, y = _alloc_in_njit(alloc, 3)
    with pytest.warns(fa.FrameViewEscapedWarning) as rec:
        alloc.end_frame()
    text = str(rec[0].message)
    assert "2 arrays made inside @njit code" in text
    assert "_alloc_in_njit x2" in text
    del x, y
    alloc.begin_frame()
    _alloc_in_njit(alloc, 3)       # results dropped at once
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        alloc.end_frame()


@njit
def _creation_in_njit(alloc):
    return alloc.frame_full(3, 2.0)


def test_njit_creation_calls_are_named_as_such():
    """The creation calls' bodies are compiled apart from their callers: counted under their
    own label, not a mangled name."""
    alloc = fa.SmartAlloc(debug=True)
    alloc.begin_frame()
    kept = _creation_in_njit(alloc)
    with pytest.warns(fa.FrameViewEscapedWarning,
                      match=r"a frame_\* creation call \(frame_full, frame_copy, \.\.\.\) x1"):
        alloc.end_frame()
    assert np.isnan(kept).all()


@njit(parallel=True)
def _prange_keep(alloc, n):
    keep = alloc.frame_array((n, 4), np.float64)
    for i in prange(n):
        t = alloc.frame_array(4, np.float64)    # in the worker's own row
        t[:] = i
        keep[i] = t
    return keep


def test_prange_allocations_are_poisoned_and_named():
    alloc = fa.SmartAlloc(debug=True)
    alloc.begin_frame()
    keep = _prange_keep(alloc, 16)
    assert keep[:, 0].tolist() == list(range(16))
    with pytest.warns(fa.FrameViewEscapedWarning) as rec:
        alloc.end_frame()
    text = str(rec[0].message)
    assert "_prange_keep x1" in text and "a prange loop body x16" in text
    assert np.isnan(keep).all()


def test_strict_raises_after_the_frame_ended():
    alloc = fa.SmartAlloc(debug=True, strict=True)
    alloc.begin_frame()
    kept = alloc.frame_array(3)
    with pytest.raises(fa.FrameViewEscapedWarning, match="FA021"):
        alloc.end_frame()
    assert not alloc.in_frame and np.isnan(kept).all()
    alloc.begin_frame()           # the allocator goes on
    alloc.end_frame()


# -- threads -----------------------------------------------------------------------------------

def _in_thread(fn):
    out = []

    def run():
        try:
            out.append(fn())
        except BaseException as e:   # noqa: BLE001 - reported to the test
            out.append(e.with_traceback(None))   # its frames would keep the views alive
    t = threading.Thread(target=run, name="other")
    t.start()
    t.join()
    return out[0]


def _public(cls):
    return sorted(n for n in dir(cls) if not n.startswith("_")) + [
        n for n in ("__len__", "__getitem__", "__setitem__", "__delitem__", "__iter__",
                    "__array__") if hasattr(cls, n)]


@pytest.mark.parametrize("kind", ["frame_vec", "frame_map"])
def test_collections_refuse_other_threads(kind):
    """Every public name of FrameVec/FrameMap raises FA022 on a thread that did not make it,
    and works on the thread that did."""
    alloc = fa.SmartAlloc(debug=True)
    alloc.begin_frame()
    obj = (alloc.frame_vec(np.int32, 4) if kind == "frame_vec"
           else alloc.frame_map(np.int64, np.int32, 4))
    plain = type(obj).__mro__[1]
    names = _public(plain)
    assert len(names) >= 10
    for name in names:
        def use(name=name):
            attr = getattr(obj, name)           # properties are checked here
            return attr() if callable(attr) else attr
        err = _in_thread(use)
        assert isinstance(err, fa.WrongThreadError) and err.code == "FA022", (name, err)
        assert "other" in str(err)
    if kind == "frame_vec":
        obj.push(5)
        assert obj.as_array().tolist() == [5]
    else:
        obj[3] = 4
        assert obj[3] == 4
    del obj
    alloc.end_frame()


@pytest.mark.parametrize("name", VIEW_TAKING)
def test_views_of_another_threads_frame_are_refused(name):
    """Each SmartAlloc call that takes arrays raises FA022 for a view of another thread's open
    frame (before anything else), and accepts the owner's own views."""
    alloc = fa.SmartAlloc(debug=True)
    alloc.begin_frame()
    view = alloc.frame_array(4, np.float64)
    view[:] = 1.0
    before = alloc.stats().frame.current
    err = _in_thread(lambda: getattr(alloc, name)(view))
    assert isinstance(err, fa.WrongThreadError) and err.code == "FA022", err
    assert "frame view passed to " + name in str(err)
    assert alloc.stats().frame.current == before
    own = _in_thread(lambda: getattr(alloc, name)(np.ones(4)))
    assert not (isinstance(own, fa.FrameAllocError) and own.code == "FA022")
    del view
    alloc.end_frame()


def test_debug_off_has_no_thread_checks():
    alloc = fa.SmartAlloc()
    alloc.begin_frame()
    vec = alloc.frame_vec(np.int32, 4)
    assert _in_thread(lambda: vec.push(1)) is None and len(vec) == 1
    alloc.end_frame()


def test_numba_types_differ():
    """The debug allocator is compiled separately (its own numba type); the default one keeps
    the plain type."""
    from numba import typeof

    assert str(typeof(fa.SmartAlloc())) == "SmartAlloc"
    assert str(typeof(fa.SmartAlloc(debug=True))) == "SmartAlloc[debug]"


def test_config_checks_debug():
    with pytest.raises(fa.ConfigError, match="FA013"):
        fa.AllocConfig(debug=1)
    assert fa.AllocConfig().debug is False
