"""pymunk integration: contact records equal pymunk's own arbiter data, in frame memory, under the
physics tag and phase; bad input has codes; the example runs and matches the plain loop."""
from __future__ import annotations

import doctest
import importlib.util
import math
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pymunk
import pytest

import framealloc as fa
from framealloc.integrations import physics
from framealloc.integrations.physics import CONTACT_DTYPE, ContactCollector

ROOT = Path(__file__).resolve().parents[2]


def scripted_scene():
    """Balls of several sizes dropped in a row onto a floor and a ramp, some touching each other;
    deterministic (pymunk is, for the same inputs)."""
    space = pymunk.Space()
    space.gravity = (0, -900)
    floor = pymunk.Segment(space.static_body, (-200, 0), (200, 0), 2)
    ramp = pymunk.Segment(space.static_body, (-200, 80), (-50, 10), 2)
    floor.friction = ramp.friction = 0.7
    space.add(floor, ramp)
    balls = []
    for i in range(9):
        r = 6 + (i % 3) * 3
        body = pymunk.Body(1 + i % 2, pymunk.moment_for_circle(1 + i % 2, 0, r))
        body.position = (-120 + i * 16, 40 + (i % 4) * 22)
        shape = pymunk.Circle(body, r)
        shape.friction = 0.5
        shape.elasticity = 0.3
        space.add(body, shape)
        balls.append(shape)
    box = pymunk.Body(2, pymunk.moment_for_box(2, (20, 12)))
    box.position = (60, 30)
    box_shape = pymunk.Poly.create_box(box, (20, 12))
    space.add(box, box_shape)
    return space, balls + [box_shape, floor, ramp]


def arbiter_truth(space, collector):
    """pymunk's own view after a step: every arbiter of every dynamic body (once), oriented by
    shape id (pymunk hands each body its arbiters with that body first: undo the swap), one row
    per point."""
    rows = Counter()
    pairs = set()

    def visit(arb):
        sa, sb = arb.shapes
        ia, ib = collector.shape_id(sa), collector.shape_id(sb)
        if (min(ia, ib), max(ia, ib)) in pairs:    # two dynamic bodies: seen from both
            return
        pairs.add((min(ia, ib), max(ia, ib)))
        ps = arb.contact_point_set
        n, j = ps.normal, arb.total_impulse
        flip = ia > ib
        if flip:
            sa, sb, ia, ib, n, j = sb, sa, ib, ia, -n, -j
        for k, p in enumerate(ps.points):
            a, b = (p.point_b, p.point_a) if flip else (p.point_a, p.point_b)
            rows[(sa.body.id, sb.body.id, ia, ib, k, len(ps.points), a.x, a.y, b.x, b.y,
                  n.x, n.y, p.distance, j.x, j.y)] += 1

    for body in space.bodies:
        body.each_arbiter(visit)
    return rows


def record_rows(contacts):
    rows = Counter()
    for c in contacts.as_array():
        r = [int(c["body_a"]), int(c["body_b"]), int(c["shape_a"]), int(c["shape_b"]),
             int(c["point"]), int(c["points"])] + [
            float(c[f]) for f in ("ax", "ay", "bx", "by", "nx", "ny", "distance", "jx", "jy")]
        if r[2] > r[3]:     # orient by shape id, as arbiter_truth does
            r = [r[1], r[0], r[3], r[2], r[4], r[5], r[8], r[9], r[6], r[7], -r[10], -r[11],
                 r[12], -r[13], -r[14]]
        rows[tuple(r)] += 1
    return rows


def test_records_equal_pymunks_arbiter_data_every_step():
    space, shapes = scripted_scene()
    alloc = fa.SmartAlloc()
    phys = ContactCollector(alloc, space)
    for s in shapes:
        phys.shape_id(s)
    seen = 0
    for step in range(150):
        with alloc.frame():
            contacts = phys.step(1 / 60)
            assert contacts.dtype == CONTACT_DTYPE
            got = record_rows(contacts)
            truth = arbiter_truth(space, phys)
            assert sum(got.values()) == len(contacts)
            assert got == truth, f"step {step}"
            arr = contacts.as_array()
            # point k of n: each arbiter's points are numbered 0..n-1
            for n in (1, 2):
                sel = arr[arr["points"] == n]
                assert sorted(sel["point"].tolist()) == sorted(list(range(n)) * (len(sel) // n))
            seen += len(contacts)
    assert seen > 500, "the scene must produce contacts to compare"


def test_first_contact_flag_marks_the_step_shapes_begin_touching():
    space = pymunk.Space()
    space.gravity = (0, -900)
    space.add(pymunk.Segment(space.static_body, (-50, 0), (50, 0), 1))
    body = pymunk.Body(1, 100)
    body.position = (0, 30)
    space.add(body, pymunk.Circle(body, 5))
    alloc = fa.SmartAlloc()
    phys = ContactCollector(alloc, space)
    firsts = []
    for _ in range(60):
        with phys.frame_step(1 / 60) as contacts:
            if len(contacts):
                firsts.append(int(contacts.as_array()["first"].max()))
    assert firsts and firsts[0] == 1 and set(firsts[1:]) <= {0, 1} and firsts.count(1) <= 3


def test_contacts_are_frame_memory_under_the_physics_tag_and_phase():
    space, shapes = scripted_scene()
    alloc = fa.SmartAlloc()
    phys = ContactCollector(alloc, space)
    peaks = []       # reserved frame bytes after each frame
    for _ in range(80):
        with alloc.frame():
            contacts = phys.step(1 / 60)
            arr = contacts.as_array()
            base = np.asarray(arr).__array_interface__["data"][0]
            nbytes = alloc.stats().tags["physics"].current
            assert nbytes >= contacts.capacity * CONTACT_DTYPE.itemsize
        ph = alloc.phase_stats()["physics"]
        assert ph.bytes == nbytes and ph.allocations == 1
        peaks.append(alloc.stats().frame.reserved)
        assert base      # a real address in the arena
    s = alloc.stats()
    assert s.tags["physics"].current == 0 and s.frame.current == 0
    assert s.heap.allocated == 0 and s.pool.allocated == 0
    assert len(set(peaks[10:])) == 1 and s.frame.chunks_grown <= 1, "no growth after warm-up"


def test_capacity_tag_phase_options():
    space, shapes = scripted_scene()
    alloc = fa.SmartAlloc()
    phys = ContactCollector(alloc, space, capacity=4096, tag=None, phase="sim")
    with alloc.frame():
        v = phys.step(1 / 60)
        assert v.capacity == 4096
        assert alloc.stats().tags[""].current > 0
    assert "sim" in alloc.phase_stats()
    small = ContactCollector(fa.SmartAlloc(), scripted_scene()[0], capacity=0)
    for _ in range(30):         # let them land (outside step(): nothing kept)
        small.space.step(1 / 60)
    with small.alloc.frame():
        with pytest.raises(fa.CollectionFullError) as ei:
            small.step(1 / 60)
        assert ei.value.code == "FA131" and "room for 0 elements" in str(ei.value)
        assert small._pending == []


def test_detach_restores_default_handling():
    space, shapes = scripted_scene()
    alloc = fa.SmartAlloc()
    phys = ContactCollector(alloc, space)
    for _ in range(60):
        with phys.frame_step(1 / 60):
            pass
    phys.detach()
    phys.detach()
    with alloc.frame():
        with pytest.raises(fa.IntegrationError) as ei:
            phys.step(1 / 60)
        assert ei.value.code == "FA180"
    before = len(phys._shapes)
    space.step(1 / 60)          # collisions happen, nobody records them
    assert phys._pending == [] and len(phys._shapes) == before


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(capacity=-1), "capacity"), (dict(capacity=1.5), "capacity"),
    (dict(capacity=True), "capacity"), (dict(type_a=None, type_b=2), "type_a"),
    (dict(type_a=-1), "type_a"), (dict(type_a=1, type_b="x"), "type_b"),
    (dict(tag=""), "tag"), (dict(phase=3), "phase"),
])
def test_bad_arguments_have_code_FA180(kwargs, fragment):
    space = pymunk.Space()
    with pytest.raises(fa.IntegrationError) as ei:
        ContactCollector(fa.SmartAlloc(), space, **kwargs)
    assert ei.value.code == "FA180" and fragment in str(ei.value)


def test_wrong_objects_closed_allocator_and_no_frame():
    with pytest.raises(fa.IntegrationError) as ei:
        ContactCollector(fa.SmartAlloc(), object())
    assert ei.value.code == "FA180" and "pymunk.Space" in str(ei.value)
    with pytest.raises(fa.IntegrationError):
        ContactCollector("alloc", pymunk.Space())
    closed = fa.SmartAlloc()
    closed.close()
    with pytest.raises(fa.FrameStateError) as ei:
        ContactCollector(closed, pymunk.Space())
    assert ei.value.code == "FA015"
    space, shapes = scripted_scene()
    alloc = fa.SmartAlloc()
    phys = ContactCollector(alloc, space)
    body = shapes[0].body
    y = body.position.y
    with pytest.raises(fa.FrameStateError) as ei:
        phys.step(1 / 60)
    assert ei.value.code == "FA001" and body.position.y == y, "no step without a frame"
    alloc.close()
    with pytest.raises(fa.FrameStateError) as ei:
        phys.step(1 / 60)
    assert ei.value.code == "FA015"


def test_missing_extra_is_FA181(monkeypatch):
    monkeypatch.setitem(sys.modules, "pymunk", None)     # what an absent package looks like
    with pytest.raises(fa.MissingExtraError) as ei:
        ContactCollector(fa.SmartAlloc(), None)
    assert ei.value.code == "FA181" and "framealloc[physics]" in str(ei.value)
    assert isinstance(ei.value, ImportError)


def test_docstring_examples():
    result = doctest.testmod(physics, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def _example():
    spec = importlib.util.spec_from_file_location("physics_particles",
                                                  ROOT / "examples" / "physics_particles.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod            # numba's cache finds the kernels' module by name
    spec.loader.exec_module(mod)
    return mod


def test_example_matches_the_loop_without_framealloc():
    ex = _example()
    hits, impulse, counts, alloc = ex.run(40, 90)
    hits0, impulse0 = ex.run_plain(40, 90)
    assert sum(counts) > 0 and hits.sum() > 0
    np.testing.assert_array_equal(hits, hits0)
    np.testing.assert_array_equal(impulse, impulse0)
    assert alloc.frame_number == 90 and alloc.stats().frame.current == 0
    assert math.isfinite(impulse.sum())
