"""GPU copies: batching per frame, hazard tracking, and immediate (waited) transfers.

:class:`TransferEngine` owns one command recorder per frame in flight plus one for immediate
transfers (outside frames, and readbacks, which must wait). Within a batch it inserts a barrier
only where two copies touch the same bytes (see :class:`HazardTracker`).

When must a barrier separate two copies?

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
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from .errors import GpuTimeoutError, GpuTransferError

if TYPE_CHECKING:
    from .blocks import Block
    from .protocol import GpuBackend

__all__ = ["IntervalSet", "HazardTracker", "TransferEngine", "as_bytes", "check_offset"]


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


class TransferEngine:
    """Recorders and hazard trackers for the frame slots and for immediate transfers.

    ``release`` is called with ``(block, offset)`` for staging ranges whose free had to wait
    for an immediate transfer that timed out (they are released once it completed).
    """

    def __init__(self, backend: GpuBackend, frames_in_flight: int, timeout_s: float,
                 release: Callable[[Block, int], None]) -> None:
        self._timeout = timeout_s
        self._release = release
        self._recorders: list[Any] = []
        try:
            for _ in range(frames_in_flight):
                self._recorders.append(backend.create_recorder())
            self._imm = backend.create_recorder()
        except BaseException:
            for r in self._recorders:
                r.destroy()
            raise
        self._trackers = [HazardTracker() for _ in range(frames_in_flight)]
        self._imm_tracker = HazardTracker()
        self._imm_outstanding = False
        self._zombies: list[tuple[Block, int]] = []
        self.copies_recorded = 0

    # -- frame slots --------------------------------------------------------------------------
    def record(self, slot: int, sblock: Block, soff: int, dblock: Block, doff: int,
               n: int) -> None:
        """Batch a copy into ``slot``'s command buffer (barrier first if it must wait)."""
        self._record(self._recorders[slot], self._trackers[slot], sblock, soff, dblock, doff, n)

    def has_pending(self, slot: int) -> bool:
        return self._recorders[slot].has_pending()

    def submit(self, slot: int) -> None:
        """Submit what ``slot`` recorded (possibly nothing) with a fence."""
        self._trackers[slot].clear()
        self._recorders[slot].submit()

    def wait(self, slot: int, timeout_s: float) -> bool:
        """True when every submission of ``slot`` has completed (waits up to ``timeout_s``)."""
        return self._recorders[slot].wait(timeout_s)

    def reset(self, slot: int) -> None:
        self._recorders[slot].reset()
        self._trackers[slot].clear()

    # -- immediate transfers --------------------------------------------------------------------
    def run_immediate(self, sblock: Block, soff: int, dblock: Block, doff: int, n: int) -> None:
        """Record, submit and wait for one copy (ordered after all earlier submissions)."""
        self.finish_immediate()
        self.submit_immediate(sblock, soff, dblock, doff, n)
        self.finish_immediate()

    def submit_immediate(self, sblock: Block, soff: int, dblock: Block, doff: int,
                         n: int) -> None:
        """Record and submit one copy without waiting (:meth:`finish_immediate` waits)."""
        self._imm_tracker.clear()
        self._record(self._imm, self._imm_tracker, sblock, soff, dblock, doff, n)
        self._imm.submit()
        self._imm_outstanding = True

    def finish_immediate(self) -> None:
        """Wait for an outstanding immediate submission; release what waited for it."""
        if not self._imm_outstanding:
            return
        if not self._imm.wait(self._timeout):
            raise GpuTimeoutError(
                f"a transfer has not finished after {self._timeout} s; check that work you "
                "submitted can complete, or raise GpuConfig.fence_timeout_s", code="FA416")
        self._imm.reset()
        self._imm_outstanding = False
        zombies, self._zombies = self._zombies, []
        for block, offset in zombies:
            self._release(block, offset)

    def defer_while_busy(self, block: Block, offset: int) -> bool:
        """Keep a staging range until a timed-out immediate transfer completes; True if kept."""
        if self._imm_outstanding:
            self._zombies.append((block, offset))
            return True
        return False

    # -- internals ----------------------------------------------------------------------------
    def _record(self, rec: Any, tracker: HazardTracker, sblock: Block, soff: int,
                dblock: Block, doff: int, n: int) -> None:
        src = (sblock.serial, soff, soff + n)
        dst = (dblock.serial, doff, doff + n)
        if tracker.needs_barrier(src, dst):
            rec.barrier()
            tracker.clear()
        rec.copy(sblock.handle, soff, dblock.handle, doff, n)
        tracker.add(src, dst)
        self.copies_recorded += 1

    def destroy(self) -> None:
        for rec in self._recorders:
            rec.destroy()
        self._imm.destroy()
        self._zombies.clear()


def as_bytes(array: Any) -> np.ndarray:
    """A flat uint8 view (or contiguous copy) of ``array``'s bytes; FA412 for object arrays."""
    if isinstance(array, (bytes, bytearray, memoryview)):
        return np.frombuffer(array, np.uint8)
    arr = np.asarray(array)
    if arr.dtype.hasobject:
        raise GpuTransferError("cannot upload an object array: its elements are Python "
                               "references, not data", code="FA412")
    return np.ascontiguousarray(arr).reshape(-1).view(np.uint8)


def check_offset(offset: Any, n: int, size: int, what: str) -> int:
    """``offset`` as an int such that ``n`` bytes from it fit in ``size``, else FA412."""
    if isinstance(offset, bool) or not hasattr(type(offset), "__index__"):
        raise GpuTransferError(f"{what} offset must be an integer, got {offset!r}", code="FA412")
    off = int(offset)
    if off < 0 or off + n > size:
        raise GpuTransferError(
            f"{what} of {n} bytes at offset {off} does not fit in the {size}-byte allocation",
            code="FA412")
    return off
