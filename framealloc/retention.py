"""Retention and promotion of frame allocations at the end of a frame.

Placeholder: filled in by the retention work (issue 4).
"""
from __future__ import annotations

from ._hooks import FrameHooks

__all__ = ["RetentionMixin"]


class RetentionMixin(FrameHooks):
    """SmartAlloc methods for frame allocations that may outlive their frame."""
