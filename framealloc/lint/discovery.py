"""Which files to lint: ``.py`` and ``.ipynb`` under the given paths, minus excluded ones."""
from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

__all__ = ["iter_files", "DEFAULT_EXCLUDE", "is_excluded"]

#: Directory and file names never searched (explicitly named files are still linted).
DEFAULT_EXCLUDE = (".git", ".hg", ".svn", "__pycache__", ".venv", "venv", ".tox", ".nox",
                   ".eggs", "*.egg-info", "build", "dist", "node_modules", ".ipynb_checkpoints",
                   ".mypy_cache", ".pytest_cache", ".ruff_cache")
_SUFFIXES = (".py", ".ipynb")


def is_excluded(path: Path, root: Path, patterns: Iterable[str]) -> bool:
    """Whether ``path`` matches a glob: against its path relative to ``root`` (``build/*``,
    ``**/test_*.py``) or against its own name (``*_pb2.py``)."""
    try:
        rel = path.resolve().relative_to(root).as_posix()
    except ValueError:
        rel = path.as_posix()
    for pattern in patterns:
        pat = pattern.rstrip("/")
        if fnmatch.fnmatch(path.name, pat) or fnmatch.fnmatch(rel, pat):
            return True
        if pat.startswith("**/") and fnmatch.fnmatch(rel, pat[3:]):
            return True
        if fnmatch.fnmatch(rel, pat + "/*"):
            return True
    return False


def iter_files(paths: Iterable[Path], root: Path, exclude: Iterable[str]) -> Iterator[Path]:
    """Files to lint, each once, in a stable order. Named files are always yielded; files found
    by searching directories are filtered by :data:`DEFAULT_EXCLUDE` and ``exclude``."""
    patterns = (*DEFAULT_EXCLUDE, *exclude)
    seen: set[Path] = set()
    for path in paths:
        path = Path(path)
        if path.is_file():
            candidates: Iterable[Path] = [path]
        elif path.is_dir():
            candidates = _walk(path, root, patterns)
        else:
            raise FileNotFoundError(f"{path}: no such file or directory")
        for file in candidates:
            key = file.resolve()
            if key not in seen:
                seen.add(key)
                yield file


def _walk(directory: Path, root: Path, patterns: tuple[str, ...]) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(directory):
        base = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if not is_excluded(base / d, root, patterns))
        for name in sorted(filenames):
            file = base / name
            if name.endswith(_SUFFIXES) and not is_excluded(file, root, patterns):
                yield file
