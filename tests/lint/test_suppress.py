"""Inline suppression comments."""
from __future__ import annotations

import pytest

from framealloc.lint import lint_source
from framealloc.lint.suppress import Suppressions

LINE = "        self.a = alloc.frame_array(3)"


def run(comment: str) -> list[str]:
    src = f"class C:\n    def f(self, alloc):\n{LINE}{comment}\n"
    return [d.code for d in lint_source(src)]


@pytest.mark.parametrize("comment", [
    "  # noqa", "  # noqa: FA601", "  # NOQA:FA601", "  # noqa: E501, FA601", "  # noqa: FA6",
    "  # noqa: FA6xx", "  # framealloc: allow FA601",
    "  # framealloc: allow FA601 (kept on purpose)",
    "  # framealloc: allow", "  # type: ignore  # framealloc: allow FA6",
    "  # noqa FA601 (no colon: a bare noqa, as in flake8)",
])
def test_suppressed(comment: str) -> None:
    assert run(comment) == []


@pytest.mark.parametrize("comment", [
    "", "  # noqa: FA602", "  # noqa: E501", "  # framealloc: allow FA7", "  # see the noqa docs",
])
def test_not_suppressed(comment: str) -> None:
    assert run(comment) == ["FA601"]


def test_comment_anywhere_on_a_multiline_statement() -> None:
    src = ("class C:\n    def f(self, alloc):\n        self.a = alloc.frame_array(\n"
           "            3)  # noqa: FA601\n")
    assert lint_source(src) == []


def test_flake8_mode_leaves_noqa_to_flake8() -> None:
    s = Suppressions("x = 1  # noqa: FA601\ny = 2  # framealloc: allow FA601\n", noqa=False)
    assert not s.is_suppressed("FA601", 1)
    assert s.is_suppressed("FA601", 2)


def test_untokenizable_source_still_scans_comments() -> None:
    s = Suppressions('x = """unterminated  # noqa\n')
    assert s.is_suppressed("FA601", 1)
