"""Tags: every frame allocation attributed to the current tag, from Python and inside @njit."""
from __future__ import annotations

import json
import threading

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numba import njit, prange

import framealloc as fa
from framealloc.kernels.org_state import LOG_CAP


def tag_current(alloc, path, kind="frame"):
    return alloc.stats().tags[path].kinds[kind]["current"]


def test_nested_tags_give_paths_and_count_bytes():
    alloc = fa.SmartAlloc()
    with alloc.frame():
        assert alloc.current_tag == ""
        with alloc.tag("physics") as tid:
            assert alloc.current_tag == "physics" and tid == alloc.tag_id("physics")
            alloc.frame_array(100, np.float64)                 # 800 B
            with alloc.tag("broadphase"):
                assert alloc.current_tag == "physics::broadphase"
                alloc.frame_array(10, np.float32)              # 40 B
            alloc.frame_array(1, np.int64)                     # 8 B back in physics
        alloc.frame_array(3, np.int8)                          # root
        tags = alloc.stats().tags
        assert tags["physics"].current == 808 and tags["physics"].allocations == 2
        assert tags["physics::broadphase"].current == 40
        assert tags[""].kinds["frame"]["current"] == alloc.stats().frame.current - 848
    tags = alloc.stats().tags
    assert tags["physics"].current == 0 and tags["physics"].freed == 808
    assert tags["physics"].allocated == 808 and tags["physics"].peak == 808
    assert tags["physics::broadphase"].frees == 1
    assert alloc.current_tag == ""


def test_tag_spans_frames_and_with_tag():
    alloc = fa.SmartAlloc()
    with alloc.tag("sim"):
        for _ in range(3):
            with alloc.frame():
                alloc.frame_array(16, np.float32)
    s = alloc.stats().tags["sim"]
    assert (s.allocated, s.current, s.allocations) == (192, 0, 3)
    assert alloc.with_tag("audio", lambda x: (alloc.current_tag, x), 5) == ("audio", 5)


def test_tag_ids_and_names():
    alloc = fa.SmartAlloc()
    a = alloc.tag_id("a::b::c")
    assert alloc.tag_name(a) == "a::b::c" and alloc.tag_name(alloc.tag_id("a")) == "a"
    assert alloc.tag_id("a::b") < a and alloc.tag_name(0) == ""


@njit
def njit_tagged(alloc, t_outer, t_inner, n):
    alloc.push_tag(t_outer)
    for i in range(n):
        a = alloc.frame_array(4, np.float64)      # 32 B to outer
        a[0] = i
        alloc.push_tag(t_inner)
        b = alloc.frame_array(2, np.int32)        # 8 B to inner
        b[0] = i
        alloc.pop_tag()
    alloc.pop_tag()
    return alloc.current_tag_id


def test_njit_push_pop_attributes():
    alloc = fa.SmartAlloc()
    outer, inner = alloc.tag_id("njit"), alloc.tag_id("njit::inner")
    with alloc.frame():
        assert njit_tagged(alloc, outer, inner, 10) == 0
        tags = alloc.stats().tags
        assert tags["njit"].current == 320 and tags["njit"].allocations == 10
        assert tags["njit::inner"].current == 80
    assert alloc.stats().tags["njit"].freed == 320


@njit
def njit_plain(alloc, n):
    for _ in range(n):
        alloc.frame_array(8, np.uint8)


def test_python_tag_covers_njit_calls():
    alloc = fa.SmartAlloc()
    with alloc.frame(), alloc.tag("kernel"):
        njit_plain(alloc, 5)
        assert tag_current(alloc, "kernel") == 40


@njit(parallel=True)
def prange_tagged(alloc, tid, n):
    out = np.zeros(n)
    for i in prange(n):
        alloc.push_tag(tid)
        a = alloc.frame_array(8, np.float64)
        a[0] = i
        out[i] = a[0]
        alloc.pop_tag()
    return out


def test_prange_workers_push_their_own_tags():
    alloc = fa.SmartAlloc()
    tid = alloc.tag_id("workers")
    with alloc.frame():
        assert prange_tagged(alloc, tid, 1000).sum() == sum(range(1000))
        s = alloc.stats().tags["workers"]
        assert s.current == 64 * 1000 and s.allocations == 1000


def test_tags_are_per_thread():
    alloc = fa.SmartAlloc()
    seen = {}
    barrier = threading.Barrier(2)

    def work(name, n):
        with alloc.frame(), alloc.tag(name):
            alloc.frame_array(n, np.uint8)
            barrier.wait(timeout=30)
            seen[name] = (alloc.current_tag, tag_current(alloc, name))
            barrier.wait(timeout=30)

    ts = [threading.Thread(target=work, args=(n, k)) for n, k in (("t1", 100), ("t2", 300))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert seen == {"t1": ("t1", 100), "t2": ("t2", 300)}


def test_rollback_gives_bytes_back_to_each_tag():
    alloc = fa.SmartAlloc()
    with alloc.frame():
        with alloc.tag("a"):
            alloc.frame_array(10, np.uint8)
            cp = alloc.frame_checkpoint()
            alloc.frame_array(20, np.uint8)
        with alloc.tag("b"):
            alloc.frame_array(40, np.uint8)
        with alloc.tag("c"):
            alloc.frame_array(80, np.uint8)
            alloc.rollback_to(cp)
            alloc.frame_array(5, np.uint8)            # after the rollback: still tag c
        t = alloc.stats().tags
        assert (t["a"].current, t["b"].current, t["c"].current) == (10, 0, 5)
        assert (t["a"].allocated, t["b"].allocated, t["c"].allocated) == (30, 40, 85)
    t = alloc.stats().tags
    assert all(t[p].current == 0 and t[p].freed == t[p].allocated for p in "abc")


def test_stats_to_dict_is_json():
    alloc = fa.SmartAlloc()
    with alloc.frame(), alloc.tag("x"):
        alloc.frame_array(3)
        d = alloc.stats().to_dict()
    text = json.dumps(d)
    assert json.loads(text)["tags"]["x"]["current"] == 24


# -- bad inputs ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["", "a::", "::a", "a:: b", 3, None, "bad\nname",
                                  "::".join("x" * 17)])
def test_bad_tag_names(name):
    alloc = fa.SmartAlloc()
    with pytest.raises(fa.TagError) as e:
        with alloc.tag(name):
            pass
    assert e.value.code == "FA150" and alloc.current_tag == ""


def test_too_many_tags_and_unbalanced_pop():
    alloc = fa.SmartAlloc(fa.AllocConfig(max_tags=3))
    alloc.tag_id("a")
    alloc.tag_id("b")
    with pytest.raises(fa.TagError) as e:
        alloc.tag_id("c")
    assert e.value.code == "FA151" and alloc.stats().tags.keys() == {"", "a", "b"}
    with pytest.raises(fa.TagError) as e:
        alloc.pop_tag()
    assert e.value.code == "FA152"
    with pytest.raises(fa.TagError) as e:
        alloc.tag_name(7)
    assert e.value.code == "FA153"


@njit
def push_only(alloc, tid):
    alloc.push_tag(tid)


@njit
def pop_only(alloc):
    alloc.pop_tag()


def test_njit_tag_errors():
    alloc = fa.SmartAlloc()
    with pytest.raises(fa.TagError) as e:
        push_only(alloc, 99)
    assert e.value.code == "FA153"
    with pytest.raises(fa.TagError) as e:
        pop_only(alloc)
    assert e.value.code == "FA152"
    # A push left open inside @njit is reported when the Python block around it closes.
    tid = alloc.tag_id("left-open")
    with pytest.raises(fa.TagError) as e:
        with alloc.tag("outer"):
            push_only(alloc, tid)
    assert e.value.code == "FA152"
    pop_only(alloc)
    alloc.pop_tag()
    assert alloc.current_tag == ""


def test_tag_log_full_under_a_checkpoint_is_refused_unchanged():
    alloc = fa.SmartAlloc()
    with alloc.frame():
        alloc.frame_checkpoint()
        for i in range(LOG_CAP):
            with alloc.tag(f"t{i % 2}"):
                alloc.frame_array(1, np.uint8)
        alloc.frame_array(1, np.uint8)
        before = alloc._rows.copy()
        with pytest.raises(fa.TagError) as e:
            alloc.push_tag("t0")
        assert e.value.code == "FA157" and alloc.current_tag == ""
        assert alloc._rows.tobytes() == before.tobytes()


# -- property: tag totals equal the live allocations per tag ----------------------------------

OPS = st.lists(st.one_of(
    st.tuples(st.just("alloc"), st.integers(0, 300), st.sampled_from([1, 8, 64])),
    st.tuples(st.just("push"), st.sampled_from(["a", "b", "c"]), st.just(0)),
    st.tuples(st.just("pop"), st.just(""), st.just(0)),
    st.tuples(st.just("cp"), st.just(""), st.just(0)),
    st.tuples(st.just("rollback"), st.integers(0, 5), st.just(0)),
    st.tuples(st.just("end"), st.just(""), st.just(0)),
), max_size=60)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(OPS)
def test_tag_totals_equal_live_allocations(ops):
    alloc = fa.SmartAlloc(fa.AllocConfig(frame_chunk_size=4096))
    live: list[tuple[str, int, int]] = []      # (tag path, start, nbytes) in this frame
    cps: list[tuple[object, int]] = []         # (checkpoint, len(live) when taken)
    stack: list[str] = []
    alloc.begin_frame()
    for op, a, b in ops:
        if op == "alloc":
            pos0 = alloc_pos(alloc)
            alloc.frame_array(a, np.uint8, align=b)
            live.append(("::".join(stack), pos0, alloc_pos(alloc) - pos0))
        elif op == "push":
            alloc.push_tag(a)
            stack.append(a)
        elif op == "pop" and stack:
            alloc.pop_tag()
            stack.pop()
        elif op == "cp":
            cps.append((alloc.frame_checkpoint(), len(live)))
        elif op == "rollback" and cps:
            cp, n = cps[min(a, len(cps) - 1)]
            alloc.rollback_to(cp)
            del live[n:]
            cps = [(c, k) for c, k in cps if k <= n and c.serial <= cp.serial]
        elif op == "end":
            alloc.end_frame()
            alloc.begin_frame()
            live, cps = [], []
        check(alloc, live)
    alloc.end_frame()
    check(alloc, [])


def alloc_pos(alloc):
    r = alloc._rows[alloc._arena().slot, 0]
    return int(r["used_before"] + r["cursor"])


def check(alloc, live):
    want: dict[str, int] = {}
    for path, _, n in live:
        want[path] = want.get(path, 0) + n       # padding goes to the tag that allocated
    tags = alloc.stats().tags
    for path, s in tags.items():
        assert s.kinds["frame"]["current"] == want.get(path, 0), (path, want)
        assert s.current == s.allocated - s.freed
