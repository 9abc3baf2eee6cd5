"""Particles in a box (pymunk), contacts collected into frame memory and processed in @njit.

Each frame: one ``space.step`` wrapped by :class:`ContactCollector` (under the ``physics`` tag
and phase), then an @njit kernel counts each particle's hits and sums the impulses it took.
``python examples/physics_particles.py`` runs it and prints the overhead against the same loop
without framealloc (a plain pymunk handler appending to a list, then ``np.array``).

Needs ``pip install 'framealloc[physics]'``.
"""
from __future__ import annotations

import math
import sys
import time

import numpy as np
import pymunk
from numba import njit

import framealloc as fa
from framealloc.integrations.physics import CONTACT_DTYPE, ContactCollector

BOX = 400.0


def make_space(n: int, seed: int = 0):
    """A closed box with ``n`` bouncing balls; returns the space, the balls' shapes, the walls."""
    rng = np.random.default_rng(seed)
    space = pymunk.Space()
    space.gravity = (0.0, -500.0)
    corners = [(0, 0), (BOX, 0), (BOX, BOX), (0, BOX)]
    walls = [pymunk.Segment(space.static_body, corners[i], corners[(i + 1) % 4], 2.0)
             for i in range(4)]
    for w in walls:
        w.elasticity = 0.9
    space.add(*walls)
    balls = []
    for _ in range(n):
        body = pymunk.Body(1.0, pymunk.moment_for_circle(1.0, 0, 5.0))
        body.position = tuple(rng.uniform(10, BOX - 10, 2))
        body.velocity = tuple(rng.uniform(-200, 200, 2))
        shape = pymunk.Circle(body, 5.0)
        shape.elasticity = 0.9
        space.add(body, shape)
        balls.append(shape)
    return space, balls, walls


@njit(cache=True)
def accumulate(contacts, n, hits, impulse):
    """Count hits and add impulse magnitudes per particle (shape ids 0..n-1 are the particles)."""
    for k in range(contacts.shape[0]):
        c = contacts[k]
        if c.point != 0:            # the impulse is per arbiter: count each arbiter once
            continue
        j = math.sqrt(c.jx * c.jx + c.jy * c.jy)
        if c.shape_a < n:
            hits[c.shape_a] += 1
            impulse[c.shape_a] += j
        if c.shape_b < n:
            hits[c.shape_b] += 1
            impulse[c.shape_b] += j


def run(n: int = 200, frames: int = 120, alloc: fa.SmartAlloc | None = None):
    """The loop with framealloc; returns (hits, impulse, contact points per frame, alloc)."""
    alloc = alloc or fa.SmartAlloc()
    space, balls, _ = make_space(n)
    phys = ContactCollector(alloc, space)
    for s in balls:                 # particles get shape ids 0..n-1, in order
        phys.shape_id(s)
    hits = np.zeros(n, np.int64)
    impulse = np.zeros(n, np.float64)
    counts = []
    for _ in range(frames):
        with alloc.frame():
            contacts = phys.step(1 / 120)
            accumulate(contacts.as_array(), n, hits, impulse)
            counts.append(len(contacts))
    return hits, impulse, counts, alloc


def run_plain(n: int = 200, frames: int = 120):
    """The same loop without framealloc: a pymunk handler appends tuples, ``np.array`` per step."""
    space, balls, _ = make_space(n)
    index = {s: i for i, s in enumerate(balls)}
    pending: list = []

    def post_solve(arb, space, data):
        sa, sb = arb.shapes
        ps = arb.contact_point_set
        nrm, j = ps.normal, arb.total_impulse
        ia, ib = index.get(sa, n), index.get(sb, n)
        pts = ps.points
        for k, p in enumerate(pts):
            pending.append((sa.body.id, sb.body.id, ia, ib, k, len(pts),
                            int(arb.is_first_contact), p.point_a.x, p.point_a.y, p.point_b.x,
                            p.point_b.y, nrm.x, nrm.y, p.distance, j.x, j.y))

    space.on_collision(post_solve=post_solve)
    hits = np.zeros(n, np.int64)
    impulse = np.zeros(n, np.float64)
    for _ in range(frames):
        pending.clear()
        space.step(1 / 120)
        contacts = np.array(pending, CONTACT_DTYPE)
        accumulate(contacts, n, hits, impulse)
    return hits, impulse


def overhead(n: int = 200, frames: int = 300, repeats: int = 3) -> tuple[float, float]:
    """Best-of ``repeats`` seconds per frame: (framealloc, plain)."""
    run(8, 2), run_plain(8, 2)      # compile/warm
    best_fa = best_plain = math.inf
    for _ in range(repeats):
        t = time.perf_counter()
        run(n, frames)
        best_fa = min(best_fa, (time.perf_counter() - t) / frames)
        t = time.perf_counter()
        run_plain(n, frames)
        best_plain = min(best_plain, (time.perf_counter() - t) / frames)
    return best_fa, best_plain


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    hits, impulse, counts, alloc = run(n)
    print(f"{n} particles, {len(counts)} frames, {sum(counts)} contact points, "
          f"most hits {hits.max()}, largest impulse sum {impulse.max():.1f}")
    print("physics phase, last frame:", alloc.phase_stats()["physics"])
    t_fa, t_plain = overhead(n)
    print(f"per frame: framealloc {t_fa * 1e6:.0f} us, plain {t_plain * 1e6:.0f} us "
          f"({t_fa / t_plain:.3f}x)")
