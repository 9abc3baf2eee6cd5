"""What GPU memory is *for*, independent of any backend.

Users describe an allocation by intent (how the CPU and GPU use it), lifetime (how long it lives)
and buffer usage flags; the allocator picks the memory type, the block and the alignment.

>>> from framealloc.gpu import GpuAllocRequirements, GpuMemoryIntent, GpuLifetime, BufferUsage
>>> req = GpuAllocRequirements(4096, GpuMemoryIntent.STAGING, GpuLifetime.FRAME)
>>> req.usage == BufferUsage.TRANSFER_SRC
True
>>> GpuAllocRequirements(256, "device_local", "persistent", BufferUsage.STORAGE).intent
<GpuMemoryIntent.DEVICE_LOCAL: 0>
"""
from __future__ import annotations

import enum
import operator
from dataclasses import dataclass
from typing import SupportsIndex, cast

from .errors import GpuAlignmentError, GpuSizeError, GpuUsageError

__all__ = [
    "GpuMemoryIntent",
    "GpuLifetime",
    "BufferUsage",
    "GpuAllocRequirements",
    "MAX_ALIGNMENT",
    "check_size",
    "check_alignment",
]

#: Largest alignment a request may ask for: well above every device limit (256 on real GPUs).
MAX_ALIGNMENT = 65536

#: Sizes above this are rejected before any device is asked (2**47 B, as the CPU allocator does).
_SIZE_SANITY_LIMIT = 1 << 47


class GpuMemoryIntent(enum.IntEnum):
    """How the memory is used; decides the memory type (with fallbacks) and host access.

    * ``DEVICE_LOCAL``: read and written by the GPU only (vertex data, storage buffers,
      simulation state). Fastest for the GPU; never mapped (use ``upload``/``readback``).
    * ``STAGING``: written by the CPU once, read by a GPU copy (upload source). Host-visible,
      preferably write-combined (not cached).
    * ``READBACK``: written by a GPU copy, read by the CPU. Host-visible, preferably cached.
    * ``DYNAMIC``: written by the CPU every frame and read by the GPU directly (uniforms,
      per-frame constants). Host-visible, preferably device-local (ReBAR / unified memory).
    """

    DEVICE_LOCAL = 0
    STAGING = 1
    READBACK = 2
    DYNAMIC = 3

    #: ``UPLOAD`` is another name for ``STAGING``.
    UPLOAD = 1

    @property
    def host_access(self) -> bool:
        """True when allocations of this intent are persistently mapped into host memory."""
        return self is not GpuMemoryIntent.DEVICE_LOCAL


class GpuLifetime(enum.IntEnum):
    """How long an allocation lives; decides which sub-allocator serves it.

    * ``FRAME``: until the end of the current frame. Served by a per-frame-in-flight linear ring
      (a bump of an offset); recycled only once the GPU has finished that frame (fence).
    * ``PERSISTENT``: until ``free()``. Served by a TLSF sub-allocator over large blocks.
    * ``TRANSIENT``: until ``free()``, expected within a few frames (streaming, one-off
      uploads). Same sub-allocator as PERSISTENT but in separate blocks, so short-lived churn
      does not fragment long-lived data.
    """

    FRAME = 0
    PERSISTENT = 1
    TRANSIENT = 2


class BufferUsage(enum.IntFlag):
    """What the buffer range is bound as. Values equal Vulkan's ``VkBufferUsageFlagBits``.

    Usage affects the offset alignment (uniform, storage and texel buffers have device minimums)
    and what transfers are allowed (``upload`` needs ``TRANSFER_DST`` on the destination).
    """

    TRANSFER_SRC = 0x1
    TRANSFER_DST = 0x2
    UNIFORM_TEXEL = 0x4
    STORAGE_TEXEL = 0x8
    UNIFORM = 0x10
    STORAGE = 0x20
    INDEX = 0x40
    VERTEX = 0x80
    INDIRECT = 0x100

    @classmethod
    def all(cls) -> BufferUsage:
        """Every usage flag framealloc supports (each block's VkBuffer is created with these)."""
        return _ALL_USAGE

    @classmethod
    def default_for(cls, intent: GpuMemoryIntent) -> BufferUsage:
        """The usage an allocation gets when ``usage=None``.

        >>> BufferUsage.default_for(GpuMemoryIntent.READBACK)
        <BufferUsage.TRANSFER_DST: 2>
        """
        return _DEFAULT_USAGE[GpuMemoryIntent(intent)]


_ALL_USAGE = BufferUsage(0x1FF)
_DEFAULT_USAGE = {
    GpuMemoryIntent.DEVICE_LOCAL: BufferUsage.STORAGE | BufferUsage.VERTEX | BufferUsage.INDEX
    | BufferUsage.INDIRECT | BufferUsage.TRANSFER_DST | BufferUsage.TRANSFER_SRC,
    GpuMemoryIntent.STAGING: BufferUsage.TRANSFER_SRC,
    GpuMemoryIntent.READBACK: BufferUsage.TRANSFER_DST,
    GpuMemoryIntent.DYNAMIC: BufferUsage.UNIFORM | BufferUsage.STORAGE | BufferUsage.VERTEX
    | BufferUsage.INDEX | BufferUsage.TRANSFER_SRC | BufferUsage.TRANSFER_DST,
}


def _valid_usages(intent: GpuMemoryIntent) -> frozenset[BufferUsage]:
    """Every non-empty usage combination that is possible for ``intent`` (cached per intent)."""
    need = {GpuMemoryIntent.STAGING: BufferUsage.TRANSFER_SRC,
            GpuMemoryIntent.READBACK: BufferUsage.TRANSFER_DST}.get(intent, BufferUsage(0))
    return frozenset(BufferUsage(u) for u in range(1, int(_ALL_USAGE) + 1) if u & need == need)


_VALID_USAGE_BY_INTENT = {i: _valid_usages(i) for i in GpuMemoryIntent}


def _coerce_enum(enum_cls: type[enum.IntEnum], value: object, what: str) -> enum.IntEnum:
    if type(value) is enum_cls:
        return value
    if isinstance(value, str):
        key = value.strip().upper().replace("-", "_").replace(" ", "_")
        if key == "DEVICELOCAL":
            key = "DEVICE_LOCAL"
        if key in enum_cls.__members__:
            return enum_cls.__members__[key]
    names = ", ".join(m.name for m in enum_cls)
    raise GpuUsageError(
        f"{what} must be a {enum_cls.__name__} (one of {names}) or its name as a string, "
        f"got {value!r}", code="FA403")


def check_size(size: object) -> int:
    """Return ``size`` as an int, or raise :class:`GpuSizeError` (FA401) naming the problem."""
    if isinstance(size, bool) or not hasattr(type(size), "__index__"):
        raise GpuSizeError(
            f"GPU allocation size must be an integer number of bytes, got {size!r} "
            f"({type(size).__name__}); pass e.g. `array.nbytes`", code="FA401")
    n = operator.index(cast(SupportsIndex, size))     # __index__ checked above
    if n <= 0:
        raise GpuSizeError(
            f"GPU allocation size must be positive, got {n}; Vulkan buffers cannot be empty",
            code="FA401")
    if n > _SIZE_SANITY_LIMIT:
        raise GpuSizeError(
            f"GPU allocation size {n} is beyond any device (limit 2**47 bytes); split the data",
            code="FA401")
    return n


def check_alignment(alignment: object) -> int:
    """Return ``alignment`` as an int (0 = device default) or raise :class:`GpuAlignmentError`."""
    if isinstance(alignment, bool) or not hasattr(type(alignment), "__index__"):
        raise GpuAlignmentError(
            f"alignment must be an integer power of two (or 0 for the default), got {alignment!r}",
            code="FA402")
    a = operator.index(cast(SupportsIndex, alignment))     # __index__ checked above
    if a == 0:
        return 0
    if a < 0 or a & (a - 1) or a > MAX_ALIGNMENT:
        raise GpuAlignmentError(
            f"alignment must be 0 or a power of two between 1 and {MAX_ALIGNMENT}, got {a}",
            code="FA402")
    return a


def check_usage(usage: object, intent: GpuMemoryIntent) -> BufferUsage:
    """Validate ``usage`` for ``intent``; ``None`` gives the intent's default."""
    _VALID_USAGE = _VALID_USAGE_BY_INTENT[intent]
    if usage is None:
        return _DEFAULT_USAGE[intent]
    if type(usage) is BufferUsage and usage in _VALID_USAGE:
        return usage
    if isinstance(usage, bool) or not hasattr(type(usage), "__index__"):
        raise GpuUsageError(f"usage must be BufferUsage flags, got {usage!r}", code="FA403")
    u = operator.index(cast(SupportsIndex, usage))     # __index__ checked above
    if u == 0:
        raise GpuUsageError(
            "usage is empty: a buffer needs at least one BufferUsage flag "
            "(or pass usage=None for the intent's default)", code="FA403")
    if u & ~int(_ALL_USAGE):
        raise GpuUsageError(
            f"usage {u:#x} has bits framealloc does not support ({u & ~int(_ALL_USAGE):#x}); "
            f"use BufferUsage flags only", code="FA403")
    u = BufferUsage(u)
    if intent is GpuMemoryIntent.STAGING and not u & BufferUsage.TRANSFER_SRC:
        raise GpuUsageError(
            "a STAGING (upload) buffer is the source of a GPU copy and needs "
            "BufferUsage.TRANSFER_SRC; add it or pass usage=None", code="FA403")
    if intent is GpuMemoryIntent.READBACK and not u & BufferUsage.TRANSFER_DST:
        raise GpuUsageError(
            "a READBACK buffer is the destination of a GPU copy and needs "
            "BufferUsage.TRANSFER_DST; add it or pass usage=None", code="FA403")
    return u


def coerce_intent(intent: object) -> GpuMemoryIntent:
    """``intent`` as a :class:`GpuMemoryIntent` (names as strings accepted) or FA403."""
    return _coerce_enum(GpuMemoryIntent, intent, "intent")  # type: ignore[return-value]


def coerce_lifetime(lifetime: object) -> GpuLifetime:
    """``lifetime`` as a :class:`GpuLifetime` (names as strings accepted) or FA403."""
    return _coerce_enum(GpuLifetime, lifetime, "lifetime")  # type: ignore[return-value]


@dataclass(frozen=True)
class GpuAllocRequirements:
    """Everything the allocator needs to know about one allocation; validated on creation.

    ``usage=None`` picks :meth:`BufferUsage.default_for` the intent; ``alignment=0`` lets the
    device limits decide; ``name`` shows up in stats and the JSON dump.

    >>> r = GpuAllocRequirements(1 << 20, GpuMemoryIntent.DEVICE_LOCAL, GpuLifetime.PERSISTENT,
    ...                          BufferUsage.STORAGE | BufferUsage.TRANSFER_DST, name="particles")
    >>> r.size, r.lifetime.name
    (1048576, 'PERSISTENT')
    """

    size: int
    intent: GpuMemoryIntent = GpuMemoryIntent.DEVICE_LOCAL
    lifetime: GpuLifetime = GpuLifetime.PERSISTENT
    usage: BufferUsage | None = None
    alignment: int = 0
    name: str | None = None

    def __post_init__(self) -> None:
        intent = coerce_intent(self.intent)
        object.__setattr__(self, "size", check_size(self.size))
        object.__setattr__(self, "intent", intent)
        object.__setattr__(self, "lifetime", coerce_lifetime(self.lifetime))
        object.__setattr__(self, "usage", check_usage(self.usage, intent))
        object.__setattr__(self, "alignment", check_alignment(self.alignment))
        if self.name is not None and not isinstance(self.name, str):
            raise GpuUsageError(f"name must be a str or None, got {self.name!r}", code="FA403")
