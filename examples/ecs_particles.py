"""The particle demo as an esper ECS: a frame per ``esper.process()``, particles as pooled
components, @njit processors over the pool's records.

Processors (highest priority first): Emit spawns particles (entities with a pooled ``Particle``
record), Integrate moves them (an @njit kernel over ``pool.data``, forces in a frame array),
Reap deletes expired ones (an @njit kernel writes their slots into a frame array). Each runs in
its own phase; ``python examples/ecs_particles.py`` prints the phases and the overhead against
the same processors without framealloc (``np.empty`` scratch, records in a numpy array with a
Python free list, no frames).

Needs ``pip install 'framealloc[ecs]'``.
"""
from __future__ import annotations

import sys
import time

import esper
import numpy as np
from numba import njit

import framealloc as fa
from framealloc.integrations.ecs import FramePlugin

PARTICLE = np.dtype([("x", "f8"), ("y", "f8"), ("vx", "f8"), ("vy", "f8"), ("life", "f8")])


@njit(cache=True)
def integrate(data, alive, force, dt):
    for i in range(data.shape[0]):
        if alive[i]:
            force[i] = -9.8 - 0.1 * data[i].vy          # gravity and drag
            data[i].vy += force[i] * dt
            data[i].x += data[i].vx * dt
            data[i].y += data[i].vy * dt
            data[i].life -= dt


@njit(cache=True)
def expired(data, alive, out):
    n = 0
    for i in range(data.shape[0]):
        if alive[i] and data[i].life <= 0.0:
            out[n] = i
            n += 1
    return n


class Emit(esper.Processor):
    def __init__(self, store, per_frame, seed=0):
        self.store, self.per_frame = store, per_frame
        self.rng = np.random.default_rng(seed)

    def process(self, dt):
        n = self.per_frame
        v = self.rng.uniform(-1, 1, (n, 2))
        rec = np.zeros(n, PARTICLE)
        rec["vx"], rec["vy"], rec["life"] = v[:, 0], 5 + v[:, 1], 0.5 + 0.5 * (np.arange(n) % 3)
        self.store.add_many([esper.create_entity() for _ in range(n)], rec)


class Integrate(esper.Processor):
    def __init__(self, store):
        self.store = store

    def process(self, dt):
        s = self.store
        integrate(s.data, s.alive, self.scratch(s.data.shape[0]), dt)

    def scratch(self, n):
        return self.alloc.frame_array(n, np.float64)


class Reap(esper.Processor):
    def __init__(self, store, plugin):
        self.store, self.plugin = store, plugin

    def process(self, dt):
        s = self.store
        out = self.scratch(s.data.shape[0])
        dead = s.entity[out[:expired(s.data, s.alive, out)]]
        self.plugin.delete_entities(dead.tolist(), immediate=True)

    def scratch(self, n):
        return self.alloc.frame_array(n, np.int64)


def run(frames=300, per_frame=20, world="particles", alloc=None, phases=True):
    """The ECS loop with framealloc; returns (alloc, plugin, store, checksum)."""
    esper.switch_world(world)
    alloc = alloc or fa.SmartAlloc()
    plugin = FramePlugin(alloc, phases=phases)
    store = plugin.component_pool(PARTICLE, 2048, name="particle")
    plugin.add_processor(Emit(store, per_frame), 30)
    plugin.add_processor(Integrate(store), 20)
    plugin.add_processor(Reap(store, plugin), 10)
    for _ in range(frames):
        esper.process(1 / 60)
    live = store.data[store.alive]
    checksum = float(np.sort(live["y"]).sum())
    plugin.remove()
    esper.switch_world("default")
    esper.delete_world(world)
    return alloc, plugin, store, checksum


class _PlainStore:
    """Records in a numpy array with a Python free list: the store without framealloc."""

    def __init__(self, dtype, capacity):
        self.data = np.zeros(capacity, dtype)
        self.alive = np.zeros(capacity, np.bool_)
        self.entity = np.full(capacity, -1, np.int64)
        self.free = list(range(capacity - 1, -1, -1))
        self.component = type("PlainParticle", (), {"__slots__": ("index",)})

    def add_many(self, ents, values):
        idx = np.array([self.free.pop() for _ in ents], np.int64)
        self.data[idx] = values
        self.alive[idx] = True
        self.entity[idx] = ents
        for e, i in zip(ents, idx.tolist()):
            c = self.component()
            c.index = i
            esper.add_component(e, c)

    def delete_many(self, ents):
        idx = np.array([esper.remove_component(e, self.component).index for e in ents], np.int64)
        self.alive[idx] = False
        self.entity[idx] = -1
        self.free.extend(idx.tolist())
        for e in ents:
            esper.delete_entity(e, immediate=True)


class _PlainIntegrate(Integrate):
    def scratch(self, n):
        return np.empty(n, np.float64)


class _PlainReap(Reap):
    def process(self, dt):
        s = self.store
        out = np.empty(s.data.shape[0], np.int64)
        s.delete_many(s.entity[out[:expired(s.data, s.alive, out)]].tolist())


def run_plain(frames=300, per_frame=20, world="plain"):
    """The same processors without framealloc; returns the checksum."""
    esper.switch_world(world)
    store = _PlainStore(PARTICLE, 2048)
    esper.add_processor(Emit(store, per_frame), 30)
    esper.add_processor(_PlainIntegrate(store), 20)
    esper.add_processor(_PlainReap(store, None), 10)
    for _ in range(frames):
        esper.process(1 / 60)
    checksum = float(np.sort(store.data[store.alive]["y"]).sum())
    esper.switch_world("default")
    esper.delete_world(world)
    return checksum


def overhead(frames=300, per_frame=20, repeats=5, phases=True):
    """Best-of seconds per frame: (framealloc, plain)."""
    run(5, 2), run_plain(5, 2)
    best_fa = best_plain = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        run(frames, per_frame, phases=phases)
        best_fa = min(best_fa, (time.perf_counter() - t) / frames)
        t = time.perf_counter()
        run_plain(frames, per_frame)
        best_plain = min(best_plain, (time.perf_counter() - t) / frames)
    return best_fa, best_plain


if __name__ == "__main__":
    frames = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    alloc, plugin, store, checksum = run(frames)
    print(f"{plugin.frames} frames, {len(store)} live particles, checksum {checksum:.3f} "
          f"(without framealloc: {run_plain(frames):.3f})")
    for path, p in alloc.phase_stats().items():
        print(f"  phase {path:10s} {p.bytes:6d} B {p.wall_ns / 1e3:8.1f} us")
    for phases in (True, False):
        t_fa, t_plain = overhead(frames, phases=phases)
        print(f"per frame (phases {phases}): framealloc {t_fa * 1e6:.0f} us, "
              f"plain {t_plain * 1e6:.0f} us ({t_fa / t_plain:.3f}x)")
