"""Slot tables (typed pools and size classes): the kernels' status codes, and the layout names
kept here for importers of this module.

The layouts themselves (the header ``POOL_HEADER_DTYPE`` and its word indices ``H``, the slot
columns, the page table, the buffer offsets) are in :mod:`framealloc.kernels.layout`.
"""
from __future__ import annotations

from .layout import (  # noqa: F401 - re-exported: the slot-table layout under its old names
    CLASS_SHIFT,
    GEN_MASK,
    MAX_CLASS_SLOTS,
    MAX_CLASSES,
    MAX_TYPED_SLOTS,
    POLICY_CLOSED,
    POLICY_ERROR,
    POLICY_GROW,
    POOL_HDR_BYTES as HDR_BYTES,
    POOL_HDR_WORDS as HDR_WORDS,
    POOL_POLICIES,
    SLOT_MASK,
    H,
    class_buffer_bytes,
    class_tag_offset,
    gen_offset,
    stack_offset,
    tag_offset,
    typed_buffer_bytes,
)

# Kernel status codes (turned into FA1xx exceptions by the callers).
ST_OK = 0
ST_FULL = 1        # FA105 (policy error / slot limit)
ST_OOM = 2         # FA105 (out of memory)
ST_CLOSED = 3      # FA109
ST_RANGE = 4       # FA104
ST_NOT_LIVE = 5    # FA101
ST_STALE = 6       # FA103
ST_NEGATIVE = 7    # FA106
ST_BUDGET = 8      # FA154: a hard budget refused the charge (nothing changed)
