"""Slot tables (typed pools and size classes): the layout names, kept here for importers of this
module (statuses are :mod:`framealloc.kernels.status`).

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
