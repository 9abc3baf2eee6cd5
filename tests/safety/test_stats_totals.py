"""``alloc.stats()`` adds up: every total is the sum of its field over every kind section, the
per-thread entries (ended threads included) sum to the frame section, and both equal what the
test itself counted while it allocated (threads that end and whose slots are reused, random
sequences of every kind of allocation and free)."""
from __future__ import annotations

import dataclasses
import gc
import threading

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import framealloc as fa
from framealloc import AllocConfig, AllocStats, FrameStats

from tests.core.conftest import leakcheck  # noqa: F401  (autouse fixture: NRT allocs == frees)

FRAMES = 300            # per thread
WAVE = 2                # threads running at once (max_threads=3: the main thread holds a slot)
WAVES = 4               # 8 worker threads in all, their slots reused wave after wave
SCRATCH_CAP = 4096
STREAM_BUDGET = 4096


# -- the checks --------------------------------------------------------------------------------
def kind_sections(s: AllocStats) -> dict:
    """Every section of ``s`` (a dataclass-valued field) that counts bytes (has one of the
    total fields) and is not a declared view of bytes a kind counts."""
    out = {}
    for f in dataclasses.fields(s):
        value = getattr(s, f.name)
        if (dataclasses.is_dataclass(value) and f.name not in type(s).VIEWS
                and any(hasattr(value, name) for name in s.TOTALS)):
            out[f.name] = value
    return out


def total_mismatches(s: AllocStats) -> list:
    """What does not add up in ``s``, found by introspection (empty when everything does)."""
    bad = []
    kinds = kind_sections(s)
    if set(kinds) != set(s.KINDS):
        bad.append(f"sections {sorted(kinds)} are not the declared kinds {sorted(s.KINDS)}")
    d = s.to_dict()
    for name in s.TOTALS:
        want = sum(getattr(sec, name) for sec in kinds.values() if hasattr(sec, name))
        for got, where in ((getattr(s, f"total_{name}"), "property"),
                           (d.get(f"total_{name}"), "to_dict")):
            if got != want:
                bad.append(f"total_{name} ({where}) = {got}, sum over the kinds = {want}")
    for kind, sec in kinds.items():
        missing = [n for n in s.TOTALS if not hasattr(sec, n)]
        if missing:
            bad.append(f"kind {kind} has no {missing}: the totals would leave it out")
        elif sec.allocated - sec.freed != sec.current:
            bad.append(f"{kind}: allocated - freed != current ({sec})")
    threads = FrameStats.total(t.frame for t in s.threads)
    if threads != s.frame:
        bad.append(f"threads sum to {threads}, frame section is {s.frame}")
    return bad


def check_totals(s: AllocStats) -> None:
    assert total_mismatches(s) == []
    assert s.total_allocated - s.total_freed == s.total_current


def test_the_total_properties_are_exactly_the_declared_totals():
    names = sorted(n for n in dir(AllocStats) if n.startswith("total_"))
    assert names == sorted(f"total_{n}" for n in AllocStats.TOTALS)
    assert not set(AllocStats.KINDS) & set(AllocStats.VIEWS)


def test_every_kind_counts_in_every_total(monkeypatch):
    alloc = fa.SmartAlloc()
    keep = _one_of_each(alloc)
    s = alloc.stats()
    check_totals(s)
    for kind in s.KINDS:        # every kind holds bytes here, so leaving one out would show
        sec = getattr(s, kind)
        assert sec.current > 0 and sec.allocated > 0 and sec.reserved > 0, kind
    assert s.groups.current > 0 and s.heap.current >= s.groups.current   # a view, not a kind
    # The check sees a kind missing from the list the totals are computed from.
    monkeypatch.setattr(AllocStats, "KINDS", tuple(k for k in AllocStats.KINDS if k != "scratch"))
    assert any("total_reserved" in m for m in total_mismatches(alloc.stats()))
    monkeypatch.undo()
    del keep
    alloc.close()


def _one_of_each(alloc) -> list:
    """A live allocation of every kind (and a group); returns what keeps them alive."""
    alloc.begin_frame()
    alloc.frame_array(10, np.float64)
    box = alloc.pool_alloc(np.uint8, 64)
    tp = alloc.typed_pool(np.float64, 8)
    tp.acquire()
    arr = alloc.heap_array(100, np.uint8)
    g = alloc.create_group()
    garr = alloc.group_alloc(g, 50, np.uint8)
    sp = alloc.scratch_pool("each", SCRATCH_CAP)
    sp.array(30, np.uint8)
    h = alloc.handles.alloc(20, np.uint8)
    stream = alloc.streaming(STREAM_BUDGET)
    stream.reserve(40)
    alloc.end_frame()
    alloc.begin_frame()
    alloc.frame_array(3, np.float64)
    return [box, tp, arr, g, garr, sp, h, stream]


# -- threads that end, slots that are reused ---------------------------------------------------
class Model:
    """What one thread did, counted by the test."""

    def __init__(self) -> None:
        self.frames_begun = self.frame_bytes = self.frame_allocs = self.rollbacks = 0
        self.open_bytes = 0                 # bytes of the frame left open
        self.pool = [0, 0]                  # bytes handed out, bytes freed
        self.heap = [0, 0]
        self.typed = [0, 0]
        self.scratch = [0, 0]

    def frame_alloc(self, alloc, n: int) -> None:
        alloc.frame_array(n, np.float64)
        self.frame_bytes += 8 * n
        self.frame_allocs += 1


def _worker(alloc, i: int, model: Model, kept: list, hold: threading.Event | None,
            ready: threading.Barrier | None, leave_open: bool) -> None:
    rng = np.random.default_rng(i)
    classes = alloc.pools.size_classes[:4]
    tp = alloc.typed_pool(np.float64, 4)
    sp = alloc.scratch_pool(f"worker{i}", SCRATCH_CAP)
    kept += [tp, sp]
    live_records = []
    for f in range(FRAMES):
        with alloc.frame():
            model.frames_begun += 1
            for _ in range(int(rng.integers(1, 4))):
                model.frame_alloc(alloc, int(rng.integers(1, 64)))
            if f % 10 == 3:
                cp = alloc.frame_checkpoint()
                model.frame_alloc(alloc, 5)
                alloc.rollback_to(cp)
                model.rollbacks += 1
            if f % 25 == 0:
                size = int(classes[f // 25 % len(classes)])
                box = alloc.pool_alloc(np.uint8, size)       # exactly one block of its class
                model.pool[0] += size
                n = int(rng.integers(1, 500))
                arr = alloc.heap_array(n, np.uint8)
                model.heap[0] += n
                if f % 50 == 0:
                    kept += [box, arr]
                else:
                    box.free()
                    model.pool[1] += size
                    del arr                                   # collected now: freed
                    model.heap[1] += n
            if f % 7 == 0:
                if len(live_records) < 3:
                    live_records.append(tp.acquire())
                    model.typed[0] += 8
                else:
                    tp.release(live_records.pop(0))
                    model.typed[1] += 8
            if f % 30 == 0:
                n = int(rng.integers(1, 200))
                sp.array(n, np.uint8)
                model.scratch[0] += n
            if f % 100 == 99:
                model.scratch[1] = model.scratch[0]
                sp.reset()
    if hold is not None:                 # stay alive with a frame open while stats are taken
        alloc.begin_frame()  # noqa: FA606 - one thread ends inside it, on purpose
        model.frames_begun += 1
        model.frame_alloc(alloc, 100)
        model.open_bytes = 800
        ready.wait()
        hold.wait()
        if not leave_open:               # the other thread ends with its frame still open
            alloc.end_frame()
            model.open_bytes = 0
    # Leaving with a frame open: the thread's end releases it, so it counts as ended and freed.
    model.open_bytes = 0


def _run_wave(target, n: int) -> None:
    errors = []

    def wrap(k):
        try:
            target(k)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=wrap, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    return threads, errors


def _join(threads, errors) -> None:
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    assert not errors, errors
    gc.collect()


def _check_against_models(alloc, s: AllocStats, models: list, main: Model, kept: list,
                          live: int) -> None:
    """Every total and section of ``s`` equals what the threads counted."""
    everyone = models + [main]
    frame_bytes = sum(m.frame_bytes for m in everyone)
    open_bytes = sum(m.open_bytes for m in everyone)
    f = s.frame
    assert f.allocated == frame_bytes and f.current == open_bytes
    assert f.freed == frame_bytes - open_bytes
    assert f.allocations == sum(m.frame_allocs for m in everyone)
    assert f.rollbacks == sum(m.rollbacks for m in everyone)
    frames_open = sum(m.open_bytes > 0 for m in everyone)
    assert (f.frames_ended, f.frames_open) == (sum(m.frames_begun for m in everyone) - frames_open,
                                               frames_open)
    for kind, attr in (("pool", "pool"), ("heap", "heap"), ("typed_pools", "typed"),
                       ("scratch", "scratch")):
        handed, freed = (sum(getattr(m, attr)[k] for m in models) for k in (0, 1))
        sec = getattr(s, kind)
        assert (sec.allocated, sec.freed, sec.current) == (handed, freed, handed - freed), kind
    # What is held: the live threads' chunks (the ended threads hold none), the pools' pages and
    # storage, the scratch pools' buffers, the live heap arrays.
    (ended,) = [t for t in s.threads if t.ended]
    assert ended.frame.reserved == 0 and ended.frame.current == 0
    assert f.reserved == int(alloc._rows["reserved_bytes"].sum()) > 0
    assert s.pool.reserved == sum(i.pages * i.page_bytes for i in alloc.pools.info())
    typed = [p for p in kept if isinstance(p, fa.TypedPool)]
    assert s.typed_pools.reserved == sum(p.info().reserved for p in typed)
    assert s.scratch.reserved == SCRATCH_CAP * len(models)
    assert s.heap.reserved == s.heap.current
    truth = {
        "current": open_bytes + sum(m.pool[0] - m.pool[1] + m.heap[0] - m.heap[1] + m.typed[0]
                                    - m.typed[1] + m.scratch[0] - m.scratch[1] for m in models),
        "allocated": frame_bytes + sum(m.pool[0] + m.heap[0] + m.typed[0] + m.scratch[0]
                                       for m in models),
        "reserved": (f.reserved + s.pool.reserved + s.typed_pools.reserved + s.heap.current
                     + SCRATCH_CAP * len(models)),
    }
    truth["freed"] = truth["allocated"] - truth["current"]
    for name, want in truth.items():
        assert getattr(s, f"total_{name}") == want, name
    check_totals(s)
    assert sum(not t.ended for t in s.threads) == live


def test_threads_that_end_stay_in_the_totals_and_the_per_thread_sums():
    alloc = fa.SmartAlloc(AllocConfig(max_threads=WAVE + 1))
    main = Model()
    alloc.begin_frame()                                  # the main thread holds a slot throughout
    main.frames_begun += 1
    main.frame_alloc(alloc, 25)
    main.open_bytes = 200
    models, kept = [], []
    for wave in range(WAVES):
        last = wave == WAVES - 1
        wave_models = [Model() for _ in range(WAVE)]
        models += wave_models
        hold = threading.Event() if last else None
        ready = threading.Barrier(WAVE + 1) if last else None
        base = wave * WAVE
        threads, errors = _run_wave(
            lambda k: _worker(alloc, base + k, wave_models[k], kept, hold, ready, k == 1), WAVE)
        if last:
            # Two threads alive inside a frame, six ended, the main thread in its frame.
            ready.wait(timeout=120)
            s = alloc.stats()
            live = [t for t in s.threads if not t.ended]
            assert sorted(t.slot for t in live) == [0, 1, 2]          # slots were reused
            assert sorted(t.frame_number for t in live) == [1, FRAMES + 1, FRAMES + 1]
            assert all(t.in_frame and t.threads == 1 for t in live)
            (ended,) = [t for t in s.threads if t.ended]
            assert (ended.threads, ended.slot, ended.thread_id) == (WAVE * (WAVES - 1), None, None)
            assert ended.frame_number == ended.frame.frames_ended == FRAMES * WAVE * (WAVES - 1)
            assert ended.frame.allocated == sum(m.frame_bytes for m in models[:-WAVE])
            _check_against_models(alloc, s, models, main, kept, live=3)
            hold.set()
        _join(threads, errors)
        s = alloc.stats()
        (ended,) = [t for t in s.threads if t.ended]
        assert ended.threads == WAVE * (wave + 1)
        _check_against_models(alloc, s, models, main, kept, live=1)
    assert s.frame.frames_ended == WAVES * WAVE * FRAMES + 2     # + the two 301st frames
    alloc.end_frame()
    main.open_bytes = 0
    s = alloc.stats()
    _check_against_models(alloc, s, models, main, kept, live=1)
    assert (s.frame.frames_ended, s.frame.frames_open) == (WAVES * WAVE * FRAMES + 3, 0)
    del kept[:]
    alloc.close()


# -- random sequences of every kind --------------------------------------------------------------
OPS = st.lists(st.tuples(
    st.sampled_from(["frame", "frame_alloc", "rollback", "pool", "pool_free", "typed",
                     "typed_release", "heap", "heap_drop", "scratch", "scratch_reset", "handle",
                     "handle_free", "stream", "stream_release"]),
    st.integers(1, 300)), max_size=40)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(ops=OPS)
def test_random_allocations_and_frees_add_up(ops):
    """Random frame/pool/typed-pool/heap/scratch/handle/streaming allocations and frees: after
    every step each total is the sum over the kind sections, and each section's current /
    allocated / freed is what the sequence did."""
    alloc = fa.SmartAlloc()
    classes = alloc.pools.size_classes
    tp = alloc.typed_pool(np.int32, 4)
    sp = alloc.scratch_pool("random", SCRATCH_CAP)
    stream = alloc.streaming(STREAM_BUDGET)
    live = {"pool": [], "typed": [], "heap": [], "handle": [], "stream": []}
    handed = dict.fromkeys(["frame", "pool", "typed_pools", "heap", "scratch", "handles",
                            "streaming"], 0)
    freed = dict(handed)
    cps = []
    for op, n in ops:
        if op == "frame":
            if alloc.in_frame:
                alloc.end_frame()
                freed["frame"] = handed["frame"]
                cps = []
            else:
                alloc.begin_frame()
        elif op == "frame_alloc" and alloc.in_frame:
            alloc.frame_array(n, np.float64)
            handed["frame"] += 8 * n
            if n % 3 == 0:
                cps.append((alloc.frame_checkpoint(), handed["frame"] - freed["frame"]))
        elif op == "rollback" and cps:
            cp, at = cps.pop()
            alloc.rollback_to(cp)
            freed["frame"] += (handed["frame"] - freed["frame"]) - at
            cps = [c for c in cps if c[1] <= at]
        elif op == "pool":
            size = int(classes[n % len(classes)])
            live["pool"].append((alloc.pool_alloc(np.uint8, size), size))
            handed["pool"] += size
        elif op == "pool_free" and live["pool"]:
            box, size = live["pool"].pop(n % len(live["pool"]))
            box.free()
            freed["pool"] += size
        elif op == "typed":
            live["typed"].append(tp.acquire())
            handed["typed_pools"] += 4
        elif op == "typed_release" and live["typed"]:
            tp.release(live["typed"].pop(n % len(live["typed"])))
            freed["typed_pools"] += 4
        elif op == "heap":
            live["heap"].append(alloc.heap_array(n, np.uint8))
            handed["heap"] += n
        elif op == "heap_drop" and live["heap"]:
            freed["heap"] += live["heap"].pop(n % len(live["heap"])).nbytes
        elif op == "scratch":
            if sp.try_array(n, np.uint8) is not None:
                handed["scratch"] += n
        elif op == "scratch_reset":
            sp.reset()
            freed["scratch"] = handed["scratch"]
        elif op == "handle":
            live["handle"].append((alloc.handles.alloc(n, np.uint8), n))
            handed["handles"] += n
        elif op == "handle_free" and live["handle"]:
            h, size = live["handle"].pop(n % len(live["handle"]))
            alloc.handles.free(h)
            freed["handles"] += size
        elif op == "stream" and stream.used + n <= STREAM_BUDGET:
            live["stream"].append((stream.reserve(n), n))
            handed["streaming"] += n
        elif op == "stream_release" and live["stream"]:
            aid, size = live["stream"].pop(n % len(live["stream"]))
            stream.release(aid)
            freed["streaming"] += size
        s = alloc.stats()
        check_totals(s)
        for kind in handed:
            sec = getattr(s, kind)
            assert (sec.allocated, sec.freed, sec.current) == \
                (handed[kind], freed[kind], handed[kind] - freed[kind]), (kind, op)
        assert s.total_current == sum(handed.values()) - sum(freed.values())
        assert s.heap.reserved == s.heap.current and s.streaming.reserved == stream.used
        assert s.scratch.reserved == SCRATCH_CAP
        assert s.handles.reserved == alloc.handles.info().reserved
    if alloc.in_frame:
        alloc.end_frame()
    for box, _ in live["pool"]:
        box.free()
    del live
    alloc.close()


@pytest.mark.parametrize("leave_open", [False, True])
def test_a_reused_slot_starts_from_zero_and_the_ended_entry_keeps_the_history(leave_open):
    alloc = fa.SmartAlloc(AllocConfig(max_threads=1))
    sizes = [10, 20, 30]

    def work(k):
        for _ in range(k + 1):
            with alloc.frame():
                alloc.frame_array(sizes[k], np.float64)
        if leave_open:
            alloc.begin_frame()
            alloc.frame_array(1, np.float64)

    for k in range(3):                   # one slot: each thread reuses the one before it
        threads, errors = _run_wave(lambda _: work(k), 1)
        _join(threads, errors)
    extra = 3 if leave_open else 0
    s = alloc.stats()
    (ended,) = s.threads
    assert (ended.ended, ended.threads, ended.frame_number) == (True, 3, 6 + extra)
    assert ended.frame.allocated == 8 * (10 + 2 * 20 + 3 * 30 + extra)
    assert ended.frame.frames_ended == 6 + extra and ended.frame.frames_open == 0
    assert ended.frame.current == 0 and ended.frame.reserved == 0
    with alloc.frame():                  # the main thread takes the slot: its own counters
        alloc.frame_array(1, np.float64)
        live, ended2 = alloc.stats().threads
        assert (live.frame_number, live.frame.allocated, live.frame.current) == (1, 8, 8)
        assert ended2 == ended
    check_totals(alloc.stats())
    alloc.close()
