"""What the Python API hands the numba layer when it is imported (imports nothing).

Imports go one way (Python API -> numba surface -> kernels -> layout): the numba surface never
imports the Python API, so the API modules register here the classes and constructors that
compiled code needs.
"""
from __future__ import annotations

__all__ = ["BOXERS", "PYTHON_CLASSES"]

#: Python constructors that compiled code boxes into (``"FrameVec"``, ``"FrameMap"``), registered
#: by the Python modules that define the classes when they are imported, so the numba layer
#: needs no import of the Python API (imports go one way: Python API -> kernels -> layout).
BOXERS: dict = {}

#: The Python classes of the objects compiled code receives (``"SmartAlloc"``, ``"TypedPool"``,
#: ``"SizeClassPools"``, ``"FrameVec"``, ``"FrameMap"``), registered the same way by the modules
#: that define them: :mod:`framealloc.kernels.python_only` refuses their Python-only names (FA016).
PYTHON_CLASSES: dict = {}
