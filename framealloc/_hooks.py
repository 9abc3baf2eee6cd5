"""Cooperative frame hooks the SmartAlloc feature mixins override (each calls ``super()``)."""
from __future__ import annotations

__all__ = ["FrameHooks"]


class FrameHooks:
    """No-op ends of the hook chains; ``ta`` is the calling thread's arena (``_ThreadArena``)."""

    def _after_begin_frame(self, ta) -> None:
        """The calling thread's frame was just opened."""

    def _before_end_frame(self, ta) -> None:
        """The calling thread's frame is about to end (its allocations are still live)."""

    def _after_end_frame(self, ta) -> None:
        """The calling thread's frame has ended."""

    def _after_rollback(self, ta, cp) -> None:
        """The calling thread's frame was rolled back to checkpoint ``cp``."""
