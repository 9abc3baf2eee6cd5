"""Linter configuration: the ``[tool.framealloc.lint]`` table of ``pyproject.toml``.

Example::

    [tool.framealloc.lint]
    select = ["FA"]                 # codes or families to check (default: all)
    ignore = ["FA301"]              # codes or families to skip
    deny = false                    # true: every warning is an error; or a list of codes/families
    exclude = ["build/*", "*_pb2.py"]
    severity = { FA607 = "error" }  # per-code severity override
    tags = ["physics", "physics::*", "render"]

    [tool.framealloc.lint.tag-modules]
    physics = ["sim.physics*", "sim/physics/*"]

    [tool.framealloc.lint.per-file-ignores]
    "tests/*" = ["FA6"]

Keys may be written with ``-`` or ``_``. Unknown keys and bad values raise
:class:`ConfigFileError` with the file name and what to write instead: a configuration the linter
silently ignored would hide exactly the mistakes it exists to catch.
"""
from __future__ import annotations

import fnmatch
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType
from typing import Any

from .codes import CODES, SEVERITY, Severity
from .selectors import SelectorError, expand, normalize_selector

__all__ = ["LintConfig", "ConfigFileError", "find_config", "load_config", "config_for",
           "toml_module"]

SECTION = ("tool", "framealloc", "lint")
_KEYS = ("select", "ignore", "deny", "exclude", "severity", "tags", "tag-modules",
         "per-file-ignores")


class ConfigFileError(ValueError):
    """The configuration file cannot be read or holds an invalid value."""


@dataclass(frozen=True)
class LintConfig:
    """What to check and how to report it. The defaults check every code."""

    select: tuple[str, ...] = ("FA",)
    ignore: tuple[str, ...] = ()
    deny: bool = False
    deny_codes: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    severity: dict[str, Severity] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    tag_modules: dict[str, tuple[str, ...]] = field(default_factory=dict)
    per_file_ignores: dict[str, tuple[str, ...]] = field(default_factory=dict)
    root: Path | None = None
    source: Path | None = None
    #: Report every use of a name after its frame ended, not only the first of each statement.
    show_all: bool = False

    def __post_init__(self) -> None:
        for sel in (*self.select, *self.ignore, *self.deny_codes):
            normalize_selector(sel)  # raises SelectorError with a helpful message

    def enabled_codes(self) -> set[str]:
        """The codes selected and not ignored."""
        return expand(self.select) - expand(self.ignore)

    def is_enabled(self, code: str, relpath: str | None = None) -> bool:
        """Whether ``code`` is reported, with ``per-file-ignores`` applied to ``relpath``."""
        if code not in self.enabled_codes():
            return False
        if relpath is not None:
            for pattern, sels in self.per_file_ignores.items():
                if fnmatch.fnmatch(relpath, pattern) and code in expand(sels):
                    return False
        return True

    def severity_of(self, code: str) -> Severity:
        """The effective severity: the override, else the default; ``deny`` raises it to error."""
        sev: Severity = self.severity.get(code, SEVERITY.get(code, "error"))
        if self.deny or (self.deny_codes and code in expand(self.deny_codes)):
            sev = "error"
        return sev

    def with_overrides(self, **changes: Any) -> "LintConfig":
        """A copy with some fields replaced (used for command-line options)."""
        return replace(self, **changes)


def toml_module() -> ModuleType | None:
    """``tomllib`` on Python 3.11+, else ``tomli`` if installed, else ``None``."""
    if sys.version_info >= (3, 11):
        import tomllib
        return tomllib
    try:
        import tomli
    except ImportError:
        return None
    return tomli


def _read_toml(path: Path) -> dict[str, Any] | None:
    """Parse ``path``; None if it has no ``[tool.framealloc`` table (checked textually first)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigFileError(f"{path}: cannot read: {exc}") from exc
    if "tool.framealloc" not in text:
        return None
    toml = toml_module()
    if toml is None:
        raise ConfigFileError(
            f"{path}: reading [tool.framealloc.lint] needs Python 3.11+ (tomllib) or the 'tomli' "
            "package on Python 3.10: run `pip install tomli`, or pass --no-config to use defaults")
    try:
        return toml.loads(text)
    except Exception as exc:  # tomllib.TOMLDecodeError; tomli has its own class
        raise ConfigFileError(f"{path}: invalid TOML: {exc}") from exc


def _section(data: dict[str, Any] | None) -> dict[str, Any] | None:
    node: Any = data
    for key in SECTION:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node if isinstance(node, dict) else None


def find_config(start: Path) -> Path | None:
    """The nearest ``pyproject.toml`` at or above ``start`` that has ``[tool.framealloc.lint]``."""
    start = start.resolve()
    directory = start if start.is_dir() else start.parent
    for candidate in (directory, *directory.parents):
        path = candidate / "pyproject.toml"
        if path.is_file() and _section(_read_toml(path)) is not None:
            return path
    return None


def _str_list(path: Path, key: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigFileError(f"{path}: [tool.framealloc.lint] {key} must be a list of strings, "
                              f"e.g. {key} = [\"...\"]; got {value!r}")
    return tuple(value)


def _codes(path: Path, key: str, value: Any) -> tuple[str, ...]:
    items = _str_list(path, key, value)
    for item in items:
        try:
            normalize_selector(item)
        except SelectorError as exc:
            raise ConfigFileError(f"{path}: [tool.framealloc.lint] {key}: {exc}") from exc
    return items


def _table(path: Path, key: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigFileError(f"{path}: [tool.framealloc.lint] {key} must be a table "
                              f"([tool.framealloc.lint.{key}]); got {value!r}")
    return value


def parse_section(path: Path, section: dict[str, Any]) -> LintConfig:
    """Build a :class:`LintConfig` from the ``[tool.framealloc.lint]`` table read from ``path``."""
    kwargs: dict[str, Any] = {"root": path.parent.resolve(), "source": path}
    for raw_key, value in section.items():
        key = raw_key.replace("_", "-")
        if key not in _KEYS:
            raise ConfigFileError(f"{path}: unknown key {raw_key!r} in [tool.framealloc.lint]; "
                                  f"valid keys: {', '.join(_KEYS)}")
        if key in ("select", "ignore"):
            kwargs[key] = _codes(path, key, value)
        elif key == "deny":
            if isinstance(value, bool):
                kwargs["deny"] = value
            else:
                kwargs["deny_codes"] = _codes(path, key, value)
        elif key in ("exclude", "tags"):
            kwargs[key] = _str_list(path, key, value)
        elif key == "severity":
            sev: dict[str, Severity] = {}
            for code, level in _table(path, key, value).items():
                code_u = str(code).upper()
                if code_u not in CODES:
                    raise ConfigFileError(f"{path}: severity: unknown code {code!r}; run "
                                          "`framealloc list` to see the codes")
                if level not in ("error", "warning"):
                    raise ConfigFileError(f"{path}: severity.{code} must be \"error\" or "
                                          f"\"warning\"; got {level!r}")
                sev[code_u] = level
            kwargs["severity"] = sev
        elif key == "tag-modules":
            kwargs["tag_modules"] = {str(tag): _str_list(path, f"tag-modules.{tag}", globs)
                                     for tag, globs in _table(path, key, value).items()}
        elif key == "per-file-ignores":
            kwargs["per_file_ignores"] = {str(pat): _codes(path, f"per-file-ignores.{pat}", sels)
                                          for pat, sels in _table(path, key, value).items()}
    return LintConfig(**kwargs)


def load_config(path: Path) -> LintConfig:
    """Read the ``[tool.framealloc.lint]`` table of ``path`` (defaults if the table is absent)."""
    section = _section(_read_toml(path))
    if section is None:
        return LintConfig(root=path.parent.resolve(), source=path)
    return parse_section(path, section)


def config_for(start: Path) -> LintConfig:
    """The configuration that applies to ``start``: from the nearest pyproject.toml with a
    ``[tool.framealloc.lint]`` table, else the defaults rooted at the current directory."""
    path = find_config(start)
    if path is None:
        return LintConfig(root=Path.cwd().resolve())
    return load_config(path)
