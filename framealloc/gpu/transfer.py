"""Hazard tracking for batched copies: when must a barrier separate two copies?

Copies recorded into one command buffer may run in any order or overlap unless a pipeline
barrier separates them. :class:`HazardTracker` remembers which byte ranges of which buffers the
copies since the last barrier read and wrote, and tells the recorder to put a barrier before a
copy that would read what an earlier copy writes (read-after-write), write it again
(write-after-write) or write what an earlier copy reads (write-after-read). Copies into
different ranges stay in one batch without barriers.

>>> t = HazardTracker()
>>> t.needs_barrier(src=(1, 0, 64), dst=(2, 0, 64))
False
>>> t.add(src=(1, 0, 64), dst=(2, 0, 64))
>>> t.needs_barrier(src=(2, 32, 96), dst=(3, 0, 64))   # reads what the first copy wrote
True
"""
from __future__ import annotations

from bisect import bisect_right

__all__ = ["IntervalSet", "HazardTracker"]


class IntervalSet:
    """Disjoint half-open intervals kept sorted; adding merges overlapping/adjacent ones."""

    __slots__ = ("_starts", "_ends")

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []

    def overlaps(self, lo: int, hi: int) -> bool:
        """True when ``[lo, hi)`` shares at least one byte with the set."""
        i = bisect_right(self._starts, lo) - 1
        if i >= 0 and self._ends[i] > lo:
            return True
        return i + 1 < len(self._starts) and self._starts[i + 1] < hi

    def add(self, lo: int, hi: int) -> None:
        starts, ends = self._starts, self._ends
        i = bisect_right(starts, lo) - 1
        if i >= 0 and ends[i] >= lo:       # merge with the interval on the left
            lo = starts[i]
            hi = max(hi, ends[i])
        else:
            i += 1
        j = i
        while j < len(starts) and starts[j] <= hi:   # swallow intervals on the right
            hi = max(hi, ends[j])
            j += 1
        starts[i:j] = [lo]
        ends[i:j] = [hi]

    def __len__(self) -> int:
        return len(self._starts)

    def intervals(self) -> list[tuple[int, int]]:
        return list(zip(self._starts, self._ends))


class HazardTracker:
    """Read and write sets per buffer key since the last barrier."""

    __slots__ = ("_reads", "_writes")

    def __init__(self) -> None:
        self._reads: dict[object, IntervalSet] = {}
        self._writes: dict[object, IntervalSet] = {}

    def needs_barrier(self, src: tuple[object, int, int], dst: tuple[object, int, int]) -> bool:
        """``src``/``dst`` are ``(buffer_key, start, end)``."""
        skey, slo, shi = src
        dkey, dlo, dhi = dst
        w = self._writes.get(skey)
        if w is not None and w.overlaps(slo, shi):
            return True
        w = self._writes.get(dkey)
        if w is not None and w.overlaps(dlo, dhi):
            return True
        r = self._reads.get(dkey)
        return r is not None and r.overlaps(dlo, dhi)

    def add(self, src: tuple[object, int, int], dst: tuple[object, int, int]) -> None:
        skey, slo, shi = src
        dkey, dlo, dhi = dst
        r = self._reads.get(skey)
        if r is None:
            r = self._reads[skey] = IntervalSet()
        r.add(slo, shi)
        w = self._writes.get(dkey)
        if w is None:
            w = self._writes[dkey] = IntervalSet()
        w.add(dlo, dhi)

    def clear(self) -> None:
        self._reads.clear()
        self._writes.clear()
