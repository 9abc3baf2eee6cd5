"""docs/architecture.md: its generated layout tables are current and its examples run.

The tables between ``<!-- layouts:begin -->`` and ``<!-- layouts:end -->`` are rendered from
``framealloc/kernels/layout.py`` by ``scripts/gen_architecture_tables.py``; when a layout changes,
regenerate them with ``python scripts/gen_architecture_tables.py``.
"""
from __future__ import annotations

import doctest
import importlib.util
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOC = os.path.join(ROOT, "docs", "architecture.md")


def _load_generator():
    spec = importlib.util.spec_from_file_location(
        "framealloc_gen_architecture_tables",
        os.path.join(ROOT, "scripts", "gen_architecture_tables.py"))
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


gen = _load_generator()


def _doc() -> str:
    with open(DOC, encoding="utf-8") as f:
        return f.read()


def test_layout_tables_are_current():
    assert gen.current(_doc()) == gen.render(), (
        "docs/architecture.md is stale: run python scripts/gen_architecture_tables.py")
    assert gen.main(["--check"]) == 0


def test_every_layout_and_field_is_in_the_page():
    from framealloc.kernels.layout import LAYOUTS

    section = gen.current(_doc())
    for name, lay in LAYOUTS.items():
        assert f"### `{name}`" in section
        for field in lay.fields:
            assert f"| `{field}" in section, f"{name}.{field}"


def test_check_fails_on_a_stale_page(tmp_path):
    stale = tmp_path / "architecture.md"
    text = _doc()
    stale.write_text(text.replace("| `cursor` |", "| `kursor` |", 1), encoding="utf-8")
    assert gen.main(["--check", "--doc", str(stale)]) == 1
    assert gen.main(["--doc", str(stale)]) == 0         # regenerating repairs it
    assert stale.read_text(encoding="utf-8") == text


def test_page_examples_run():
    result = doctest.testfile(DOC, module_relative=False,
                              optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 10 and result.failed == 0


def test_modules_named_in_the_page_exist():
    """Every ``framealloc/...`` module path the page names is a real file or package."""
    import re

    text = _doc()
    for path in set(re.findall(r"`((?:kernels/)?[a-z_]+\.py)`", text)):
        candidates = [os.path.join(ROOT, "framealloc", path),
                      os.path.join(ROOT, "framealloc", "kernels", path),
                      os.path.join(ROOT, path)]
        assert any(os.path.exists(c) for c in candidates), path
