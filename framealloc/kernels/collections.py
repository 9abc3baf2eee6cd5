"""FrameVec and FrameMap state machines, written once for Python and ``@njit``.

Plain Python functions over a collection's views (no numba here):

* FrameVec: ``hdr`` (``hdr[0]`` is the length word, :data:`~framealloc.kernels.layout.VEC_HEADER`)
  and ``data`` (the elements);
* FrameMap: ``hdr`` (``hdr[0]`` is the number of keys), ``state`` (one uint8 per slot: 0 empty,
  1 used), ``keys`` and ``vals`` (one entry per slot) and ``cap`` (the most keys it holds).

The Python API (:mod:`framealloc.collections`) calls them with memoryviews of the header, slot
states and keys (their items are Python ints, which :func:`home` needs) and the value arrays. The
numba surface (:mod:`framealloc.kernels.collections_njit`) registers each one with
``register_jitable``, so the methods compiled into ``@njit`` code run this same code over
reference-free views. They change state and return a status (a bool, or -1 for "no index");
they never raise, and they never store a value before deciding to (a failed store from Python
leaves the collection as it was). Three bodies of two to four lines, :func:`vec_push`,
:func:`vec_pop` and :func:`clamped_len`, are also written out in the Python API's FrameVec
(``try_push``, ``pop``/``try_pop``, ``__len__``): through the call those were 15-20% slower
from Python.

Every bound comes from the storage's own size or the capacity, never from the length word alone
(which a stale collection may have overwritten), and every probe loop is bounded by the table
size, so a stale collection can be read and written without going outside its storage.

The hash :func:`home` is the one function whose arithmetic depends on the integer domain: this is
its Python form (arbitrary-precision ints masked to 64 bits); the numba surface registers an
overload of it that wraps in ``uint64``. Both give the same slot for every key
(``tests/collections/test_kernels.py``), so a map filled in one world reads in the other.
"""
from __future__ import annotations

import numpy as np

from .layout import HASH_FOLD, HASH_MUL

__all__ = ["home", "probe", "map_insert", "map_remove", "gather", "clamped_len", "vec_push",
           "vec_pop", "vec_extend", "vec_index"]

_M64 = (1 << 64) - 1


# ---------------------------------------------------------------------------------------------
# FrameMap: open addressing, linear probing, deletion by backward shift (no tombstones)

def home(k, mask):
    """The home slot of key ``k`` in a table of ``mask + 1`` slots (Fibonacci hashing: the
    64-bit product with :data:`HASH_MUL`, its high bits folded down by :data:`HASH_FOLD`)."""
    h = (k & _M64) * HASH_MUL & _M64
    return (h ^ (h >> HASH_FOLD)) & mask


def probe(state, keys, k):
    """``(slot, found)``: the key's slot, or the empty slot where it would go (-1: no empty slot,
    which only a stale table can show)."""
    mask = len(state) - 1
    i = home(k, mask)
    for _ in range(mask + 1):
        if not state[i]:
            return i, False
        if keys[i] == k:
            return i, True
        i = (i + 1) & mask
    return -1, False


def map_insert(state, keys, vals, hdr, cap, k, value):
    """Insert or update key ``k``; False (and no change) when it is new and the map holds
    ``cap`` keys. The value is stored first: a store that fails changes nothing else."""
    i, found = probe(state, keys, k)
    if found:
        vals[i] = value
        return True
    n = hdr[0]
    if i < 0 or n < 0 or n >= cap:
        return False
    vals[i] = value
    keys[i] = k
    state[i] = 1
    hdr[0] = n + 1
    return True


def map_remove(state, keys, vals, hdr, k):
    """Remove key ``k``; False when the map does not hold it."""
    i, found = probe(state, keys, k)
    if not found:
        return False
    # Backward-shift deletion: pull later entries of the probe run into the gap when their home
    # slot is not inside (gap, entry], so every lookup still ends at an empty slot.
    mask = len(state) - 1
    j = i
    for _ in range(mask):
        j = (j + 1) & mask
        if state[j] == 0:
            break
        if ((j - home(keys[j], mask)) & mask) >= ((j - i) & mask):
            keys[i] = keys[j]
            vals[i] = vals[j]
            i = j
    state[i] = 0
    hdr[0] = max(hdr[0] - 1, 0)
    return True


def gather(state, src):
    """A new array of the entries of ``src`` at used slots, in table order."""
    n = 0
    for i in range(len(state)):
        if state[i] != 0:
            n += 1
    out = np.empty(n, src.dtype)
    j = 0
    for i in range(len(state)):
        if state[i] != 0:
            out[j] = src[i]
            j += 1
    return out


# ---------------------------------------------------------------------------------------------
# FrameVec (and the length of either collection)

def clamped_len(hdr, cap):
    """The length word, clamped into ``[0, cap]`` (a stale header may hold anything)."""
    n = hdr[0]
    if n < 0:
        return 0
    return n if n <= cap else cap


def vec_push(hdr, data, value):
    """Append ``value``; False (and no change) when the vec is full."""
    n = hdr[0]
    if n < 0 or n >= len(data):
        return False
    data[n] = value
    hdr[0] = n + 1
    return True


def vec_pop(hdr, cap):
    """Remove the last element and return its index; -1 (and no change) when the vec is empty."""
    n = hdr[0] - 1
    if n < 0 or n >= cap:
        return -1
    hdr[0] = n
    return n


def vec_extend(hdr, data, values):
    """Append every element of the 1-D array ``values``; False (and no change) if they do not
    all fit."""
    n = hdr[0]
    k = len(values)
    if n < 0 or n > len(data) or k > len(data) - n:
        return False
    data[n:n + k] = values
    hdr[0] = n + k
    return True


def vec_index(hdr, cap, i):
    """Index ``i`` (negative: from the end) as an index below the length; -1 when out of range."""
    n = clamped_len(hdr, cap)
    j = i + n if i < 0 else i
    return j if 0 <= j < n else -1
