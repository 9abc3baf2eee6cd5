"""Named scratch pools: arenas that persist across frames until ``reset()``.

Placeholder: filled in by the scratch-pool work (issue 4).
"""
from __future__ import annotations

from ._hooks import FrameHooks

__all__ = ["ScratchMixin"]


class ScratchMixin(FrameHooks):
    """SmartAlloc methods for named scratch pools."""
