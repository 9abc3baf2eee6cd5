"""Code selectors: ``FA601`` (one code), ``FA6`` / ``FA6xx`` (a family), ``FA60`` / ``FA60x``
(a decade) and ``FA`` (everything)."""
from __future__ import annotations

import re
from collections.abc import Iterable

from .codes import CODES

__all__ = ["SelectorError", "normalize_selector", "expand", "matches"]

_SELECTOR_RE = re.compile(r"^FA(\d{0,3})(X*)$")


class SelectorError(ValueError):
    """A selector names no lint code."""


def normalize_selector(text: str) -> str:
    """Turn ``"fa6xx"`` into the prefix ``"FA6"``; raise :class:`SelectorError` if it is malformed
    or matches no lint code."""
    raw = str(text).strip().upper()
    m = _SELECTOR_RE.match(raw)
    if not m or len(m.group(1)) + len(m.group(2)) > 3:
        raise SelectorError(
            f"{text!r} is not a code or family: use a code like FA601, a family like FA6 or FA6xx, "
            "or FA for all; run `framealloc list` to see the codes")
    prefix = "FA" + m.group(1)
    if not any(code.startswith(prefix) for code in CODES):
        raise SelectorError(
            f"{text!r} matches no lint code; run `framealloc list` to see the codes")
    return prefix


def expand(selectors: Iterable[str]) -> set[str]:
    """All lint codes matched by any of ``selectors``."""
    prefixes = [normalize_selector(s) for s in selectors]
    return {code for code in CODES if any(code.startswith(p) for p in prefixes)}


def matches(code: str, selectors: Iterable[str]) -> bool:
    """Whether ``code`` is matched by one of the (already normalised or raw) ``selectors``."""
    return any(code.startswith(normalize_selector(s)) for s in selectors)
