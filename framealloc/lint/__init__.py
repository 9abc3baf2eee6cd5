"""Static analysis for framealloc users: ``python -m framealloc lint`` and the flake8 plugin.

AST-based: the analysed code is parsed, never imported or run. See ``docs/lint.md`` for the codes,
the configuration (``[tool.framealloc.lint]`` in ``pyproject.toml``) and CI usage.

>>> from framealloc.lint import lint_source
>>> src = '''
... class Sim:
...     def step(self, alloc):
...         pos = alloc.frame_array((8, 3), "f4")
...         self.last = pos
... '''
>>> [(d.code, d.line) for d in lint_source(src)]
[('FA601', 5)]
"""
from __future__ import annotations

from .codes import CODES, SEVERITY
from .config import ConfigFileError, LintConfig, config_for, find_config, load_config
from .engine import LintReport, lint_paths, lint_source
from .model import Diagnostic

__all__ = ["CODES", "SEVERITY", "ConfigFileError", "Diagnostic", "LintConfig", "LintReport",
           "config_for", "find_config", "lint_paths", "lint_source", "load_config"]
