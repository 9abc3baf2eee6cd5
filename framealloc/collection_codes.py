"""Exceptions and diagnostic codes of frame collections and frame layouts (FA130–FA149).

``framealloc.explain("FA131")`` gives the long form. Every exception here is a
:class:`~framealloc.FrameAllocError` carrying its code in ``.code`` and also a fitting builtin
(``except IndexError`` catches a push on a full :class:`~framealloc.FrameVec`, ``except KeyError``
a missing :class:`~framealloc.FrameMap` key). Errors raised inside ``@njit`` code carry the same
codes (their message starts with ``"FAnnn: "``).

>>> import framealloc as fa
>>> print(fa.explain("FA131").splitlines()[0])
FA131 FrameVec is full
"""
from __future__ import annotations

from .errors import CodeInfo, FrameAllocError

__all__ = [
    "CODES", "CollectionCapacityError", "CollectionFullError", "CollectionEmptyError",
    "CollectionIndexError", "FrameMapKeyError", "CollectionDtypeError", "CollectionKeyError",
    "CollectionValueError", "LayoutError",
]


class CollectionCapacityError(FrameAllocError, ValueError):
    """A FrameVec/FrameMap capacity is negative, not an integer, or too large (FA130)."""

    default_code = "FA130"


class CollectionFullError(FrameAllocError, IndexError):
    """A push on a full FrameVec (FA131) or a new key in a full FrameMap (FA134)."""

    default_code = "FA131"


class CollectionEmptyError(FrameAllocError, IndexError):
    """A pop from an empty FrameVec (FA132)."""

    default_code = "FA132"


class CollectionIndexError(FrameAllocError, IndexError):
    """A FrameVec index outside ``0 <= i < len(vec)``; negative ones count from the end (FA133)."""

    default_code = "FA133"


class FrameMapKeyError(FrameAllocError, KeyError):
    """``m[key]`` or ``m.remove(key)`` for a key the FrameMap does not hold (FA135)."""

    default_code = "FA135"

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return str(self.args[0]) if self.args else ""


class CollectionDtypeError(FrameAllocError, TypeError):
    """A dtype a collection cannot use: a FrameMap key dtype that is not an integer, or a
    subarray element dtype (FA136)."""

    default_code = "FA136"


class CollectionKeyError(FrameAllocError, TypeError, ValueError):
    """A FrameMap key that is not an integer or does not fit the map's key dtype (FA137)."""

    default_code = "FA137"


class CollectionValueError(FrameAllocError, TypeError, ValueError):
    """A value that cannot be stored in a collection's element/value dtype (FA139)."""

    default_code = "FA139"


class LayoutError(FrameAllocError, ValueError):
    """A frame layout declaration is malformed: no fields, a bad field name, or a field that is
    not ``(shape, dtype)`` / ``(shape, dtype, align)`` (FA138)."""

    default_code = "FA138"


CODES: dict[str, CodeInfo] = {}


def _add(code: str, title: str, explanation: str, exception: type) -> None:
    assert code not in CODES, f"duplicate diagnostic code {code}"
    assert 130 <= int(code[2:]) <= 149, f"{code} is outside this module's FA130-FA149 range"
    CODES[code] = CodeInfo(code, title, explanation.strip(), exception.__name__)


_add("FA130", "bad collection capacity", """
The capacity given to `frame_vec(dtype, capacity)` or `frame_map(key_dtype, value_dtype, capacity)`
is negative, not an integer, or so large that the collection would exceed 2**47 bytes.
Pass a non-negative Python/NumPy integer: the most elements (FrameVec) or keys (FrameMap) the
collection must hold in this frame. Nothing was allocated.""", CollectionCapacityError)
_add("FA131", "FrameVec is full", """
`push` (or `extend`) on a FrameVec that holds `capacity` elements already. A FrameVec never grows:
its storage is one frame allocation. Create it with a larger capacity, check `vec.is_full`
first, or use `try_push`, which returns False instead of raising. The vec is unchanged.""",
     CollectionFullError)
_add("FA132", "FrameVec is empty", """
`pop` on an empty FrameVec. Check `len(vec)` first, or use `try_pop`, which returns None.""",
     CollectionEmptyError)
_add("FA133", "FrameVec index out of range", """
`vec[i]` with `i` outside `0 <= i < len(vec)` (negative indices count from the end, as for lists).
Indices at or past `len(vec)` are out of range even below the capacity: push elements first.""",
     CollectionIndexError)
_add("FA134", "FrameMap is full", """
`insert` of a new key into a FrameMap that holds `capacity` keys already. Updating a key the map
holds never fails. Create the map with a larger capacity, or use `try_insert`, which returns
False instead of raising. The map is unchanged.""", CollectionFullError)
_add("FA135", "key not in FrameMap", """
`m[key]` or `m.remove(key)` for a key the map does not hold. Use `m.get(key, default)`,
`key in m` / `m.contains(key)`, or `m.try_remove(key)`, which returns False.""", FrameMapKeyError)
_add("FA136", "unsupported collection dtype", """
FrameMap keys must have an integer dtype (int8 ... uint64): they are hashed as integers. Map a
float, string or record key to an integer first (e.g. a grid cell `ix * ny + iy`).
Collection elements and map values may be any fixed-size NumPy dtype (numeric, bool, datetime,
record) except subarray dtypes such as `('f4', 3)`: use a record dtype with a subarray field
(`[('v', 'f4', 3)]`) instead. Object and unsized dtypes raise FA006.""", CollectionDtypeError)
_add("FA137", "bad FrameMap key", """
A FrameMap key is not an integer (Python int or NumPy integer scalar; floats and bools are not
accepted) or does not fit the map's key dtype (e.g. 300 in a uint8-keyed map, -1 in an unsigned
one). Inside @njit the key must have an integer type. The map is unchanged.""", CollectionKeyError)
_add("FA138", "bad frame layout", """
`alloc.frame_layout(...)` needs at least one field, each given as `name=(shape, dtype)` or
`name=(shape, dtype, align)`, with names that are identifiers not starting with an underscore.
Shapes, dtypes and alignments are checked like `frame_array`'s (FA004, FA005, FA006, FA007,
FA014).""", LayoutError)
_add("FA139", "value does not fit the collection's dtype", """
A value pushed into a FrameVec or inserted into a FrameMap cannot be converted to the
collection's element/value dtype (NumPy's assignment rules decide, e.g. a string into a float
vec). The collection is unchanged.""", CollectionValueError)
