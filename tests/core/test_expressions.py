"""``alloc.frame_eval(fn, *args)``: an elementwise expression into frame memory, from Python and
@njit, against numba's own ``@vectorize`` of the same scalar function (values, dtype, shape) and
NumPy's ufuncs."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp
from numba import njit, vectorize

import framealloc as fa


@njit
def sub_sq(x, y):
    return x - y * y


@njit
def fma3(x, y, z):
    return x * y + z


@njit
def twice_plus_one(x):
    return x * 2 + 1


@njit
def greater(x, y):
    return x > y


FUNCS = {1: twice_plus_one, 2: sub_sq, 3: fma3}
DTYPES = [np.float64, np.float32, np.int64, np.int32, np.uint8]


def _reference(fn, args):
    """numba's dynamic @vectorize of the same scalar function: NumPy's broadcasting, the dtype
    numba types the function's result as."""
    return vectorize(fn.py_func)(*args)


def _operands(draw, n):
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=n, max_dims=3, max_side=5))
    out = []
    for shape in shapes.input_shapes:
        dt = draw(st.sampled_from(DTYPES))
        a = draw(hnp.arrays(dt, shape, elements=st.integers(0, 20)))
        if a.ndim and draw(st.booleans()):
            a = np.asfortranarray(a)            # not C-contiguous: the broadcasting loop
        out.append(a)
    return out


@st.composite
def calls(draw):
    n = draw(st.sampled_from([1, 2, 3]))
    ops = _operands(draw, n)
    if draw(st.booleans()):                     # a scalar operand in place of one array
        k = draw(st.integers(0, n - 1))
        ops[k] = draw(st.sampled_from([2.5, 3, np.float32(1.5), np.int32(4)]))
    return FUNCS[n], ops


def _assert_same(got, want):
    want = np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)
    assert got.flags.c_contiguous


@settings(max_examples=80, deadline=None)
@given(calls())
def test_python_frame_eval_matches_vectorize(call):
    fn, ops = call
    alloc = fa.SmartAlloc()
    with alloc.frame():
        before = alloc.stats().frame.current
        got = alloc.frame_eval(fn, *ops)
        _assert_same(got, _reference(fn, ops))
        assert alloc.stats().frame.current - before >= got.nbytes     # in the frame
    alloc.close()


@settings(max_examples=60, deadline=None)
@given(calls())
def test_python_frame_eval_of_a_ufunc_matches_numpy(call):
    fn, ops = call
    uf = {1: np.negative, 2: np.subtract, 3: None}[len(ops)]
    if uf is None:
        return
    alloc = fa.SmartAlloc()
    with alloc.frame():
        _assert_same(alloc.frame_eval(uf, *ops), uf(*ops))
    alloc.close()


@njit
def _eval1(alloc, a):
    return alloc.frame_eval(twice_plus_one, a)


@njit
def _eval2(alloc, a, b):
    return alloc.frame_eval(sub_sq, a, b)


@njit
def _eval3(alloc, a, b, c):
    return alloc.frame_eval(fma3, a, b, c)


NJIT = {1: _eval1, 2: _eval2, 3: _eval3}


@pytest.mark.slow      # compiles a kernel per drawn combination of dtypes, ndims and layouts
@settings(max_examples=40, deadline=None)
@given(calls())
def test_njit_frame_eval_matches_vectorize(call):
    fn, ops = call
    alloc = fa.SmartAlloc()
    with alloc.frame():
        before = alloc.stats().frame.current
        got = NJIT[len(ops)](alloc, *ops)
        _assert_same(got, _reference(fn, ops))
        assert alloc.stats().frame.current - before >= got.nbytes
    alloc.close()


def test_bool_result_and_lambda_inside_njit(alloc):
    @njit
    def k(alloc, x, y):
        a = alloc.frame_eval(greater, x, y)
        b = alloc.frame_eval(lambda u, v: u * v - 1.0, x, y)
        return a, b

    x, y = np.arange(6.0).reshape(2, 3), np.array([1.0, 2.0, 3.0])
    with alloc.frame():
        a, b = k(alloc, x, y)
        _assert_same(a, x > y)
        _assert_same(b, x * y - 1.0)
        assert alloc.stats().frame.current == a.nbytes + b.nbytes + 2    # bool: 6 B, aligned 8


def test_plain_python_function_is_compiled_once(alloc):
    def f(x, y):
        return x * y

    x = np.arange(4.0)
    with alloc.frame():
        for _ in range(3):
            _assert_same(alloc.frame_eval(f, x, x), x * x)
    from framealloc import expressions

    assert len(expressions._JITTED) >= 1 and f in expressions._JITTED


def test_results_live_in_the_frame_and_scopes_free_them(alloc):
    x = np.arange(1000.0)
    with alloc.frame():
        with alloc.scope():
            r = alloc.frame_eval(sub_sq, x, x)
            assert alloc.stats().frame.current == 8000
        assert alloc.stats().frame.current == 0
        again = alloc.frame_array(1000)
        assert again.ctypes.data == r.ctypes.data


# numba does not release what the caller holds when an error propagates from a callee (see
# test_creation.py): the caller's two arrays here.
@pytest.mark.error_from_callee
def test_shapes_that_do_not_broadcast_allocate_nothing_njit(alloc):
    with alloc.frame():
        with pytest.raises(fa.AllocSizeError) as ei:
            _eval2(alloc, np.zeros(3), np.zeros(4))
        assert ei.value.code == "FA020" and alloc.stats().frame.allocations == 0


def test_njit_typing_refusals_are_coded(alloc):
    @njit
    def not_callable(alloc, x):
        return alloc.frame_eval(3, x)

    @njit
    def bad_operand(alloc, x):
        return alloc.frame_eval(sub_sq, x, "s")

    @njit
    def tuple_result(alloc, x):
        return alloc.frame_eval(lambda u: (u, u), x)

    for k, code in ((not_callable, "FA018"), (bad_operand, "FA020"), (tuple_result, "FA020")):
        with alloc.frame():
            with pytest.raises(fa.FrameAllocError) as ei:
                k(alloc, np.zeros(3))
            assert ei.value.code == code, str(ei.value)


def test_try_form_returns_none_when_full():
    alloc = fa.SmartAlloc(frame_capacity=4096, on_frame_exhausted="error")

    @njit
    def k(alloc, x):
        r = alloc.try_frame_eval(sub_sq, x, x)
        return r is None

    big = np.zeros(10_000)
    with alloc.frame():
        assert alloc.try_frame_eval(sub_sq, big, big) is None
        assert k(alloc, big)
        assert alloc.stats().frame.current == 0
        small = alloc.try_frame_eval(sub_sq, np.ones(3), 2.0)
        assert small.tolist() == [-3.0, -3.0, -3.0]
    alloc.close()


def test_a_kernel_calling_frame_eval_can_be_cached(alloc):
    """An @njit function passed as a value is a dynamic address numba never caches; frame_eval
    calls fn by name, so the caller's code holds none."""
    x = np.arange(3.0)
    with alloc.frame():
        _eval2(alloc, x, x)
        _eval1(alloc, x)
    for k in (_eval1, _eval2):
        for cres in k.overloads.values():
            assert not cres.library.has_dynamic_globals, k


@njit
def add_sq(x, y):
    return x + y * y


@njit
def _eval2_other(alloc, a, b):
    return alloc.frame_eval(add_sq, a, b)


def test_functions_of_the_same_types_keep_their_own_code(alloc):
    """Two scalar functions evaluated with the same argument types compile to two loops (the
    generated implementations are identical text: a cache keyed by code must tell them apart)."""
    x = np.arange(4.0)
    with alloc.frame():
        _assert_same(_eval2(alloc, x, x), x - x * x)
        _assert_same(_eval2_other(alloc, x, x), x + x * x)
