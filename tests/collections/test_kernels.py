"""The collection state machines (framealloc.kernels.collections) are written once, for Python
and @njit: where a function has two forms (the hash in Python ints vs uint64, the table size with
int.bit_length vs doubling), both forms agree; the kernels module itself loads no numba."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from numba import njit

from framealloc.kernels import collections as kc
from framealloc.kernels import ensure_registered
from framealloc.kernels.layout import map_block, map_slots

MASKS = [1, 3, 7, 63, 1023, (1 << 20) - 1, (1 << 31) - 1, (1 << 40) - 1]


def _keys(dtype, n=3000, seed=5):
    info = np.iinfo(dtype)
    rng = np.random.default_rng(seed)
    extremes = np.array([info.min, info.min + 1, -1 if info.min < 0 else 0, 0, 1, info.max - 1,
                         info.max], dtype=dtype)
    return np.concatenate([extremes,
                           rng.integers(info.min, info.max, n, dtype=dtype, endpoint=True)])


@pytest.fixture(scope="module")
def njit_home():
    ensure_registered()

    @njit
    def homes(keys, mask):
        out = np.empty(len(keys), np.int64)
        for i in range(len(keys)):
            out[i] = kc.home(keys[i], mask)
        return out
    return homes


@pytest.mark.parametrize("dtype", [np.int64, np.uint64, np.int32, np.uint32, np.int8, np.uint16])
def test_home_agrees_between_python_and_njit(njit_home, dtype):
    keys = _keys(dtype)
    for mask in MASKS:
        want = [kc.home(int(k), mask) for k in keys]
        got = njit_home(keys, mask).tolist()
        assert got == want, (dtype, mask)
        assert all(0 <= s <= mask for s in want)


def test_map_slots_and_block_agree_between_python_and_njit():
    ensure_registered()

    @njit
    def geometry(cap, ksz, vsz, valign):
        return map_slots(cap), map_block(cap, ksz, vsz, valign)

    for cap in list(range(0, 70)) + [100, 1000, 4095, 4096, 4097, 1 << 20, (1 << 31) + 3]:
        for ksz, vsz, valign in ((8, 8, 8), (1, 4, 4), (2, 28, 4), (4, 1, 1)):
            slots, block = geometry(cap, ksz, vsz, valign)
            assert slots == map_slots(cap)
            assert tuple(block) == map_block(cap, ksz, vsz, valign), (cap, ksz, vsz, valign)


def test_a_table_made_by_the_python_kernels_is_read_by_the_compiled_ones():
    ensure_registered()
    rng = np.random.default_rng(7)
    cap = 200
    slots = map_slots(cap)
    state = np.zeros(slots, np.uint8)
    keys = np.zeros(slots, np.int64)
    vals = np.zeros(slots, np.float64)
    hdr = np.zeros(1, np.int64)
    # The Python API hands the kernels memoryviews (their items are Python ints) and the values.
    st, ks, hd = memoryview(state), memoryview(keys), memoryview(hdr)
    pool = [int(k) for k in rng.integers(-(1 << 63), (1 << 63) - 1, 150)] + [0, -1, 1 << 62]
    for k in pool:
        assert kc.map_insert(st, ks, vals, hd, cap, k, float(k % 1000))
    for k in pool[::3]:
        assert kc.map_remove(st, ks, vals, hd, k)

    @njit
    def lookup(state, keys, probe_keys):
        out = np.empty(len(probe_keys), np.int64)
        for i in range(len(probe_keys)):
            s, found = kc.probe(state, keys, probe_keys[i])
            out[i] = s if found else -1
        return out

    probes = np.array(pool, np.int64)
    want = [s if f else -1 for s, f in (kc.probe(st, ks, int(k)) for k in probes)]
    assert lookup(state, keys, probes).tolist() == want
    assert sum(s >= 0 for s in want) == int(hdr[0]) == len(set(pool) - set(pool[::3]))


def test_the_kernels_module_loads_no_numba():
    code = ("import sys, framealloc.kernels.collections; "
            "print(any(m.split('.')[0] in ('numba', 'llvmlite') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
