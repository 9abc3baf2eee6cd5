"""Frame phases: exact bytes/allocations per phase (Python and @njit), nesting (inclusive and
self), wall time, open phases at end_frame (FA159), end_phase errors (FA158), per-thread
independence, phase_stats "last"/"current"/"all", the stats section, and a model check."""
from __future__ import annotations

import doctest
import json
import os
import threading
import time
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numba import njit, prange

import framealloc as fa
from framealloc import phase_codes
from framealloc.phases import PhaseTotals

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


@pytest.fixture
def alloc():
    a = fa.SmartAlloc()
    yield a
    a.close()


@njit(cache=True)
def _nj_fill(al, n):
    a = al.frame_array(n, np.float64)
    a[:] = 1.0
    b = al.frame_array(3, np.int32)
    b[:] = 2
    return a.sum() + b.sum()


@njit(parallel=True, cache=True)
def _nj_prange(al, n, out):
    for i in prange(n):
        a = al.frame_array(4, np.float64)
        a[:] = i
        out[i] = a.sum()


@njit(cache=True)
def _nj_end_frame(al):
    al.end_frame()


def _counters(alloc):
    return alloc._thread_counters(alloc._arena())


# -- bytes and counts -------------------------------------------------------------------------
def test_exact_bytes_and_counts_from_python(alloc):
    with alloc.frame():
        with alloc.phase("load") as p:
            alloc.frame_array(100, np.float64)            # 800
            alloc.frame_array((4, 5), np.int16)           # 40
            alloc.frame_zeros(3, np.int8)                 # 3
        with alloc.phase("pad"):
            alloc.frame_array(1, np.float64)              # 5 bytes of padding (843 -> 848) + 8
        with alloc.phase("empty"):
            pass
    s = alloc.phase_stats()
    assert list(s) == ["load", "pad", "empty"]
    assert (s["load"].bytes, s["load"].allocations) == (843, 3)
    assert (s["pad"].bytes, s["pad"].allocations) == (13, 1)
    assert (s["empty"].bytes, s["empty"].allocations) == (0, 0)
    assert p.stats == fa.PhaseStats("load", "load", 0, 1, 843, 843, 3, 3, p.stats.wall_ns,
                                    p.stats.wall_ns, 1, False, False)
    for r in s.values():
        assert r.frame == 1 and r.depth == 0 and r.occurrences == 1
        assert r.self_bytes == r.bytes and r.self_allocations == r.allocations
        assert not r.open_at_end_frame and not r.in_progress


def test_exact_bytes_from_njit_called_in_a_phase(alloc):
    with alloc.frame():
        alloc.frame_array(1, np.int8)                     # outside any phase
        with alloc.phase("sim"):
            assert _nj_fill(alloc, 10) == 16.0            # 7 pad + 80, then 12
        alloc.frame_array(4, np.int8)                     # back to an 8-byte boundary (104)
        with alloc.phase("par"):
            out = np.zeros(64)
            _nj_prange(alloc, 64, out)                    # 64 workers' arrays of 32 bytes
    s = alloc.phase_stats()
    assert (s["sim"].bytes, s["sim"].allocations) == (7 + 80 + 12, 2)
    assert (s["par"].bytes, s["par"].allocations) == (64 * 32, 64)
    assert (out == 4.0 * np.arange(64)).all()


def test_nesting_inclusive_and_self(alloc):
    with alloc.frame():
        with alloc.phase("update"):
            alloc.frame_array(10, np.float64)                     # 80
            with alloc.phase("physics"):
                alloc.frame_array(5, np.float64)                  # 40
                with alloc.phase("broad"):
                    alloc.frame_array(2, np.float64)              # 16
            with alloc.phase("ai"):
                alloc.frame_array(1, np.float64)                  # 8
                assert alloc.current_phase == "update::ai"
            alloc.frame_array(1, np.float64)                      # 8
        assert alloc.current_phase == ""
    s = alloc.phase_stats()
    assert list(s) == ["update", "update::physics", "update::physics::broad", "update::ai"]
    got = {p: (r.depth, r.bytes, r.self_bytes, r.allocations, r.self_allocations)
           for p, r in s.items()}
    assert got == {"update": (0, 152, 88, 5, 2), "update::physics": (1, 56, 40, 2, 1),
                   "update::physics::broad": (2, 16, 16, 1, 1), "update::ai": (1, 8, 8, 1, 1)}
    assert s["update::physics"].name == "physics"
    u = s["update"]
    assert u.self_wall_ns == u.wall_ns - s["update::physics"].wall_ns - s["update::ai"].wall_ns


def test_same_path_several_times_in_a_frame_is_aggregated(alloc):
    with alloc.frame():
        for k in (1, 2, 3):
            with alloc.phase("spawn"):
                alloc.frame_array(k, np.int8)
    r = alloc.phase_stats()["spawn"]
    assert (r.occurrences, r.bytes, r.allocations) == (3, 6, 3)


def test_same_name_at_different_depths_gives_different_paths(alloc):
    with alloc.frame(), alloc.phase("a"), alloc.phase("a"):
        alloc.frame_array(4, np.int8)
    s = alloc.phase_stats()
    assert (s["a"].bytes, s["a"].self_bytes, s["a::a"].bytes) == (4, 0, 4)


def test_rollback_does_not_subtract(alloc):
    with alloc.frame(), alloc.phase("spec"):
        cp = alloc.frame_checkpoint()
        alloc.frame_array(100, np.int8)
        alloc.rollback_to(cp)
    assert alloc.phase_stats()["spec"].bytes == 100


def test_pool_and_heap_bytes_count_in_phases(alloc):
    with alloc.frame():
        with alloc.phase("heap"):
            h = alloc.heap_array(500, np.int64)           # 4000 bytes
        with alloc.phase("pool"):
            b = alloc.pool_alloc(np.float64)                # one 8-byte element
    s = alloc.phase_stats()
    assert s["heap"].bytes >= 4000 and s["heap"].allocations >= 1
    assert s["pool"].bytes >= 8 and s["pool"].allocations >= 1
    del h, b


def test_wall_time_is_plausible(alloc):
    with alloc.frame():
        with alloc.phase("outer"):
            with alloc.phase("sleep"):
                time.sleep(0.02)
    s = alloc.phase_stats()
    assert 20_000_000 <= s["outer::sleep"].wall_ns <= s["outer"].wall_ns < 5_000_000_000
    assert s["outer::sleep"].wall_ms >= 20.0
    assert s["outer"].self_wall_ns == s["outer"].wall_ns - s["outer::sleep"].wall_ns


def test_begin_end_api_and_end_phase_returns_the_occurrence(alloc):
    alloc.begin_frame()
    alloc.begin_phase("a")
    alloc.frame_array(3, np.int8)
    alloc.begin_phase("b")
    alloc.frame_array(5, np.int8)
    rb = alloc.end_phase("a::b")            # the full path is accepted too
    ra = alloc.end_phase("a")
    alloc.end_frame()
    assert (rb.path, rb.bytes, rb.occurrences) == ("a::b", 5, 1)
    assert (ra.bytes, ra.self_bytes) == (8, 3)
    assert alloc.phase_stats()["a"] == ra


def test_exception_in_a_phase_block_still_closes_it(alloc):
    with alloc.frame():
        with pytest.raises(KeyError):
            with alloc.phase("risky"):
                alloc.frame_array(7, np.int8)
                raise KeyError("x")
        assert alloc.current_phase == ""
    assert alloc.phase_stats()["risky"].bytes == 7


# -- open phases at end_frame -----------------------------------------------------------------
def test_open_phase_at_end_frame_is_reported_and_flagged(alloc):
    alloc.begin_frame()
    alloc.begin_phase("render")
    alloc.frame_array(16, np.int8)
    alloc.begin_phase("shadows")
    alloc.frame_array(4, np.int8)
    with pytest.warns(fa.PhaseWarning) as rec:
        alloc.end_frame()
    assert len(rec) == 1
    w = rec[0].message
    assert w.code == "FA159" and str(w).startswith("FA159") and "'render::shadows'" in str(w)
    assert rec[0].filename == __file__         # points at the caller of end_frame
    s = alloc.phase_stats()
    assert s["render"].open_at_end_frame and s["render::shadows"].open_at_end_frame
    assert (s["render"].bytes, s["render"].self_bytes, s["render::shadows"].bytes) == (20, 16, 4)
    # Not re-opened in the next frame.
    with alloc.frame():
        assert alloc.current_phase == ""
        with pytest.raises(fa.PhaseError):
            alloc.end_phase()
    assert alloc.phase_stats() == {}
    tot = alloc.phase_stats("all")["render"]
    assert tot.open_at_end_frame == 1 and tot.frames == 1
    sec = alloc._phase_section()["phases"]
    assert sec.frames == 1 and sec.frames_with_open_phases == 1


def test_warnings_as_errors_still_end_the_frame(alloc):
    alloc.begin_frame()
    alloc.begin_phase("x")
    with warnings.catch_warnings():
        warnings.simplefilter("error", fa.PhaseWarning)
        with pytest.raises(fa.PhaseWarning):
            alloc.end_frame()
    assert not alloc.in_frame and alloc.current_phase == ""
    assert alloc.phase_stats()["x"].open_at_end_frame


def test_frame_ended_inside_a_phase_block(alloc):
    alloc.begin_frame()
    with pytest.warns(fa.PhaseWarning):
        with alloc.phase("p") as p:
            alloc.end_frame()
    assert p.stats is None and alloc.phase_stats()["p"].open_at_end_frame


def test_block_closes_inner_phases_left_open(alloc):
    with alloc.frame():
        with pytest.warns(fa.PhaseWarning, match="'outer::inner'"):
            with alloc.phase("outer"):
                alloc.begin_phase("inner")
                alloc.frame_array(2, np.int8)
        assert alloc.current_phase == ""
    s = alloc.phase_stats()
    assert s["outer::inner"].bytes == 2 and not s["outer::inner"].open_at_end_frame


def test_frame_ended_inside_njit_is_detected(alloc):
    alloc.begin_frame()
    alloc.begin_phase("k")
    alloc.frame_array(8, np.int8)
    _nj_end_frame(alloc)
    assert alloc.current_phase == ""
    with pytest.warns(fa.PhaseWarning):
        s = alloc.phase_stats()
    assert s["k"].open_at_end_frame and s["k"].bytes == 8 and s["k"].frame == 1


# -- errors -----------------------------------------------------------------------------------
def _state(alloc):
    return (alloc.current_phase, alloc.in_frame, _counters(alloc),
            {p: (r.bytes, r.occurrences) for p, r in alloc.phase_stats("current").items()})


def test_end_phase_errors_leave_the_state_unchanged(alloc):
    with alloc.frame():
        with pytest.raises(fa.PhaseError) as ei:
            alloc.end_phase()
        assert ei.value.code == "FA158"
        alloc.begin_phase("a")
        alloc.frame_array(10, np.int8)
        alloc.begin_phase("b")
        before = _state(alloc)
        for bad in ("a", "c", "b::a", 3):
            with pytest.raises(fa.PhaseError) as ei:
                alloc.end_phase(bad)
            assert ei.value.code == "FA158" and isinstance(ei.value, ValueError)
            assert _state(alloc)[:3] == before[:3]
        alloc.end_phase("b")
        alloc.end_phase("a")
        with pytest.raises(fa.PhaseError):
            alloc.end_phase()
    assert alloc.phase_stats()["a"].bytes == 10


@pytest.mark.parametrize("name", ["", "a::b", "::", 3, None, "tab\there", b"x"])
def test_bad_names(alloc, name):
    with alloc.frame():
        with pytest.raises(fa.PhaseError) as ei:
            alloc.begin_phase(name)
        assert ei.value.code == "FA158"
        with pytest.raises(fa.PhaseError):
            alloc.phase(name)
        assert alloc.current_phase == ""


def test_begin_phase_outside_a_frame(alloc):
    with pytest.raises(fa.PhaseError) as ei:
        alloc.begin_phase("x")
    assert ei.value.code == "FA158" and isinstance(ei.value, fa.FrameStateError)
    with pytest.raises(fa.PhaseError):
        with alloc.phase("x"):
            pass
    assert alloc.current_phase == "" and alloc.phase_stats("current") == {}


def test_bad_phase_stats_argument(alloc):
    with pytest.raises(fa.PhaseError) as ei:
        alloc.phase_stats("first")
    assert ei.value.code == "FA158"


def test_closed_allocator():
    a = fa.SmartAlloc()
    a.close()
    with pytest.raises(fa.FrameStateError) as ei:
        a.begin_phase("x")
    assert ei.value.code == "FA015"
    assert a.current_phase == ""


# -- threads ----------------------------------------------------------------------------------
def test_threads_have_independent_phases(alloc):
    barrier = threading.Barrier(2, timeout=30)
    results, errors = {}, []

    def worker(name, nbytes):
        try:
            with alloc.frame():
                with alloc.phase(name):
                    barrier.wait()                        # both phases open at once
                    assert alloc.current_phase == name
                    alloc.frame_array(nbytes, np.int8)
                    barrier.wait()
                    with alloc.phase("inner"):
                        alloc.frame_array(nbytes, np.int8)
                        barrier.wait()
                        assert alloc.current_phase == f"{name}::inner"
                    barrier.wait()
            results[name] = alloc.phase_stats()
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)
            barrier.abort()

    ts = [threading.Thread(target=worker, args=a) for a in (("render", 100), ("audio", 30))]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    assert not errors
    assert list(results["render"]) == ["render", "render::inner"]
    assert list(results["audio"]) == ["audio", "audio::inner"]
    assert (results["render"]["render"].bytes, results["audio"]["audio"].bytes) == (200, 60)
    assert alloc.current_phase == "" and alloc.phase_stats() == {}   # the main thread's own
    sec = alloc._phase_section()["phases"]
    assert sec.frames == 2 and set(sec.paths) == {"render", "render::inner", "audio",
                                                  "audio::inner"}
    assert sec.paths["render::inner"].bytes == 100 and sec.paths["audio"].self_bytes == 30


def test_section_sums_threads_per_path_and_keeps_ended_threads(alloc):
    def worker(n):
        for _ in range(3):
            with alloc.frame(), alloc.phase("work"):
                alloc.frame_array(n, np.int8)

    ts = [threading.Thread(target=worker, args=(n,)) for n in (10, 20, 30)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    del ts
    import gc
    gc.collect()
    tot = alloc._phase_section()["phases"].paths["work"]
    assert (tot.frames, tot.occurrences, tot.bytes, tot.max_bytes) == (9, 9, 180, 30)


# -- phase_stats -------------------------------------------------------------------------------
def test_phase_stats_last_current_all(alloc):
    assert alloc.phase_stats() == {} and alloc.phase_stats("all") == {}
    with alloc.frame():
        with alloc.phase("a"):
            alloc.frame_array(4, np.int8)
    with alloc.frame():
        with alloc.phase("a"):
            alloc.frame_array(6, np.int8)
        alloc.begin_phase("b")
        alloc.frame_array(1, np.int8)
        alloc.begin_phase("c")
        alloc.frame_array(2, np.int8)
        cur = alloc.phase_stats("current")
        last = alloc.phase_stats("last")
        assert last["a"].bytes == 4 and last["a"].frame == 1
        assert list(cur) == ["a", "b", "b::c"]
        assert (cur["a"].bytes, cur["a"].in_progress, cur["a"].frame) == (6, False, 2)
        assert (cur["b"].bytes, cur["b"].self_bytes, cur["b"].in_progress) == (3, 1, True)
        assert (cur["b::c"].bytes, cur["b::c"].in_progress) == (2, True)
        assert cur["b"].self_wall_ns <= cur["b"].wall_ns
        # reading "current" changed nothing
        assert alloc.current_phase == "b::c"
        alloc.end_phase()
        alloc.end_phase()
    s = alloc.phase_stats()
    assert {p: r.bytes for p, r in s.items()} == {"a": 6, "b": 3, "b::c": 2}
    assert all(r.frame == 2 for r in s.values())
    with alloc.frame():
        pass
    assert alloc.phase_stats() == {}          # last frame had no phases
    al = alloc.phase_stats("all")
    assert isinstance(al["a"], PhaseTotals)
    assert (al["a"].frames, al["a"].bytes, al["a"].max_bytes, al["a"].mean_bytes) == (2, 10, 6, 5.0)
    assert (al["b::c"].depth, al["b::c"].frames) == (1, 1)


def test_to_dict_json_round_trip(alloc):
    with alloc.frame(), alloc.phase("a"), alloc.phase("b"):
        alloc.frame_array(3, np.float32)
    for rec in alloc.phase_stats().values():
        d = json.loads(json.dumps(rec.to_dict()))
        assert d == rec.to_dict() and fa.PhaseStats(**d) == rec
    for tot in alloc.phase_stats("all").values():
        d = json.loads(json.dumps(tot.to_dict()))
        assert PhaseTotals(**d) == tot
    sec = alloc._phase_section()
    assert set(sec) == {"phases"} and isinstance(sec["phases"], fa.PhasesStats)
    d = json.loads(json.dumps(sec["phases"].to_dict()))
    assert d["paths"]["a::b"]["bytes"] == 12 and d["frames"] == 1
    assert fa.SmartAlloc()._phase_section() == {"phases": fa.PhasesStats()}


# -- a model ----------------------------------------------------------------------------------
_OPS = st.lists(st.one_of(
    st.tuples(st.just("begin"), st.sampled_from("abc")),
    st.tuples(st.just("end"), st.none()),
    st.tuples(st.just("end"), st.sampled_from("abc")),
    st.tuples(st.just("alloc"), st.integers(1, 64)),
    st.tuples(st.just("end_frame"), st.none()),
), max_size=60)


class _Model:
    def __init__(self):
        self.total_b = self.total_n = 0
        self.stack = []        # [name, path, b0, n0, child_b, child_n]
        self.frame = {}        # path -> [bytes, self_bytes, n, self_n, occ, open]
        self.all = {}          # path -> [frames, occ, bytes, max_bytes, left_open]
        self.frame_number = 1

    def begin(self, name):
        path = f"{self.stack[-1][1]}::{name}" if self.stack else name
        self.frame.setdefault(path, [0, 0, 0, 0, 0, False])
        self.stack.append([name, path, self.total_b, self.total_n, 0, 0])

    def close(self, left_open):
        name, path, b0, n0, cb, cn = self.stack.pop()
        b, n = self.total_b - b0, self.total_n - n0
        r = self.frame[path]
        r[0] += b
        r[1] += b - cb
        r[2] += n
        r[3] += n - cn
        r[4] += 1
        r[5] |= left_open
        if self.stack:
            self.stack[-1][4] += b
            self.stack[-1][5] += n

    def end_frame(self):
        left = bool(self.stack)
        while self.stack:
            self.close(True)
        last, self.frame = self.frame, {}
        for p, r in last.items():
            a = self.all.setdefault(p, [0, 0, 0, 0, 0])
            a[0] += 1
            a[1] += r[4]
            a[2] += r[0]
            a[3] = max(a[3], r[0])
            a[4] += r[5]
        self.frame_number += 1
        return last, left


@SETTINGS
@given(ops=_OPS)
def test_random_sequences_match_a_model(ops):
    alloc = fa.SmartAlloc()
    m = _Model()
    try:
        alloc.begin_frame()
        for op, arg in ops:
            if op == "begin":
                alloc.begin_phase(arg)
                m.begin(arg)
            elif op == "end":
                ok = bool(m.stack) and (arg is None or arg == m.stack[-1][0])
                if ok:
                    rec = alloc.end_phase(arg)
                    path = m.stack[-1][1]
                    b0 = m.stack[-1][2]
                    m.close(False)
                    assert rec.path == path and rec.bytes == m.total_b - b0
                else:
                    before = alloc.current_phase
                    with pytest.raises(fa.PhaseError):
                        alloc.end_phase(arg)
                    assert alloc.current_phase == before
            elif op == "alloc":
                alloc.frame_array(arg, np.int8)
                m.total_b += arg
                m.total_n += 1
            else:
                frame_no = m.frame_number
                with warnings.catch_warnings(record=True) as w:
                    warnings.simplefilter("always")
                    alloc.end_frame()
                last, left = m.end_frame()
                assert [x.message.code for x in w] == (["FA159"] if left else [])
                got = alloc.phase_stats()
                assert list(got) == list(last)
                for p, r in got.items():
                    assert (r.bytes, r.self_bytes, r.allocations, r.self_allocations,
                            r.occurrences, r.open_at_end_frame) == tuple(last[p])
                    assert r.frame == frame_no and r.depth == p.count("::")
                    assert r.name == p.rsplit("::", 1)[-1]
                alloc.begin_frame()
            assert alloc.current_phase == (m.stack[-1][1] if m.stack else "")
            cur = alloc.phase_stats("current")
            assert set(cur) == set(m.frame)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", fa.PhaseWarning)
            alloc.end_frame()
        m.end_frame()
        got = alloc.phase_stats("all")
        assert {p: (t.frames, t.occurrences, t.bytes, t.max_bytes, t.open_at_end_frame)
                for p, t in got.items()} == {p: tuple(a) for p, a in m.all.items()}
        sec = alloc._phase_section()["phases"]
        assert {p: t.bytes for p, t in sec.paths.items()} == {p: a[2] for p, a in m.all.items()}
    finally:
        alloc.close()


# -- codes and docs -----------------------------------------------------------------------------
def test_phase_codes_are_explained_and_raisable():
    codes = fa.errors.all_codes()
    assert set(phase_codes.CODES) == {"FA158", "FA159"}
    for code, info in phase_codes.CODES.items():
        assert code in codes and fa.explain(code).startswith(f"{code} {info.title}")
        assert len(info.explanation) > 100
    e = fa.PhaseError("x", code="FA158")
    assert e.code == "FA158" and str(e).startswith("FA158")
    assert issubclass(fa.PhaseWarning, UserWarning) and fa.PhaseWarning.code == "FA159"
    assert codes["FA158"].exception == "PhaseError" and codes["FA159"].exception == "PhaseWarning"


@pytest.mark.parametrize("name", ["framealloc.phases", "framealloc.phase_codes"])
def test_docstring_examples(name):
    import importlib
    mod = importlib.import_module(name)
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_docs_page_examples_run():
    path = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "phases.md")
    result = doctest.testfile(os.path.abspath(path), module_relative=False,
                              optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 10 and result.failed == 0


# -- the counters a phase reads ---------------------------------------------------------------

@njit(parallel=True, cache=True)
def _nj_prange_big(al, n, out):
    for i in prange(n):
        a = al.frame_array(9000, np.float64)     # past the first 64 KiB chunk of each row
        a[:] = i
        out[i] = a[0]


@given(st.lists(st.sampled_from(["frame", "big", "pool", "heap", "njit", "prange", "prange_big",
                                 "end", "begin", "free"]), max_size=25))
@SETTINGS
def test_phase_counters_equal_thread_counters(ops):
    """The memoryview reader phases use (phases._Counters) equals OrgPart.thread_counters at every
    step: frames open and ended, heap fallbacks, pool and heap memory, prange worker rows (their
    frame bytes; their heap-fallback and pool/heap counters stay 0 here)."""
    from framealloc.phases import _Counters
    alloc = fa.SmartAlloc(fa.AllocConfig(frame_chunk_size=fa.KiB(64),
                                         on_frame_exhausted="heap"))
    held = []
    try:
        ta = alloc._frame_part.arena()
        reader = _Counters(alloc._frame_part.rows[ta.slot], alloc._org_part._orgrows[ta.slot])
        out = np.zeros(64)
        for op in ops + ["begin", "frame", "prange", "prange_big", "end"]:
            in_frame = alloc.in_frame
            if op == "begin" and not in_frame:
                alloc.begin_frame()  # noqa: FA606
            elif op == "end" and in_frame:
                alloc.end_frame()
            elif op == "frame" and in_frame:
                alloc.frame_array(100, np.uint8)
            elif op == "big" and in_frame:
                alloc.frame_array(fa.KiB(80), np.uint8)           # past the chunk: heap fallback
            elif op == "pool":
                held.append(alloc.pool_box(np.zeros(3)))
            elif op == "heap":
                held.append(alloc.heap_array(7, np.float32))
            elif op == "free" and held:
                held.pop()
            elif op == "prange_big" and in_frame:
                _nj_prange_big(alloc, 4, out)
            elif op in ("njit", "prange") and in_frame:
                (_nj_fill(alloc, 9) if op == "njit" else _nj_prange(alloc, 64, out))
            assert reader.read() == alloc._org_part.thread_counters(ta), op
    finally:
        held.clear()
        alloc.close()
