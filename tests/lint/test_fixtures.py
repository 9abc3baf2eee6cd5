"""Each code fires on its fixture and stays quiet on the near misses; `list` equals what fires."""
from __future__ import annotations

import pytest

from framealloc.__main__ import main
from framealloc.lint.codes import CODES

from .helpers import FIXTURES, expected, found

ALL_CODES = sorted(CODES)


@pytest.mark.parametrize("code", ALL_CODES)
def test_code_fires_exactly_where_marked(code: str) -> None:
    path = FIXTURES / f"{code.lower()}_fire.py"
    marks = expected(path)
    assert any(c == code for _, c in marks), f"{path.name} marks no {code}"
    assert found(path) == marks


@pytest.mark.parametrize("code", ALL_CODES)
def test_near_miss_does_not_fire(code: str) -> None:
    path = FIXTURES / f"{code.lower()}_near_miss.py"
    result = found(path)
    assert code not in {c for _, c in result}
    assert result == expected(path)  # anything else reported must be marked (e.g. FA701)


def test_list_equals_the_codes_the_fixtures_fire(capsys: pytest.CaptureFixture[str]) -> None:
    fired: set[str] = set()
    for path in sorted(FIXTURES.glob("fa*_fire.py")):
        fired |= {c for _, c in found(path)}
    assert main(["list"]) == 0
    listed = {line.split()[0] for line in capsys.readouterr().out.splitlines() if line.strip()}
    assert listed == fired == set(CODES)


def test_every_code_has_both_fixtures() -> None:
    names = {p.name for p in FIXTURES.glob("fa*.py")}
    want = {f"{c.lower()}_{kind}.py" for c in CODES for kind in ("fire", "near_miss")}
    assert names == want
