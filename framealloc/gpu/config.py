"""Configuration of the GPU allocator: block sizes, frames in flight, budgets.

Defaults serve a renderer or a simulation with no arguments.

>>> from framealloc.gpu import GpuConfig, GpuBudget
>>> GpuConfig().frames_in_flight
2
>>> cfg = GpuConfig(block_size=16 << 20, budget=GpuBudget(soft=256 << 20, hard=512 << 20))
>>> cfg.dedicated_threshold
8388608
"""
from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from .errors import GpuConfigError

__all__ = ["GpuConfig", "GpuBudget", "BudgetEvent", "MiB"]

MiB = 1 << 20


def _int_field(name: str, value: Any, lo: int, hi: int | None = None, pow2: bool = False) -> int:
    if isinstance(value, bool) or not hasattr(type(value), "__index__"):
        raise GpuConfigError(f"GpuConfig.{name} must be an integer, got {value!r}", code="FA417")
    v = operator.index(value)
    if v < lo or (hi is not None and v > hi):
        rng = f">= {lo}" if hi is None else f"between {lo} and {hi}"
        raise GpuConfigError(f"GpuConfig.{name} must be {rng}, got {v}", code="FA417")
    if pow2 and v & (v - 1):
        raise GpuConfigError(f"GpuConfig.{name} must be a power of two, got {v}", code="FA417")
    return v


@dataclass(frozen=True)
class BudgetEvent:
    """Passed to ``GpuBudget.on_soft`` when reserved device memory crosses a soft limit."""

    scope: str          # "total" or "heap <i>"
    usage: int          # bytes after the allocation
    limit: int          # the soft limit crossed


@dataclass(frozen=True)
class GpuBudget:
    """Soft and hard limits on device memory reserved by the allocator (bytes).

    Limits apply to device memory (blocks, frame chunks, dedicated allocations), checked when
    the allocator asks the device for more, so they cost nothing on the hot path. A hard limit
    raises :class:`GpuBudgetExceededError` (FA406); a soft limit warns once per crossing with
    :class:`GpuBudgetWarning` (FA407) and calls ``on_soft``. ``heap_soft`` / ``heap_hard`` map a
    heap index to a limit. With ``respect_device_budget`` (default) each heap's device budget
    (VK_EXT_memory_budget, else ``GpuConfig.device_budget_fraction`` of the heap) is a hard
    limit too.
    """

    soft: int | None = None
    hard: int | None = None
    heap_soft: Mapping[int, int] = field(default_factory=dict)
    heap_hard: Mapping[int, int] = field(default_factory=dict)
    on_soft: Callable[[BudgetEvent], None] | None = None
    respect_device_budget: bool = True

    def __post_init__(self) -> None:
        for name in ("soft", "hard"):
            v = getattr(self, name)
            if v is not None:
                object.__setattr__(self, name, _int_field(f"budget.{name}", v, 1))
        if self.soft is not None and self.hard is not None and self.soft > self.hard:
            raise GpuConfigError(
                f"GpuBudget.soft ({self.soft}) is above hard ({self.hard}); a soft limit warns "
                "before the hard one stops allocations", code="FA417")
        for name in ("heap_soft", "heap_hard"):
            m = {_int_field(f"budget.{name} key", k, 0): _int_field(f"budget.{name}[{k}]", v, 1)
                 for k, v in dict(getattr(self, name)).items()}
            object.__setattr__(self, name, m)
        if self.on_soft is not None and not callable(self.on_soft):
            raise GpuConfigError("GpuBudget.on_soft must be callable or None", code="FA417")


@dataclass(frozen=True)
class GpuConfig:
    """Tuning of a :class:`~framealloc.gpu.GpuAllocator`.

    * ``block_size``: size of each device-memory block that persistent/transient allocations
      are carved from (power of two; heaps of 1 GiB or less use heap/8 instead).
    * ``frame_chunk_size``: size of each chunk of a frame ring (per intent, per frame in
      flight); a frame that needs more chains another chunk, kept for later frames.
    * ``frames_in_flight``: frames the CPU may run ahead of the GPU; frame memory is recycled
      when the fence of the frame ``frames_in_flight`` earlier has signalled.
    * ``dedicated_threshold``: requests this large get their own device memory (default
      ``block_size // 2``).
    * ``min_alignment``: smallest alignment of any range (16 suits every NumPy dtype).
    * ``max_memory_allocations``: cap on live device-memory objects (also capped by the
      device's maxMemoryAllocationCount); the design keeps far below it.
    * ``keep_empty_blocks``: empty persistent blocks kept per pool to avoid re-allocation churn.
    * ``frame_chunk_trim_frames``: a frame chunk unused for this many cycles of its slot is freed.
    * ``device_budget_fraction``: share of each heap used as its budget without
      VK_EXT_memory_budget.
    * ``fence_timeout_s``: longest wait for the GPU before FA416.
    """

    block_size: int = 64 * MiB
    frame_chunk_size: int = 4 * MiB
    frames_in_flight: int = 2
    dedicated_threshold: int | None = None
    min_alignment: int = 16
    max_memory_allocations: int = 1024
    keep_empty_blocks: int = 1
    frame_chunk_trim_frames: int = 16
    device_budget_fraction: float = 0.8
    fence_timeout_s: float = 10.0
    budget: GpuBudget = field(default_factory=GpuBudget)

    def __post_init__(self) -> None:
        bs = _int_field("block_size", self.block_size, 64 * 1024, 1 << 40, pow2=True)
        object.__setattr__(self, "block_size", bs)
        object.__setattr__(self, "frame_chunk_size",
                           _int_field("frame_chunk_size", self.frame_chunk_size, 4096, 1 << 40,
                                      pow2=True))
        object.__setattr__(self, "frames_in_flight",
                           _int_field("frames_in_flight", self.frames_in_flight, 1, 16))
        dt = bs // 2 if self.dedicated_threshold is None else self.dedicated_threshold
        object.__setattr__(self, "dedicated_threshold", _int_field("dedicated_threshold", dt, 1))
        object.__setattr__(self, "min_alignment",
                           _int_field("min_alignment", self.min_alignment, 1, 4096, pow2=True))
        object.__setattr__(self, "max_memory_allocations",
                           _int_field("max_memory_allocations", self.max_memory_allocations, 1))
        object.__setattr__(self, "keep_empty_blocks",
                           _int_field("keep_empty_blocks", self.keep_empty_blocks, 0))
        object.__setattr__(self, "frame_chunk_trim_frames",
                           _int_field("frame_chunk_trim_frames", self.frame_chunk_trim_frames, 1))
        f = self.device_budget_fraction
        if isinstance(f, bool) or not isinstance(f, (int, float)) or not 0.0 < f <= 1.0:
            raise GpuConfigError(
                f"GpuConfig.device_budget_fraction must be in (0, 1], got {f!r}", code="FA417")
        t = self.fence_timeout_s
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not t >= 0:
            raise GpuConfigError(
                f"GpuConfig.fence_timeout_s must be a number >= 0, got {t!r}", code="FA417")
        if not isinstance(self.budget, GpuBudget):
            raise GpuConfigError(
                f"GpuConfig.budget must be a GpuBudget, got {type(self.budget).__name__}",
                code="FA417")
