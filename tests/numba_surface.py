"""What numba's typing registry knows of a template of ours: the names it types.

Members come two ways: ``overload_method``/``overload_attribute`` templates (one ``_attr``
each) and plain attribute templates whose ``resolve_<name>`` methods type hand-lowered methods
(the frame allocation methods, begin_frame/end_frame). Tests that enumerate the njit surface
read both through :func:`template_members`, so a member added either way cannot be missed.
"""
from __future__ import annotations


def template_members(template) -> set[str]:
    """The member names a typing template of a framealloc type resolves."""
    attr = getattr(template, "_attr", None)
    if attr is not None:
        return {attr}
    cls = template if isinstance(template, type) else type(template)
    return {n[len("resolve_"):] for n in vars(cls) if n.startswith("resolve_")}


def hand_lowered_params(template, member: str) -> list[str]:
    """Parameter names (after the receiver) of a hand-lowered method: the ``params`` its
    resolver carries (the signature it folds keyword arguments with); none when absent."""
    cls = template if isinstance(template, type) else type(template)
    return list(getattr(vars(cls)[f"resolve_{member}"], "params", []))
