"""Property tests over random sequences of allocations, checkpoints, rollbacks and frames."""
from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import framealloc as fa
from framealloc import AllocConfig, KiB, MiB

DTYPES = [np.dtype(d) for d in ("u1", "i2", "f4", "f8", "c16", "M8[s]")] + [
    np.dtype([("pos", "f4", 3), ("vel", "f4", 3), ("life", "f4")]),
    np.dtype([("a", "u1"), ("b", "f8")], align=True),
]

shape_st = st.one_of(st.integers(0, 300), st.tuples(st.integers(0, 20), st.integers(0, 20)),
                     st.tuples(st.integers(0, 5), st.integers(0, 5), st.integers(0, 5)))
align_st = st.one_of(st.none(), st.sampled_from([1, 2, 8, 16, 64, 256, 4096]))
op_st = st.one_of(
    st.tuples(st.just("alloc"), shape_st, st.sampled_from(range(len(DTYPES))), align_st),
    st.tuples(st.just("checkpoint")),
    st.tuples(st.just("rollback"), st.integers(0, 1000)),
    st.tuples(st.just("end_frame")),
)


class Model:
    """The truth, recomputed from the addresses of what the allocator handed out."""

    def __init__(self, alloc: fa.SmartAlloc, single_chunk: bool):
        self.a = alloc
        self.single_chunk = single_chunk
        self.live: list[tuple[np.ndarray, int, int]] = []  # (view as bytes, fill byte, position)
        self.cps: list[tuple[fa.FrameCheckpoint, int]] = []  # (checkpoint, number of live allocs)
        self.count = 0
        self.allocated = 0
        self.pos = 0
        self.peak = 0
        self.fill = 0

    def base(self) -> int:
        return int(self.a._rows["base"][self.a._tls.arena.slot, 0])

    def alloc(self, shape, dt, align):
        arr = self.a.frame_array(shape, dt, align=align)
        addr = arr.ctypes.data
        want = max(align or 1, fa._dtypes.natural_alignment(dt))
        assert addr % want == 0, f"data address {addr:#x} not aligned to {want}"
        assert arr.shape == np.empty(shape, dt).shape and arr.dtype == dt
        raw = arr.reshape(-1).view(np.uint8) if arr.size else arr.view(np.uint8).reshape(-1)
        self.fill = (self.fill % 250) + 1
        raw[...] = self.fill
        self.count += 1
        if self.single_chunk:
            if arr.nbytes:
                new_pos = addr + arr.nbytes - self.base()
            else:  # numpy does not keep the address of empty views: only padding may be used
                new_pos = self.a.stats().frame.current
                assert new_pos - self.pos < want
            assert new_pos >= self.pos
            self.allocated += new_pos - self.pos
            self.pos = new_pos
            self.peak = max(self.peak, new_pos)
        self.live.append((raw, self.fill, self.pos))

    def checkpoint(self):
        self.cps.append((self.a.frame_checkpoint(), len(self.live)))

    def rollback(self, k):
        if not self.cps:
            return
        cp, n_live = self.cps[k % len(self.cps)]
        self.a.rollback_to(cp)
        # Checkpoints taken after it are now invalid; so are the allocations after it.
        self.cps = [(c, n) for c, n in self.cps if c.serial <= cp.serial]
        del self.live[n_live:]
        if self.single_chunk:
            assert cp.position <= self.pos
            self.pos = cp.position

    def end_frame(self):
        self.a.end_frame()
        self.a.begin_frame()
        self.live.clear()
        self.cps.clear()
        self.pos = 0

    def check(self):
        spans = sorted((r.ctypes.data, r.ctypes.data + r.size) for r, _, _ in self.live if r.size)
        for (s1, e1), (s2, e2) in zip(spans, spans[1:]):
            assert e1 <= s2, "two live allocations overlap"
        for raw, fill, _ in self.live:
            assert (raw == fill).all(), "a live allocation was clobbered"
        s = self.a.stats().frame
        assert s.allocations == self.count
        if self.single_chunk:
            assert s.current == self.pos
            assert s.allocated == self.allocated
            assert s.peak == self.peak
            assert s.freed == self.allocated - self.pos


def _run(ops, config, single_chunk):
    a = fa.SmartAlloc(config)
    m = Model(a, single_chunk)
    a.begin_frame()
    try:
        for op in ops:
            if op[0] == "alloc":
                m.alloc(op[1], DTYPES[op[2]], op[3])
            else:
                getattr(m, op[0])(*op[1:])
            m.check()
    finally:
        a.end_frame()
        a.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(op_st, max_size=40))
def test_random_sequences_single_chunk(ops):
    _run(ops, AllocConfig(frame_chunk_size=MiB(4)), single_chunk=True)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(op_st, max_size=40))
def test_random_sequences_with_growth(ops):
    _run(ops, AllocConfig(frame_chunk_size=KiB(4)), single_chunk=False)
