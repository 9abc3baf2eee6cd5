"""Allocator statistics, in the PyTorch/CuPy vocabulary (current / peak / allocated / freed)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

__all__ = ["FrameStats", "ThreadFrameStats", "AllocStats"]


def _positions(rows: np.ndarray) -> np.ndarray:
    """Bytes consumed in each row's open frame (0 where no frame is open)."""
    return np.where(rows["frame_open"] != 0, rows["used_before"] + rows["cursor"], 0)


@dataclass(frozen=True)
class FrameStats:
    """Frame-arena counters summed over the rows they cover.

    Attributes
    ----------
    current: bytes in use by open frames (alignment padding included).
    peak: highest ``current`` each arena row reached, summed over rows (exact for one thread).
    allocated: bytes ever handed out by frames, rolled-back ones included.
    freed: ``allocated - current``: bytes released by end_frame and rollbacks.
    allocations: allocations ever made (``current_allocations`` in open frames).
    reserved: bytes of arena chunks held.
    chunks_grown: chunks added because a frame outgrew its chunk (incl. the end-of-frame resize).
    heap_fallbacks / heap_fallback_bytes: requests served by the "heap" policy.
    frames: frames begun (the most on any row).
    rollbacks: checkpoint rollbacks.
    """

    current: int = 0
    peak: int = 0
    allocated: int = 0
    freed: int = 0
    allocations: int = 0
    current_allocations: int = 0
    reserved: int = 0
    chunks_grown: int = 0
    heap_fallbacks: int = 0
    heap_fallback_bytes: int = 0
    frames: int = 0
    rollbacks: int = 0

    @classmethod
    def from_rows(cls, rows: np.ndarray) -> "FrameStats":
        pos = _positions(rows)
        open_counts = np.where(rows["frame_open"] != 0, rows["count"], 0)
        current = int(pos.sum())
        allocated = int(rows["allocated_total"].sum()) + current
        return cls(
            current=current,
            peak=int(np.maximum(rows["peak"], pos).sum()),
            allocated=allocated,
            freed=allocated - current,
            allocations=int(rows["count_total"].sum() + open_counts.sum()),
            current_allocations=int(open_counts.sum()),
            reserved=int(rows["reserved_bytes"].sum()),
            chunks_grown=int(rows["chunks_grown"].sum()),
            heap_fallbacks=int(rows["heap_fallbacks"].sum()),
            heap_fallback_bytes=int(rows["heap_fallback_bytes"].sum()),
            frames=int(rows["frame_number"].max()) if rows.size else 0,
            rollbacks=int(rows["rollbacks"].sum()),
        )


@dataclass(frozen=True)
class ThreadFrameStats:
    """Frame counters of one Python thread (its row plus its prange workers' rows)."""

    slot: int
    thread_id: int | None
    thread_name: str
    in_frame: bool
    frame_number: int
    frame: FrameStats

    @classmethod
    def from_rows(cls, slot: int, ident, name: str, rows: np.ndarray) -> "ThreadFrameStats":
        return cls(slot, ident, name, bool(rows["frame_open"][0]), int(rows["frame_number"][0]),
                   FrameStats.from_rows(rows))


@dataclass(frozen=True)
class AllocStats:
    """What :meth:`SmartAlloc.stats` returns; ``to_dict()`` is JSON-serialisable."""

    frame: FrameStats
    threads: list = field(default_factory=list)

    @property
    def total_current(self) -> int:
        """Bytes of CPU memory the allocator holds now (arena chunks reserved + heap fallbacks
        are not tracked after release, so: reserved chunk bytes)."""
        return self.frame.reserved

    def to_dict(self) -> dict:
        d = asdict(self)
        d["total_current"] = self.total_current
        return d
