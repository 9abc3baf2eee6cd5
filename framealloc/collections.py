"""Frame collections (FrameVec, FrameMap) and frame layouts (SmartAlloc methods)."""
from __future__ import annotations


class FrameCollectionsMixin:
    """SmartAlloc methods for bounded collections and layouts in the frame arena."""
