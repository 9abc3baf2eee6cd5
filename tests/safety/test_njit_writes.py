"""Writes through every array framealloc hands out inside @njit survive numba's dead-code
elimination (the class of bug of numba issue 10041; see ``framealloc/kernels/aliasing.py``).

numba deletes ``d[i] = v`` (and ``d += v``) when ``d`` is not used afterwards and its alias
analysis takes ``d`` for fresh memory, which it does for any variable bound to a call result:
our views (``pool.data``, ``pools.view``, frame and scratch arrays, ...) and a user's
``d = get(a)``. It runs that elimination on every function that inlines an
``inline="always"`` overload (all our methods are) and in ``parallel=True`` functions.

* A generated table: every view-producing njit member (checked against numba's registry of the
  members of our types, so a new one cannot be forgotten) x dtypes (4 scalars, a record, 2-D
  shapes where the kind allows) x write shapes (``d[i] = v``, ``d[i:j] = v``, ``d[:] = v``,
  ``d += v``, ``d[i, j] = v``, ``d[i][j] = v``), each write the last use of its view and
  interleaved with the API's own inlined calls; read back from Python and from a second njit
  function, against a NumPy model (which also proves every write observable).
* hypothesis over dtypes and call orders (the same compiled kernels: generic over dtype).
* the general numba case: a user's ``@njit def get(a): return a``, next to one of our inline
  methods, and in ``parallel=True`` functions.
* the hook itself: registered once, chained, and it only ever adds to numba's ``arg_aliases``.

The kernels live in ``write_kernels.py`` (editing this file keeps numba's cache of them).
"""
from __future__ import annotations

import contextlib
import copy

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numba import types

import framealloc as fa

from tests.core.conftest import leakcheck  # noqa: F401  (autouse fixture: NRT allocs == frees)

from .write_kernels import (
    ACQUIRE,
    CREATION_METHODS,
    FRAME_METHODS,
    FRAME_ND_METHODS,
    INSERT,
    POP,
    PUSH,
    REC,
    RELEASE,
    REMOVE,
    SCRATCH_METHODS,
    SETITEM,
    plus_half,
    VIA_CALL,
    W_ALL,
    W_IADD,
    W_IDX,
    W_IDX2,
    W_ROW,
    W_SLICE,
    WRITE,
    K,
    N,
    S,
    g_inline,
    g_parallel,
    g_parallel_pool,
    ident,
    k_classes,
    k_copies,
    k_creation,
    k_frame,
    k_frame_nd,
    k_layout,
    k_map,
    k_scratch,
    k_typed,
    k_vec,
    r_classes,
    r_frame,
    r_layout,
    r_map,
    r_scratch,
    r_typed,
    r_vec,
)

DTYPES = {"f8": np.dtype(np.float64), "i8": np.dtype(np.int64), "i4": np.dtype(np.int32),
          "f4": np.dtype(np.float32), "rec": REC}
MODE_NAMES = ("d[i] = v", "d[i:i+1] = v", "d[:] = v", "d += v", "d[i, j] = v", "d[i][j] = v")


@pytest.fixture(scope="module", autouse=True)
def _registered():
    """The numba side (and the alias hooks) as a user gets them on first contact."""
    from framealloc.kernels import ensure_registered

    ensure_registered()


@pytest.fixture
def alloc():
    a = fa.SmartAlloc()
    yield a
    a._close_pools()
    a.close()


def modes_for(dt: np.dtype, ndim: int) -> tuple[int, ...]:
    """The write shapes an array of ``dt``/``ndim`` allows."""
    if ndim == 0:
        return (W_ALL, W_IADD) if dt.names is None else (W_ALL,)
    m = [W_IDX, W_SLICE, W_ALL]
    if dt.names is None:
        m.append(W_IADD)
    if ndim == 2:
        m += [W_IDX2, W_ROW]
    return tuple(m)


def make_src(dt: np.dtype, ndim: int) -> np.ndarray:
    shape = (S,) if ndim < 2 else (S, K)
    vals = np.arange(np.prod(shape)).reshape(shape)
    out = np.zeros(shape, dt)
    if dt.names:
        out["x"] = vals * 1.5 + 1
        out["k"] = vals * 7 + 3
    else:
        out[...] = vals % 50 + 1
    return out


def assert_same(actual: np.ndarray, expected: np.ndarray, what: str) -> None:
    assert actual.shape == expected.shape, what
    if expected.dtype.names:
        for f in expected.dtype.names:
            np.testing.assert_array_equal(actual[f], expected[f], err_msg=f"{what} field {f}")
    else:
        np.testing.assert_array_equal(actual, expected, err_msg=what)


def model_write(v: np.ndarray, w: int, a: int, b: int, c: int, src: np.ndarray) -> None:
    """What the njit write shape ``w`` does, on a NumPy view ``v`` of the model."""
    if w == W_IDX:
        v[a] = src[b]
    elif w == W_SLICE:
        v[a:a + 1] = src[b:b + 1]
    elif w == W_ALL:
        v[...] = src[b]
    elif w == W_IADD:
        v += src[b]
    elif w in (W_IDX2, W_ROW):
        v[a, c] = src[b, c]
    else:
        raise AssertionError(w)


# ---------------------------------------------------------------------------------------------
# The kinds of arrays handed out inside njit, each with a NumPy model of the memory it writes.

class Kind:
    """One kind of njit view: its members (numba registry names), the variants it hands out
    (``methods``), how to make ops for it, run them in njit, model them (``state``: a NumPy copy
    of the memory) and read the memory back."""

    members: list = []
    methods: tuple = ()
    has_api = True                 # api() makes ops that only call the API

    def __init__(self, alloc, dt, ndim):
        self.alloc, self.dt, self.ndim = alloc, dt, ndim

    def view_ndim(self, method):
        return self.ndim

    def length(self, method):
        return N

    def api(self, rnd):
        """An op that only calls the API (None: this kind's ops all call it); it updates what
        the following ops may do."""
        return None

    def ready(self):
        """Whether a write can come next (something to write to)."""
        return True

    def modes(self, method):
        return modes_for(self.dt, self.view_ndim(method))

    def arrays(self, state):
        """The model state as named arrays (what the readers return)."""
        return state

    def simulate(self, ops, src, write=True):
        """The model state after ``ops`` (``write=False``: as if every write were lost)."""
        state = copy.deepcopy(self.state)
        for row in ops.tolist():
            self.step(state, row, src, write)
        return state

    def run(self, ops, src):
        state = self.simulate(ops, src)
        self.execute(ops, src)
        self.state = state

    def close(self):
        pass


class Frame(Kind):
    """Frame arrays (all frame_* array methods), each op allocated inside a checkpoint and
    rolled back: the next op, and the readers, allocate the same memory again."""

    has_api = False
    members = [("SmartAlloc", m) for m in FRAME_METHODS]
    methods = FRAME_METHODS

    def __init__(self, alloc, dt, ndim):
        super().__init__(alloc, dt, ndim)
        self.shape = N if ndim == 1 else (N, K)
        self.methods = FRAME_METHODS if ndim == 1 else FRAME_ND_METHODS
        cp = alloc.frame_checkpoint()
        alloc.frame_zeros(self.shape, dt)       # not a value of src: every write shows
        alloc.rollback_to(cp)
        self.state = {"": np.zeros(self.shape, dt)}

    def view_ndim(self, method):
        return 0 if method in ("frame_alloc", "try_frame_alloc") else self.ndim

    def length(self, method):
        if self.view_ndim(method) == 0:
            return 1
        return {"frame_alloc_2": 2, "frame_alloc_4": 4, "frame_alloc_8": 8}.get(
            method.replace("try_", ""), N)

    def op(self, method, w, a, b, c):
        return [self.methods.index(method), w, a, b, c]

    def step(self, state, row, src, write):
        m, w, a, b, c = row
        method = self.methods[m]
        region = state[""]
        v = region[0:1].reshape(()) if self.view_ndim(method) == 0 else \
            region[:self.length(method)]
        if method.endswith("zeros"):
            v[...] = 0
        elif method == "frame_box":
            v[...] = src[:len(v)]
        if write:
            model_write(v, w, a, b, c, src)

    def execute(self, ops, src):
        box = src[:N]
        if self.ndim == 1:
            k_frame(self.alloc, ops, src, N, self.dt, box)
        else:
            k_frame_nd(self.alloc, ops, src, self.shape, self.dt, box)

    def read(self):
        cp = self.alloc.frame_checkpoint()
        py = self.alloc.frame_array(self.shape, self.dt).copy()
        self.alloc.rollback_to(cp)
        return {"": [("python", py), ("njit", r_frame(self.alloc, self.shape, self.dt))]}


class Scratch(Kind):
    """Scratch arrays; each op resets the pool first, so every op and the readers share memory."""

    has_api = False
    members = [("SmartAlloc", m) for m in SCRATCH_METHODS]
    methods = SCRATCH_METHODS

    def __init__(self, alloc, dt, ndim):
        super().__init__(alloc, dt, ndim)
        self.shape = N if ndim == 1 else (N, K)
        self.pool = alloc.scratch_pool("h1", fa.KiB(4))
        self.pool.reset()
        self.pool.zeros(self.shape, dt)         # not a value of src: every write shows
        self.state = {"": np.zeros(self.shape, dt)}

    def op(self, method, w, a, b, c):
        return [self.methods.index(method), w, a, b, c]

    def step(self, state, row, src, write):
        m, w, a, b, c = row
        if self.methods[m].endswith("zeros"):
            state[""][...] = 0
        if write:
            model_write(state[""], w, a, b, c, src)

    def execute(self, ops, src):
        k_scratch(self.alloc, self.pool.id, ops, src, self.shape, self.dt)

    def read(self):
        self.pool.reset()
        py = self.pool.array(self.shape, self.dt).copy()
        nj = r_scratch(self.alloc, self.pool.id, self.shape, self.dt)
        return {"": [("python", py), ("njit", nj)]}


class TypedPoolData(Kind):
    """``pool.data`` of a typed pool, written between acquires and releases."""

    members = [("TypedPool", "data")]
    methods = ("data",)

    def __init__(self, alloc, dt, ndim):
        super().__init__(alloc, dt, ndim)
        self.pool = alloc.typed_pool(dt, N)
        self.state = {"": self.pool.data.copy()}
        self.live = 0
        self.stack, self.top = np.zeros(N + 1, np.int64), 0   # live slots, across calls

    def api(self, rnd):
        """acquire / try_acquire / acquire_handle or release, within the capacity."""
        if self.live == 0 or (self.live < N and rnd % 2 == 0):
            self.live += 1
            return [ACQUIRE, 0, 0, 0, rnd % 3]
        self.live -= 1
        return [RELEASE, 0, 0, 0, 0]

    def op(self, method, w, a, b, c):
        return [WRITE, w, a, b, c]

    def step(self, state, row, src, write):
        op, w, a, b, c = row
        if op == WRITE and write:
            model_write(state[""], w, a, b, c, src)

    def execute(self, ops, src):
        self.top = k_typed(self.pool, ops, src, self.stack, self.top)

    def read(self):
        return {"": [("python", self.pool.data.copy()), ("njit", r_typed(self.pool))]}


class ClassView(Kind):
    """``pools.view(key, dtype, count)`` of size-class slots, between acquires and releases."""

    members = [("SizeClassPools", "view")]
    methods = ("view",)
    COUNT = 4

    def __init__(self, alloc, dt, ndim):
        super().__init__(alloc, dt, ndim)
        self.state = []           # the live slots' contents, oldest first
        self.keys = []            # their keys
        self.pending = 0          # live slots after the ops made so far

    def length(self, method):
        return self.COUNT

    def api(self, rnd):
        if self.pending == 0 or (self.pending < 6 and rnd % 2 == 0):
            self.pending += 1
            return [ACQUIRE, 0, 0, 0, 0]
        self.pending -= 1
        return [RELEASE, 0, 0, 0, 0]

    def ready(self):
        return self.pending > 0

    def op(self, method, w, a, b, c):
        return [WRITE, w, a, b, c % self.pending]

    def step(self, state, row, src, write):
        op, w, a, b, c = row
        if op == ACQUIRE:
            state.append(np.repeat(src[:1], self.COUNT))
        elif op == RELEASE:
            state.pop()
        elif write:
            model_write(state[-1 - c], w, a, b, c, src)

    def arrays(self, state):
        return {"": np.array(state, self.dt).reshape(len(state), self.COUNT)}

    def execute(self, ops, src):
        nbytes = self.COUNT * self.dt.itemsize
        keys0 = np.array(self.keys, np.int64)
        self.keys = [int(k) for k in k_classes(self.alloc.pools, keys0, ops, src, self.dt,
                                               self.COUNT, nbytes)]

    def read(self):
        pools = self.alloc.pools
        py = np.array([pools.view(k, self.dt, self.COUNT) for k in self.keys], self.dt)
        py = py.reshape(len(self.keys), self.COUNT)
        nj = r_classes(pools, np.array(self.keys, np.int64), self.dt, self.COUNT)
        return {"": [("python", py), ("njit", nj)]}

    def close(self):
        for k in self.keys:
            self.alloc.pools.release(k)


class VecStorage(Kind):
    """FrameVec storage: ``v.as_array()`` views, and ``u = ident(v); u[i] = x`` (a setitem on
    the collection), between pushes and pops."""

    members = [("FrameVec", "as_array")]
    methods = ("as_array", "via_call")

    def __init__(self, alloc, dt, ndim):
        super().__init__(alloc, dt, ndim)
        self.vec = alloc.frame_vec(dt, N)        # noqa: FA601  (used inside the test's frame)
        self.n = 0                 # length after the ops made so far
        self.state = {"": np.zeros(0, dt)}

    def length(self, method):
        return self.n

    def modes(self, method):
        return (W_IDX,) if method == "via_call" else super().modes(method)

    def api(self, rnd):
        if self.n == 0 or (self.n < N and rnd % 3 != 0):
            self.n += 1
            return [PUSH, 0, 0, rnd % S, rnd % 2]
        self.n -= 1
        return [POP, 0, 0, 0, rnd % 2]

    def ready(self):
        return self.n > 0

    def op(self, method, w, a, b, c):
        return [VIA_CALL if method == "via_call" else WRITE, w, a, b, c]

    def step(self, state, row, src, write):
        op, w, a, b, c = row
        if op == PUSH:
            state[""] = np.concatenate([state[""], src[b:b + 1]])
        elif op == POP:
            state[""] = state[""][:-1].copy()
        elif write:
            model_write(state[""], w, a, b, c, src)

    def execute(self, ops, src):
        assert k_vec(self.vec, ops, src) == self.n

    def read(self):
        return {"": [("python", self.vec.as_array().copy()), ("njit", r_vec(self.vec))]}


class MapStorage(Kind):
    """FrameMap values: ``m[k] = x`` and ``u = ident(m); u[k] = x``, between inserts and
    removes (its keys/values/items are copies: see test_copies_written_after_escaping)."""

    methods = ("setitem", "via_call")
    KEYS = 6

    def __init__(self, alloc, dt, ndim):
        super().__init__(alloc, dt, ndim)
        self.map = alloc.frame_map(np.int64, dt, N)      # noqa: FA601  (as above)
        self.state = {}            # key -> value
        self.present = set()       # keys after the ops made so far

    def length(self, method):
        return self.KEYS

    def modes(self, method):
        return (W_IDX,)

    def api(self, rnd):
        k = rnd % self.KEYS
        if k in self.present and rnd % 2:
            self.present.discard(k)
            return [REMOVE, 0, k, 0, rnd % 2]
        self.present.add(k)
        return [INSERT, 0, k, rnd % S, rnd % 2]

    def op(self, method, w, a, b, c):
        self.present.add(a)
        return [SETITEM if method == "setitem" else VIA_CALL, W_IDX, a, b, c]

    def step(self, state, row, src, write):
        op, w, a, b, c = row
        if op == REMOVE:
            del state[a]
        elif op == INSERT or write:
            state[a] = src[b]

    def arrays(self, state):
        ks = sorted(state)
        return {"keys": np.array(ks, np.int64),
                "values": np.array([state[k] for k in ks], self.dt).reshape(len(ks))}

    def execute(self, ops, src):
        assert k_map(self.map, ops, src) == len(self.present)

    def read(self):
        ks = sorted(self.state)
        py = np.array([self.map[k] for k in ks], self.dt).reshape(len(ks))
        nj = np.zeros(len(ks), self.dt)
        r_map(self.map, np.array(ks, np.int64), nj)
        keys = [k for k in range(self.KEYS) if k in self.map]
        return {"keys": [("python", np.array(keys, np.int64))],
                "values": [("python", py), ("njit", nj)]}


class LayoutViews(Kind):
    """Frame-layout views: made in Python only (no njit member), passed in as a named tuple."""

    methods = ("f", "r", "g")
    DT = {"f": np.dtype(np.float64), "r": REC, "g": np.dtype(np.float32)}

    def __init__(self, alloc, dt, ndim):
        super().__init__(alloc, dt, ndim)
        lay = alloc.frame_layout(f=(N, np.float64), r=(N, REC), g=((N, K), np.float32))
        self.s = lay.alloc()                     # noqa: FA601  (as above)
        for f in self.methods:
            getattr(self.s, f)[...] = 0
        self.state = {f: getattr(self.s, f).copy() for f in self.methods}
        self.srcs = {f: make_src(self.DT[f], self.view_ndim(f)) for f in self.methods}

    def view_ndim(self, method):
        return 2 if method == "g" else 1

    def modes(self, method):
        return modes_for(self.DT[method], self.view_ndim(method))

    def api(self, rnd):
        return [0, 0, 0, 0, 0]     # alloc.frame_bytes()

    def op(self, method, w, a, b, c):
        if method == "g":
            return [WRITE, w, a + 100, b, c]
        return [WRITE, w, a, b, 0 if method == "f" else 1]

    def step(self, state, row, src, write):
        op, w, a, b, c = row
        if op == WRITE and write:
            f = "g" if a >= 100 else ("f" if c == 0 else "r")
            model_write(state[f], w, a % 100, b, c, self.srcs[f])

    def execute(self, ops, src):
        k_layout(self.alloc, self.s, ops, self.srcs["f"], self.srcs["r"], self.srcs["g"])

    def read(self):
        nj = dict(zip(self.methods, r_layout(self.s)))
        return {f: [("python", getattr(self.s, f).copy()), ("njit", nj[f])]
                for f in self.methods}


#: kind -> (class, (dtype label, ndim) pairs it is tested with)
KINDS = {
    # The frame and scratch kernels hold every method of their kind (one compile per dtype,
    # ~20 s for frames): one float, one int and the record stand for their classes there.
    "frame": (Frame, [(d, 1) for d in ("f8", "i4", "rec")] + [("f8", 2), ("rec", 2)]),
    "scratch": (Scratch, [(d, 1) for d in ("f8", "i4", "rec")] + [("f8", 2), ("rec", 2)]),
    "typed_pool.data": (TypedPoolData, [(d, 1) for d in DTYPES]),
    "pools.view": (ClassView, [(d, 1) for d in DTYPES]),
    "FrameVec": (VecStorage, [(d, 1) for d in DTYPES]),
    "FrameMap": (MapStorage, [(d, 1) for d in DTYPES]),
    "layout": (LayoutViews, [("f8", 1)]),
}


def variants(cls, label, ndim):
    """The variants (methods) of a kind for a dtype label and ndim."""
    if cls is not Frame:
        return cls.methods
    return FRAME_ND_METHODS if ndim == 2 else FRAME_METHODS


def _rows():
    """The generated table: (kind, variant, dtype label, ndim) for every variant of every kind,
    each with every write shape its arrays allow."""
    return [(kind, m, label, ndim) for kind, (cls, dts) in KINDS.items() for label, ndim in dts
            for m in variants(cls, label, ndim)]


TABLE = _rows()


@contextlib.contextmanager
def opened(alloc, kind, label, ndim):
    """A kind's context, inside a frame of ``alloc`` (closed afterwards)."""
    with alloc.frame():
        ctx = KINDS[kind][0](alloc, DTYPES[label], ndim)
        try:
            yield ctx
        finally:
            ctx.close()


def _src(ctx, method):
    if isinstance(ctx, LayoutViews):
        return ctx.srcs[method]
    return make_src(ctx.dt, max(ctx.view_ndim(method), 1))


def _equal(x: dict, y: dict) -> bool:
    if x.keys() != y.keys():
        return False
    for k in x:
        a, b = x[k], y[k]
        if a.shape != b.shape:
            return False
        fields = a.dtype.names or (None,)
        if not all(np.array_equal(a[f] if f else a, b[f] if f else b) for f in fields):
            return False
    return True


def _check(ctx, what):
    expected = ctx.arrays(ctx.state)
    for part, readers in ctx.read().items():
        for reader, got in readers:
            assert_same(got, expected[part], f"{what}: {part} read from {reader}".strip())


def test_the_table_covers_every_kind_and_shape():
    """Every write shape is in the table, on scalar and record arrays of 1 and 2 dimensions
    (and 0 for the scalar frame allocations), for frame and scratch arrays."""
    seen = set()
    for kind, method, label, ndim in TABLE:
        cls = KINDS[kind][0]
        ctx = cls.__new__(cls)
        Kind.__init__(ctx, None, DTYPES[label], ndim)
        vnd = ctx.view_ndim(method)
        seen |= {(kind, w, label == "rec", vnd) for w in ctx.modes(method)}
    for kind in ("frame", "scratch"):
        for rec in (False, True):
            assert {(kind, w, rec, 2) for w in (W_IDX, W_SLICE, W_ALL, W_IDX2, W_ROW)} <= seen
            assert {(kind, w, rec, 1) for w in (W_IDX, W_SLICE, W_ALL)} <= seen
        assert {(kind, W_IADD, False, nd) for nd in (1, 2)} <= seen
    assert {("frame", W_ALL, True, 0), ("frame", W_IADD, False, 0)} <= seen
    for kind in ("typed_pool.data", "pools.view", "FrameVec"):
        assert {(kind, w, rec, 1) for w in (W_IDX, W_SLICE, W_ALL) for rec in (0, 1)} <= seen


@pytest.mark.slow      # a kernel compiled per row (~3 min in all); --quick keeps the hypothesis run
@pytest.mark.parametrize("kind,method,label,ndim",
                         [pytest.param(*r, id="-".join(map(str, r))) for r in TABLE])
def test_writes_survive(alloc, kind, method, label, ndim):
    """Each write shape the view allows, right after an API call, as the last use of the
    view; read back from Python and from a second njit function. The model proves the writes
    observable: without them it would expect something else."""
    with opened(alloc, kind, label, ndim) as ctx:
        src = _src(ctx, method)
        for i, w in enumerate(ctx.modes(method)):
            rows = []
            for rnd in (2 * i, 2 * i + 1):
                api = ctx.api(rnd + 1)
                if api is not None:
                    rows.append(api)
                while not ctx.ready():
                    rows.append(ctx.api(0))
                a = (3 * i + rnd) % ctx.length(method)
                rows.append(ctx.op(method, w, a, (5 * i + rnd + 7) % S, rnd % K))
            ops = np.array(rows, np.int64)
            assert not _equal(ctx.arrays(ctx.simulate(ops, src)),
                              ctx.arrays(ctx.simulate(ops, src, write=False)))
            ctx.run(ops, src)
            _check(ctx, f"{kind}.{method} {label} {ndim}-D {MODE_NAMES[w]}")


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_writes_survive_any_call_order(alloc, data):
    """hypothesis: a kind and dtype of the table, then a random order of API calls and writes
    (any variant, any write shape, any index), two kernel calls in a row."""
    kind, _, label, ndim = data.draw(st.sampled_from(TABLE), label="kind")
    cls = KINDS[kind][0]
    methods = variants(cls, label, ndim)
    with opened(alloc, kind, label, ndim) as ctx:
        for _ in range(2):
            rows = []
            for _ in range(data.draw(st.integers(1, 12), label="ops")):
                rnd = data.draw(st.integers(0, 1000), label="rnd")
                if cls.has_api and data.draw(st.booleans(), label="api"):
                    rows.append(ctx.api(rnd))
                    continue
                while not ctx.ready():
                    rows.append(ctx.api(0))
                method = data.draw(st.sampled_from(methods), label="method")
                w = data.draw(st.sampled_from(ctx.modes(method)), label="shape")
                a = data.draw(st.integers(0, ctx.length(method) - 1), label="i")
                rows.append(ctx.op(method, w, a, rnd % S, rnd % K))
            src = make_src(ctx.dt, max(ctx.ndim, 1))     # (layout views use their own)
            ctx.run(np.array(rows, np.int64).reshape(-1, 5), src)
            _check(ctx, f"{kind} {label} {ndim}-D ops {rows}")


# ---------------------------------------------------------------------------------------------
# Arrays that are copies, and collections made inside njit

#: njit members returning fresh arrays or collections, exercised by test_copies_...
ESCAPING = {("TypedPool", "acquire_many"), ("TypedPool", "live_indices"), ("TypedPool", "alive"),
            ("FrameMap", "keys"), ("FrameMap", "values"), ("FrameMap", "items"),
            ("SmartAlloc", "frame_vec"), ("SmartAlloc", "try_frame_vec"),
            ("SmartAlloc", "frame_map"), ("SmartAlloc", "try_frame_map")}


def test_copies_written_after_escaping(alloc):
    """A copy (or a collection made in njit) that escaped into a tuple before the write: the
    tuple is live, the variable is not, and numba used to drop the write all the same."""
    p = alloc.typed_pool(np.float64, 8)
    with alloc.frame():
        m = alloc.frame_map(np.int64, np.float64, 8)
        for k in range(3):
            m[k] = k + 0.5
        out = k_copies(alloc, p, m, 1, 6)
        t1, t2, t3, t4, t5, t6, t7, v, mm, tv, tm = out
        assert t1[0][1] == 99 and t2[0][1] == 98 and t3[0][6]
        assert t4[0][1] == 97 and t5[0][1] == 96.0
        assert t6[0][1] == 95 and t6[1][1] == 94.0
        assert v.as_array().tolist() == [43.0, 42.0] and t7[0].tolist() == [43.0, 42.0]
        assert mm[6] == 41.0 and mm[5] == 1.0
        assert tv.as_array().tolist() == [40.0] and tm[7] == 39.0
        del out, t1, t2, t3, t4, t5, t6, t7, v, mm, tv, tm, m


# ---------------------------------------------------------------------------------------------
# Every njit member of our numba types is classified, and the table covers every one that hands
# out an array (or a collection of views)

def _owner_types():
    from framealloc.kernels.collections_njit import FrameMapType, FrameVecType
    from framealloc.kernels.njit_api import SmartAllocType
    from framealloc.kernels.pools_njit import SizeClassPoolsType, TypedPoolType

    return {SmartAllocType: "SmartAlloc", TypedPoolType: "TypedPool",
            SizeClassPoolsType: "SizeClassPools", FrameVecType: "FrameVec",
            FrameMapType: "FrameMap"}


def registered_members():
    """(owner, name) of every public attribute/method numba knows for framealloc's types."""
    from numba.core.typing.templates import builtin_registry

    from tests.numba_surface import template_members

    owners = _owner_types()
    found = set()
    for template in builtin_registry.attributes:
        key = getattr(template, "key", None)
        owner = key if isinstance(key, type) else type(key)
        if not owner.__module__.startswith("framealloc"):
            continue
        assert owner in owners, f"a new framealloc numba type {owner}: add it to this test"
        found |= {(owners[owner], m) for m in template_members(template)
                  if not m.startswith("_")}
    return found


#: njit members returning new frame arrays (kernels/creation_njit.py), exercised by
#: test_creation_results_keep_their_writes
CREATION = {("SmartAlloc", p + m) for p in ("", "try_") for m in CREATION_METHODS
            if not (p and m in ("frame_nonzero", "frame_where"))}


def test_creation_results_keep_their_writes(alloc):
    """Each creation method's result (a call result numba takes for fresh memory) written once
    as its last use: the write is in the frame memory read back at the same point."""
    x = np.arange(1.0, N + 1.0)
    idx = np.arange(N)[::-1].copy()
    mask = np.ones(N, np.bool_)
    with alloc.frame():
        for p in (0, 100):
            for m, name in enumerate(CREATION_METHODS):
                if ("SmartAlloc", ("try_" if p else "") + name) not in CREATION:
                    continue
                i = (3 * m + 1) % N
                f8, i8 = k_creation(alloc, p + m, i, 99.5, x, idx, mask)
                if name in ("frame_nonzero", "frame_where"):
                    assert i8[i] == 7, name      # (int64 indices at the same point)
                else:
                    assert f8[i] == 99.5, name


#: sample arguments of every member (None: an attribute); ``o`` holds sample objects
MEMBER_ARGS = {
    **{("SmartAlloc", p + m): (lambda o: (np.zeros(N),)) for p in ("", "try_") for m in (
        "frame_empty_like", "frame_zeros_like", "frame_copy")},
    **{("SmartAlloc", m): (lambda o: (np.zeros(N),)) for m in ("frame_nonzero", "frame_where")},
    **{("SmartAlloc", m): (lambda o: (plus_half, np.zeros(N))) for m in (
        "frame_eval", "try_frame_eval")},
    **{("SmartAlloc", p + m): args for p in ("", "try_") for m, args in (
        ("frame_full", lambda o: (N, 1.0)), ("frame_full_like", lambda o: (np.zeros(N), 1.0)),
        ("frame_arange", lambda o: (N,)),
        ("frame_concatenate", lambda o: ((np.zeros(N), np.zeros(2)),)),
        ("frame_stack", lambda o: ((np.zeros(N), np.zeros(N)),)),
        ("frame_take", lambda o: (np.zeros(N), np.zeros(2, np.int64))),
        ("frame_compress", lambda o: (np.zeros(N, np.bool_), np.zeros(N))))},
    **{("SmartAlloc", m): (lambda o: (N, np.float64)) for m in (
        "frame_array", "frame_zeros", "try_frame_array", "try_frame_zeros")},
    **{("SmartAlloc", m): (lambda o: (np.float64, N)) for m in (
        "frame_slice", "try_frame_slice", "frame_alloc_batch", "try_frame_alloc_batch",
        "frame_vec", "try_frame_vec")},
    **{("SmartAlloc", m): (lambda o: (np.float64,)) for m in (
        "frame_alloc", "try_frame_alloc", "frame_alloc_2", "frame_alloc_4", "frame_alloc_8",
        "try_frame_alloc_2", "try_frame_alloc_4", "try_frame_alloc_8")},
    **{("SmartAlloc", m): (lambda o: (o["sid"], N, np.float64)) for m in SCRATCH_METHODS},
    **{("SmartAlloc", m): (lambda o: ()) for m in (
        "begin_frame", "end_frame", "frame_bytes", "frame_checkpoint", "scope_begin",
        "pop_tag")},
    **{("SmartAlloc", m): None for m in ("current_tag_id", "frame_number", "in_frame")},
    ("SmartAlloc", "frame_box"): lambda o: (np.zeros(N),),
    ("SmartAlloc", "frame_map"): lambda o: (np.int64, np.float64, N),
    ("SmartAlloc", "try_frame_map"): lambda o: (np.int64, np.float64, N),
    ("SmartAlloc", "push_tag"): lambda o: (1,),
    ("SmartAlloc", "rollback_to"): lambda o: (o["cp"],),
    ("SmartAlloc", "scope_end"): lambda o: (o["scope"],),
    ("SmartAlloc", "scratch_reset"): lambda o: (o["sid"],),
    ("SmartAlloc", "scratch_used"): lambda o: (o["sid"],),
    **{("TypedPool", m): (lambda o: ()) for m in (
        "acquire", "acquire_handle", "try_acquire", "live_indices")},
    **{("TypedPool", m): (lambda o: (1,)) for m in (
        "acquire_many", "generation", "handle", "index", "is_alive", "release")},
    **{("TypedPool", m): None for m in ("alive", "capacity", "data")},
    ("TypedPool", "release_many"): lambda o: (np.zeros(2, np.int64),),
    ("SizeClassPools", "acquire"): lambda o: (16,),
    ("SizeClassPools", "try_acquire"): lambda o: (16,),
    ("SizeClassPools", "release"): lambda o: (1,),
    ("SizeClassPools", "view"): lambda o: (1, np.float64, 2),
    **{("FrameVec", m): (lambda o: ()) for m in ("as_array", "clear", "pop", "try_pop")},
    **{("FrameVec", m): (lambda o: (1.0,)) for m in ("push", "try_push")},
    **{("FrameVec", m): (lambda o: (np.zeros(2),)) for m in ("extend", "try_extend")},
    ("FrameVec", "capacity"): None,
    **{("FrameMap", m): (lambda o: ()) for m in ("clear", "items", "keys", "values")},
    **{("FrameMap", m): (lambda o: (1,)) for m in ("contains", "get", "remove", "try_remove")},
    **{("FrameMap", m): (lambda o: (1, 2.0)) for m in ("insert", "try_insert")},
    ("FrameMap", "capacity"): None,
}


def holds_views(t) -> bool:
    """Whether a numba type is, or holds, an array (a collection holds views of its storage)."""
    from framealloc.kernels.collections_njit import FrameMapType, FrameVecType

    if isinstance(t, (types.Array, FrameVecType, FrameMapType)):
        return True
    if isinstance(t, types.Optional):
        return holds_views(t.type)
    if isinstance(t, types.BaseTuple):
        return any(holds_views(x) for x in t.types)
    return False


def test_every_member_returning_an_array_is_in_the_table(alloc):
    """numba's registry of our types' members == the members classified here; the ones whose
    return type holds an array are exactly the table's kinds plus the escaping copies."""
    import numba
    from numba.core.registry import cpu_target

    members = registered_members()
    assert members == set(MEMBER_ARGS), "classify the new njit members in MEMBER_ARGS"
    ctx = cpu_target.typing_context
    ctx.refresh()
    with alloc.frame():
        objs = {"SmartAlloc": alloc, "TypedPool": alloc.typed_pool(np.float64, 4),
                "SizeClassPools": alloc.pools, "FrameVec": alloc.frame_vec(np.float64, 4),
                "FrameMap": alloc.frame_map(np.int64, np.float64, 4),
                "cp": alloc.frame_checkpoint(), "scope": alloc.scope_begin(),
                "sid": alloc.scratch_pool("h1-reg", 64).id}
        returns_views = set()
        for owner, name in sorted(members):
            ty = ctx.resolve_getattr(numba.typeof(objs[owner]), name)
            make_args = MEMBER_ARGS[owner, name]
            if make_args is not None:
                args = tuple(numba.typeof(x) for x in make_args(objs))
                ty = ctx.resolve_function_type(ty, args, {}).return_type
            if holds_views(ty):
                returns_views.add((owner, name))
        del objs
    table = {m for cls, _ in KINDS.values() for m in cls.members}
    assert returns_views == table | ESCAPING | CREATION


# ---------------------------------------------------------------------------------------------
# The general numba case: a user's function returning its argument

def test_user_function_results_keep_their_writes(alloc):
    p = alloc.typed_pool(np.float64, N)
    x, y = np.zeros(N), np.zeros(3)
    t = g_inline(p, x, y, N)
    assert x.tolist() == [i + N for i in range(N)]
    assert y.tolist() == [N] * 3
    assert t[0][N - 1] == 7.0


def test_parallel_writes_survive(alloc):
    x, y, z = np.zeros(N), np.zeros(N), np.zeros(2)
    g_parallel(x, y, z, N)
    assert x.tolist() == [i + 1.0 for i in range(N)]
    assert y.tolist() == [2.0 * i for i in range(N)]
    assert z.tolist() == [3.0, 3.0]
    p = alloc.typed_pool(np.float64, N)
    g_parallel_pool(p, N)
    assert p.data.tolist() == [i + 0.5 for i in range(N)]


# ---------------------------------------------------------------------------------------------
# The hook itself (numba IR only: nothing compiled)

def _fresh(n, i):
    d = np.empty(n)
    d[i] = 1.0


def _fresh_view(n, i):
    d = np.zeros(n).reshape((n,)).T
    d[i] = 1.0


def _fresh_inplace(n, i):
    d = np.ones(n)
    d += i


def _copy(a, i):
    d = a.copy()
    d[i] = 1.0


def _called(a, i):
    d = ident(a)
    d[i] = 1.0


def _called_inplace(a, i):
    d = ident(a)
    d += i


def _escaped_tuple(n, i):
    d = np.empty(n)
    t = (d, 1)
    d[i] = 1.0
    return t


def _escaped_call(n, i):
    d = np.empty(n)
    ident(d[1:])
    d[i] = 1.0


def _escaped_list(n, i):
    d = np.empty(n)
    lst = [d]
    d[i] = 1.0
    return lst


def _argument(a, i):
    d = a.T
    d[i] = 1.0


def _merged(a, n, i):
    if i:
        d = np.empty(n)
    else:
        d = ident(a)
    d[i] = 1.0


def _row(n, i):
    d = ident(np.empty((n, n)))
    r = d[i]
    r[i] = 1.0


def _loop(n, i):
    d = np.empty(n)
    for _ in range(n):
        d = d[1:]
    d[i] = 1.0


#: sample function -> whether the hook keeps the write to ``d`` (or ``r``) alive
SAMPLES = {_fresh: False, _fresh_view: False, _fresh_inplace: False, _copy: False,
           _loop: False, _called: True, _called_inplace: True, _escaped_tuple: True,
           _escaped_call: True, _escaped_list: True, _argument: True, _merged: True, _row: True}


def _aliases(fn, hooks: bool, monkeypatch):
    from numba.core import ir, ir_utils
    from numba.core.compiler import run_frontend

    func_ir = run_frontend(fn)
    with monkeypatch.context() as mp:
        if not hooks:
            for kind in (ir.SetItem, ir.StaticSetItem, ir.Assign):
                if kind in ir_utils.alias_analysis_extensions:
                    mp.delitem(ir_utils.alias_analysis_extensions, kind)
        return ir_utils.find_potential_aliases(func_ir.blocks, func_ir.arg_names, None, func_ir)


@pytest.mark.parametrize("fn", list(SAMPLES), ids=lambda f: f.__name__)
def test_hook_keeps_exactly_the_writes_that_may_be_seen(fn, monkeypatch):
    """Untyped IR (typemap None): a write to memory that may be seen elsewhere is made live;
    fresh memory nothing else sees is left to numba's dead-code elimination."""
    alias_map, arg_aliases = _aliases(fn, True, monkeypatch)
    target = "r" if fn is _row else "d"
    assert (target in arg_aliases) is SAMPLES[fn]


@pytest.mark.parametrize("fn", list(SAMPLES), ids=lambda f: f.__name__)
def test_hook_only_adds_live_names(fn, monkeypatch):
    """With the hooks, numba keeps at least what it kept: for any set of live variables, its
    dead-code elimination keeps ``lives | aliases of lives | arg_aliases``, and that only grows
    (a name moved into ``arg_aliases`` leaves the alias map: it is live everywhere)."""
    plain_map, plain_args = _aliases(fn, False, monkeypatch)
    hooked_map, hooked_args = _aliases(fn, True, monkeypatch)
    assert hooked_args >= plain_args
    for v, aliases in plain_map.items():
        assert aliases <= hooked_map.get(v, set()) | hooked_args | {v}


def test_hooks_registered_once_and_chained(monkeypatch):
    """install() is idempotent, and keeps a hook registered before it."""
    from numba.core import ir, ir_utils

    from framealloc.kernels import aliasing

    ext = ir_utils.alias_analysis_extensions
    ours = {k: ext[k] for k in (ir.SetItem, ir.StaticSetItem, ir.Assign)}
    assert all(getattr(f, aliasing._MARK, False) for f in ours.values())
    aliasing.install()
    assert {k: ext[k] for k in ours} == ours
    calls = []
    monkeypatch.setitem(ext, ir.SetItem, lambda *a: calls.append(a[0]))
    aliasing.install()
    assert ext[ir.SetItem] is not ours[ir.SetItem]
    alias_map, arg_aliases = _aliases(_called, True, monkeypatch)
    assert len(calls) == 1 and isinstance(calls[0], ir.SetItem) and "d" in arg_aliases
