"""Organisation kernels: tag segments, budget leases and charges.

Tags cost the allocation hot path nothing: a row attributes its frame bytes to its current tag
in *segments*. A segment starts at a tag switch (or begin_frame) and, when it closes (the next
switch, end_frame), the position and count deltas since its start go to the tag's counters. While
a checkpoint is live, closed segments are also logged so a rollback gives each tag its bytes
back.

Budgets cost the hot path nothing either: while a budget applies to a row's segment, the row
*leases* budget bytes (``AllocConfig.budget_lease`` at a time, never past a soft or hard limit)
and its ``limit`` stops at the leased position, so the hot path's one compare sends the
allocation that would pass a limit to the slow path, which leases more or refuses it. Unused
lease is given back when the segment closes. Other kinds (pool, heap, scratch) charge their
exact bytes with :func:`charge` and give them back with :func:`release`.

Shared counters (tag counters, budgets, events) change only through atomic instructions, so
Python threads and prange workers may allocate at once; a row's own block belongs to its thread.

Every kernel takes raw addresses (``ra``: an arena row, ``org``: the organisation header) and
reads words with the ``ld``/``st`` intrinsics: few, flat functions keep numba's compile time low.
"""
from __future__ import annotations

from numba import njit

from ._intrinsics import atomic_add, atomic_cas, atomic_load, ld, st
from .layout import (
    B_ACTIVE,
    B_HARD,
    B_HARD_HITS,
    B_PEAK,
    B_SOFT,
    B_SOFT_EVENTS,
    B_SOFT_FRAME,
    B_TOTAL,
    B_USED,
    BUDGET_WORDS,
    C_ALLOCATED,
    C_COUNT,
    C_CURRENT,
    C_FREED,
    C_FREES,
    C_PEAK,
    CTR_WORDS,
    EV_HARD,
    EV_SOFT,
    EVENT_CAP,
    EVENT_WORDS,
    E_BUDGET,
    E_FRAME,
    E_KIND,
    E_REQUEST,
    E_SLOT,
    E_USED,
    H_ACTIVE,
    H_BUDGETS,
    H_CTRS,
    H_EVENTS,
    H_EVENTS_ADDR,
    H_HITS,
    H_MAXTAGS,
    H_NTAGS,
    H_QUANTUM,
    H_SOFT,
    H_TAGS,
    KIND_FRAME,
    KINDS,
    LG_START,
    LG_TAG,
    LOG_CAP,
    LOG_WORDS,
    NO_LIMIT,
    RB_CHARGE_IDS,
    RB_DEPTH,
    RB_CLOSED,
    RB_HDR,
    RB_LEASE_IDS,
    RB_LOG,
    RB_NLEASE,
    RB_OOMS,
    RB_OTHER_BYTES,
    RB_OTHER_COUNT,
    RB_SLOT,
    RB_STACK,
    RB_TP_BYTES,
    RB_TP_COUNT,
    T_PARENT,
    TAG_BUDGET0,
    TAG_STACK_DEPTH,
    TAG_WORDS,
    F,
    ROW_BYTES,
)
from . import status as ST

# Byte offsets of the row fields used here (module constants fold into the kernels).
_CURSOR, _LIMIT, _COUNT, _CAPACITY = 8 * int(F.cursor), 8 * int(F.limit), 8 * int(F.count), \
    8 * int(F.capacity)
_MEMINFO, _USED_BEFORE, _FRAME_OPEN = 8 * int(F.meminfo), 8 * int(F.used_before), \
    8 * int(F.frame_open)
_FRAME_NUMBER, _CP_DEPTH = 8 * int(F.frame_number), 8 * int(F.cp_depth)
_LAST_FRAME_PEAK = 8 * int(F.last_frame_peak)
_TAG, _SEG_POS, _SEG_COUNT = 8 * int(F.tag), 8 * int(F.seg_pos), 8 * int(F.seg_count)
_BUDGET_END, _ORGROW, _ORG = 8 * int(F.budget_end), 8 * int(F.orgrow), 8 * int(F.org)


@njit(cache=True)
def _budget(org, b, field):
    """Address of a budget word."""
    return ld(org + 8 * H_BUDGETS) + (b * BUDGET_WORDS + field) * 8


@njit(cache=True)
def _attr(org, tag, kind, nbytes, count, sign):
    """Tag counters: ``sign`` 1 allocates ``nbytes``/``count``, -1 frees them."""
    base = ld(org + 8 * H_CTRS) + (tag * KINDS + kind) * CTR_WORDS * 8
    if sign > 0:
        cur = atomic_add(base + 8 * C_CURRENT, nbytes) + nbytes
        atomic_add(base + 8 * C_ALLOCATED, nbytes)
        atomic_add(base + 8 * C_COUNT, count)
        old = atomic_load(base + 8 * C_PEAK)
        while cur > old:
            seen = atomic_cas(base + 8 * C_PEAK, old, cur)
            if seen == old:
                break
            old = seen
    else:
        atomic_add(base + 8 * C_CURRENT, -nbytes)
        atomic_add(base + 8 * C_FREED, nbytes)
        atomic_add(base + 8 * C_FREES, count)


# -- budgets -------------------------------------------------------------------------------------

@njit(cache=True)
def _scope(org, buf, kind, tag, slot):
    """Write the ids of the active budgets over (kind, tag, thread slot; -1: none) at ``buf``:
    total, the kind, the tag and its ancestors, the thread's frames. Returns how many."""
    if ld(org + 8 * H_ACTIVE) == 0:
        return 0
    bt = ld(org + 8 * H_BUDGETS)
    tags = ld(org + 8 * H_TAGS)
    maxtags = ld(org + 8 * H_MAXTAGS)
    n = 0
    t = tag
    # Ids in a fixed order: total, kind, tag chain (leaf first), thread.
    for step in range(3 + maxtags):
        if step == 0:
            b = B_TOTAL
        elif step == 1:
            b = 1 + kind
        elif t != 0:
            b = TAG_BUDGET0 + t
            t = ld(tags + (t * TAG_WORDS + T_PARENT) * 8)
        elif slot >= 0:
            b = TAG_BUDGET0 + maxtags + slot
            slot = -1
        else:
            break
        if ld(bt + (b * BUDGET_WORDS + B_ACTIVE) * 8) != 0:
            st(buf + 8 * n, b)
            n += 1
    return n


@njit(cache=True)
def _event(org, kind, b, used, request, frame, slot):
    i = atomic_add(org + 8 * H_EVENTS, 1) % EVENT_CAP
    e = ld(org + 8 * H_EVENTS_ADDR) + i * EVENT_WORDS * 8
    st(e + 8 * E_KIND, kind)
    st(e + 8 * E_BUDGET, b)
    st(e + 8 * E_USED, used)
    st(e + 8 * E_REQUEST, request)
    st(e + 8 * E_FRAME, frame)
    st(e + 8 * E_SLOT, slot)


@njit(cache=True)
def _commit(org, buf, n, amount, frame, slot, request, refuse):
    """Charge ``amount`` to each budget listed at ``buf``, all or nothing.

    Returns -1 on success (a soft limit passed is signalled once per frame per budget), or the
    id of the budget whose hard limit refuses it, with nothing charged (and, with ``refuse``,
    the refusal counted)."""
    bt = ld(org + 8 * H_BUDGETS)
    for i in range(n):
        b = ld(buf + 8 * i)
        ua = bt + (b * BUDGET_WORDS + B_USED) * 8
        hard = ld(bt + (b * BUDGET_WORDS + B_HARD) * 8)
        old = atomic_load(ua)
        while True:
            if old + amount > hard:
                for j in range(i):
                    atomic_add(bt + (ld(buf + 8 * j) * BUDGET_WORDS + B_USED) * 8, -amount)
                if refuse:
                    atomic_add(bt + (b * BUDGET_WORDS + B_HARD_HITS) * 8, 1)
                    atomic_add(org + 8 * H_HITS, 1)
                    _event(org, EV_HARD, b, old, request, frame, slot)
                return b
            seen = atomic_cas(ua, old, old + amount)
            if seen == old:
                break
            old = seen
    for i in range(n):
        b = ld(buf + 8 * i)
        row = bt + b * BUDGET_WORDS * 8
        used = atomic_load(row + 8 * B_USED)
        old = atomic_load(row + 8 * B_PEAK)
        while used > old:
            seen = atomic_cas(row + 8 * B_PEAK, old, used)
            if seen == old:
                break
            old = seen
        if used > ld(row + 8 * B_SOFT):
            prev = atomic_load(row + 8 * B_SOFT_FRAME)
            if prev != frame and atomic_cas(row + 8 * B_SOFT_FRAME, prev, frame) == prev:
                atomic_add(row + 8 * B_SOFT_EVENTS, 1)
                atomic_add(org + 8 * H_SOFT, 1)
                _event(org, EV_SOFT, b, used - amount, request, frame, slot)
    return -1


@njit(cache=True)
def _uncharge(org, kind, tag, slot, amount):
    """Give ``amount`` back to every active budget over (kind, tag, slot)."""
    if ld(org + 8 * H_ACTIVE) == 0 or amount == 0:
        return
    bt = ld(org + 8 * H_BUDGETS)
    tags = ld(org + 8 * H_TAGS)
    maxtags = ld(org + 8 * H_MAXTAGS)
    t = tag
    for step in range(3 + maxtags):
        if step == 0:
            b = B_TOTAL
        elif step == 1:
            b = 1 + kind
        elif t != 0:
            b = TAG_BUDGET0 + t
            t = ld(tags + (t * TAG_WORDS + T_PARENT) * 8)
        elif slot >= 0:
            b = TAG_BUDGET0 + maxtags + slot
            slot = -1
        else:
            break
        if ld(bt + (b * BUDGET_WORDS + B_ACTIVE) * 8) != 0:
            atomic_add(bt + (b * BUDGET_WORDS + B_USED) * 8, -amount)


# -- frame segments ------------------------------------------------------------------------------

@njit(cache=True)
def set_limit(ra):
    """The row's bound for the hot path: the chunk's end, or the leased budget if nearer; -1
    outside a frame or without a chunk (the slow path handles both)."""
    if ld(ra + _FRAME_OPEN) == 0 or ld(ra + _MEMINFO) == 0:
        st(ra + _LIMIT, -1)
        return
    lim = ld(ra + _CAPACITY)
    be = ld(ra + _BUDGET_END)
    if be != NO_LIMIT and be - ld(ra + _USED_BEFORE) < lim:
        lim = be - ld(ra + _USED_BEFORE)
    st(ra + _LIMIT, lim)


@njit(cache=True)
def seg_open(ra):
    """Start a segment at the current position, for the row's tag and the budgets over it."""
    org = ld(ra + _ORG)
    rb = ld(ra + _ORGROW)
    pos = ld(ra + _USED_BEFORE) + ld(ra + _CURSOR)
    st(ra + _SEG_POS, pos)
    st(ra + _SEG_COUNT, ld(ra + _COUNT))
    n = _scope(org, rb + 8 * RB_LEASE_IDS, KIND_FRAME, ld(ra + _TAG), ld(rb + 8 * RB_SLOT))
    st(rb + 8 * RB_NLEASE, n)
    st(ra + _BUDGET_END, pos if n > 0 else NO_LIMIT)
    set_limit(ra)


@njit(cache=True)
def _return_lease(ra):
    """Give the unused part of the row's lease back; the lease then ends at the position."""
    rb = ld(ra + _ORGROW)
    n = ld(rb + 8 * RB_NLEASE)
    be = ld(ra + _BUDGET_END)
    pos = ld(ra + _USED_BEFORE) + ld(ra + _CURSOR)
    if n > 0 and be != NO_LIMIT:
        if be > pos:
            bt = ld(ld(ra + _ORG) + 8 * H_BUDGETS)
            for i in range(n):
                atomic_add(bt + (ld(rb + 8 * (RB_LEASE_IDS + i)) * BUDGET_WORDS + B_USED) * 8,
                           pos - be)
        st(ra + _BUDGET_END, pos)


@njit(cache=True)
def seg_close(ra, log):
    """Attribute the open segment to its tag and give its unused lease back. With ``log``, a
    segment closed while a checkpoint is live is logged for rollbacks."""
    org = ld(ra + _ORG)
    rb = ld(ra + _ORGROW)
    mt = ld(org + 8 * H_MAXTAGS)
    t = ld(ra + _TAG)
    pos = ld(ra + _USED_BEFORE) + ld(ra + _CURSOR)
    sp = ld(ra + _SEG_POS)
    nb = pos - sp
    nc = ld(ra + _COUNT) - ld(ra + _SEG_COUNT)
    if nb != 0 or nc != 0:
        st(rb + 8 * (RB_HDR + t), ld(rb + 8 * (RB_HDR + t)) + nb)
        st(rb + 8 * (RB_HDR + mt + t), ld(rb + 8 * (RB_HDR + mt + t)) + nc)
        st(rb + 8 * RB_CLOSED, ld(rb + 8 * RB_CLOSED) + 1)
        if t != 0:
            _attr(org, t, KIND_FRAME, nb, nc, 1)
    if log:
        if ld(ra + _CP_DEPTH) == 0:
            st(rb + 8 * RB_LOG, 0)
        elif nb > 0:
            k = ld(rb + 8 * RB_LOG)
            e = rb + 8 * (RB_HDR + 2 * mt + LOG_WORDS * k)
            st(e + 8 * LG_TAG, t)
            st(e + 8 * LG_START, sp)
            st(rb + 8 * RB_LOG, k + 1)
    _return_lease(ra)
    st(rb + 8 * RB_NLEASE, 0)
    st(ra + _BUDGET_END, NO_LIMIT)
    st(ra + _SEG_POS, pos)
    st(ra + _SEG_COUNT, ld(ra + _COUNT))


@njit(cache=True)
def _log_full(ra):
    if ld(ra + _FRAME_OPEN) == 0 or ld(ra + _CP_DEPTH) == 0:
        return False
    if ld(ra + _USED_BEFORE) + ld(ra + _CURSOR) == ld(ra + _SEG_POS):
        return False    # an empty segment is not logged
    return ld(ld(ra + _ORGROW) + 8 * RB_LOG) >= LOG_CAP


@njit(cache=True)
def _switch(ra, tag):
    if ld(ra + _FRAME_OPEN) != 0:
        seg_close(ra, True)
        st(ra + _TAG, tag)
        seg_open(ra)
    else:
        st(ra + _TAG, tag)


@njit(cache=True)
def switch_tag(addr, workers, tag):
    """Python tag push/pop: every worker row of the thread slot at ``addr`` switches to ``tag``
    (-1: each row keeps its tag and only restarts its segment, so new budgets apply)."""
    if tag < -1 or tag >= ld(ld(addr + _ORG) + 8 * H_NTAGS):
        return ST.TAG_UNKNOWN
    for w in range(workers):
        if _log_full(addr + w * ROW_BYTES):
            return ST.TAG_LOG_FULL
    for w in range(workers):
        ra = addr + w * ROW_BYTES
        _switch(ra, ld(ra + _TAG) if tag < 0 else tag)
    return ST.OK


@njit(cache=True)
def push_tag(ra, tag):
    """njit ``alloc.push_tag(tag_id)``: this worker row only."""
    if tag < 0 or tag >= ld(ld(ra + _ORG) + 8 * H_NTAGS):
        return ST.TAG_UNKNOWN
    rb = ld(ra + _ORGROW)
    d = ld(rb + 8 * RB_DEPTH)
    if d >= TAG_STACK_DEPTH:
        return ST.TAG_UNBALANCED
    if _log_full(ra):
        return ST.TAG_LOG_FULL
    st(rb + 8 * (RB_STACK + d), ld(ra + _TAG))
    st(rb + 8 * RB_DEPTH, d + 1)
    _switch(ra, tag)
    return ST.OK


@njit(cache=True)
def pop_tag(ra):
    """njit ``alloc.pop_tag()``: back to the tag before the matching push."""
    rb = ld(ra + _ORGROW)
    d = ld(rb + 8 * RB_DEPTH)
    if d == 0:
        return ST.TAG_UNBALANCED
    if _log_full(ra):
        return ST.TAG_LOG_FULL
    st(rb + 8 * RB_DEPTH, d - 1)
    _switch(ra, ld(rb + 8 * (RB_STACK + d - 1)))
    return ST.OK


@njit(cache=True)
def lease(ra, new_pos, request):
    """Make the row's leased position reach ``new_pos``: OK, or BUDGET_EXCEEDED with nothing
    changed but the refusal counters."""
    be = ld(ra + _BUDGET_END)
    if be == NO_LIMIT or new_pos <= be:
        return ST.OK
    org = ld(ra + _ORG)
    rb = ld(ra + _ORGROW)
    bt = ld(org + 8 * H_BUDGETS)
    n = ld(rb + 8 * RB_NLEASE)
    frame = ld(ra + _FRAME_NUMBER)
    need = new_pos - be
    room = NO_LIMIT
    for i in range(n):
        row = bt + ld(rb + 8 * (RB_LEASE_IDS + i)) * BUDGET_WORDS * 8
        used = atomic_load(row + 8 * B_USED)
        cap = ld(row + 8 * B_HARD)
        soft = ld(row + 8 * B_SOFT)
        # Stop a lease at a soft limit not yet signalled this frame: the allocation that passes
        # it comes back here and is signalled exactly.
        if soft < cap and used <= soft and ld(row + 8 * B_SOFT_FRAME) != frame:
            cap = soft
        if cap - used < room:
            room = cap - used
    take = need
    if room > need:
        # Sized to the frame, not to the request: at least a quantum, as much again as this
        # segment has leased so far (leases double), and the last frame's peak (a frame like the
        # last needs one lease); never more than half of what the budgets have left beyond this
        # request, so other threads and tags keep their share. The unused part goes back when
        # the segment closes.
        want = max(need, ld(org + 8 * H_QUANTUM), be - ld(ra + _SEG_POS),
                   ld(ra + _LAST_FRAME_PEAK))
        take = min(want, need + (room - need) // 2)
    if _commit(org, rb + 8 * RB_LEASE_IDS, n, take, frame, ld(rb + 8 * RB_SLOT), request,
               True) >= 0:
        return ST.BUDGET_EXCEEDED
    st(ra + _BUDGET_END, be + take)
    return ST.OK


@njit(cache=True)
def unlease(ra, budget_end):
    """Shrink the row's lease back to ``budget_end`` (an allocation it was taken for failed)."""
    extra = ld(ra + _BUDGET_END) - budget_end
    if extra > 0:
        rb = ld(ra + _ORGROW)
        bt = ld(ld(ra + _ORG) + 8 * H_BUDGETS)
        for i in range(ld(rb + 8 * RB_NLEASE)):
            atomic_add(bt + (ld(rb + 8 * (RB_LEASE_IDS + i)) * BUDGET_WORDS + B_USED) * 8,
                       -extra)
        st(ra + _BUDGET_END, budget_end)
        set_limit(ra)


@njit(cache=True)
def count_oom(ra):
    """A frame allocation failed for want of memory (``stats().num_ooms``)."""
    rb = ld(ra + _ORGROW)
    st(rb + 8 * RB_OOMS, ld(rb + 8 * RB_OOMS) + 1)


@njit(cache=True)
def fallback_bytes(ra, nbytes):
    """A "heap" policy fallback of ``nbytes`` in the row's frame: attribute it to the tag and
    count it against the lease the slow path took for it."""
    org = ld(ra + _ORG)
    rb = ld(ra + _ORGROW)
    t = ld(ra + _TAG)
    st(rb + 8 * (RB_HDR + t), ld(rb + 8 * (RB_HDR + t)) + nbytes)
    st(rb + 8 * RB_CLOSED, ld(rb + 8 * RB_CLOSED) + 1)
    if t != 0:
        _attr(org, t, KIND_FRAME, nbytes, 0, 1)
    be = ld(ra + _BUDGET_END)
    if be != NO_LIMIT:
        st(ra + _BUDGET_END, be - nbytes)
    set_limit(ra)


@njit(cache=True)
def settle_frame(ra, tag_hist):
    """end_frame of one row: close its segment, free every tag's frame bytes, give budgets back;
    each tag's frame bytes are added to word ``tag`` at ``tag_hist`` (0: not recorded)."""
    seg_close(ra, False)
    org = ld(ra + _ORG)
    rb = ld(ra + _ORGROW)
    mt = ld(org + 8 * H_MAXTAGS)
    slot = ld(rb + 8 * RB_SLOT)
    for t in range(ld(org + 8 * H_NTAGS)):
        nb = ld(rb + 8 * (RB_HDR + t))
        nc = ld(rb + 8 * (RB_HDR + mt + t))
        if nb == 0 and nc == 0:
            continue
        if t != 0:
            _attr(org, t, KIND_FRAME, nb, nc, -1)
        if tag_hist != 0:
            st(tag_hist + 8 * t, ld(tag_hist + 8 * t) + nb)
        _uncharge(org, KIND_FRAME, t, slot, nb)
        st(rb + 8 * (RB_HDR + t), 0)
        st(rb + 8 * (RB_HDR + mt + t), 0)
    st(rb + 8 * RB_LOG, 0)
    st(rb + 8 * RB_CLOSED, 0)
    st(rb + 8 * RB_TP_COUNT, 0)
    st(rb + 8 * RB_TP_BYTES, 0)


@njit(cache=True)
def charge_transparent(ra, nbytes):
    """An array of ``nbytes`` that transparent frames (``framealloc.transparent``) serve in the
    open frame of the row at ``ra``, when the row is tagged or under a budget (the hook does
    the untagged, unbudgeted case inline): lease budget bytes for it as for a "heap" policy
    fallback, attribute it to the row's tag (bytes and one allocation, given back at
    end_frame). Returns 1, or 0 when a hard budget refuses it (counted as a hard hit, nothing
    else changed: the hook then sends the request to numba's allocator). Runs on the row's
    thread, inside numba's allocation call (the hook calls its cfunc)."""
    if ld(ra + _BUDGET_END) != NO_LIMIT:
        pos = ld(ra + _USED_BEFORE) + ld(ra + _CURSOR)
        if lease(ra, pos + nbytes, nbytes) != ST.OK:
            return 0
    fallback_bytes(ra, nbytes)
    rb = ld(ra + _ORGROW)
    t = ld(ra + _TAG)
    c = rb + 8 * (RB_HDR + ld(ld(ra + _ORG) + 8 * H_MAXTAGS) + t)
    st(c, ld(c) + 1)
    if t != 0:
        _attr(ld(ra + _ORG), t, KIND_FRAME, 0, 1, 1)
    return 1


@njit(cache=True)
def rollback_segments(ra, p):
    """A rollback to frame position ``p``: logged segments give their bytes past ``p`` back to
    their tags and budgets; the open segment restarts at ``p`` keeping its lease."""
    org = ld(ra + _ORG)
    sp = ld(ra + _SEG_POS)
    t0 = ld(ra + _TAG)
    # The open segment's bytes past p were handed out and are freed now (never attributed yet).
    now = ld(ra + _USED_BEFORE) + ld(ra + _CURSOR)
    lo = max(sp, p)
    if now > lo and t0 != 0:
        _attr(org, t0, KIND_FRAME, now - lo, 0, 1)
        _attr(org, t0, KIND_FRAME, now - lo, 0, -1)
    if p >= sp:
        return  # only the open segment's bytes: they return into its lease
    rb = ld(ra + _ORGROW)
    mt = ld(org + 8 * H_MAXTAGS)
    slot = ld(rb + 8 * RB_SLOT)
    e = sp
    k = ld(rb + 8 * RB_LOG)
    while k > 0 and e > p:
        ent = rb + 8 * (RB_HDR + 2 * mt + LOG_WORDS * (k - 1))
        t = ld(ent + 8 * LG_TAG)
        s = ld(ent + 8 * LG_START)
        x = e - max(s, p)
        if x > 0:
            st(rb + 8 * (RB_HDR + t), ld(rb + 8 * (RB_HDR + t)) - x)
            if t != 0:
                _attr(org, t, KIND_FRAME, x, 0, -1)
            _uncharge(org, KIND_FRAME, t, slot, x)
        if s < p:
            break
        k -= 1
        e = s
    st(rb + 8 * RB_LOG, k)
    be = ld(ra + _BUDGET_END)
    if be != NO_LIMIT:
        st(ra + _BUDGET_END, be - (sp - p))
    st(ra + _SEG_POS, p)


@njit(cache=True)
def release_rows(addr, workers):
    """A thread ended inside a frame: its frame bytes leave its tags and budgets."""
    for w in range(workers):
        ra = addr + w * ROW_BYTES
        if ld(ra + _ORG) != 0 and ld(ra + _ORGROW) != 0 and ld(ra + _FRAME_OPEN) != 0:
            settle_frame(ra, 0)
    return ST.OK


# -- direct charges (pool, heap, scratch) --------------------------------------------------------

@njit(cache=True)
def charge(ra, kind, nbytes):
    """Attribute ``nbytes`` of ``kind`` to the row's tag and charge its budgets.

    Returns ``(status, tag)``: OK and the tag id to pass to :func:`release`, or BUDGET_EXCEEDED
    (a hard limit refuses it; nothing changed but the refusal counters)."""
    org = ld(ra + _ORG)
    rb = ld(ra + _ORGROW)
    t = ld(ra + _TAG)
    if ld(org + 8 * H_ACTIVE) != 0:
        buf = rb + 8 * RB_CHARGE_IDS
        n = _scope(org, buf, kind, t, -1)
        if n > 0:
            frame = ld(ra + _FRAME_NUMBER)
            slot = ld(rb + 8 * RB_SLOT)
            be = ld(ra + _BUDGET_END)
            own = be != NO_LIMIT and be > ld(ra + _USED_BEFORE) + ld(ra + _CURSOR)
            # This thread's own unused frame lease may be what stands in the way: give it back
            # before a refusal counts.
            if _commit(org, buf, n, nbytes, frame, slot, nbytes, not own) >= 0:
                if not own:
                    return ST.BUDGET_EXCEEDED, 0
                _return_lease(ra)
                set_limit(ra)
                if _commit(org, buf, n, nbytes, frame, slot, nbytes, True) >= 0:
                    return ST.BUDGET_EXCEEDED, 0
    if t != 0:
        _attr(org, t, kind, nbytes, 1, 1)
    st(rb + 8 * RB_OTHER_BYTES, ld(rb + 8 * RB_OTHER_BYTES) + nbytes)
    st(rb + 8 * RB_OTHER_COUNT, ld(rb + 8 * RB_OTHER_COUNT) + 1)
    return ST.OK, t


@njit(cache=True)
def release(org, kind, tag, nbytes):
    """Give back what :func:`charge` took for ``tag`` (from any thread)."""
    if tag != 0:
        _attr(org, tag, kind, nbytes, 1, -1)
    _uncharge(org, kind, tag, -1, nbytes)
    return ST.OK


@njit(cache=True)
def refund(ra, kind, tag, nbytes):
    """Undo a :func:`charge` of row ``ra`` whose take failed (on the charging thread, before
    anything else used the memory): the tag's bytes and allocation count, the budgets and the
    thread's counters are as if it never happened. (Peaks and soft-limit events the charge
    caused stay: they record that the request was made.)"""
    org = ld(ra + _ORG)
    rb = ld(ra + _ORGROW)
    if tag != 0:
        _attr(org, tag, kind, -nbytes, -1, 1)   # current, allocated, count down; peak as is
    _uncharge(org, kind, tag, -1, nbytes)
    st(rb + 8 * RB_OTHER_BYTES, ld(rb + 8 * RB_OTHER_BYTES) - nbytes)
    st(rb + 8 * RB_OTHER_COUNT, ld(rb + 8 * RB_OTHER_COUNT) - 1)
    return ST.OK
