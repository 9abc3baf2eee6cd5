"""Layout of the organisation state (tags, budgets, events) shared by Python and the kernels.

All tables are int64 numpy arrays owned by the SmartAlloc; kernels reach them through the
``org`` address stored in every arena row (the header below), Python through numpy views.
Counters shared between threads (tag counters, budgets, the event ring) are only changed with
atomic instructions by the kernels (``framealloc.kernels.org``); per-row state (the tag stack,
the segment log, this frame's bytes per tag) belongs to one thread or prange worker.

Header (``HDR_WORDS`` words)
----------------------------
H_NTAGS        tags registered (tag 0 is the root, "")
H_MAXTAGS      capacity of the tag tables
H_ACTIVE       budgets with a soft or hard limit (0: no budget work anywhere)
H_EVENTS       events written so far (the ring index is ``H_EVENTS % EVENT_CAP``)
H_QUANTUM      bytes a frame row leases from its budgets at a time
H_TAGS         address of the tag table (``TAG_WORDS`` words per tag)
H_CTRS         address of the tag counters (``KINDS * CTR_WORDS`` words per tag)
H_BUDGETS      address of the budget table (``BUDGET_WORDS`` words per budget)
H_EVENTS_ADDR  address of the event ring (``EVENT_WORDS`` words per event)
H_NBUDGETS     rows of the budget table
H_HITS         hard budget refusals, all budgets
H_SOFT         soft budget events, all budgets

Budget ids: 0 total (every kind), 1 frame, 2 pool, 3 heap, 4 scratch, ``TAG_BUDGET0 + tag`` (a
tag and its descendants, every kind), ``TAG_BUDGET0 + max_tags + slot`` (one thread's frames).
"""
from __future__ import annotations

import numpy as np

KIND_FRAME, KIND_POOL, KIND_HEAP, KIND_SCRATCH = 0, 1, 2, 3
KINDS = 4
KIND_NAMES = ("frame", "pool", "heap", "scratch")

HDR_WORDS = 16
(H_NTAGS, H_MAXTAGS, H_ACTIVE, H_EVENTS, H_QUANTUM, H_TAGS, H_CTRS, H_BUDGETS, H_EVENTS_ADDR,
 H_NBUDGETS, H_HITS, H_SOFT) = range(12)

# Tag table: parent id, depth (root 0).
TAG_WORDS = 4
T_PARENT, T_DEPTH = 0, 1
#: Deepest tag path: a budget scope (total, kind, the tag chain, thread) must fit MAX_SCOPE ids.
MAX_TAG_DEPTH = 16

# Tag counters, per tag and kind: live bytes, highest live bytes, bytes ever allocated and
# freed, allocations and frees.
CTR_WORDS = 6
C_CURRENT, C_PEAK, C_ALLOCATED, C_FREED, C_COUNT, C_FREES = range(6)

# Budget rows.
BUDGET_WORDS = 12
(B_ACTIVE, B_SOFT, B_HARD, B_USED, B_PEAK, B_SOFT_EVENTS, B_HARD_HITS, B_SOFT_FRAME,
 B_SOFT_SEEN) = range(9)
NO_LIMIT = 1 << 62
B_TOTAL, B_FRAME, B_POOL, B_HEAP, B_SCRATCH = 0, 1, 2, 3, 4
TAG_BUDGET0 = 5

# Event ring: kind (1 soft, 2 hard), budget id, used bytes before, bytes requested, frame
# number of the row, thread slot.
EVENT_WORDS = 6
EVENT_CAP = 256
EV_SOFT, EV_HARD = 1, 2

# Per-row organisation block: header, this frame's bytes and allocations per tag, segment log.
RB_HDR = 96
(RB_DEPTH, RB_SLOT, RB_LOG, RB_OTHER_BYTES, RB_OTHER_COUNT, RB_NLEASE, RB_OOMS) = range(7)
RB_STACK = 8          # njit tag stack: RB_STACK .. RB_STACK + TAG_STACK_DEPTH
TAG_STACK_DEPTH = 16
RB_LEASE_IDS = 24     # budget ids the current segment's lease charged
RB_CHARGE_IDS = 60    # scratch list of budget ids for one direct charge
MAX_SCOPE = 36        # room for budget ids in one scope: total, kind, tag chain, thread
assert 3 + MAX_TAG_DEPTH <= MAX_SCOPE and RB_CHARGE_IDS + MAX_SCOPE <= RB_HDR
LOG_CAP = 128         # tag switches recorded while a checkpoint is live (2 words each)


def row_block_words(max_tags: int) -> int:
    """Words of one row's organisation block: header, bytes and counts per tag, segment log."""
    return RB_HDR + 2 * max_tags + 2 * LOG_CAP


def budget_rows(max_tags: int, max_threads: int) -> int:
    return TAG_BUDGET0 + max_tags + max_threads


class OrgTables:
    """The numpy arrays behind one SmartAlloc's organisation state (header + tables)."""

    def __init__(self, max_tags: int, max_threads: int, quantum: int):
        self.max_tags = max_tags
        self.hdr = np.zeros(HDR_WORDS, np.int64)
        self.tags = np.zeros((max_tags, TAG_WORDS), np.int64)
        self.ctrs = np.zeros((max_tags, KINDS, CTR_WORDS), np.int64)
        nb = budget_rows(max_tags, max_threads)
        self.budgets = np.zeros((nb, BUDGET_WORDS), np.int64)
        self.budgets[:, B_SOFT] = NO_LIMIT
        self.budgets[:, B_HARD] = NO_LIMIT
        self.budgets[:, B_SOFT_FRAME] = -1
        self.events = np.zeros((EVENT_CAP, EVENT_WORDS), np.int64)
        h = self.hdr
        h[H_NTAGS] = 1
        h[H_MAXTAGS] = max_tags
        h[H_QUANTUM] = quantum
        h[H_TAGS] = self.tags.ctypes.data
        h[H_CTRS] = self.ctrs.ctypes.data
        h[H_BUDGETS] = self.budgets.ctypes.data
        h[H_EVENTS_ADDR] = self.events.ctypes.data
        h[H_NBUDGETS] = nb
        self.addr = self.hdr.ctypes.data
        self.mv = memoryview(self.hdr).cast("B").cast("q")   # fast reads from Python
