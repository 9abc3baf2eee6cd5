"""Virtual allocators: offset bookkeeping for one block of memory, with no memory behind them.

They hand out ``(offset, size)`` ranges of ``[0, capacity)``; the GPU allocator uses them to
sub-allocate one big ``VkBuffer``/``VkDeviceMemory``, and they are testable without a GPU.

* :class:`VirtualAllocator`: a two-level segregated-fit (TLSF) allocator. Free ranges sit in
  size-class buckets found through a bitmap, so allocate and free are O(1) apart from a bounded
  slow path; neighbouring free ranges are merged on free (coalescing).
* :class:`LinearAllocator`: a bump pointer that is reset as a whole (frame memory).

>>> from framealloc.gpu.virtual import VirtualAllocator
>>> va = VirtualAllocator(1024, granularity=16)
>>> a = va.allocate(100, alignment=64)
>>> b = va.allocate(200)
>>> a % 64, b >= a + 100
(0, True)
>>> va.free(a); va.free(b)
>>> va.free_ranges()
[(0, 1024)]
"""
from __future__ import annotations

from .errors import GpuAlignmentError, GpuSizeError

__all__ = ["VirtualAllocator", "LinearAllocator", "align_up"]

#: Second-level subdivisions per power of two: 2**4 = 16 buckets per octave, so a rounded-up
#: request wastes at most 1/16 of its size in the fast path.
_SL_LOG2 = 4
_SL_COUNT = 1 << _SL_LOG2


def align_up(value: int, alignment: int) -> int:
    """``value`` rounded up to a multiple of ``alignment`` (a power of two)."""
    return (value + alignment - 1) & -alignment


def _bucket(size: int) -> int:
    """Bucket index of a free range of ``size`` bytes (monotone in ``size``)."""
    fl = size.bit_length() - 1
    if fl < _SL_LOG2:
        return size
    return (fl - _SL_LOG2 + 1) * _SL_COUNT + ((size >> (fl - _SL_LOG2)) & (_SL_COUNT - 1))


def _bucket_floor(index: int) -> int:
    """Smallest size that maps to bucket ``index``."""
    if index < _SL_COUNT:
        return index
    fl = index // _SL_COUNT + _SL_LOG2 - 1
    sl = index % _SL_COUNT
    return (1 << fl) + (sl << (fl - _SL_LOG2))


class VirtualAllocator:
    """TLSF sub-allocator over ``[0, capacity)``; every range is a multiple of ``granularity``.

    ``granularity`` is a power of two; sizes are rounded up to it and every offset is a multiple
    of it (the GPU allocator passes the device's ``nonCoherentAtomSize`` for non-coherent
    memory, so two allocations never share a flush/invalidate atom).

    Not thread-safe: the owner serialises calls.
    """

    __slots__ = ("capacity", "granularity", "_free_start", "_free_end", "_used", "_buckets",
                 "_bitmap", "_used_bytes")

    def __init__(self, capacity: int, granularity: int = 16) -> None:
        if granularity <= 0 or granularity & (granularity - 1):
            raise ValueError(f"granularity must be a power of two, got {granularity}")
        capacity = capacity - capacity % granularity
        if capacity <= 0:
            raise ValueError(f"capacity must hold at least one granule of {granularity} bytes")
        self.capacity = capacity
        self.granularity = granularity
        self._free_start: dict[int, int] = {}   # start -> size of each free range
        self._free_end: dict[int, int] = {}     # end -> start of each free range
        self._used: dict[int, int] = {}         # start -> size of each allocation
        self._buckets: dict[int, dict[int, None]] = {}  # bucket -> free starts (ordered set)
        self._bitmap = 0                        # bit b set <=> bucket b is non-empty
        self._used_bytes = 0
        self._insert_free(0, capacity)

    # -- free-range bookkeeping -------------------------------------------------------------
    def _insert_free(self, start: int, size: int) -> None:
        self._free_start[start] = size
        self._free_end[start + size] = start
        b = _bucket(size)
        bucket = self._buckets.get(b)
        if bucket is None:
            bucket = self._buckets[b] = {}
        bucket[start] = None
        self._bitmap |= 1 << b

    def _remove_free(self, start: int) -> int:
        size = self._free_start.pop(start)
        del self._free_end[start + size]
        b = _bucket(size)
        bucket = self._buckets[b]
        del bucket[start]
        if not bucket:
            del self._buckets[b]
            self._bitmap &= ~(1 << b)
        return size

    # -- public API ---------------------------------------------------------------------------
    def allocate(self, size: int, alignment: int = 0) -> int:
        """Offset of a new range of ``size`` bytes aligned to ``alignment``, or -1 if none fits.

        -1 is only returned when no free range can hold the aligned request (checked
        exhaustively on the slow path), never because of bucket rounding.
        FA401 for a size that is not a positive int (a zero-size range would share its offset
        with the next one), FA402 for an alignment that is not 0 or a power of two.
        """
        if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
            raise GpuSizeError(f"a range needs a positive integer size, got {size!r}; ask for "
                               "at least one byte", code="FA401")
        if isinstance(alignment, bool) or not isinstance(alignment, int) or alignment < 0 \
                or alignment & (alignment - 1):
            raise GpuAlignmentError(f"alignment must be 0 or a power of two, got {alignment!r}",
                                    code="FA402")
        gran = self.granularity
        size = (size + gran - 1) & -gran
        align = alignment if alignment > gran else gran
        # Fast path: the first non-empty bucket whose every range holds size + worst padding.
        need = size + (align - gran)
        idx = _bucket(need)
        if _bucket_floor(idx) != need:
            idx += 1
        mask = self._bitmap >> idx
        if mask:
            b = idx + (mask & -mask).bit_length() - 1
            start = next(iter(self._buckets[b]))
        else:
            start = self._find_slow(size, align)
            if start < 0:
                return -1
        return self._carve(start, size, align)

    def _find_slow(self, size: int, align: int) -> int:
        """Exhaustive search of every free range that may hold the aligned request."""
        idx = _bucket(size)
        mask = self._bitmap >> idx
        while mask:
            low = (mask & -mask).bit_length() - 1
            b = idx + low
            for start in self._buckets[b]:
                if align_up(start, align) + size <= start + self._free_start[start]:
                    return start
            mask >>= low + 1
            idx = b + 1
        return -1

    def _carve(self, start: int, size: int, align: int) -> int:
        free_size = self._remove_free(start)
        offset = align_up(start, align)
        if offset > start:
            self._insert_free(start, offset - start)
        tail = start + free_size - (offset + size)
        if tail > 0:
            self._insert_free(offset + size, tail)
        self._used[offset] = size
        self._used_bytes += size
        return offset

    def free(self, offset: int) -> None:
        """Release the range starting at ``offset`` and merge it with free neighbours.

        Raises ``KeyError`` when ``offset`` is not the start of a live range.
        """
        size = self._used.pop(offset)
        self._used_bytes -= size
        start, end = offset, offset + size
        if end in self._free_start:
            end += self._remove_free(end)
        prev = self._free_end.get(start)
        if prev is not None:
            self._remove_free(prev)
            start = prev
        self._insert_free(start, end - start)

    def size_of(self, offset: int) -> int:
        """Size (rounded to the granularity) of the live range at ``offset``."""
        return self._used[offset]

    def reset(self) -> None:
        """Free every range at once."""
        self.__init__(self.capacity, self.granularity)  # type: ignore[misc]

    # -- statistics -------------------------------------------------------------------------
    @property
    def used_bytes(self) -> int:
        return self._used_bytes

    @property
    def free_bytes(self) -> int:
        return self.capacity - self._used_bytes

    @property
    def allocation_count(self) -> int:
        return len(self._used)

    @property
    def is_empty(self) -> bool:
        return not self._used

    def largest_free(self) -> int:
        """Size of the largest free range (0 when full)."""
        if not self._bitmap:
            return 0
        top = self._bitmap.bit_length() - 1
        return max(self._free_start[s] for s in self._buckets[top])

    def fragmentation(self) -> float:
        """0.0 when the free space is one range (or none), towards 1.0 as it splinters."""
        free = self.free_bytes
        return 0.0 if free == 0 else 1.0 - self.largest_free() / free

    def free_ranges(self) -> list[tuple[int, int]]:
        """Sorted ``(offset, size)`` of every free range."""
        return sorted(self._free_start.items())

    def allocations(self) -> list[tuple[int, int]]:
        """Sorted ``(offset, size)`` of every live range."""
        return sorted(self._used.items())


class LinearAllocator:
    """A bump allocator over ``[0, capacity)``: allocate moves a cursor, ``reset`` rewinds it.

    >>> la = LinearAllocator(256)
    >>> la.allocate(10, 16), la.allocate(10, 64), la.allocate(1000, 16)
    (0, 64, -1)
    """

    __slots__ = ("capacity", "cursor", "peak")

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.cursor = 0
        self.peak = 0

    def allocate(self, size: int, alignment: int) -> int:
        """Offset of ``size`` bytes aligned to ``alignment`` (power of two), or -1 when full."""
        offset = (self.cursor + alignment - 1) & -alignment
        end = offset + size
        if end > self.capacity:
            return -1
        self.cursor = end
        if end > self.peak:
            self.peak = end
        return offset

    def reset(self) -> None:
        self.cursor = 0
