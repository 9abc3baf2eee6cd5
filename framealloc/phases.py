"""Frame phases (``begin_phase``/``end_phase``, ``with alloc.phase(name)``, ``phase_stats()``).

Placeholder: filled in by the phases work (issue 4).
"""
from __future__ import annotations

from ._hooks import FrameHooks

__all__ = ["PhasesMixin"]


class PhasesMixin(FrameHooks):
    """SmartAlloc methods for named phases inside frames."""

    @property
    def current_phase(self) -> str:
        """Name (path) of the calling thread's innermost open phase; "" outside any phase."""
        return ""
