"""The notebooks run top to bottom (with small parameters) and are the ones the builder writes."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_notebooks_exist():
    assert [p.name for p in NOTEBOOKS] == ["01_quickstart.ipynb", "02_performance.ipynb"]


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(path, tmp_path, monkeypatch):
    monkeypatch.setenv("FRAMEALLOC_NB_SMALL", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert errors == []
    assert any(c.get("outputs") for c in nb.cells if c.cell_type == "code")


def test_notebooks_match_their_builder(tmp_path):
    """The committed notebooks are what scripts/build_notebooks.py writes (no hand edits lost)."""
    builder = ROOT / "scripts" / "build_notebooks.py"
    code = (f"import sys, runpy; from pathlib import Path; m = runpy.run_path({str(builder)!r});"
            f"nbf = __import__('nbformat');"
            f"[print(json.dumps([c['source'] for c in m['build'](cells).cells])) for cells in "
            f"(m['QUICKSTART'], m['PERFORMANCE'])]")
    out = subprocess.run([sys.executable, "-c", "import json;" + code], capture_output=True,
                         text=True, check=True, env=dict(os.environ)).stdout.splitlines()
    for path, built in zip(NOTEBOOKS, out):
        committed = [c["source"] for c in nbformat.read(path, as_version=4).cells]
        assert committed == json.loads(built), f"{path.name} differs from the builder's output"
