"""The behaviour filter (issue 14, item 8): every FA51x code has a scenario that fires and a near
miss that does not, from Python and (where the behaviour can happen there) from @njit frames;
reports once per window, through warnings filters, strict mode, ``ignore``, snapshots, the
report and traces; settings checked (FA013)."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from numba import njit

import framealloc as fa
from framealloc.config import BEHAVIOUR_FIELDS
from framealloc.errors import CODES, exception_class

# FA514's scenarios pass a soft budget every frame on purpose: its FA155 is not tested here.
pytestmark = pytest.mark.filterwarnings("ignore::framealloc.BudgetWarning")

#: Short windows so that each scenario runs a few dozen frames.
N = 8
CHECK = 4
FRAMES = 3 * N


def _filter(**kw) -> fa.BehaviourFilter:
    lengths = {name: N for name in BEHAVIOUR_FIELDS.values()}
    return fa.BehaviourFilter(**{"check_every": CHECK, **lengths, **kw})


# -- one scenario per code: (config options, per-frame body(alloc, n, state)) -------------------
# The body runs inside frame n (0-based); ``fire`` shows the behaviour in every frame, ``miss``
# comes as close as possible without showing it for N frames in a row.

def _promote(alloc, n, st, every=True):
    if every or n % N != N - 1:
        alloc.frame_retained(np.float32, fa.RetentionPolicy.PromoteToHeap, shape=4)


def _short_box(alloc, n, st, same_frame=True):
    box = alloc.pool_box(np.zeros(4))
    if same_frame:
        box.free()
    else:                                   # freed in the next frame: it outlived its frame
        if st.get("prev") is not None:
            st["prev"].free()
        st["prev"] = box


def _growth(alloc, n, st, every=True):
    size = 64 * (n + 1) if every else 64 * (1 + n - (n + 1) // N)   # flat every N-th frame
    alloc.frame_array(size, np.uint8)


def _heap_fallback(alloc, n, st, every=True):
    if every or n % N != N - 1:
        alloc.frame_array(5000, np.uint8)      # beyond the 4096-byte chunk: heap


def _soft_budget(alloc, n, st, every=True):
    if n == 0:
        alloc.set_budget(soft=100)
    alloc.frame_array(200 if every or n % N != N - 1 else 50, np.uint8)


def _scratch(alloc, n, st, reset=False):
    pool = alloc.scratch_pool("level", 1 << 16)
    pool.array(4, np.float32)
    if reset and n % (N // 2) == N // 2 - 1:
        pool.reset()


def _typed(alloc, n, st, every=True):
    pool = st.get("pool") or st.setdefault("pool", alloc.typed_pool(np.float64, 8))
    if every or n % CHECK != 0:             # 3 records per 4 frames: under one per frame
        pool.acquire()


HEAP = dict(on_frame_exhausted="heap", frame_capacity=4096, frame_chunk_size=4096)

SCENARIOS = {
    "FA510": ({}, lambda a, n, st: _promote(a, n, st), lambda a, n, st: _promote(a, n, st, False)),
    "FA511": ({}, lambda a, n, st: _short_box(a, n, st),
              lambda a, n, st: _short_box(a, n, st, False)),
    "FA512": ({}, lambda a, n, st: _growth(a, n, st), lambda a, n, st: _growth(a, n, st, False)),
    "FA513": (HEAP, lambda a, n, st: _heap_fallback(a, n, st),
              lambda a, n, st: _heap_fallback(a, n, st, False)),
    "FA514": ({}, lambda a, n, st: _soft_budget(a, n, st),
              lambda a, n, st: _soft_budget(a, n, st, False)),
    "FA515": ({}, lambda a, n, st: _scratch(a, n, st), lambda a, n, st: _scratch(a, n, st, True)),
    "FA516": ({}, lambda a, n, st: _typed(a, n, st), lambda a, n, st: _typed(a, n, st, False)),
}


def _run(code: str, which: int, frames: int = FRAMES, strict: bool = False, **filter_kw):
    """Run ``code``'s scenario (which=1: fires, 2: near miss) from Python; returns the allocator
    and the behaviour codes warned."""
    options, *bodies = SCENARIOS[code]
    alloc = fa.SmartAlloc(strict=strict, behaviour=_filter(**filter_kw), **options)
    st: dict = {}
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        for n in range(frames):
            with alloc.frame():
                bodies[which - 1](alloc, n, st)
        alloc.check_behaviour()
    return alloc, [w.message.code for w in rec if isinstance(w.message, fa.BehaviourWarning)]


def warning_scenario(code: str):
    """A scenario issuing ``code`` (for test_warnings' table of every warning)."""
    def run(strict: bool = False):
        options, fire, _ = SCENARIOS[code]
        alloc = fa.SmartAlloc(strict=strict, behaviour=_filter(), **options)
        st: dict = {}
        with warnings.catch_warnings():
            # FA514's scenario passes a soft budget every frame: FA155 is not what it tests.
            warnings.filterwarnings("ignore", category=fa.BudgetWarning)
            for n in range(FRAMES):
                with alloc.frame():
                    fire(alloc, n, st)
            alloc.check_behaviour()
    return run


# -- the table covers every code -------------------------------------------------------------

def test_every_behaviour_code_has_a_scenario_a_setting_and_an_explanation():
    codes = sorted(c for c in CODES if CODES[c].exception == "BehaviourWarning")
    assert codes == sorted(SCENARIOS) == sorted(BEHAVIOUR_FIELDS)
    assert codes == [f"FA{n}" for n in range(510, 510 + len(codes))]
    for code in codes:
        assert exception_class(code) is fa.BehaviourWarning
        text = fa.explain(code)
        assert text.startswith(code) and f"BehaviourFilter.{BEHAVIOUR_FIELDS[code]}" in text
        bf = fa.BehaviourFilter()
        assert bf._frames_of(code) == getattr(bf, BEHAVIOUR_FIELDS[code])


@pytest.mark.parametrize("code", sorted(SCENARIOS))
def test_scenario_fires_its_code_only(code):
    alloc, warned = _run(code, 1)
    assert set(warned) == {code}
    events = alloc.behaviour_events
    assert [e.code for e in events] == warned
    assert all(e.message.startswith(code + ": ") and e.thread_slot == 0 for e in events)
    # Once per window: a behaviour that lasts all FRAMES frames is reported at most once per N.
    assert 1 <= len(events) <= FRAMES // N
    frames = [e.frame for e in events]
    assert all(b - a >= N for a, b in zip(frames, frames[1:]))


@pytest.mark.parametrize("code", sorted(SCENARIOS))
def test_near_miss_does_not_fire(code):
    alloc, warned = _run(code, 2)
    assert warned == [] and alloc.behaviour_events == []


@pytest.mark.parametrize("code", sorted(SCENARIOS))
def test_ignore_and_off_report_nothing(code):
    _, warned = _run(code, 1, ignore=(code,))
    assert warned == []
    options, fire, _ = SCENARIOS[code]
    alloc = fa.SmartAlloc(behaviour=None, **options)
    with warnings.catch_warnings():
        warnings.simplefilter("error", fa.BehaviourWarning)
        st: dict = {}
        for n in range(FRAMES):
            with alloc.frame():
                fire(alloc, n, st)
        assert alloc.check_behaviour() == [] and alloc.behaviour_events == []


@pytest.mark.parametrize("code", sorted(SCENARIOS))
def test_a_longer_threshold_is_not_reached(code):
    _, warned = _run(code, 1, **{BEHAVIOUR_FIELDS[code]: FRAMES + 1})
    assert warned == []


@pytest.mark.parametrize("code", sorted(SCENARIOS))
def test_end_frame_reports_without_an_explicit_check(code):
    """Python's end_frame runs the filter every check_every frames by itself."""
    options, fire, _ = SCENARIOS[code]
    alloc = fa.SmartAlloc(behaviour=_filter(), **options)
    st: dict = {}
    with pytest.warns(fa.BehaviourWarning) as rec:
        for n in range(FRAMES):
            with alloc.frame():
                fire(alloc, n, st)
    assert code in {getattr(w.message, "code", "") for w in rec}
    # The warning points at the user's code, not inside framealloc.
    assert all(w.filename == __file__ for w in rec if isinstance(w.message, fa.BehaviourWarning))


#: Under strict, FA514's scenario raises FA155 (its soft budget) in its first frame.
STRICT_CODES = sorted(set(SCENARIOS) - {"FA514"})


@pytest.mark.parametrize("code", STRICT_CODES)
def test_strict_raises_and_the_frame_has_ended(code):
    options, fire, _ = SCENARIOS[code]
    alloc = fa.SmartAlloc(strict=True, behaviour=_filter(), **options)
    st: dict = {}
    with pytest.raises(fa.BehaviourWarning) as e:
        for n in range(FRAMES):
            with alloc.frame():
                fire(alloc, n, st)
    assert e.value.code == code and not alloc.in_frame
    assert [ev.code for ev in alloc.behaviour_events] == [code]


# -- frames begun and ended inside @njit -------------------------------------------------------

@njit
def _njit_frames(alloc, sizes):
    for i in range(sizes.size):
        alloc.begin_frame()
        a = alloc.frame_array(sizes[i], np.uint8)
        a[0] = 1
        alloc.end_frame()


@njit
def _njit_typed(alloc, pool, n, every):
    for i in range(n):
        alloc.begin_frame()
        if every or i % 4 != 0:
            pool.acquire()
        alloc.end_frame()


@njit
def _njit_scratch(alloc, sid, n):
    for i in range(n):
        alloc.begin_frame()
        a = alloc.scratch_array(sid, 4, np.float32)
        a[0] = 1.0
        alloc.end_frame()


def _njit_case(code: str, fire: bool):
    """Run ``code``'s behaviour in frames begun and ended in @njit; returns the allocator."""
    if code == "FA513":
        alloc = fa.SmartAlloc(behaviour=_filter(), **HEAP)
        sizes = np.full(FRAMES, 5000)
        if not fire:
            sizes[N - 1::N] = 16
        _njit_frames(alloc, sizes.astype(np.int64))
    elif code in ("FA512", "FA514"):
        alloc = fa.SmartAlloc(behaviour=_filter())
        n = np.arange(FRAMES)
        if code == "FA512":
            sizes = 64 * (n + 1) if fire else 64 * (1 + n - (n + 1) // N)
        else:
            alloc.set_budget(soft=100)
            sizes = np.where(fire | (n % N != N - 1), 200, 50)
        _njit_frames(alloc, sizes.astype(np.int64))
    elif code == "FA516":
        alloc = fa.SmartAlloc(behaviour=_filter())
        pool = alloc.typed_pool(np.float64, 8)
        for _ in range(FRAMES // CHECK):           # compiled chunks, checked in between
            _njit_typed(alloc, pool, CHECK, fire)
            alloc.check_behaviour()
    else:
        alloc = fa.SmartAlloc(behaviour=_filter())
        sid = alloc.scratch_pool("level", 1 << 16).id
        for _ in range(FRAMES // CHECK):
            _njit_scratch(alloc, sid, CHECK)
            if not fire:
                alloc.scratch_pool("level").reset()
            alloc.check_behaviour()
    return alloc


NJIT_CODES = ["FA512", "FA513", "FA514", "FA515", "FA516"]   # FA510/FA511: Python-only APIs


@pytest.mark.parametrize("fire", [True, False], ids=["fires", "near-miss"])
@pytest.mark.parametrize("code", NJIT_CODES)
def test_njit_frames_are_judged_at_the_next_check(code, fire):
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        alloc = _njit_case(code, fire)
        found = alloc.check_behaviour()
    codes = {w.message.code for w in rec if isinstance(w.message, fa.BehaviourWarning)}
    assert codes == ({code} if fire else set())
    assert {e.code for e in alloc.behaviour_events} == codes
    del found


def test_njit_frames_reported_by_the_next_python_end_frame():
    alloc = fa.SmartAlloc(behaviour=_filter())
    _njit_frames(alloc, (64 * np.arange(1, FRAMES + 1)).astype(np.int64))
    with pytest.warns(fa.BehaviourWarning, match="FA512"):
        with alloc.frame():
            alloc.frame_array(64 * (FRAMES + 1), np.uint8)


def test_every_code_that_njit_code_can_show_has_an_njit_case():
    """FA510/FA511 need Python-only calls (frame_retained, pool boxes): not in NJIT_CODES."""
    assert set(NJIT_CODES) | {"FA510", "FA511"} == set(SCENARIOS)


def test_strict_fa514_stops_at_fa155_first():
    with pytest.raises(fa.BudgetWarning):
        warning_scenario("FA514")(strict=True)


# -- where the events show -------------------------------------------------------------------

def test_events_in_snapshot_report_and_trace(tmp_path):
    options, fire, _ = SCENARIOS["FA513"]
    alloc = fa.SmartAlloc(behaviour=_filter(), **options)
    path = tmp_path / "run.json"
    st: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fa.BehaviourWarning)
        with alloc.trace(path):
            for n in range(FRAMES):
                with alloc.frame():
                    fire(alloc, n, st)
        snap = alloc.snapshot("behaviour")
    listed = [w for w in snap.warnings if w["category"] == "BehaviourWarning"]
    assert [w["code"] for w in listed] == [e.code for e in alloc.behaviour_events]
    assert listed and {w["code"] for w in listed} == {"FA513"}
    again = fa.Snapshot.from_json(snap.to_json())          # checked against the schema
    assert again.warnings == snap.warnings
    assert again.config["behaviour"]["heap_fallback_frames"] == N
    page = snap.to_html()
    assert fa.explain("FA513").splitlines()[0].split(" ", 1)[1] in page
    instants = [e for e in json.loads(path.read_text())["traceEvents"]
                if e["ph"] == "i" and e["cat"] == "behaviour"]
    assert [e["args"]["frame"] for e in instants] == [e.frame for e in alloc.behaviour_events]


def test_snapshot_runs_the_filter():
    alloc = fa.SmartAlloc(behaviour=_filter(check_every=1000))
    for n in range(FRAMES):
        with alloc.frame():
            alloc.frame_array(64 * (n + 1), np.uint8)
    assert alloc.behaviour_events == []          # end_frame has not looked yet
    with pytest.warns(fa.BehaviourWarning, match="FA512"):
        snap = alloc.snapshot()
    assert [w["code"] for w in snap.warnings] == ["FA512"]


def test_pools_are_judged_per_subject():
    alloc = fa.SmartAlloc(behaviour=_filter())
    a, b = alloc.typed_pool(np.float64, 8, name="a"), alloc.typed_pool(np.float64, 8, name="b")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fa.BehaviourWarning)
        for n in range(FRAMES):
            with alloc.frame():
                a.acquire()
                b.acquire()
                if n % 2:
                    b.release(b.live_indices()[0])
    assert {(e.code, e.subject) for e in alloc.behaviour_events} == {("FA516", "a")}


# -- settings ---------------------------------------------------------------------------------

@pytest.mark.parametrize("kw", [dict(check_every=0), dict(growth_frames=-1),
                                dict(heap_fallback_frames=1.5), dict(promotion_frames=True),
                                dict(soft_budget_frames=257), dict(ignore=("FA155",)),
                                dict(ignore=(1,)), dict(ignore=5)])
def test_bad_settings_are_fa013(kw):
    with pytest.raises(fa.ConfigError) as e:
        fa.BehaviourFilter(**kw)
    assert e.value.code == "FA013"


def test_config_checks_the_filter():
    with pytest.raises(fa.ConfigError, match="FA013.*behaviour"):
        fa.AllocConfig(behaviour={"growth_frames": 3})
    assert fa.AllocConfig(history=0).behaviour == fa.BehaviourFilter()
    assert fa.BehaviourFilter(ignore="fa512").ignore == ("FA512",)


@pytest.mark.parametrize("history", [0, N, N + 1])
def test_a_short_history_turns_off_only_the_history_behaviours(history):
    """FA512 reads N + 1 frames, FA513/FA514 N: with less history they are off, the rest on."""
    bf = _filter()
    active = set(bf._active_codes(history))
    off = {c for c in ("FA512", "FA513", "FA514") if bf._history_needed(c) > history}
    assert active == set(SCENARIOS) - off
    assert off == {"FA512", "FA513", "FA514"} if history == 0 else \
        off == ({"FA512"} if history == N else set())
    alloc = fa.SmartAlloc(history=history, behaviour=bf)
    st: dict = {}
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        for n in range(FRAMES):
            with alloc.frame():
                _short_box(alloc, n, st)
                _growth(alloc, n, st)
    codes = {w.message.code for w in rec if isinstance(w.message, fa.BehaviourWarning)}
    assert codes == {"FA511"} | ({"FA512"} & active)


def test_closed_allocator_snapshot_still_works():
    alloc = fa.SmartAlloc(behaviour=_filter())
    with alloc.frame():
        pass
    alloc.close()
    assert alloc.snapshot().warnings == [] and alloc.behaviour_events == []
    with pytest.raises(fa.FrameStateError):
        alloc.check_behaviour()
