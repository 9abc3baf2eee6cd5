"""Every method of the numba surface, compiled with bad arguments: the FA error itself, short.

The njit methods are *introspected* from numba's typing registry (every ``overload_method`` and
``overload_attribute`` registered for SmartAlloc, TypedPool, SizeClassPools, FrameVec and
FrameMap), so a new one fails :func:`test_table_covers_the_numba_surface` until the table says
how to call it. Each case compiles ``obj.method(<args>)`` with one argument replaced by a bad
value of its kind (float size, list shape, string, wrong dtype, ...). Compiling must raise a
framealloc error (numba's own TypingError is what the user would otherwise read: ~200 lines with
the code buried inside) whose message starts with its code and fits in a few lines. The
Python-only names of each class must raise :class:`~framealloc.NjitUsageError` FA016.
"""
from __future__ import annotations

import inspect

import numba
import numpy as np
import pytest
from numba import njit

import framealloc as fa

from .state import diff, state_of

#: The longest message a typing-time refusal may have.
MAX_LINES = 15


@pytest.fixture(scope="module")
def world():
    """(allocator, {receiver name: object}) with a frame open; closed after the module."""
    a = fa.SmartAlloc(fa.AllocConfig(max_threads=2, max_checkpoints=8, max_tags=16))
    a.begin_frame()
    objs = {"alloc": a, "pool": a.typed_pool(np.float64, 4), "pools": a.pools,
            "vec": a.frame_vec(np.int64, 4), "map": a.frame_map(np.int64, np.float64, 4)}
    objs["vec"].push(1)
    objs["map"][1] = 1.0
    objs["tag"] = a.tag_id("t")
    objs["sid"] = a.scratch_pool("s", 256).id
    for obj in objs.values():
        numba.typeof(obj)         # first contact caches the numba type (not allocator state)
    yield a, objs
    a.end_frame()
    a.close()


def _numba_types():
    """numba type instance and Python class of each receiver (registers the numba side)."""
    from framealloc.kernels import ensure_registered
    from framealloc.kernels.collections_njit import map_type, vec_type
    from framealloc.kernels.pools_njit import size_class_pools_type, typed_pool_type

    t = ensure_registered()
    return {"alloc": (t, fa.SmartAlloc),
            "pool": (typed_pool_type(np.dtype(np.float64)), fa.TypedPool),
            "pools": (size_class_pools_type, fa.SizeClassPools),
            "vec": (vec_type(np.dtype(np.int64)), fa.FrameVec),
            "map": (map_type(np.dtype(np.int64), np.dtype(np.float64)), fa.FrameMap)}


def _registered():
    """{receiver: {name: parameter names (None for an attribute)}} from numba's registry."""
    from numba.core.registry import cpu_target
    from numba.core.typing.templates import _OverloadAttributeTemplate

    from tests.numba_surface import hand_lowered_params, template_members

    types_ = _numba_types()           # registers the templates first
    ctx = cpu_target.typing_context
    ctx.refresh()
    out = {}
    for recv, (typ, _) in types_.items():
        names = {}
        for tmpl in ctx._get_attribute_templates(typ):
            if not isinstance(tmpl, _OverloadAttributeTemplate):
                # Hand-lowered methods: their parameters are the folding signature's.
                for m in template_members(tmpl):
                    names[m] = hand_lowered_params(tmpl, m)
                continue
            if tmpl.is_method:
                ps = list(inspect.signature(tmpl._overload_func).parameters)[1:]
                names[tmpl._attr] = ps
            else:
                names[tmpl._attr] = None
        out[recv] = names
    return out


# ---------------------------------------------------------------------------------------------
# Bad argument sources, by kind

BAD = {
    "shape": ["3.5", "[10, 3]", "'10'", "(2, 1.5)", "None", "(1, 1, 1, 1, 1, 1, 1, 1, 1)"],
    "count": ["3.5", "'3'", "None", "(3,)"],
    "dtype": ["'nonsense'", "'O'", "3.5", "'S'"],
    "align": ["2.5", "'64'", "3", "8192"],
    "zero": ["1.5", "'yes'"],
    "sid": ["1.5", "'s'"],
    "tag": ["'x'", "1.5"],
    "cp": ["3", "(1, 2)", "obj.scope_begin()"],
    "scope": ["3", "(1, 2)", "obj.frame_checkpoint()"],
    # frame_eval (kernels/expressions_njit.py): the function, then its operands
    "fn": ["3", "np.zeros(2)", "'x'", "None"],
    "operands": ["'x'", "(np.zeros(2), 1)", "None", "[1.0]"],
    "slot": ["1.5", "'k'", "None"],
    "slots": ["np.zeros(2)", "3", "np.zeros((2, 2), np.int64)"],
    "value": ["'x'", "[1, 2]", "(1, 2)", "None"],
    "element": ["'x'", "(1, 2)", "None"],
    "elements": ["3.5", "'x'", "np.zeros((2, 2), np.int64)"],
    "map_key": ["1.5", "'k'", "None"],
    "default": ["'x'", "(1, 2)"],
    # the creation methods (kernels/creation_njit.py)
    "array": ["'x'", "3.5", "None", "(1, 2)", "[1.0, 2.0]"],
    "fill": ["'x'", "np.zeros(2)", "(1, 2)"],
    "num": ["'x'", "True", "1j", "np.zeros(2)"],
    "arrays": ["np.zeros(3)", "3", "(1, 2)", "(np.zeros(2), np.zeros((2, 2)))", "()",
               "('x', 'y')"],
    # (values refused at run time, FA020, are tests/core/test_creation.py's)
    "axis": ["1.5", "'x'"],
    "indices": ["np.zeros(2)", "3", "'x'"],
    "mask": ["np.zeros((2, 2), np.bool_)", "3", "'x'"],
}

# method -> {parameter: (good source, kind or None when any value is fine)}
S, D, A = ("3", "shape"), ("np.float32", "dtype"), ("None", "align")
Z = ("False", "zero")
ARR, ND = ("np.arange(3.0)", "array"), ("None", "dtype")
NJIT_SPECS = {
    "alloc": {
        **{m: dict(shape=S, dtype=D, align=A, zero=Z) for m in (
            "frame_array", "frame_zeros", "try_frame_array", "try_frame_zeros")},
        **{m: dict(dtype=D, n=S) for m in (
            "frame_slice", "try_frame_slice", "frame_alloc_batch", "try_frame_alloc_batch")},
        **{m: dict(dtype=D) for m in (
            "frame_alloc", "try_frame_alloc", "frame_alloc_2", "frame_alloc_4", "frame_alloc_8",
            "try_frame_alloc_2", "try_frame_alloc_4", "try_frame_alloc_8")},
        "frame_box": dict(value=("np.arange(3.0)", "value")),
        **{p + m: spec for p in ("", "try_") for m, spec in (
            ("frame_empty_like", dict(a=ARR, dtype=ND)),
            ("frame_zeros_like", dict(a=ARR, dtype=ND)),
            ("frame_full", dict(shape=S, fill_value=("1.0", "fill"), dtype=ND)),
            ("frame_full_like", dict(a=ARR, fill_value=("1.0", "fill"), dtype=ND)),
            ("frame_copy", dict(a=ARR)),
            ("frame_arange", dict(start=("0", "num"), stop=("5", "num"), step=("1", "num"),
                                  dtype=ND)),
            ("frame_concatenate", dict(arrays=("(np.zeros(2), np.ones(3))", "arrays"),
                                       axis=("0", "axis"))),
            ("frame_stack", dict(arrays=("(np.zeros(2), np.ones(2))", "arrays"),
                                 axis=("0", "axis"))),
            ("frame_take", dict(a=ARR, indices=("np.array([2, 0])", "indices"),
                                axis=("None", "axis"))),
            ("frame_compress", dict(condition=("np.array([True, False])", "mask"), a=ARR,
                                    axis=("None", "axis"))))},
        "frame_nonzero": dict(a=ARR),
        "frame_where": dict(condition=ARR),
        "rollback_to": dict(cp=("obj.frame_checkpoint()", "cp")),
        "scope_end": dict(scope=("obj.scope_begin()", "scope")),
        **{m: dict(fn=("kern", "fn"), args=("np.arange(3.0)", "operands"))
           for m in ("frame_eval", "try_frame_eval")},
        "push_tag": dict(tag=("tag", "tag")),
        **{m: dict(sid=("sid", "sid"), shape=S, dtype=D, align=A, zero=Z) for m in (
            "scratch_array", "scratch_zeros", "try_scratch_array", "try_scratch_zeros")},
        "scratch_reset": dict(sid=("sid", "sid")),
        "scratch_used": dict(sid=("sid", "sid")),
        **{m: dict(dtype=D, capacity=("3", "count")) for m in ("frame_vec", "try_frame_vec")},
        **{m: dict(key_dtype=("np.int64", "dtype"), value_dtype=D, capacity=("3", "count"))
           for m in ("frame_map", "try_frame_map")},
    },
    "pool": {
        **{m: dict(key=("0", "slot"))
           for m in ("release", "is_alive", "index", "handle", "generation")},
        "acquire_many": dict(n=("1", "count")),
        "release_many": dict(keys=("np.zeros(0, np.int64)", "slots")),
    },
    "pools": {
        "acquire": dict(nbytes=("8", "count")),
        "try_acquire": dict(nbytes=("8", "count")),
        "release": dict(key=("0", "slot")),
        "view": dict(key=("0", "slot"), dtype=D, count=("1", "count")),
    },
    "vec": {
        **{m: dict(value=("2", "element")) for m in ("push", "try_push")},
        **{m: dict(values=("np.zeros(1, np.int64)", "elements")) for m in ("extend", "try_extend")},
    },
    "map": {
        **{m: dict(key=("2", "map_key"), value=("2.0", "element")) for m in ("insert",
                                                                             "try_insert")},
        **{m: dict(key=("1", "map_key")) for m in ("contains", "remove", "try_remove")},
        "get": dict(key=("1", "map_key"), default=("None", "default")),
    },
}

#: methods called with positional arguments (a ``*args`` parameter, in the table's order)
POSITIONAL = {"frame_eval", "try_frame_eval"}


@njit
def _kern(x):
    """A scalar function for frame_eval's table rows."""
    return x + 1.0


#: njit methods and attributes without arguments (nothing to feed them).
NJIT_NO_ARGS = {
    "alloc": {"begin_frame", "end_frame", "frame_checkpoint", "scope_begin", "pop_tag",
              "frame_bytes",
              "frame_number", "in_frame", "current_tag_id"},
    "pool": {"acquire", "acquire_handle", "try_acquire", "live_indices", "data", "alive",
             "capacity"},
    "pools": set(),
    "vec": {"pop", "try_pop", "clear", "as_array", "capacity"},
    "map": {"clear", "keys", "values", "items", "capacity"},
}

#: ``v[i]``, ``v[i] = x``, ``m[k]``, ``m[k] = x``, ``k in m``: operators, listed by hand.
OPERATOR_CASES = [
    ("vec", "obj[1.5]"), ("vec", "obj['a']"), ("vec", "obj[1.5] = 1"), ("vec", "obj[0] = 'x'"),
    ("map", "obj[1.5]"), ("map", "obj['k']"), ("map", "obj[1.5] = 1.0"), ("map", "obj[1] = 'x'"),
    ("map", "1.5 in obj"),
]


def _cases():
    for recv, methods in NJIT_SPECS.items():
        for meth, params in methods.items():
            for pname, (_, kind) in params.items():
                if kind is None:
                    continue
                for i, src in enumerate(BAD[kind]):
                    args = ", ".join(("" if meth in POSITIONAL else f"{p}=")
                                     + (src if p == pname else good)
                                     for p, (good, _) in params.items())
                    yield pytest.param(recv, f"obj.{meth}({args})", id=f"{recv}.{meth}-{pname}-{i}")
    for i, (recv, expr) in enumerate(OPERATOR_CASES):
        yield pytest.param(recv, expr, id=f"{recv}-operator-{i}")


CASES = list(_cases())


def _compile_and_call(world, recv: str, expr: str):
    a, objs = world
    body = f"{expr}\n    return 0" if " = " in expr else f"return {expr}"
    src = f"def kernel(al, obj, sid, tag):\n    {body}\n"
    ns = {"np": np, "kern": _kern}
    exec(src, ns)
    return njit(ns["kernel"])(a, objs[recv], objs["sid"], objs["tag"])


def _check_refusal(exc: BaseException, what: str) -> str:
    code = getattr(exc, "code", None)
    msg = str(exc)
    assert isinstance(exc, fa.FrameAllocError) and isinstance(code, str), \
        f"{what}: {type(exc).__name__} without a code:\n{msg[:2000]}"
    assert msg.startswith(f"{code}: "), f"{what}: the message does not start with {code}: {msg}"
    assert len(msg.splitlines()) < MAX_LINES, f"{what}: {len(msg.splitlines())} lines"
    info = fa.errors.all_codes()[code]
    assert isinstance(exc, getattr(fa, info.exception)), \
        f"{what}: {code} is documented as {info.exception}, raised as {type(exc).__name__}"
    return code


def test_table_covers_the_numba_surface():
    reg = _registered()
    for recv, names in reg.items():
        known = set(NJIT_SPECS[recv]) | NJIT_NO_ARGS[recv]
        assert set(names) - known == set(), f"{recv}: add these njit methods to the table"
        assert known - set(names) == set(), f"{recv}: these are no longer njit methods"
        for meth, params in NJIT_SPECS[recv].items():
            assert names[meth] is not None and set(names[meth]) == set(params), (recv, meth)
        for meth in NJIT_NO_ARGS[recv]:
            assert not names[meth], (recv, meth)
    assert len(CASES) > 150


@pytest.mark.parametrize("recv,expr", CASES)
def test_bad_argument_is_refused_with_a_short_coded_error(world, recv, expr):
    a, objs = world
    watched = (a, objs[recv])
    before = state_of(*watched)
    with pytest.raises(Exception) as ei:
        _compile_and_call(world, recv, expr)
    _check_refusal(ei.value, expr)
    after = state_of(*watched)
    assert after == before, f"{expr}: {diff(before, after)}"


def _python_only():
    reg = _registered()
    for recv, (_, cls) in _numba_types().items():
        public = {n for n in dir(cls) if not n.startswith("_")}
        for name in sorted(public - set(reg[recv])):
            yield pytest.param(recv, name, id=f"{cls.__name__}.{name}")


PYTHON_ONLY = list(_python_only())


def test_python_only_names_are_known():
    names = {p.values[1] for p in PYTHON_ONLY}
    assert {"stats", "tag", "set_budget", "reserve", "close"} <= names
    assert "frame_array" not in names and "acquire" not in names


@pytest.mark.parametrize("recv,name", PYTHON_ONLY)
def test_python_only_call_inside_njit(world, recv, name):
    with pytest.raises(fa.NjitUsageError) as ei:
        _compile_and_call(world, recv, f"obj.{name}")
    assert _check_refusal(ei.value, name) == "FA016"
    assert f".{name}" in str(ei.value) and "outside @njit" in str(ei.value)
