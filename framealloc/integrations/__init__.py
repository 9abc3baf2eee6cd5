"""Integrations of framealloc with the libraries its users already run (optional extras).

Each submodule imports its library on first use and raises :class:`~framealloc.MissingExtraError`
(FA181) with the ``pip install`` line when it is not installed; ``import framealloc`` imports
none of them.

========================================  =====================  ===========================
module                                    library                extra
========================================  =====================  ===========================
:mod:`framealloc.integrations.physics`    pymunk (2-D physics)   ``framealloc[physics]``
:mod:`framealloc.integrations.ecs`        esper (ECS)            ``framealloc[ecs]``
:mod:`framealloc.integrations.tasks`      asyncio (stdlib)       none
:mod:`framealloc.integrations.dask`       dask.distributed       ``framealloc[dask]``
========================================  =====================  ===========================

See docs/integrations.md for examples and the measured overhead of each.
"""
from __future__ import annotations

import importlib

from ..errors import error
from ..kernels import status as ST

__all__ = ["require"]


def require(module: str, extra: str, package: str | None = None):
    """Import ``module`` or raise FA181 naming the extra that installs it.

    >>> from framealloc.integrations import require
    >>> require("math", "none").sqrt(4.0)
    2.0
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        raise error(ST.MISSING_EXTRA, package=package or module, extra=extra) from None
