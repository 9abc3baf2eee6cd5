"""The abstract state the data-flow walker carries along each path of a function."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

__all__ = ["Origin", "Ref", "Taint", "State", "merge", "EMPTY", "replace", "boxed", "elements"]


@dataclass(frozen=True)
class Origin:
    """One frame-allocation site at ``line``: ``call`` (``alloc.frame_array``) allocates from the
    frame of ``receiver`` (``"*"``: an allocator the walk cannot name)."""

    line: int
    col: int
    receiver: str
    call: str
    local_frame: bool  # allocated while a frame opened in this function was open
    #: allocated inside ``async with receiver.task_frame():``: the running task's own frame, which
    #: no other task ends, so an ``await`` does not threaten it
    task: bool = False
    #: checkpoints of ``receiver`` active at the allocation (see :class:`State`): a rollback to
    #: one of them frees it
    under: frozenset[tuple[int, int]] = frozenset()


@dataclass(frozen=True)
class Ref:
    """A value refers to frame memory from ``origin`` (directly, or through a closure).

    ``dead`` says why the frame may have ended for this reference (None while live); ``crossed``
    is the line of an ``await`` it may have lived across. They belong to the reference, not to the
    site: in a loop the same site makes a live value each iteration while older values are dead.
    ``items``: the value's elements (``v[i]``, ``a, b = v``) are frame memory too - a Python
    container holding frame arrays, or a frame array of records; the elements of a numeric array
    are copies of the numbers.
    """

    origin: Origin
    closure: bool = False
    dead: str | None = None
    crossed: int | None = None
    items: bool = False


Taint = frozenset[Ref]
EMPTY: Taint = frozenset()


def boxed(taint: Taint) -> Taint:
    """The taint of a Python container holding values with ``taint``."""
    return frozenset(r if r.items else replace(r, items=True) for r in taint)


def elements(taint: Taint) -> Taint:
    """The taint of one element of a value with ``taint`` (``v[i]``, unpacking): only references
    whose elements are frame memory remain."""
    return frozenset(replace(r, items=False) for r in taint if r.items)


@dataclass
class State:
    """What may hold at one program point (``may`` facts: merged by union).

    ``names``: local names that may refer to frame memory. ``open``: frames opened in this scope
    that may be open, receiver -> begin sites (``None`` stands for a ``with x.frame():`` block).
    ``kinds``: local names bound to a queue, executor, container, frame layout or frame driver.
    ``active``: receiver -> the checkpoints (``frame_checkpoint``/``scope_begin`` call sites,
    ``with ...scope():`` / ``checkpoint_guard()`` items) that may be active: a frame allocation
    made now is freed by a rollback to any of them. ``cps``: local names bound to a checkpoint or
    a checkpoint guard -> its sites. ``committed``: guard sites whose ``commit()`` may have run.
    """

    names: dict[str, Taint] = field(default_factory=dict)
    open: dict[str, frozenset[tuple[int, int] | None]] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)
    active: dict[str, frozenset[tuple[int, int]]] = field(default_factory=dict)
    cps: dict[str, frozenset[tuple[int, int]]] = field(default_factory=dict)
    committed: frozenset[tuple[int, int]] = frozenset()

    def copy(self) -> "State":
        """An independent copy (the dict values are immutable)."""
        return State(dict(self.names), dict(self.open), dict(self.kinds), dict(self.active),
                     dict(self.cps), self.committed)

    def origins(self) -> set[Origin]:
        """Every origin some name refers to."""
        return {ref.origin for taint in self.names.values() for ref in taint}

    def bind(self, name: str, taint: Taint) -> None:
        """Bind ``name`` to a value with ``taint`` (forgetting it when empty)."""
        if taint:
            self.names[name] = taint
        else:
            self.names.pop(name, None)

    def update_refs(self, change: Callable[[Ref], Ref]) -> None:
        """Replace every reference held by every name with ``change(ref)``."""
        for name, taint in list(self.names.items()):
            self.names[name] = frozenset(change(r) for r in taint)


def merge(*states: State | None) -> State | None:
    """Join the states of paths that meet; None (no path) when every input is None."""
    live = [s for s in states if s is not None]
    if not live:
        return None
    out = live[0].copy()
    for s in live[1:]:
        for name, taint in s.names.items():
            out.names[name] = out.names.get(name, EMPTY) | taint
        for recv, sites in s.open.items():
            out.open[recv] = out.open.get(recv, frozenset()) | sites
        for name, kind in s.kinds.items():
            out.kinds.setdefault(name, kind)
        for recv, cps in s.active.items():
            out.active[recv] = out.active.get(recv, frozenset()) | cps
        for name, cps in s.cps.items():
            out.cps[name] = out.cps.get(name, frozenset()) | cps
        out.committed |= s.committed
    return out
