"""The NumPy half (NEP 49): NumPy calls made by Python code inside a ``numpy=True`` scope and a
frame allocate from the thread's chunk; nothing dangles, leaks or is freed by the wrong
allocator, across frames, scopes and threads, through every allocation path NumPy has (malloc,
calloc, realloc, free)."""
from __future__ import annotations

import gc
import queue
import random
import threading

import numba
import numpy as np
import pytest

import framealloc as fa
from framealloc.kernels.transparent import NP_PREFIX, numpy_handler_name
from framealloc.transparent import transparent_status

from .test_install import run

OURS = "framealloc"
DEFAULT = numpy_handler_name()


def owner(a: np.ndarray) -> np.ndarray:
    """The array that owns ``a``'s data (views report no handler)."""
    while not a.flags.owndata and isinstance(a.base, np.ndarray):
        a = a.base
    return a


def handler(a: np.ndarray) -> str | None:
    return numpy_handler_name(owner(a))


def kind(a: np.ndarray) -> tuple[int, int]:
    """The handler's prefix of ``a``'s data: (size, kind); kind 1: carved from a chunk."""
    base = owner(a)
    return tuple(int(v) for v in np.frombuffer(
        (np.ctypeslib.as_ctypes_type(np.int64) * 2).from_address(
            base.__array_interface__["data"][0] - NP_PREFIX), np.int64))


#: Every way NumPy code from Python makes an array, as a table: name -> function of a float64
#: array ``x`` of 64 elements. Each is checked inside a frame against the same call outside.
CREATIONS = {
    "empty_filled": lambda x: np.full(x.shape, 2.5),
    "zeros": lambda x: np.zeros(x.shape),
    "zeros_2d": lambda x: np.zeros((8, 8), np.int32),
    "ones_like": lambda x: np.ones_like(x),
    "arange": lambda x: np.arange(x.size) * 0.5,
    "expression": lambda x: x * 2.0 + x / 3.0 - 1.0,
    "ufunc": lambda x: np.sqrt(np.abs(x)),
    "list": lambda x: np.array([1.0, 2.0, 3.0]),
    "copy": lambda x: x.copy(),
    "astype": lambda x: x.astype(np.float32),
    "concatenate": lambda x: np.concatenate((x, x[::-1])),
    "stack": lambda x: np.stack((x, x + 1)),
    "where": lambda x: np.where(x > 30, x, -x),
    "sort": lambda x: np.sort(x[::-1]),
    "cumsum": lambda x: np.cumsum(x),
    "linspace": lambda x: np.linspace(0.0, 1.0, 33),
    "outer": lambda x: np.outer(x[:8], x[:8]),
    "fancy_index": lambda x: x[np.argsort(-x)],
    "boolean_mask": lambda x: x[x > 10],
    "reshape_copy": lambda x: x.reshape(8, 8).T.copy(),
    "complex": lambda x: x * 1j + 2,
    "fromiter_no_count": lambda x: np.fromiter((v * v for v in x.tolist()), np.float64),
    "fromiter_int": lambda x: np.fromiter(iter(range(3000)), np.int64),
    "strings": lambda x: np.array([str(v) * 3 for v in x.tolist()]),
    "bytes_astype": lambda x: x.astype("S12"),
    "unicode_join": lambda x: np.char.add(x.astype(str), "_k"),
    "frombuffer_copy": lambda x: np.frombuffer(x.tobytes(), np.float64).copy(),
    "structured": lambda x: np.zeros(5, dtype=[("a", "f8"), ("b", "i4")]),
    "object_free": lambda x: np.array([[1], [2, 3]], dtype=object),
}


@pytest.fixture
def x():
    return np.arange(64.0)


def scribble(n=256, rounds=20):
    """Allocate and overwrite many temporaries (what would clobber reused memory)."""
    s = 0.0
    for _ in range(rounds):
        t = np.full(n, -7.0) * 3.0
        s += float(t[0])
    return s


def test_the_scope_sets_the_handler_in_this_context_and_restores_it(alloc):
    assert numpy_handler_name() == DEFAULT
    with fa.transparent(alloc, numpy=True) as outer:
        assert numpy_handler_name() == OURS
        with fa.transparent(alloc):                   # numpy=False leaves the handler alone
            assert numpy_handler_name() == OURS
        seen = []
        t = threading.Thread(target=lambda: seen.append(numpy_handler_name()))
        t.start()
        t.join()
        assert seen == [DEFAULT]                      # other threads keep theirs
    assert numpy_handler_name() == DEFAULT
    with fa.transparent(alloc):
        assert numpy_handler_name() == DEFAULT
    assert outer.numpy and transparent_status().numpy


@pytest.mark.parametrize("name", sorted(CREATIONS))
def test_every_creation_is_served_and_keeps_its_contents(alloc, x, name):
    make = CREATIONS[name]
    want = make(x)
    with fa.transparent(alloc, numpy=True) as t:
        with alloc.frame():
            scribble()
            got = make(x)
        for _ in range(20):
            with alloc.frame():
                scribble()
    assert t.stats().numpy > 0 and t.stats().served >= t.stats().numpy
    assert handler(got) == OURS
    assert got.dtype == want.dtype and got.shape == want.shape
    if want.dtype == object:
        assert got.tolist() == want.tolist()
    else:
        np.testing.assert_array_equal(got, want)
    scribble()
    np.testing.assert_array_equal(got, want) if want.dtype != object else None


def test_outside_a_frame_and_above_the_threshold_numpy_allocates_as_before(alloc):
    with fa.transparent(alloc, numpy=True, threshold=fa.KiB(1)) as t:
        a = np.ones(16)                                # no frame: malloc (with our prefix)
        with alloc.frame():
            b = np.ones(16)                            # 128 bytes: the chunk
            c = np.ones(1000)                          # 8000 bytes > threshold: malloc
    s = t.stats()
    assert (kind(a), kind(b), kind(c)) == ((128, 0), (128, 1), (8000, 0))
    assert s.outside >= 1 and s.large >= 1 and s.numpy >= 1
    assert all(handler(v) == OURS for v in (a, b, c))
    assert a.sum() == b.sum() == 16 and c.sum() == 1000


def test_calloc_zeroes_reused_chunk_memory(alloc):
    with fa.transparent(alloc, numpy=True, chunk_size=fa.KiB(64)) as t:
        for _ in range(50):
            with alloc.frame():
                dirty = np.full(500, np.nan)
                del dirty                              # its block is popped and reused
                z = np.zeros(500)
                assert kind(z) == (4000, 1) and not z.any()
                i = np.zeros((20, 20), np.int8)
                assert not i.any()
    assert t.stats().served >= 150


@pytest.mark.parametrize("path", ["chunk_to_chunk", "chunk_to_libc", "libc_to_chunk",
                                  "libc_to_libc", "shrink"])
def test_realloc_paths_keep_contents(alloc, path):
    sizes = {"chunk_to_chunk": (10, 100), "chunk_to_libc": (10, 5000),
             "libc_to_chunk": (3000, 100), "libc_to_libc": (3000, 6000), "shrink": (100, 7)}
    n0, n1 = sizes[path]
    with fa.transparent(alloc, numpy=True, threshold=fa.KiB(16)) as t:
        if path.startswith("libc"):
            r = np.arange(float(n0))                  # no frame open: libc
            before = kind(r)[1]
            with alloc.frame():
                scribble(64, 5)
                r.resize(n1, refcheck=False)
        else:
            with alloc.frame():
                r = np.arange(float(n0))
                before = kind(r)[1]
                scribble(64, 5)
                r.resize(n1, refcheck=False)
        scribble(64, 5)
    keep = min(n0, n1)
    np.testing.assert_array_equal(r[:keep], np.arange(float(keep)))
    assert (r[keep:] == 0).all()                      # resize zero-fills what it adds
    after = 0 if 8 * n1 > fa.KiB(16) else 1
    assert (before, kind(r)) == (int(not path.startswith("libc")), (8 * n1, after))
    assert t.stats().numpy >= 1


def test_arrays_escape_frames_and_the_scope(alloc):
    kept, want = [], []
    with fa.transparent(alloc, numpy=True, chunk_size=fa.KiB(4), threshold=fa.KiB(1)) as t:
        for f in range(60):
            with alloc.frame():
                scribble(32, 3)
                v = np.full(1 + f % 30, float(f)) + 0.5      # escapes (stored in a list)
                if f % 3 == 0:
                    kept.append(v)
                    want.append(float(f) + 0.5)
    assert t.stats().retired_live > 0                  # kept arrays pinned retired chunks
    with fa.transparent(alloc, numpy=True):
        for _ in range(200):
            with alloc.frame():
                scribble(32, 2)
    for v, w in zip(kept, want):
        assert (v == w).all() and handler(v) == OURS
    before = transparent_status().chunks_live
    del kept, v
    gc.collect()
    assert transparent_status().chunks_live < before


def test_frees_from_other_threads_while_the_owner_allocates(alloc):
    q: queue.Queue = queue.Queue()
    bad = []

    def consumer():
        while (item := q.get()) is not None:
            value, arr = item
            if not (arr == value).all():
                bad.append(value)
            del arr, item                               # the last reference: freed here

    th = threading.Thread(target=consumer)
    th.start()
    with fa.transparent(alloc, numpy=True, chunk_size=fa.KiB(8), threshold=fa.KiB(2)) as t:
        for f in range(400):
            with alloc.frame():
                q.put((float(f), np.full(1 + f % 40, float(f))))
                scribble(16, 2)
    q.put(None)
    th.join()
    assert not bad and t.stats().numpy >= 400


def test_several_threads_each_in_its_own_scope(alloc):
    results, errors = {}, []

    def worker(k):
        try:
            held = []
            with fa.transparent(alloc, numpy=True, chunk_size=fa.KiB(8),
                                threshold=fa.KiB(2)) as t:
                for f in range(150):
                    with alloc.frame():
                        a = np.arange(1 + (f + k) % 50) * 0 + (k * 1000 + f)
                        scribble(8, 2)
                        if f % 5 == 0:
                            held.append((k * 1000 + f, a))
            for v, a in held:
                assert (a == v).all()
            results[k] = t.stats()
        except BaseException as exc:                     # noqa: BLE001 - reported below
            errors.append(exc)

    ths = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    [th.start() for th in ths]
    [th.join() for th in ths]
    assert not errors, errors
    assert all(results[k].numpy >= 150 for k in range(4))


@numba.njit
def _centre(x):
    return x - x.mean()


def test_numba_and_numpy_in_one_frame(alloc, x):
    _centre(x)           # compiled first: numba's compiler keeps small NumPy arrays it makes
    with fa.transparent(alloc, numpy=True) as t:
        with alloc.frame():
            c = _centre(x)                          # numba's hook
            d = c * c                               # NumPy's handler
            e = _centre(d)
    s = t.stats()
    assert 1 <= s.numpy < s.served
    np.testing.assert_allclose(e, (x - x.mean()) ** 2 - ((x - x.mean()) ** 2).mean())
    assert handler(d) == OURS


def test_random_sequences_keep_every_live_array(alloc):
    rng = random.Random(19)
    live: dict[int, tuple[np.ndarray, float]] = {}
    with fa.transparent(alloc, numpy=True, chunk_size=fa.KiB(4), threshold=fa.KiB(1)):
        frame = False
        for step in range(3000):
            op = rng.random()
            if op < 0.1:
                (alloc.end_frame if frame else alloc.begin_frame)()
                frame = not frame
            elif op < 0.55 or not live:
                n = rng.choice([1, 3, 16, 100, 200])
                live[step] = (np.full(n, float(step)), float(step))
            elif op < 0.7:
                k = rng.choice(list(live))
                a, v = live[k]
                a.resize(rng.choice([2, 50, 300]), refcheck=False)
                a[:] = v
            else:
                del live[rng.choice(list(live))]
            if step % 100 == 0:
                for a, v in live.values():
                    assert (a == v).all()
        if frame:
            alloc.end_frame()
    for a, v in live.values():
        assert (a == v).all()


def test_nonbool_numpy_raises_fa191(alloc):
    for bad in (1, "yes", None):
        with pytest.raises(fa.ConfigError) as e:
            fa.transparent(alloc, numpy=bad)
        assert e.value.code == "FA191"


#: Refusals of the NumPy half, each in a fresh process: numba's half stays on.
NUMPY_REFUSALS = {
    "header_missing": "k._numpy_header_text = lambda name: None",
    "api_index_moved": ("f = k._numpy_header_text; k._numpy_header_text = lambda n: "
                        "f(n).replace('PyArray_API[304]', 'PyArray_API[999]')"
                        ".replace('PyDataMem_SetHandler', 'PyDataMem_SetHandlerX')"),
    "struct_changed": ("f = k._numpy_header_text; k._numpy_header_text = lambda n: "
                       "f(n).replace('uint8_t version;', 'uint16_t version;')"),
    "api_version": ("f = k._numpy_header_text; k._numpy_header_text = lambda n: "
                    "f(n).replace('NPY_API_VERSION 0x', 'NPY_API_VERSION 0x7')"),
    "probe_fails": "k._probe_numpy = lambda *a: 'forced'",
}


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(NUMPY_REFUSALS))
def test_refused_numpy_half_warns_fa190_and_changes_nothing(case):
    out = run(f"""
        import warnings, numba, numpy as np
        import framealloc as fa
        import framealloc.kernels.transparent as k
        from framealloc.kernels.transparent import numpy_handler_name
        from framealloc.transparent import transparent_status
        {NUMPY_REFUSALS[case]}
        assert fa.install_transparent() is True
        st = transparent_status()
        @numba.njit
        def make(n):
            return np.zeros(n) + 1.0
        alloc = fa.SmartAlloc()
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            with fa.transparent(alloc, numpy=True) as t, alloc.frame():
                name = numpy_handler_name()
                a = np.ones(10) * 2
                b = make(10)
        print("RESULT", st.numpy, st.numpy_refused is not None, [x.message.code for x in w],
              name, numpy_handler_name(a), t.stats().numpy, t.stats().served, a.sum(), b.sum())
    """)
    line = next(s for s in out.splitlines() if s.startswith("RESULT"))
    assert line == f"RESULT False True ['FA190'] {DEFAULT} {DEFAULT} 0 2 20.0 10.0"
