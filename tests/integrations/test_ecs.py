"""esper integration: a frame per esper.process(), per-processor phases, pooled components,
memory flat over a long run, coded errors; the example equals the loop without framealloc."""
from __future__ import annotations

import doctest
import importlib.util
import itertools
import sys
from pathlib import Path

import esper
import numpy as np
import pytest

import framealloc as fa
from framealloc.integrations import ecs
from framealloc.integrations.ecs import BEGIN_PRIORITY, END_PRIORITY, FramePlugin, get_alloc

ROOT = Path(__file__).resolve().parents[2]
_worlds = itertools.count()


@pytest.fixture
def world():
    name = f"test-ecs-{next(_worlds)}"
    esper.switch_world(name)
    yield name
    plugin = ecs._plugins.get(name)
    if plugin is not None:
        plugin.remove()
    esper.switch_world("default")
    esper.delete_world(name)


class Alloc(esper.Processor):
    """Allocates ``n`` float64 per process() and records the frame number it saw."""

    def __init__(self, n):
        self.n, self.seen = n, []

    def process(self, *args):
        self.alloc.frame_array(self.n, np.float64)[:] = 1.0
        self.seen.append((self.alloc.frame_number, self.alloc.in_frame, self.alloc.current_phase))


class Second(Alloc):
    pass


def test_frame_per_process_and_phase_per_processor(world):
    alloc = fa.SmartAlloc()
    plugin = FramePlugin(alloc)
    a, b = Alloc(10), Second(3)
    plugin.add_processor(a, 5)
    plugin.add_processor(b, 1)
    for k in range(1, 8):
        esper.process()
        assert alloc.frame_number == k and plugin.frames == k and not alloc.in_frame
        stats = alloc.phase_stats()
        assert set(stats) == {"Alloc", "Second"}
        assert stats["Alloc"].bytes == 80 and stats["Second"].bytes == 24
        assert stats["Alloc"].allocations == stats["Second"].allocations == 1
        assert stats["Alloc"].frame == stats["Second"].frame == k
    assert a.seen == [(k, True, "Alloc") for k in range(1, 8)]
    assert b.seen == [(k, True, "Second") for k in range(1, 8)]
    assert get_alloc() is alloc and get_alloc(world) is alloc


def test_processors_run_inside_the_frame_whatever_their_priority(world):
    alloc = fa.SmartAlloc()
    plugin = FramePlugin(alloc, phases=False)
    ps = [type(f"P{k}", (Alloc,), {})(1) for k in range(4)]
    for p, prio in zip(ps, (END_PRIORITY + 1, -10**9, 10**9, BEGIN_PRIORITY - 1)):
        plugin.add_processor(p, prio)
    esper.process()
    esper.process()
    assert all(p.seen == [(1, True, ""), (2, True, "")] for p in ps)
    assert alloc.phase_stats() == {}


def test_aborted_process_is_ended_by_the_next_one(world):
    alloc = fa.SmartAlloc()
    plugin = FramePlugin(alloc)

    class Boom(esper.Processor):
        fail = True

        def process(self):
            self.alloc.frame_array(4)
            if Boom.fail:
                raise RuntimeError("processor failed")

    plugin.add_processor(Boom())
    with pytest.raises(RuntimeError):
        esper.process()
    assert alloc.in_frame and alloc.current_phase == ""    # the phase closed on the way out
    Boom.fail = False
    esper.process()
    assert plugin.aborted == 1 and plugin.frames == 1 and alloc.frame_number == 2
    assert not alloc.in_frame


def test_users_own_frame_around_process_is_FA002(world):
    alloc = fa.SmartAlloc()
    FramePlugin(alloc)
    alloc.begin_frame()
    with pytest.raises(fa.FrameStateError) as ei:
        esper.process()
    assert ei.value.code == "FA002"
    alloc.end_frame()


def test_pooled_components_for_njit_and_memory_flat(world):
    from numba import njit

    @njit
    def step(data, alive):
        n = 0
        for i in range(data.shape[0]):
            if alive[i]:
                data[i].x += data[i].v
                n += 1
        return n

    P = np.dtype([("x", "f8"), ("v", "f8")])
    alloc = fa.SmartAlloc()
    plugin = FramePlugin(alloc)
    store = plugin.component_pool(P, 64, name="body")
    counted = []

    class Move(esper.Processor):
        def process(self):
            tmp = self.alloc.frame_array(store.data.shape[0])
            tmp[:] = 0
            counted.append(step(store.data, store.alive))

    plugin.add_processor(Move())
    rng = np.random.default_rng(1)
    live: dict = {}
    reserved = None
    for frame in range(600):
        for _ in range(int(rng.integers(0, 4))):
            e = esper.create_entity()
            v = float(rng.normal())
            store.add(e, (0.0, v))
            live[e] = [0.0, v]
        if len(live) > 30 or (live and rng.random() < 0.3):
            dead = [int(x) for x in rng.choice(list(live), min(len(live), 3), replace=False)]
            plugin.delete_entities(dead, immediate=True)
            for e in dead:
                del live[e]
        esper.process()
        for e in live:
            live[e][0] += live[e][1]
        assert counted[-1] == len(live) == len(store)
        if frame == 100:
            reserved = (alloc.stats().frame.reserved, store.pool.capacity)
    for e, (x, v) in live.items():
        rec = store.record(e)
        assert rec["x"] == pytest.approx(x) and rec["v"] == v
        assert store.entity[store.index(e)] == e
    assert int((store.entity >= 0).sum()) == len(live)
    s = alloc.stats()
    assert (s.frame.reserved, store.pool.capacity) == reserved, "memory flat after warm-up"
    assert s.frame.current == 0 and s.heap.allocated == 0
    assert s.typed_pools.current == len(live) * P.itemsize


def test_add_many_remove_many_and_growth(world):
    alloc = fa.SmartAlloc()
    plugin = FramePlugin(alloc)
    store = plugin.component_pool(np.dtype([("a", "i8")]), 2, name="a")
    ents = [esper.create_entity() for _ in range(9)]
    idx = store.add_many(ents, np.arange(9).astype([("a", "i8")]))
    assert store.pool.capacity >= 9 and store.entity.shape[0] == store.pool.capacity
    assert [int(store.record(e)["a"]) for e in ents] == list(range(9))
    assert sorted(store.entity[idx].tolist()) == sorted(ents)
    store.remove_many(ents[:4])
    assert len(store) == 5 and not any(esper.has_component(e, store.component) for e in ents[:4])
    assert store.entity[idx[:4]].tolist() == [-1] * 4


def test_bad_input_has_codes(world):
    alloc = fa.SmartAlloc()
    with pytest.raises(fa.IntegrationError) as ei:
        FramePlugin("alloc")
    assert ei.value.code == "FA180"
    plugin = FramePlugin(alloc)
    with pytest.raises(fa.IntegrationError, match="already has a FramePlugin"):
        FramePlugin(fa.SmartAlloc())
    for bad, prio in [(object(), 0), (Alloc(1), BEGIN_PRIORITY), (Alloc(1), END_PRIORITY),
                      (Alloc(1), 1.5), (Alloc(1), True)]:
        with pytest.raises(fa.IntegrationError) as ei:
            plugin.add_processor(bad, prio)
        assert ei.value.code == "FA180"
    store = plugin.component_pool(np.dtype([("a", "i8")]), 4)
    with pytest.raises(fa.IntegrationError, match="does not exist"):
        store.add(123456)
    e = esper.create_entity()
    store.add(e)
    with pytest.raises(fa.IntegrationError, match="already has"):
        store.add(e)
    with pytest.raises(fa.IntegrationError):
        store.add_many([e])
    esper.switch_world("elsewhere")
    try:
        with pytest.raises(fa.IntegrationError, match="current world"):
            plugin.add_processor(Alloc(1))
        with pytest.raises(fa.IntegrationError, match="has no FramePlugin"):
            get_alloc()
    finally:
        esper.switch_world(world)
        esper.delete_world("elsewhere")
    plugin.remove()
    plugin.remove()
    with pytest.raises(fa.IntegrationError, match="removed"):
        plugin.add_processor(Alloc(1))
    esper.process()                       # no frame processors any more
    assert alloc.frame_number == 0
    closed = fa.SmartAlloc()
    closed.close()
    with pytest.raises(fa.FrameStateError) as ei:
        FramePlugin(closed)
    assert ei.value.code == "FA015"


def test_missing_extra_is_FA181(monkeypatch, world):
    monkeypatch.setitem(sys.modules, "esper", None)
    with pytest.raises(fa.MissingExtraError) as ei:
        FramePlugin(fa.SmartAlloc())
    assert ei.value.code == "FA181" and "framealloc[ecs]" in str(ei.value)


def test_docstring_examples():
    result = doctest.testmod(ecs, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_example_matches_the_loop_without_framealloc():
    spec = importlib.util.spec_from_file_location("ecs_particles",
                                                  ROOT / "examples" / "ecs_particles.py")
    ex = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = ex             # numba's cache finds the kernels' module by name
    spec.loader.exec_module(ex)
    alloc, plugin, store, checksum = ex.run(120, 10)
    assert checksum == ex.run_plain(120, 10) and len(store) > 0
    assert plugin.frames == alloc.frame_number == 120
    assert set(alloc.phase_stats()) == {"Emit", "Integrate", "Reap"}
