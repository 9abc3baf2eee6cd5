"""Dtype and shape validation shared by the Python API and the njit typing layer."""
from __future__ import annotations

import operator

import numpy as np

from .errors import UnsupportedDtypeError, error
from .kernels import status as ST

__all__ = ["resolve_dtype", "natural_alignment", "check_align", "normalize_shape", "MAX_NDIM",
           "box_source"]

#: NumPy's own limit on dimensions.
MAX_NDIM = 32
#: Largest single request in bytes (128 TiB), the same bound the njit path checks.
MAX_BYTES = 1 << 47
MAX_ALIGN = 4096

_cache: dict = {}


def natural_alignment(dt: np.dtype) -> int:
    """The alignment a C compiler would give ``dt``: its largest field's, at least 1."""
    if dt.fields:
        return max([natural_alignment(f[0]) for f in dt.fields.values()] + [1])
    if dt.subdtype is not None:
        return natural_alignment(dt.subdtype[0])
    return max(1, min(dt.alignment, 16))


def resolve_dtype(dtype) -> tuple[np.dtype, int, int]:
    """``(dtype, itemsize, natural alignment)`` for anything ``np.dtype`` accepts, validated.

    Raises :class:`UnsupportedDtypeError` (FA006) for object and unsized dtypes.
    """
    try:
        return _cache[dtype]
    except (KeyError, TypeError):
        pass
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise error(ST.BAD_DTYPE, dtype=f"{dtype!r} (not a NumPy dtype: {exc})") from None
    if dt.hasobject:
        raise error(ST.BAD_DTYPE, dtype=f"dtype {dt} (it holds Python objects)")
    if dt.subdtype is not None:
        raise UnsupportedDtypeError(f"subarray dtype {dt} is not supported as an element type; put "
                                    f"its shape in the shape argument: shape + {dt.shape}, dtype "
                                    f"{dt.base}", code="FA006")
    if dt.itemsize == 0:
        raise UnsupportedDtypeError(f"dtype {dt} is unsized; give it a size, e.g. 'S16' or 'U8'",
                                    code="FA006")
    spec = (dt, dt.itemsize, natural_alignment(dt))
    try:
        _cache[dtype] = spec
    except TypeError:
        pass
    return spec


def check_align(align, natural: int) -> int:
    """The effective alignment: ``max(align, natural)``; FA007 unless a power of two <= 4096."""
    if align is None:
        return natural
    try:
        a = operator.index(align)
    except TypeError:
        a = 0
    if a <= 0 or a & (a - 1) or a > MAX_ALIGN:
        raise error(ST.BAD_ALIGN, value=f"={align!r}")
    return a if a > natural else natural


def normalize_shape(shape) -> tuple[tuple[int, ...], int]:
    """``(shape tuple, element count)`` NumPy-style; FA004 for negative/non-integer entries,
    FA005 when the count overflows, FA014 for too many dimensions."""
    if isinstance(shape, int) and not isinstance(shape, bool):
        if shape < 0:
            raise error(ST.BAD_SIZE, got=f": {shape}")
        return (shape,), shape
    try:
        dims = tuple(operator.index(d) for d in shape) if not isinstance(shape, (str, bytes)) else None
    except TypeError:
        dims = None
    if dims is None:
        try:
            n = operator.index(shape)
        except TypeError:
            raise error(ST.BAD_SIZE, "type", shape=repr(shape)) from None
        dims = (n,)
    if len(dims) > MAX_NDIM:
        raise error(ST.BAD_SHAPE, ndim=len(dims), most=MAX_NDIM)
    count = 1
    for d in dims:
        if d < 0:
            raise error(ST.BAD_SIZE, got=f": {shape!r}")
        count *= d
    return dims, count


def check_nbytes(count: int, itemsize: int) -> int:
    nbytes = count * itemsize
    if nbytes > MAX_BYTES:
        raise error(ST.SIZE_OVERFLOW, size=f" ({count} elements of {itemsize} bytes)")
    return nbytes


def box_source(value) -> np.ndarray:
    """``np.asarray(value)`` for the ``*box`` methods, before anything is allocated: FA006 when
    the value cannot become one fixed-size array (a ragged nested list, say)."""
    try:
        return np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise UnsupportedDtypeError(f"{type(value).__name__} value cannot become one fixed-size "
                                    f"array ({exc}); pass a number, a record, an array or a "
                                    "rectangular nested list", code="FA006") from None
