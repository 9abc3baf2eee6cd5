"""The linter finds nothing wrong in the project's own code, benchmarks, examples and notebooks.

Notebooks are linted with their code cells joined (see framealloc/lint/source.py). A finding here
is either a real mistake to fix in that file, or a deliberate pattern: it should then get an inline
``# noqa: FAnnn`` in that file (or a ``per-file-ignores`` entry in pyproject.toml); until it does,
it is listed in ``DELIBERATE`` with the reason.
"""
from __future__ import annotations

import fnmatch

from framealloc.lint import config_for, lint_paths

from .helpers import REPO

DIRS = ("framealloc", "benchmarks", "examples", "notebooks")

#: (repository-relative path glob, code, text in the message) -> why it is intended.
DELIBERATE: dict = {}  # empty: deliberate patterns carry inline noqa or per-file-ignores


def _deliberate(relpath: str, code: str, message: str) -> bool:
    return any(fnmatch.fnmatch(relpath, pattern) and code == c and text in message
               for pattern, c, text in DELIBERATE)


def test_own_code_is_clean() -> None:
    paths = [REPO / d for d in DIRS if (REPO / d).is_dir()]
    report = lint_paths(paths, config_for(REPO))
    assert report.failures == []
    assert len(report.files) > 5, "the project's sources were not found"
    unexpected = []
    for d in report.diagnostics:
        relpath = d.path.replace("\\", "/").split(REPO.as_posix() + "/", 1)[-1]
        if not _deliberate(relpath, d.code, d.message):
            unexpected.append(f"{d.location()}: {d.code} {d.message}")
    assert unexpected == []


def test_deliberate_entries_are_narrow() -> None:
    """The exemptions only ever cover the np.empty baseline warning, never an error code."""
    assert {code for _, code, _ in DELIBERATE} <= {"FA607"}
