"""NumPy's creation vocabulary in the frame: every method against its NumPy function (dtype,
shape, values), from Python and from @njit, on random shapes, dtypes and values (hypothesis);
bad inputs refused with FA020 (or the allocation's own code) before anything is allocated; the
try_ forms give None when the frame cannot hold the result."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import framealloc as fa

from . import creation_kernels as K

DTYPES = [np.float64, np.float32, np.int64, np.int32, np.uint8, np.bool_, np.complex128]
SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture
def alloc():
    a = fa.SmartAlloc()
    a.begin_frame()
    yield a
    a.end_frame()
    a.close()


def same(got, want):
    """NumPy's dtype, shape and values (NaN equal to NaN), and the result lives in the frame
    (a C-contiguous array that does not own its memory)."""
    assert isinstance(got, np.ndarray), type(got)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert got.shape == want.shape, (got.shape, want.shape)
    assert np.array_equal(got, want, equal_nan=got.dtype.kind in "fc"), (got, want)
    assert got.flags.c_contiguous and not got.flags.owndata


def arrays(dtypes=DTYPES, min_dims=0, max_dims=3, max_side=4):
    return st.sampled_from(dtypes).flatmap(lambda dt: hnp.arrays(
        dt, hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=0,
                             max_side=max_side),
        elements=hnp.from_dtype(np.dtype(dt), allow_nan=False, allow_infinity=False)
        if np.dtype(dt).kind in "fc" else None))


# ---------------------------------------------------------------------------------------------
# Python

@SETTINGS
@given(a=arrays(), dt=st.sampled_from([None] + DTYPES), fill=st.integers(0, 1))
def test_like_full_copy_match_numpy(alloc, a, dt, fill):
    same(alloc.frame_zeros_like(a, dt), np.zeros_like(a, dt))
    e = alloc.frame_empty_like(a, dt)
    want = np.empty_like(a, dt)
    assert (e.shape, e.dtype) == (want.shape, want.dtype)
    same(alloc.frame_full_like(a, fill, dt), np.full_like(a, fill, dt))
    same(alloc.frame_full(a.shape, fill, dt), np.full(a.shape, fill, dt))
    same(alloc.frame_full(a.shape, a.dtype.type(fill)), np.full(a.shape, a.dtype.type(fill)))
    same(alloc.frame_copy(a), np.copy(a))
    if a.ndim == 2:
        same(alloc.frame_copy(a.T), np.copy(a.T, order="C"))
    same(alloc.try_frame_copy(a), a.copy())


@SETTINGS
@given(start=st.one_of(st.integers(-50, 50), st.floats(-50, 50)),
       stop=st.one_of(st.integers(-50, 50), st.floats(-50, 50)),
       step=st.one_of(st.integers(1, 7), st.integers(-7, -1), st.floats(0.01, 5),
                      st.floats(-5, -0.01)),
       dt=st.sampled_from([None, np.float64, np.float32, np.int64, np.int32]))
def test_arange_matches_numpy(alloc, start, stop, step, dt):
    same(alloc.frame_arange(start, stop, step, dt), np.arange(start, stop, step, dt))
    same(alloc.frame_arange(stop), np.arange(stop))


@SETTINGS
@given(data=st.data())
def test_joins_match_numpy(alloc, data):
    a = data.draw(arrays(min_dims=1))
    nd = a.ndim
    ax = data.draw(st.integers(-nd, nd - 1))
    extra = data.draw(st.integers(0, 3))
    shape_b = a.shape[:ax % nd] + (extra,) + a.shape[ax % nd + 1:]
    b = data.draw(hnp.arrays(data.draw(st.sampled_from(DTYPES)), shape_b))
    same(alloc.frame_concatenate((a, b), ax), np.concatenate((a, b), ax))
    same(alloc.frame_concatenate([a, b, a], axis=None), np.concatenate([a, b, a], axis=None))
    sax = data.draw(st.integers(-nd - 1, nd))
    same(alloc.frame_stack((a, a, a), sax), np.stack((a, a, a), sax))
    same(alloc.try_frame_stack([a], sax), np.stack([a], sax))


@SETTINGS
@given(data=st.data())
def test_take_compress_nonzero_match_numpy(alloc, data):
    a = data.draw(arrays(min_dims=1))
    nd = a.ndim
    ax = data.draw(st.integers(-nd, nd - 1))
    n = a.shape[ax]
    idx = np.array(data.draw(st.lists(st.integers(-n, n - 1), max_size=5)) if n else [],
                   np.intp)
    same(alloc.frame_take(a, idx, ax), np.take(a, idx, ax))
    if a.size:
        flat = np.array(data.draw(st.lists(st.integers(-a.size, a.size - 1), max_size=5)),
                        np.intp)
        same(alloc.frame_take(a, flat), np.take(a, flat))
    mask = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)), bool)
    same(alloc.frame_compress(mask, a, ax), np.compress(mask, a, ax))
    same(alloc.frame_compress(mask[: n // 2], a, ax), np.compress(mask[: n // 2], a, ax))
    fmask = np.array(data.draw(st.lists(st.booleans(), min_size=a.size, max_size=a.size)),
                     bool)
    same(alloc.frame_compress(fmask, a), a.ravel()[fmask])
    got, want = alloc.frame_nonzero(a), np.nonzero(a)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        same(g, w)
    for g, w in zip(alloc.frame_where(a != 0), np.where(a != 0)):
        same(g, w)


BAD_PY = [
    ("frame_concatenate", ((np.zeros((2, 3)), np.zeros((2, 4))),), {}, "FA020"),
    ("frame_concatenate", ((np.zeros(2), np.zeros((2, 2))),), {}, "FA020"),
    ("frame_concatenate", ((np.zeros(2),),), {"axis": 1}, "FA020"),
    ("frame_concatenate", ((),), {}, "FA020"),
    ("frame_concatenate", ((np.float64(1.0),),), {}, "FA020"),
    ("frame_concatenate", (np.zeros(3),), {}, "FA020"),
    ("frame_stack", ((np.zeros(2), np.zeros(3)),), {}, "FA020"),
    ("frame_stack", ((np.zeros(2),),), {"axis": 2}, "FA020"),
    ("frame_stack", ((np.zeros(2),),), {"axis": 1.5}, "FA020"),
    ("frame_take", (np.zeros(3), np.array([3])), {}, "FA020"),
    ("frame_take", (np.zeros(3), np.array([-4])), {}, "FA020"),
    ("frame_take", (np.zeros(3), np.array([0.5])), {}, "FA020"),
    ("frame_take", (np.zeros((2, 2)), np.array([0])), {"axis": 2}, "FA020"),
    ("frame_compress", (np.array([0, 0, 0, 1], bool), np.zeros(3)), {}, "FA020"),
    ("frame_compress", (np.ones((2, 2), bool), np.zeros((2, 2))), {}, "FA020"),
    ("frame_nonzero", (np.float64(1.0),), {}, "FA020"),
    ("frame_nonzero", (np.zeros(2, [("x", "f8")]),), {}, "FA006"),
    ("frame_arange", (0, 5, 0), {}, "FA020"),
    ("frame_arange", ("5",), {}, "FA020"),
    ("frame_arange", (5,), {"dtype": np.complex128}, "FA006"),
    ("frame_full", ((2, 2), np.zeros(3)), {}, "FA020"),
    ("frame_full", ((2, -1), 1.0), {}, "FA004"),
    ("frame_full_like", (np.zeros(2), np.zeros(3)), {}, "FA020"),
    ("frame_copy", ([1, [2]],), {}, "FA006"),
    ("frame_empty_like", (np.zeros(2),), {"dtype": "O"}, "FA006"),
]


@pytest.mark.parametrize("name,args,kw,code", BAD_PY,
                         ids=[f"{b[0]}-{i}" for i, b in enumerate(BAD_PY)])
@pytest.mark.parametrize("prefix", ["", "try_"])
def test_bad_inputs_are_coded_and_allocate_nothing(alloc, name, args, kw, code, prefix):
    before = alloc.stats().frame.current
    with pytest.raises(fa.FrameAllocError) as ei:
        getattr(alloc, prefix + name)(*args, **kw)
    assert ei.value.code == code and str(ei.value).startswith(code)
    assert alloc.stats().frame.current == before


def test_try_forms_return_none_when_the_frame_is_full():
    a = fa.SmartAlloc(fa.AllocConfig(frame_capacity=fa.KiB(64), frame_chunk_size=fa.KiB(64),
                                     on_frame_exhausted="error"))
    big = np.zeros(20000)
    with a.frame():
        calls = {"frame_empty_like": (big,), "frame_zeros_like": (big,),
                 "frame_full": (20000, 1.0), "frame_full_like": (big, 1.0),
                 "frame_copy": (big,), "frame_arange": (20000.0,),
                 "frame_concatenate": ((big, big),), "frame_stack": ((big, big),),
                 "frame_take": (big, np.zeros(20000, np.intp)),
                 "frame_compress": (np.ones(20000, bool), big),
                 "frame_nonzero": (np.ones(20000),), "frame_where": (np.ones(20000),)}
        for name, args in calls.items():
            assert getattr(a, "try_" + name)(*args) is None, name
            with pytest.raises(fa.ArenaExhaustedError):
                getattr(a, name)(*args)
    a.close()


# ---------------------------------------------------------------------------------------------
# @njit (cached kernels in creation_kernels.py; a few dtypes, random shapes and values)

NJ_DTYPES = [np.float64, np.int32]


@SETTINGS
@given(a=arrays(NJ_DTYPES, min_dims=1, max_dims=2))
def test_njit_like_full_copy(alloc, a):
    shape, z, z2, f, f2, c, t = K.k_like(alloc, a)
    assert shape == a.shape
    same(z, np.zeros_like(a))
    same(z2, np.zeros_like(a, np.float32))
    same(f, np.full_like(a, 3))
    same(f2, np.full_like(a, 2.5, np.float64))
    same(c, a.copy())
    same(t, a.copy())
    fi, ff, fc, fb = K.k_full(alloc, a.shape, 7, -2.5)
    same(fi, np.full(a.shape, 7))
    same(ff, np.full(a.shape, -2.5))
    same(fc, np.full(a.shape, -2.5, np.int32))
    same(fb, np.full(a.shape, True))


@SETTINGS
@given(start=st.one_of(st.integers(-50, 50), st.floats(-50, 50)),
       stop=st.floats(-50, 50),
       step=st.one_of(st.floats(0.01, 5), st.floats(-5, -0.01)))
def test_njit_arange(alloc, start, stop, step):
    start = float(start)
    same(K.k_arange3(alloc, start, stop, step), np.arange(start, stop, step))
    same(K.k_arange_f4(alloc, start, stop, step), np.arange(start, stop, step, np.float32))
    same(K.k_arange_i4(alloc, start, stop, step), np.arange(start, stop, step, np.int32))
    n = int(abs(stop))
    same(K.k_arange1(alloc, n), np.arange(n))
    same(K.k_arange3(alloc, -n, n, 3), np.arange(-n, n, 3))


@SETTINGS
@given(data=st.data())
def test_njit_joins(alloc, data):
    a = data.draw(arrays([np.float64], min_dims=2, max_dims=2))
    ax = data.draw(st.integers(-2, 1))
    extra = data.draw(st.integers(0, 3))
    shape_b = a.shape[:ax % 2] + (extra,) + a.shape[ax % 2 + 1:]
    b = data.draw(hnp.arrays(np.int32, shape_b))
    j, flat, lst = K.k_concatenate(alloc, a, b, ax)
    same(j, np.concatenate((a, b), ax))
    same(flat, np.concatenate((a, b, a), None))
    same(lst, np.concatenate([a, a], ax))
    # non-contiguous pieces
    j, _, _ = K.k_concatenate(alloc, a.T, b.T.astype(np.int32), 1 - ax % 2)
    same(j, np.concatenate((a.T, b.T), 1 - ax % 2))
    sax = data.draw(st.integers(-3, 2))
    s, lst = K.k_stack(alloc, a, a[::-1], sax)
    same(s, np.stack((a, a[::-1]), sax))
    same(lst, np.stack([a, a, a], sax))


@SETTINGS
@given(data=st.data())
def test_njit_take_compress_nonzero(alloc, data):
    a = data.draw(arrays(NJ_DTYPES, min_dims=2, max_dims=2))
    ax = data.draw(st.integers(-2, 1))
    n = a.shape[ax]
    m = a.size
    idx = np.array(data.draw(st.lists(st.integers(-min(n, m), min(n, m) - 1), max_size=5))
                   if min(n, m) else [], np.int64)
    got, flat = K.k_take(alloc, a, idx, ax)
    same(got, np.take(a, idx, ax))
    same(flat, np.take(a, idx))
    mask = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)), bool)
    fmask = np.array(data.draw(st.lists(st.booleans(), max_size=a.size)), bool)
    got, flat = K.k_compress(alloc, mask, a, ax, fmask)
    same(got, np.compress(mask, a, ax))
    same(flat, np.compress(fmask, a))
    got, where = K.k_nonzero(alloc, a)
    for g, w in zip(got, np.nonzero(a)):
        same(g, w)
    for g, w in zip(where, np.nonzero(a)):
        same(g, w)
    # a non-contiguous input
    got, flat = K.k_take(alloc, a.T, idx, 1 - ax % 2)
    same(got, np.take(a.T, idx, 1 - ax % 2))
    same(flat, np.take(a.T, idx))


BAD_NJIT = [
    ("k_concat_seq", lambda: ((np.zeros((2, 3)), np.zeros((2, 4), np.int32)), 0)),
    ("k_concat_seq", lambda: ((np.zeros((2, 3)), np.zeros((2, 3), np.int32)), 2)),
    ("k_concat_seq", lambda: ([np.zeros((2, 3)), np.zeros((3, 2))], 1)),
    ("k_stack_seq", lambda: ((np.zeros((2, 3)), np.zeros((3, 2))), 0)),
    ("k_stack_seq", lambda: ((np.zeros((2, 3)), np.zeros((2, 3))), -4)),
    ("k_take", lambda: (np.zeros((2, 3)), np.array([2], np.int64), 0)),
    ("k_take", lambda: (np.zeros((2, 3)), np.array([-7], np.int64), 1)),
    ("k_compress", lambda: (np.array([0, 0, 1], bool), np.zeros((2, 3)), 0,
                            np.zeros(0, bool))),
    ("k_arange3", lambda: (0.0, 1.0, 0.0)),
    ("k_arange3", lambda: (0.0, np.inf, 1.0)),
]


# numba does not release the references a caller holds when an error propagates from a callee
# (see _fail in kernels/njit_api.py; numba's own np.concatenate leaks the same way).
@pytest.mark.error_from_callee
@pytest.mark.parametrize("kernel,args", BAD_NJIT, ids=[f"{b[0]}-{i}" for i, b in
                                                       enumerate(BAD_NJIT)])
def test_njit_bad_values_raise_fa020_and_allocate_nothing(alloc, kernel, args):
    before = alloc.stats().frame.current
    with pytest.raises(fa.AllocSizeError) as ei:
        getattr(K, kernel)(alloc, *args())
    assert ei.value.code == "FA020" and str(ei.value).startswith("FA020")
    assert alloc.stats().frame.current == before
