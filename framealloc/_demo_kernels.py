"""The demo's ``@njit`` kernels: module-level functions, so numba's cache can load them.

Every kernel here is a module-level ``@njit(cache=True)`` function that reaches the others as
globals (a closure over jitted functions gets a new cache key in every process and recompiles on
every run). Nothing is compiled at import: the first call compiles and writes numba's cache, the
next process loads it. The module is kept apart from ``demo.py`` so that editing the demo's
printing or plotting does not invalidate the cached kernels (numba keys its cache on the
defining file).

Two scenarios, each in two versions that run the same arithmetic in the same order (so they
produce bit-identical particles) and differ only in where their scratch memory comes from:

* **fountain** (``frame_step`` / ``frame_step_numpy``): spawn/kill through a typed pool, a
  neighbour grid, one small temporary per particle. Allocation is a small part of the frame.
* **neighbours** (``neighbours_step`` / ``neighbours_step_numpy``): a 2-D box of particles
  stirred and pushed apart by their neighbours, written the way NumPy-style code is: per
  sub-step scratch (cell of each particle, cell starts, sorted order, forces) and, per particle,
  six temporaries (neighbour list, offsets, relative velocities, distances, weights, force).
"""
from __future__ import annotations

import numpy as np
from numba import njit

PARTICLE = np.dtype([("pos", "f4", 3), ("vel", "f4", 3), ("life", "f4")])
CELL = 0.25         # fountain: neighbour-grid cell size
DT = 1.0 / 60.0     # one frame at 60 Hz

# neighbours: a unit box cut into GRID x GRID cells of side H (the interaction radius)
GRID = 64
H = 1.0 / GRID
GRAVITY = 0.5
SWIRL = 0.8         # stirring: a force turning around the box's centre
STIFF = 20.0        # repulsion: STIFF * w for a neighbour at weight w = 1 - r / H
VISC = 2.0          # viscosity: VISC * w * (relative velocity)
WALL = 0.6          # velocity kept (reversed) by a bounce on a wall


# -- fountain ------------------------------------------------------------------------------------
@njit(cache=True)
def cell_key(p):
    cx = np.int64(np.floor(p[0] / CELL))
    cy = np.int64(np.floor(p[1] / CELL))
    cz = np.int64(np.floor(p[2] / CELL))
    return (cx * 73856093) ^ (cy * 19349663) ^ (cz * 83492791)


@njit(cache=True)
def spawn(pool, frame, n):
    for k in range(n):
        i = pool.acquire()
        d = pool.data                       # re-read: acquire may grow the pool
        h = ((frame * 7919 + k * 104729) % 1000) / 1000.0
        d[i].pos[0] = 2.0 * h - 1.0
        d[i].pos[1] = 2.0
        d[i].pos[2] = 1.0 - 2.0 * h
        d[i].vel[0] = 0.5 - h
        d[i].vel[1] = 3.0 * h
        d[i].vel[2] = h - 0.5
        d[i].life = 1.0 + 2.0 * h


@njit(cache=True)
def integrate(d, idx, force, died):
    """Move particle ``idx[j]`` by ``force[j]``; ``died[j]`` tells whether it ran out of life."""
    for j in range(len(idx)):
        i = idx[j]
        for c in range(3):
            d[i].vel[c] += force[j, c] * DT
            d[i].pos[c] += d[i].vel[c] * DT
        if d[i].pos[1] < 0.0:               # bounce on the floor
            d[i].pos[1] = -d[i].pos[1]
            d[i].vel[1] = -0.6 * d[i].vel[1]
        d[i].life -= DT
        died[j] = d[i].life <= 0.0


@njit(cache=True)
def frame_step(alloc, pool, frame, spawn_n):
    """One fountain frame (opened by the caller); every scratch array comes from the frame arena.

    Returns the number of occupied grid cells.
    """
    spawn(pool, frame, spawn_n)
    idx = pool.live_indices()
    n = len(idx)
    d = pool.data
    grid = alloc.frame_map(np.int64, np.int32, n)            # neighbour grid: cell -> count
    for j in range(n):
        key = cell_key(d[idx[j]].pos)
        grid[key] = grid.get(key, 0) + 1
    force = alloc.frame_zeros((n, 3), np.float32)
    for j in range(n):
        p = d[idx[j]].pos
        crowd = grid[cell_key(p)]
        tmp = alloc.frame_array(3, np.float32)               # a per-particle temporary
        tmp[0] = -0.3 * p[0] * crowd
        tmp[1] = -9.8
        tmp[2] = -0.3 * p[2] * crowd
        force[j, :] = tmp
    died = alloc.frame_array(n, np.bool_)
    integrate(d, idx, force, died)
    dead = alloc.frame_vec(np.int64, n)
    for j in range(n):
        if died[j]:
            dead.push(idx[j])
    for k in range(len(dead)):
        pool.release(dead[k])
    return len(grid)


@njit(cache=True)
def frame_step_numpy(pool, frame, spawn_n):
    """The same fountain frame with np.empty/np.zeros scratch (same algorithms, same hash map)."""
    spawn(pool, frame, spawn_n)
    idx = pool.live_indices()
    n = len(idx)
    d = pool.data
    slots = 8
    while 2 * slots < 3 * n + 3:
        slots *= 2
    keys = np.empty(slots, np.int64)  # noqa: FA607 - the np.empty baseline
    used = np.zeros(slots, np.bool_)
    counts = np.zeros(slots, np.int32)
    cells = 0
    mask = slots - 1
    for j in range(n):
        key = cell_key(d[idx[j]].pos)
        s = (key * 0x9E3779B1) & mask
        while used[s] and keys[s] != key:
            s = (s + 1) & mask
        if not used[s]:
            used[s] = True
            keys[s] = key
            cells += 1
        counts[s] += 1
    force = np.zeros((n, 3), np.float32)
    for j in range(n):
        p = d[idx[j]].pos
        key = cell_key(p)
        s = (key * 0x9E3779B1) & mask
        while keys[s] != key:
            s = (s + 1) & mask
        crowd = counts[s]
        tmp = np.empty(3, np.float32)  # noqa: FA607 - the np.empty baseline
        tmp[0] = -0.3 * p[0] * crowd
        tmp[1] = -9.8
        tmp[2] = -0.3 * p[2] * crowd
        force[j, :] = tmp
    died = np.empty(n, np.bool_)
    integrate(d, idx, force, died)
    dead = np.empty(n, np.int64)
    nd = 0
    for j in range(n):
        if died[j]:
            dead[nd] = idx[j]
            nd += 1
    for k in range(nd):
        pool.release(dead[k])
    return cells


# -- neighbours ----------------------------------------------------------------------------------
def neighbours_state(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions and velocities, ``(n, 2)`` float32 each, of ``n`` particles in the unit box.

    Deterministic: a jittered lattice over the box, every particle at rest.
    """
    side = int(np.ceil(np.sqrt(n)))
    k = np.arange(n)
    jitter = ((k * 7919) % 1000 / 1000.0 - 0.5) * 0.5
    pos = np.empty((n, 2), np.float32)
    pos[:, 0] = (k % side + 0.5 + jitter) / side
    pos[:, 1] = (k // side + 0.5 - jitter) / side
    return pos, np.zeros((n, 2), np.float32)


@njit(cache=True, inline="always")
def _cell(p):
    cx = min(max(np.int64(p[0] * GRID), 0), GRID - 1)
    cy = min(max(np.int64(p[1] * GRID), 0), GRID - 1)
    return cy * GRID + cx


@njit(cache=True)
def _bin(pos, cell, start, order):
    """Counting sort of the particles by cell: ``order[start[c]:start[c + 1]]`` are cell c's,
    in increasing index. ``start`` (GRID * GRID + 1 entries) must be zero on entry."""
    n = len(pos)
    ncells = GRID * GRID
    for i in range(n):
        c = _cell(pos[i])
        cell[i] = c
        start[c + 1] += 1
    for c in range(ncells):
        start[c + 1] += start[c]            # start[c + 1]: the end of cell c
    for i in range(n - 1, -1, -1):          # fill each cell from its end
        c = cell[i]
        start[c + 1] -= 1
        order[start[c + 1]] = i
    for c in range(ncells - 1):             # start[c + 1] is now cell c's beginning: shift back
        start[c + 1] = start[c + 2]
    start[ncells] = n


@njit(cache=True, inline="always")
def _n_candidates(i, cell, start):
    """How many particles the 3 x 3 cells around particle ``i``'s cell hold (i included)."""
    c = cell[i]
    cx, cy = c % GRID, c // GRID
    total = 0
    for y in range(max(cy - 1, 0), min(cy + 2, GRID)):
        lo = y * GRID + max(cx - 1, 0)
        hi = y * GRID + min(cx + 1, GRID - 1)
        total += start[hi + 1] - start[lo]
    return total


@njit(cache=True, inline="always")
def _gather(i, pos, cell, start, order, cand):
    """Write into ``cand`` the particles within H of particle ``i`` (not i); returns how many."""
    c = cell[i]
    cx, cy = c % GRID, c // GRID
    k = 0
    for y in range(max(cy - 1, 0), min(cy + 2, GRID)):
        lo = y * GRID + max(cx - 1, 0)
        hi = y * GRID + min(cx + 1, GRID - 1)
        for s in range(start[lo], start[hi + 1]):
            j = order[s]
            dx = pos[j, 0] - pos[i, 0]
            dy = pos[j, 1] - pos[i, 1]
            if j != i and dx * dx + dy * dy < H * H:
                cand[k] = j
                k += 1
    return k


@njit(cache=True, inline="always")
def _pair_force(i, pos, vel, nbr, off, dv, r, w, f):
    """Force on particle ``i`` from its neighbours ``nbr`` into ``f``, NumPy-style: one pass per
    temporary (offsets, relative velocities, distances, weights), then the sum, plus the stirring
    (a swirl around the box's centre) and a weak gravity."""
    k = len(nbr)
    for j in range(k):
        for c in range(2):
            off[j, c] = pos[nbr[j], c] - pos[i, c]
            dv[j, c] = vel[nbr[j], c] - vel[i, c]
    for j in range(k):
        r[j] = np.sqrt(off[j, 0] * off[j, 0] + off[j, 1] * off[j, 1])
    for j in range(k):
        w[j] = 1.0 - r[j] / H
    x = pos[i, 0] - 0.5
    y = pos[i, 1] - 0.5
    f[0] = -SWIRL * y
    f[1] = SWIRL * x - GRAVITY
    for j in range(k):
        inv = 1.0 / max(r[j], 1e-6)
        for c in range(2):
            f[c] += w[j] * (VISC * dv[j, c] - STIFF * off[j, c] * inv)


@njit(cache=True)
def _move(pos, vel, force, dt):
    for i in range(len(pos)):
        for c in range(2):
            vel[i, c] += force[i, c] * dt
            pos[i, c] += vel[i, c] * dt
            if pos[i, c] < 0.0:
                pos[i, c] = -pos[i, c]
                vel[i, c] = -WALL * vel[i, c]
            elif pos[i, c] > 1.0:
                pos[i, c] = 2.0 - pos[i, c]
                vel[i, c] = -WALL * vel[i, c]


@njit(cache=True)
def neighbours_step(alloc, pos, vel, nbcount, substeps):
    """One neighbours frame (opened by the caller) with every scratch array from the frame arena.

    Per sub-step: four scratch arrays; per particle: six temporaries. All of them are released
    at once by ``end_frame``, so the arena holds one frame's scratch and reuses it every frame.
    (Taking a ``frame_checkpoint()`` per particle and ``rollback_to`` it after would hold one
    particle's temporaries instead, for a few ns per particle.) ``nbcount[i]`` receives particle
    i's neighbour count. Returns the number of pairs seen.
    """
    n = len(pos)
    dt = DT / substeps
    pairs = 0
    for _ in range(substeps):
        cell = alloc.frame_array(n, np.int32)
        start = alloc.frame_zeros(GRID * GRID + 1, np.int32)
        order = alloc.frame_array(n, np.int32)
        force = alloc.frame_array((n, 2), np.float32)
        _bin(pos, cell, start, order)
        for i in range(n):
            cand = alloc.frame_array(_n_candidates(i, cell, start), np.int32)
            k = _gather(i, pos, cell, start, order, cand)
            off = alloc.frame_array((k, 2), np.float32)
            dv = alloc.frame_array((k, 2), np.float32)
            r = alloc.frame_array(k, np.float32)
            w = alloc.frame_array(k, np.float32)
            f = alloc.frame_array(2, np.float32)
            _pair_force(i, pos, vel, cand[:k], off, dv, r, w, f)
            force[i, 0] = f[0]
            force[i, 1] = f[1]
            nbcount[i] = k
            pairs += k
        _move(pos, vel, force, dt)
    return pairs


@njit(cache=True)
def neighbours_step_numpy(pos, vel, nbcount, substeps):
    """The same neighbours frame with np.empty/np.zeros scratch: 6 NRT allocations per particle
    per sub-step (each a malloc and a free), 4 more per sub-step."""
    n = len(pos)
    dt = DT / substeps
    pairs = 0
    for _ in range(substeps):
        cell = np.empty(n, np.int32)  # noqa: FA607 - the np.empty baseline
        start = np.zeros(GRID * GRID + 1, np.int32)  # noqa: FA607 - the np.empty baseline
        order = np.empty(n, np.int32)  # noqa: FA607 - the np.empty baseline
        force = np.empty((n, 2), np.float32)  # noqa: FA607 - the np.empty baseline
        _bin(pos, cell, start, order)
        for i in range(n):
            cand = np.empty(_n_candidates(i, cell, start), np.int32)  # noqa: FA607
            k = _gather(i, pos, cell, start, order, cand)
            off = np.empty((k, 2), np.float32)  # noqa: FA607 - the np.empty baseline
            dv = np.empty((k, 2), np.float32)  # noqa: FA607 - the np.empty baseline
            r = np.empty(k, np.float32)  # noqa: FA607 - the np.empty baseline
            w = np.empty(k, np.float32)  # noqa: FA607 - the np.empty baseline
            f = np.empty(2, np.float32)  # noqa: FA607 - the np.empty baseline
            _pair_force(i, pos, vel, cand[:k], off, dv, r, w, f)
            force[i, 0] = f[0]
            force[i, 1] = f[1]
            nbcount[i] = k
            pairs += k
        _move(pos, vel, force, dt)
    return pairs
