"""The figures in the docs come from one command (`benchmarks/run.py --update-docs`).

Every page that carries a generated table names benchmark rows that exist, and the runner writes
exactly those rows of a run into it, leaving the rest of the page as it was.
"""
from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MARKER = re.compile(r"<!-- BEGIN TABLE rows=([A-Z0-9,]+):")


@pytest.fixture(scope="module")
def run():
    spec = importlib.util.spec_from_file_location("framealloc_bench_run",
                                                  REPO / "benchmarks" / "run.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    try:
        spec.loader.exec_module(mod)
        yield mod
    finally:
        del sys.modules[spec.name]


def _pages():
    return sorted(p for p in [REPO / "README.md", *(REPO / "docs").glob("*.md")]
                  if MARKER.search(p.read_text()))


def test_some_pages_carry_generated_tables():
    names = {p.name for p in _pages()}
    assert {"README.md", "transparent.md", "gpu.md"} <= names


@pytest.mark.parametrize("page", _pages(), ids=lambda p: p.name)
def test_page_names_existing_rows_and_pairs_its_markers(run, page):
    text = page.read_text()
    known = {r.id for r in run.ROWS}
    for ids in MARKER.findall(text):
        assert set(ids.split(",")) <= known
    starts = [m.start() for m in re.finditer(re.escape(run.BEGIN), text)]
    ends = [m.start() for m in re.finditer(re.escape(run.END), text)]
    assert len(starts) == len(ends)
    bounds = sorted([(s, "b") for s in starts] + [(e, "e") for e in ends])
    assert [k for _, k in bounds] == ["b", "e"] * len(starts)     # no nesting, none unclosed


def _fake_run(run, ids):
    """A pytest-benchmark JSON with the subject and reference of every row of ``ids``."""
    benches = []
    for n, row in enumerate(r for r in run.ROWS if r.id in ids):
        for comp, t in ((row.subject, 1e-6 * (n + 1)), (row.reference, 2e-6 * (n + 1))):
            if comp is None:
                continue
            benches.append({"group": row.group, "name": f"{row.id}-{comp}",
                            "stats": {"median": t, "iqr": 0.0, "rounds": 3},
                            "extra_info": {"competitor": comp, "ops": 1, "unit": "op",
                                           "numba_at_import": False}})
    return {"benchmarks": benches, "commit_info": {"id": "0123456789abcdef", "dirty": False},
            "datetime": "2026-01-01T00:00:00", "machine_info": {}}


def test_runner_writes_only_the_named_rows(run, tmp_path):
    page = tmp_path / "topic.md"
    before, after = "# Topic\n\nintro\n\n", "\n\noutro\n"
    page.write_text(before + "<!-- BEGIN TABLE rows=T1,P9: written by hand -->\nold\n"
                    + run.END + after)
    (tmp_path / "other.md").write_text("no table here\n")
    data = _fake_run(run, {"T1", "P9", "P1"})
    assert run.update_topic_pages(data, tmp_path) == [page]
    text = page.read_text()
    assert text.startswith(before) and text.endswith(after) and "old" not in text
    ids = re.findall(r"^\| (\w+) \|", text, flags=re.M)
    assert set(ids) == {"T1", "P9"}
    assert ids.count("T1") == sum(r.id == "T1" for r in run.ROWS)   # context rows too
    assert "0123456789" in text
    assert (tmp_path / "other.md").read_text() == "no table here\n"


def test_runner_fills_every_table_of_a_page(run, tmp_path):
    page = tmp_path / "README.md"
    page.write_text("a\n<!-- BEGIN TABLE: all -->\nold\n" + run.END + "\nb\n"
                    "<!-- BEGIN TABLE rows=E4: x -->\nold\n" + run.END + "\nc\n")
    assert run.fill_tables(page, _fake_run(run, {"E4", "P1"}), plain="PLAIN") == 2
    text = page.read_text()
    assert "old" not in text and "PLAIN" in text
    assert text.index("PLAIN") < text.index("\nb\n") < text.index("| E4 |") < text.index("\nc\n")
    assert "| P1 |" not in text
    with pytest.raises(SystemExit, match="without rows="):
        run.fill_tables(page, _fake_run(run, {"E4"}))


def test_runner_refuses_unknown_rows(run, tmp_path):
    (tmp_path / "bad.md").write_text("<!-- BEGIN TABLE rows=T1,ZZ9: x -->\n" + run.END)
    with pytest.raises(SystemExit, match="ZZ9"):
        run.update_topic_pages(_fake_run(run, {"T1"}), tmp_path)
