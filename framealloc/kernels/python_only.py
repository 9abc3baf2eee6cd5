"""Python-only methods inside @njit: a short FA016 error instead of numba's "Unknown attribute".

For each framealloc type that @njit code can receive, one catch-all attribute template
(``generic_resolve``) answers the public names of the Python class that no njit overload
resolves: ``alloc.stats()`` in an @njit function then fails to compile with
:class:`~framealloc.NjitUsageError` FA016, "SmartAlloc.stats() is a Python-only call; call it
outside @njit code", as the first line the user reads. An exception that is not a NumbaError
leaves numba's type inference unchanged (see :mod:`framealloc.kernels.njit_api`).

The templates are registered after every other framealloc template (this module is the last of
``NJIT_MODULES``), so numba asks them only for names nothing else resolved: real methods and
attributes compile exactly as before. A name is refused only after checking that no other
template of the type resolves it, so an overload registered later still wins.
"""
from __future__ import annotations

import inspect

from numba.core.typing.templates import AttributeTemplate, infer_getattr

from ..errors import error
from .registry import PYTHON_CLASSES as _API
from .collections_njit import FrameMapType, FrameVecType
from .njit_api import SmartAllocType
from .pools_njit import SizeClassPoolsType, TypedPoolType
from . import status as ST

__all__ = ["PYTHON_CLASSES", "python_only_names"]

#: numba type class -> the Python class whose public names it refuses with FA016.
#: (The classes come from the registry the Python API fills when it is imported: this layer never
#: imports the API.)
PYTHON_CLASSES = {
    SmartAllocType: _API["SmartAlloc"],
    TypedPoolType: _API["TypedPool"],
    SizeClassPoolsType: _API["SizeClassPools"],
    FrameVecType: _API["FrameVec"],
    FrameMapType: _API["FrameMap"],
}


def _public_names(cls: type) -> dict[str, str]:
    """Public attribute names of ``cls`` -> how the message spells them (``stats()``,
    ``closed``)."""
    out = {}
    for name in dir(cls):
        if name.startswith("_"):
            continue
        attr = inspect.getattr_static(cls, name)
        out[name] = f"{name}()" if callable(getattr(cls, name, None)) and \
            not isinstance(attr, property) else name
    return out


class _PythonOnlyTemplate(AttributeTemplate):
    """Base of the catch-all templates (one subclass per numba type)."""

    key: type
    names: dict

    def generic_resolve(self, typ, attr):
        spelled = self.names.get(attr)
        if spelled is None:
            return None
        for other in self.context._get_attribute_templates(typ):
            if not isinstance(other, _PythonOnlyTemplate) and other.resolve(typ, attr) is not None:
                return None
        cls = PYTHON_CLASSES[self.key].__name__
        raise error(ST.PYTHON_ONLY, name=f"{cls}.{spelled}")


for _nbtype, _cls in PYTHON_CLASSES.items():
    infer_getattr(type(f"PythonOnly_{_cls.__name__}", (_PythonOnlyTemplate,),
                       {"key": _nbtype, "names": _public_names(_cls)}))


def python_only_names(nbtype_class: type) -> set[str]:
    """Public names of the Python class of ``nbtype_class`` (candidates for FA016)."""
    return set(_public_names(PYTHON_CLASSES[nbtype_class]))
