"""Context: what one Python -> @njit call costs when it receives the allocator.

Unboxing a SmartAlloc reads the calling thread's entry in the allocator's native table and takes
its lease (no Python code runs after a thread's first call). The control passes one int; the
floor passes an object of a minimal numba extension type whose unboxer does nothing: numba's
dispatcher types any such object through its slow path (the fingerprint of an unknown object
raises internally, then ``_numba_type_`` is read), so no extension type can get below it.
"""
from __future__ import annotations

import pytest
from numba import njit, types
from numba.extending import NativeValue, models, register_model, unbox

from ._common import CONTROL, FRAME, timed

CALLS = 1000
FLOOR = "any extension type (numba's floor)"


class _EmptyType(types.Type):
    def __init__(self):
        super().__init__(name="BenchEmptyArg")


class _Empty:
    _numba_type_ = _EmptyType()


register_model(_EmptyType)(models.OpaqueModel)


@unbox(_EmptyType)
def _unbox_empty(typ, obj, c):
    return NativeValue(c.context.get_dummy_value())


@njit
def takes_alloc(alloc):
    return 0


@njit
def takes_int(x):
    return x


@njit
def takes_empty(x):
    return 0


@pytest.mark.parametrize("competitor", [FRAME, CONTROL, FLOOR])
def test_call_overhead(benchmark, alloc, competitor):
    fn_, arg = {FRAME: (takes_alloc, alloc), CONTROL: (takes_int, 0),
                FLOOR: (takes_empty, _Empty())}[competitor]

    def fn():
        for _ in range(CALLS):
            fn_(arg)
    timed(benchmark, fn, group="ctx: Python -> @njit call with the allocator as argument",
          competitor=competitor, ops=CALLS, unit="call")
