"""Packaging: what ``pip install framealloc`` gets (the wheel and the sdist built from this tree),
the licence files, the version in one place, the README's install section, and the public API
type-checked by mypy (``py.typed``)."""
from __future__ import annotations

import ast
import email.parser
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

import framealloc

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = PYPROJECT["project"]
LICENSES = ("LICENSE-MIT", "LICENSE-APACHE")
#: sha256 of the Apache License 2.0 text as apache.org publishes it (LICENSE-2.0.txt).
APACHE_2_SHA256 = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"


def _source_version() -> str:
    """``__version__`` as framealloc/__init__.py assigns it (read without importing)."""
    tree = ast.parse((ROOT / "framealloc" / "__init__.py").read_text(encoding="utf-8"))
    values = [n.value.value for n in tree.body if isinstance(n, ast.Assign)
              and any(isinstance(t, ast.Name) and t.id == "__version__" for t in n.targets)
              and isinstance(n.value, ast.Constant)]
    assert len(values) == 1, "framealloc/__init__.py must assign __version__ once, as a string"
    return values[0]


def _package_files() -> list[str]:
    """Every file of the framealloc package in the source tree, as a wheel names it."""
    out = []
    for path in sorted((ROOT / "framealloc").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            out.append(path.relative_to(ROOT).as_posix())
    return out


@pytest.fixture(scope="module")
def dists(tmp_path_factory) -> dict[str, Path]:
    """A wheel and an sdist built from a copy of this tree by setuptools (no isolation, no
    download), as ``pip install`` / ``python -m build`` would."""
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md", *LICENSES):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / "framealloc", src / "framealloc",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    code = ("from setuptools import build_meta as b\n"
            "b.build_wheel('dist')\nb.build_sdist('dist')\n")
    run = subprocess.run([sys.executable, "-c", code], cwd=src, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    (wheel,), (sdist,) = (src / "dist").glob("*.whl"), (src / "dist").glob("*.tar.gz")
    return {"wheel": wheel, "sdist": sdist}


@pytest.mark.slow
def test_the_wheel_ships_every_package_file_py_typed_and_both_licences(dists):
    with zipfile.ZipFile(dists["wheel"]) as whl:
        names = set(whl.namelist())
        missing = [f for f in _package_files() if f not in names]
        assert missing == [], f"package files left out of the wheel: {missing}"
        assert "framealloc/py.typed" in names
        for lic in LICENSES:
            shipped = [n for n in names if n.endswith(f".dist-info/licenses/{lic}")]
            assert len(shipped) == 1, f"{lic} not in the wheel's dist-info/licenses"
            assert whl.read(shipped[0]) == (ROOT / lic).read_bytes()


@pytest.mark.slow
def test_the_wheel_metadata(dists):
    with zipfile.ZipFile(dists["wheel"]) as whl:
        meta_name = next(n for n in whl.namelist() if n.endswith(".dist-info/METADATA"))
        meta = email.parser.Parser().parsestr(whl.read(meta_name).decode("utf-8"))
    assert meta["Name"] == "framealloc"
    assert meta["Version"] == _source_version() == framealloc.__version__
    assert meta["License-Expression"] == "MIT OR Apache-2.0"
    assert sorted(meta.get_all("License-File")) == sorted(LICENSES)
    classifiers = meta.get_all("Classifier")
    assert "Typing :: Typed" in classifiers
    assert not [c for c in classifiers if c.startswith("License ::")], \
        "PEP 639: the licence is the License-Expression, not a classifier"
    floor = re.fullmatch(r">=(\d+)\.(\d+)", PROJECT["requires-python"])
    lowest = tuple(int(p) for p in floor.groups())
    versions = [tuple(int(p) for p in c.rsplit(":: ", 1)[1].split(".")) for c in classifiers
                if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)]
    assert versions and min(versions) == lowest, "version classifiers start at requires-python"
    requires = meta.get_all("Requires-Dist")
    for dep in PROJECT["dependencies"]:
        assert any(r.replace('"', "'").startswith(dep.split(";")[0]) for r in requires), dep
    assert set(meta.get_all("Provides-Extra")) == set(PROJECT["optional-dependencies"])


@pytest.mark.slow
def test_the_sdist_ships_the_licences_and_py_typed(dists):
    with tarfile.open(dists["sdist"]) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    for f in (*LICENSES, "pyproject.toml", "README.md", "framealloc/py.typed"):
        assert f in names, f"{f} not in the sdist"


def test_the_version_is_written_once():
    assert "version" not in PROJECT, "pyproject.toml: the version comes from framealloc"
    assert "version" in PROJECT["dynamic"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {
        "attr": "framealloc.__version__"}
    version = _source_version()
    assert framealloc.__version__ == version
    assert re.fullmatch(r"\d+\.\d+\.\d+((a|b|rc)\d+)?(\.dev\d+)?", version), version
    assigned = [p for p in (ROOT / "framealloc").rglob("*.py")
                if re.search(r"^__version__\s*=", p.read_text(encoding="utf-8"), re.M)]
    assert assigned == [ROOT / "framealloc" / "__init__.py"]


def test_py_typed_is_package_data():
    assert (ROOT / "framealloc" / "py.typed").is_file()
    assert "py.typed" in PYPROJECT["tool"]["setuptools"]["package-data"]["framealloc"]


def test_the_licence_files():
    assert PROJECT["license"] == "MIT OR Apache-2.0"
    assert sorted(PROJECT["license-files"]) == sorted(LICENSES)
    mit = (ROOT / "LICENSE-MIT").read_text(encoding="utf-8")
    assert mit.startswith("MIT License\n")
    assert re.search(r"^Copyright \(c\) \d{4} the framealloc authors$", mit, re.M)
    assert "Permission is hereby granted, free of charge, to any person obtaining a copy" in mit
    assert 'THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND' in mit
    apache = (ROOT / "LICENSE-APACHE").read_bytes()
    assert hashlib.sha256(apache).hexdigest() == APACHE_2_SHA256, \
        "LICENSE-APACHE must be the Apache License 2.0 text, unchanged"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    licence = readme.split("\n## License\n", 1)[1].split("\n## ", 1)[0]
    assert "MIT OR Apache-2.0" in licence or "MIT or Apache-2.0" in licence
    for lic in LICENSES:
        assert f"({lic})" in licence, f"README's License section links {lic}"


def test_the_readme_says_how_to_depend_on_framealloc():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "\n## Use it in your project\n" in readme
    section = readme.split("\n## Use it in your project\n", 1)[1].split("\n## ", 1)[0]
    extras = set(PROJECT["optional-dependencies"])
    installs = re.findall(r"pip install ['\"]?framealloc(?:\[([\w,]+)\])?", section)
    assert installs, "the section shows pip install framealloc"
    named = {e for group in installs for e in group.split(",") if e}
    assert named and named <= extras, f"extras the README names but pyproject lacks: {named}"
    lines = re.findall(r'^\s*"framealloc(?:\[[\w,]+\])?(>=[\d.]+)?[^"]*",?\s*(?:#.*)?$',
                       section, re.M)
    assert lines, "the section shows a pyproject dependency line"
    floors = [tuple(int(p) for p in lo[2:].split(".")) for lo in lines if lo]
    current = tuple(int(p) for p in framealloc.__version__.split(".")[:3])
    assert all(f <= current[:len(f)] for f in floors), "a version floor above this version"


def _mypy(*args: str, cwd: Path, tmp: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, MYPYPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "mypy", "--config-file",
                           str(ROOT / "pyproject.toml"), "--cache-dir", str(tmp / "mypy-cache"),
                           "--no-error-summary", "--show-error-codes", *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_mypy_passes_on_the_public_api(tmp_path):
    """``[tool.mypy]`` in pyproject.toml: framealloc minus the numba kernels and the demo."""
    run = _mypy(cwd=ROOT, tmp=tmp_path)
    errors = [ln for ln in run.stdout.splitlines() if ": error:" in ln]
    assert run.returncode == 0 and errors == [], "\n".join(errors) or run.stderr


USER_CODE = '''\
from __future__ import annotations

import numpy as np

import framealloc as fa
from framealloc.gpu import GpuAllocator
from framealloc.lint import LintConfig, lint_source

alloc: fa.SmartAlloc = fa.SmartAlloc(max_threads=4)
with alloc.frame():
    pos: np.ndarray = alloc.frame_array((16, 3), np.float32)
    cp: fa.FrameCheckpoint = alloc.frame_checkpoint()
    alloc.rollback_to(cp)
frame: int = alloc.frame_number
stats: fa.AllocStats = alloc.stats()
peak: int = stats.frame.peak
config: fa.AllocConfig = fa.AllocConfig(max_threads=2)
text: str = fa.explain("FA008")
gpu: GpuAllocator = GpuAllocator.null()
findings = lint_source("x = 1", path="x.py", config=LintConfig())

wrong: str = alloc.frame_number  # E: assignment
fa.explain(8)  # E: arg-type
alloc.begin_frame(1)  # E: call-arg
alloc.frame_arrray(3)  # E: attr-defined
fa.AllocConfig(max_threads="2")  # E: arg-type
'''


@pytest.mark.slow
def test_user_code_is_checked_against_the_public_api(tmp_path):
    """A user's module type-checks against framealloc's annotations: the correct lines pass and
    each mistake marked ``# E: code`` is reported there, with that code (so the API is typed,
    not Any)."""
    user = tmp_path / "user_code.py"
    user.write_text(USER_CODE)
    run = _mypy(str(user), cwd=tmp_path, tmp=tmp_path)
    got = set(re.findall(r"user_code\.py:(\d+): error: .*\[([\w-]+)\]$", run.stdout, re.M))
    expected = {(str(i), m.group(1)) for i, line in enumerate(USER_CODE.splitlines(), 1)
                for m in [re.search(r"# E: ([\w-]+)$", line)] if m}
    assert len(expected) == 5
    assert {(int(i), c) for i, c in got} == {(int(i), c) for i, c in expected}, run.stdout
