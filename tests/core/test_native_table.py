"""The native table: a SmartAlloc passed to @njit code unboxes the calling thread's slot without
running Python, and the table never hands a thread someone else's slot.

The entry of a thread is keyed by its ident, which the OS reuses once the thread is gone; so the
entry must be gone first (when the thread's local storage goes), also when the thread's arena
object is kept alive by something else (a stored traceback, a user's reference).
"""
from __future__ import annotations

import threading

import numpy as np
import pytest
from numba import njit

import framealloc as fa
from framealloc import AllocConfig


@njit
def _slot(alloc):
    return alloc._slot


@njit
def _alloc_sum(alloc, n):
    a = alloc.frame_array(n, np.float64)
    a[:] = 1.0
    return a.sum()


def _entries(alloc):
    tab = alloc._frame_part.ntab
    return {int(i): r for r, i in enumerate(tab["ident"][1:]) if i}


def _python_slot(alloc):
    return alloc._frame_part.arena().tid


def _in_thread(fn):
    out, errors = [], []

    def run():
        try:
            out.append(fn())
        except BaseException as e:   # noqa: BLE001 - reported below
            errors.append(e)
    t = threading.Thread(target=run)
    t.start()
    t.join(60)
    assert not t.is_alive()
    if errors:
        raise errors[0]
    return out[0], t.ident


def test_each_thread_unboxes_its_own_slot_and_its_entry_goes_with_it():
    alloc = fa.SmartAlloc(AllocConfig(max_threads=4))
    assert _slot(alloc) == _python_slot(alloc)
    main = threading.get_ident()
    assert _entries(alloc).keys() == {main}
    for _ in range(6):     # more threads than slots: entries and slots are given back
        (njit_slot, py_slot), ident = _in_thread(lambda: (_slot(alloc), _python_slot(alloc)))
        assert njit_slot == py_slot
        assert ident not in _entries(alloc) or ident == main
    assert _entries(alloc).keys() == {main}
    alloc.close()


def test_an_entry_goes_with_the_thread_even_when_its_arena_is_kept_alive():
    alloc = fa.SmartAlloc(AllocConfig(max_threads=4))
    kept = []

    def worker():
        _slot(alloc)
        kept.append(alloc._tls.arena)    # e.g. a traceback stored by a Future holds it
        return _slot(alloc)

    first, ident = _in_thread(worker)
    assert ident not in _entries(alloc)

    # A later thread (the OS may give it the same ident) gets its own slot, the same one in
    # Python and in compiled code, and a frame begun in Python is the one @njit code sees.
    def later():
        alloc.begin_frame()
        try:
            return _slot(alloc), _python_slot(alloc), _alloc_sum(alloc, 8)
        finally:
            alloc.end_frame()

    (njit_slot, py_slot, total), _ = _in_thread(later)
    assert njit_slot == py_slot != first
    assert total == 8.0
    alloc.close()


def test_close_empties_the_table_and_compiled_calls_refuse():
    alloc = fa.SmartAlloc()
    _slot(alloc)
    assert _entries(alloc)
    alloc.close()
    assert not _entries(alloc)
    with pytest.raises(fa.FrameStateError) as e:
        _slot(alloc)
    assert e.value.code == "FA015"
