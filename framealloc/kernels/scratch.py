"""Scratch-pool kernels: the state machines over a SCRATCH_POOL row and its SCRATCH_TAGS row.

Layer 1 (see ``docs/architecture.md``): no numba typing code for user functions here; the
numba surface, :mod:`framealloc.kernels.scratch_njit`, calls these kernels from the
``SmartAlloc`` methods that take a pool id inside ``@njit``, and the Python API
(:mod:`framealloc.scratch`) calls them directly.

* :func:`resolve` finds the table row of a pool id. An allocator's table is found through the
  process-wide registry, whose address is the linker symbol ``framealloc_scratch_registry``
  (:func:`_registry_addr`), so cached machine code finds it in every process; the id is checked
  against the owner and the table before anything is read: a foreign or made-up id gives 0
  (FA160), never a read of memory.
* :func:`scratch_bump` checks the fit, charges the tag and budgets and bumps.
* :func:`settle` is the reset, written once as a plain Python function over the row's int64
  words: ``ScratchPool.reset()`` and the allocator's release call it from Python (rows are
  memoryviews there), and :func:`scratch_reset` runs it compiled (inlined).
* :func:`scratch_used` and :func:`new_buffer`.

The ``@njit`` kernels are compiled with ``cache=True``: ints (and addresses) in, ints out.
"""
from __future__ import annotations

import llvmlite.binding as llb
from llvmlite import ir
from numba import carray, njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from .._dtypes import MAX_ALIGN
from . import layout as L
from . import org
from . import status as ST
from .arena import _as_i64_ptr, nrt_alloc_aligned, row_view

__all__ = ["new_buffer", "resolve", "scratch_bump", "scratch_reset", "scratch_used",
           "settle"]

_SYMBOL = "framealloc_scratch_registry"
llb.add_symbol(_SYMBOL, L.scratch_registry().ctypes.data)

# Layout constants (framealloc.kernels.layout: SCRATCH_POOL_DTYPE, SCRATCH_REGISTRY_DTYPE).
_REG_CAP, _REG_WORDS, _R_OWNER, _R_TABLE = L.REG_CAP, L.REG_WORDS, L.R_OWNER, L.R_TABLE
_ROW_WORDS, _ROW_BYTES = L.SCRATCH_ROW_WORDS, L.SCRATCH_ROW_BYTES
_S_CURSOR, _S_LIMIT, _S_BASE, _S_COUNT = L.S_CURSOR, L.S_LIMIT, L.S_BASE, L.S_COUNT
_S_MI, _S_PEAK, _S_FREED, _S_COUNT_RESET = L.S_MI, L.S_PEAK, L.S_FREED, L.S_COUNT_RESET
_S_RESETS, _S_STATE, _S_ID, _S_TAGS, _S_NTAGS = L.S_RESETS, L.S_STATE, L.S_ID, L.S_TAGS, L.S_NTAGS
_OPEN = L.STATE_OPEN
_OWNER_SHIFT, _SLOT_SHIFT = L.SID_OWNER_SHIFT, L.SID_SLOT_SHIFT
_SLOT_MASK, _INDEX_MASK = L.SID_SLOT_MASK, L.SID_INDEX_MASK
_KIND = L.KIND_SCRATCH
_ORG = int(L.F.org)


@intrinsic
def _registry_addr(typingctx):
    """Address of the process-wide registry (resolved by the linker from ``_SYMBOL``)."""
    sig = types.intp()

    def codegen(context, builder, signature, args):
        mod = builder.module
        gv = mod.globals.get(_SYMBOL)
        if gv is None:
            gv = ir.GlobalVariable(mod, cgutils.intp_t, _SYMBOL)
            gv.linkage = "external"
        return builder.ptrtoint(gv, cgutils.intp_t)

    return sig, codegen


# ---------------------------------------------------------------------------------------------
# Kernels (ints in, ints out: one compiled specialisation each, cached)

@njit(cache=True)
def new_buffer(nbytes):
    """A page-aligned NRT buffer: ``(meminfo, data)``; ``(0, 0)`` when memory runs out."""
    return nrt_alloc_aligned(nbytes)


@njit(cache=True)
def _words(addr, n):
    return carray(_as_i64_ptr(addr), (n,))


@njit(cache=True)
def resolve(owner, sid):
    """Address of the table row of pool ``sid`` of allocator ``owner``; 0 if it is not one."""
    if owner <= 0 or sid < 0 or (sid >> _OWNER_SHIFT) != owner:
        return 0
    slot = (sid >> _SLOT_SHIFT) & _SLOT_MASK
    if slot >= _REG_CAP:
        return 0
    reg = _words(_registry_addr(), _REG_CAP * _REG_WORDS)
    if reg[slot * _REG_WORDS + _R_OWNER] != owner:
        return 0
    addr = reg[slot * _REG_WORDS + _R_TABLE] + (sid & _INDEX_MASK) * _ROW_BYTES
    r = _words(addr, _ROW_WORDS)
    if r[_S_STATE] != _OPEN or r[_S_ID] != sid:
        return 0
    return addr


@njit(cache=True)
def scratch_bump(arena_row, owner, sid, nbytes, align, size_status):
    """Allocate ``nbytes`` aligned to ``align`` in pool ``sid``: ``(status, data, meminfo)``.

    Checks the fit first, then charges the tag and budgets through ``org.charge`` (the
    calling worker's arena row), then bumps; on any failure nothing changes.
    """
    if size_status != 0:
        return size_status, 0, 0
    if align <= 0 or (align & (align - 1)) != 0 or align > MAX_ALIGN:
        return ST.BAD_ALIGN, 0, 0
    addr = resolve(owner, sid)
    if addr == 0:
        return ST.BAD_SCRATCH, 0, 0
    r = _words(addr, _ROW_WORDS)
    cur = r[_S_CURSOR]
    off = (cur + align - 1) & -align
    end = off + nbytes
    if end > r[_S_LIMIT]:
        return ST.SCRATCH_FULL, 0, 0
    consumed = end - cur
    status, tag = org.charge(arena_row, _KIND, consumed)
    if status != 0:
        return status, 0, 0
    ntags = r[_S_NTAGS]
    if tag < 0 or tag >= ntags:
        org.refund(arena_row, _KIND, tag, consumed)
        return ST.INTERNAL, 0, 0
    r[_S_CURSOR] = end
    r[_S_COUNT] += 1
    _words(r[_S_TAGS], ntags)[tag] += consumed
    return 0, r[_S_BASE] + off, r[_S_MI]


def settle(r, tags, release, org_ref, counted):
    """The reset of one pool: its row ``r`` and its tag row ``tags`` (int64 words) settled.

    Gives every tag its bytes back through ``release(org_ref, KIND_SCRATCH, tag, nbytes)`` and
    zeroes them, then settles the row: ``peak = max(peak, cursor)``, ``freed += cursor``,
    ``cursor = 0``, ``count_reset = count``, ``resets += counted`` (1 for ``reset()``, 0 when
    the allocator releases its memory, which is not counted as a reset). Returns CLOSED,
    having changed nothing, if the pool is not open; otherwise OK.

    A plain function, so that Python and ``@njit`` run the same lines. From Python
    (``ScratchPool.reset``, ``ScratchPart.on_release``) ``r`` and ``tags`` are memoryviews and
    ``release`` gives bytes back through the allocator's charge interface
    (``alloc._org_release``); compiled (``_settle_inline``, in :func:`scratch_reset`) they are
    carrays and ``release`` is :func:`framealloc.kernels.org.release`, given the org header's
    address.
    """
    if r[_S_STATE] != _OPEN:
        return ST.CLOSED
    for t, b in enumerate(tags):     # enumerate: the fast loop in Python, a plain one in njit
        if b:
            tags[t] = 0
            release(org_ref, _KIND, t, b)
    cur = r[_S_CURSOR]
    if cur > r[_S_PEAK]:
        r[_S_PEAK] = cur
    r[_S_FREED] += cur
    r[_S_CURSOR] = 0
    r[_S_COUNT_RESET] = r[_S_COUNT]
    r[_S_RESETS] += counted
    return ST.OK


# ``settle`` compiled, inlined (numba IR) into the one kernel that calls it; ``settle`` itself
# stays the plain function. Measured against the reset written out in the kernel (cold cache,
# compiling scratch_reset): this costs +0.03 s and nothing at run time, where
# ``register_jitable(settle)`` (an overload, left a call) made each compiled reset ~8 ns slower
# (35 -> 43 ns) and ``register_jitable(inline="always")`` compiled 0.2 s slower.
_settle_inline = njit(inline="always")(settle)


@njit(cache=True)
def scratch_reset(arena_row, owner, sid):
    """Reset pool ``sid`` (:func:`settle`, tags given back to the row's org). A status."""
    addr = resolve(owner, sid)
    if addr == 0:
        return ST.BAD_SCRATCH
    r = _words(addr, _ROW_WORDS)
    tags = _words(r[_S_TAGS], r[_S_NTAGS])
    return _settle_inline(r, tags, org.release, row_view(arena_row)[_ORG], 1)


@njit(cache=True)
def scratch_used(owner, sid):
    """``(status, bytes in use)`` of pool ``sid``."""
    addr = resolve(owner, sid)
    if addr == 0:
        return ST.BAD_SCRATCH, 0
    return 0, _words(addr, _ROW_WORDS)[_S_CURSOR]
