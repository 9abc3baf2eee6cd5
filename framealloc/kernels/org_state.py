"""The organisation layout under its old module name (tags, budgets, events).

Everything here is defined in :mod:`framealloc.kernels.layout` (``ORG_HEADER_DTYPE``,
``TAG_DTYPE``, ``TAG_COUNTERS_DTYPE``, ``BUDGET_DTYPE``, ``BUDGET_EVENT_DTYPE``, ``ORG_ROW``,
``OrgTables``) and only re-exported; import from there.
"""
from __future__ import annotations

from .layout import (  # noqa: F401 - re-exported
    B_ACTIVE, B_FRAME, B_HARD, B_HARD_HITS, B_HEAP, B_PEAK, B_POOL, B_SCRATCH, B_SOFT,
    B_SOFT_EVENTS, B_SOFT_FRAME, B_SOFT_SEEN, B_TOTAL, B_USED, BUDGET_WORDS, C_ALLOCATED, C_COUNT,
    C_CURRENT, C_FREED, C_FREES, C_PEAK, CTR_WORDS, EV_HARD, EV_SOFT, EVENT_CAP, EVENT_WORDS,
    H_ACTIVE, H_BUDGETS, H_CTRS, H_EVENTS, H_EVENTS_ADDR, H_HITS, H_MAXTAGS, H_NBUDGETS, H_NTAGS,
    H_QUANTUM, H_SOFT, H_TAGS, KIND_FRAME, KIND_HEAP, KIND_NAMES, KIND_POOL, KIND_SCRATCH, KINDS,
    LOG_CAP, MAX_SCOPE, MAX_TAG_DEPTH, NO_LIMIT, ORG_HDR_WORDS as HDR_WORDS, RB_CHARGE_IDS,
    RB_DEPTH, RB_HDR, RB_LEASE_IDS, RB_LOG, RB_NLEASE, RB_OOMS, RB_OTHER_BYTES, RB_OTHER_COUNT,
    RB_SLOT, RB_STACK, T_DEPTH, T_PARENT, TAG_BUDGET0, TAG_STACK_DEPTH, TAG_WORDS, OrgTables,
    budget_rows, row_block_words,
)
