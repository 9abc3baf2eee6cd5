"""Fixtures of the pool tests: the core's NRT leak check, and byte snapshots of pool state."""
from __future__ import annotations

import numpy as np
import pytest

import framealloc as fa
from framealloc._slots import nrt_bytes
from framealloc.kernels.pool_state import H, gen_offset, typed_buffer_bytes

from tests.core.conftest import leakcheck  # noqa: F401  (fixture)

PARTICLE = np.dtype([("pos", "f4", 3), ("vel", "f4", 3), ("life", "f4")])


def pool_snapshot(pool) -> bytes:
    """Every byte of a TypedPool's state: header, records, generations and free stack."""
    h = pool._hdr[0]
    out = pool._hdr.tobytes()
    if h[H.MI]:
        n = typed_buffer_bytes(int(h[H.CAP]), int(h[H.ITEMSIZE]))
        out += nrt_bytes(int(h[H.MI]), int(h[H.DATA]), n).tobytes()
    return out


def classes_snapshot(pools) -> bytes:
    """Every byte of the size-class pools' state: headers, generations, stacks, page tables."""
    out = pools._hdr.tobytes()
    for c in range(pools._nclasses):
        h = pools._hdr[c]
        if h[H.MI]:
            cap = int(h[H.CAP])
            out += nrt_bytes(int(h[H.MI]), int(h[H.GEN]), gen_offset(cap, 4) + 4 * cap).tobytes()
        if h[H.PT_MI]:
            out += nrt_bytes(int(h[H.PT_MI]), int(h[H.PT]), 16 * int(h[H.PT_CAP])).tobytes()
    return out


@pytest.fixture
def alloc():
    a = fa.SmartAlloc()
    yield a
    a._close_pools()
    a.close()
