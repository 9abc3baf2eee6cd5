"""The abstract state the data-flow walker carries along each path of a function."""
from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Origin", "Ref", "Taint", "State", "merge", "EMPTY"]


@dataclass(frozen=True)
class Origin:
    """One frame-allocation site at ``line``: ``call`` (``alloc.frame_array``) allocates from the
    frame of ``receiver`` (``"*"``: an allocator the walk cannot name)."""

    line: int
    col: int
    receiver: str
    call: str
    local_frame: bool  # allocated while a frame opened in this function was open


@dataclass(frozen=True)
class Ref:
    """A value refers to frame memory from ``origin`` (directly, or through a closure)."""

    origin: Origin
    closure: bool = False


Taint = frozenset[Ref]
EMPTY: Taint = frozenset()


@dataclass
class State:
    """What may hold on one program point (``may`` facts: merged by union).

    ``names``: local names that may refer to frame memory. ``dead``: origins whose frame may have
    ended (with the reason). ``crossed``: origins that may have lived across an ``await`` (with its
    line). ``open``: frames opened in this function that may be open, receiver -> begin sites
    (``None`` stands for a ``with alloc.frame():`` block). ``kinds``: local names bound to a
    queue, executor, container or frame layout.
    """

    names: dict[str, Taint] = field(default_factory=dict)
    dead: dict[Origin, str] = field(default_factory=dict)
    crossed: dict[Origin, int] = field(default_factory=dict)
    open: dict[str, frozenset[tuple[int, int] | None]] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)

    def copy(self) -> "State":
        """An independent copy (the dict values are immutable)."""
        return State(dict(self.names), dict(self.dead), dict(self.crossed), dict(self.open),
                     dict(self.kinds))

    def origins(self) -> set[Origin]:
        """Every origin some name refers to."""
        return {ref.origin for taint in self.names.values() for ref in taint}

    def bind(self, name: str, taint: Taint) -> None:
        """Bind ``name`` to a value with ``taint`` (forgetting it when empty)."""
        if taint:
            self.names[name] = taint
        else:
            self.names.pop(name, None)


def merge(*states: State | None) -> State | None:
    """Join the states of paths that meet; None (no path) when every input is None."""
    live = [s for s in states if s is not None]
    if not live:
        return None
    out = live[0].copy()
    for s in live[1:]:
        for name, taint in s.names.items():
            out.names[name] = out.names.get(name, EMPTY) | taint
        for origin, why in s.dead.items():
            out.dead.setdefault(origin, why)
        for origin, line in s.crossed.items():
            out.crossed.setdefault(origin, line)
        for recv, sites in s.open.items():
            out.open[recv] = out.open.get(recv, frozenset()) | sites
        for name, kind in s.kinds.items():
            out.kinds.setdefault(name, kind)
    return out
