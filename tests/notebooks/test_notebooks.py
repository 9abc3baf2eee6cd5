"""The notebooks: stored with their outputs and inline PNG plots, as scripts/build_notebooks.py
writes them, and they run again top to bottom (small parameters) producing every plot."""
from __future__ import annotations

import base64
import importlib.util
import io
import os
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _builder():
    spec = importlib.util.spec_from_file_location("framealloc_build_notebooks",
                                                  ROOT / "scripts" / "build_notebooks.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


builder = _builder()


def _plot_cells(nb) -> list[int]:
    return sorted({i for i, _ in builder.images(nb)})


def _check_png(data: str) -> None:
    from PIL import Image

    with Image.open(io.BytesIO(base64.b64decode(data))) as img:
        assert img.format == "PNG" and img.size[0] >= 200 and img.size[1] >= 150
        assert len(img.convert("RGB").getcolors(1 << 24)) > 20, "a blank plot"


def test_notebooks_exist():
    assert [p.name for p in NOTEBOOKS] == list(builder.NOTEBOOKS)


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_committed_notebook_has_outputs_and_plots(path):
    """Stored executed: every code cell ran (in order), the plots are inline PNGs, no errors,
    no path of the machine that built them."""
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1)), \
        f"{path.name} is not stored executed: python scripts/build_notebooks.py"
    assert builder.problems(nb) == []
    pngs = builder.images(nb)
    assert len(pngs) >= {"01_quickstart": 1, "02_performance": 6}[path.stem]
    for _, data in pngs:
        _check_png(data)
    # every cell that makes a figure shows it
    for i, c in enumerate(nb.cells):
        if c.cell_type == "code" and ("plt.subplots" in c.source or "plot_results" in c.source):
            assert i in _plot_cells(nb), f"{path.name} cell {i} shows no plot"
    assert not any("matplotlib.use" in c.source for c in code), "keep the inline backend"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes_and_makes_its_plots(path, tmp_path):
    """Run again with small parameters under the inline backend: no error, and the same cells
    produce their PNG plots as in the stored copy."""
    stored = nbformat.read(path, as_version=4)
    nb = nbformat.read(path, as_version=4)
    for c in nb.cells:
        if c.cell_type == "code":
            c.outputs, c.execution_count = [], None
    builder.execute(nb, small=True, timeout=900)
    errors = [f"cell {i}: {o.get('ename')}: {o.get('evalue')}" for i, c in enumerate(nb.cells)
              if c.cell_type == "code" for o in c.outputs if o.get("output_type") == "error"]
    assert errors == []
    assert _plot_cells(nb) == _plot_cells(stored)
    for _, data in builder.images(nb):
        _check_png(data)
    if path.stem == "02_performance":
        text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                       for o in c.outputs)
        assert text.count("Conclusion:") >= 6
        for name in ("neighbours", "fountain"):      # the demo's table has its rows
            assert any(line.startswith(name + " ") and line.rstrip().endswith("x")
                       for line in text.splitlines()), text


def test_kernel_env_uses_the_inline_backend_and_this_checkout(monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    env = builder.kernel_env(small=True)
    assert "MPLBACKEND" not in env and env["FRAMEALLOC_NB_SMALL"] == "1"
    assert env["PYTHONPATH"].split(os.pathsep)[0] == str(ROOT)
    assert "FRAMEALLOC_NB_SMALL" not in builder.kernel_env(small=False)


def test_problems_finds_errors_and_machine_paths():
    nb = builder.build([("code", "x = 1")])
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout",
                                                  text=f"saved to {ROOT}/x.png\n"),
                           nbformat.v4.new_output("error", ename="ValueError", evalue="bad",
                                                  traceback=[])]
    found = builder.problems(nb)
    assert any("machine path" in p for p in found) and any("ValueError" in p for p in found)


def test_notebooks_match_their_builder():
    """The committed notebooks are what scripts/build_notebooks.py writes (no hand edits lost)."""
    for path in NOTEBOOKS:
        built = builder.build(builder.NOTEBOOKS[path.name])
        committed = nbformat.read(path, as_version=4)
        assert [(c.cell_type, c.source) for c in committed.cells] == \
            [(c.cell_type, c.source) for c in built.cells], \
            f"{path.name} differs from the builder: python scripts/build_notebooks.py"
