"""The HTML report (issue 14, items 3 and 9): one self-contained file, no network, every user
string escaped, a restrictive CSP; rendered by a real browser (Debian's chromium, headless:
``scripts/install-vulkan.sh`` installs it) into a screenshot and a DOM that has every section.

``FRAMEALLOC_WRITE_SCREENSHOT=1`` also copies the screenshot to ``docs/images/report.png`` (the
README's picture)."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import warnings
from html import escape
from pathlib import Path

import numpy as np
import pytest

import framealloc as fa
from framealloc.report import CSP

REPO = Path(__file__).resolve().parents[2]
HOSTILE = ["<script>alert(1)</script>", '"><img src=x onerror=alert(2)>', "a&b<i>c</i>",
           "</style><script>alert(3)</script>", "'; background:url(http://evil/x)"]


def _demo_alloc(names=("physics", "render"), thread_name="MainWorker"):
    alloc = fa.SmartAlloc()
    alloc.set_budget(soft=6000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i in range(90):
            with alloc.frame():
                with alloc.phase(names[0]), alloc.tag(names[0]):
                    alloc.frame_array(2000 + 40 * (i % 30), np.uint8)
                with alloc.phase(names[1]), alloc.tag(names[1]):
                    alloc.frame_array(1200 + (900 if i % 17 == 0 else 0), np.uint8)
                    cp = alloc.frame_checkpoint()
                    alloc.frame_array(1500, np.uint8)
                    alloc.rollback_to(cp)
        done, stop = threading.Event(), threading.Event()

        def other():            # stays alive (its slot, name and history too) until stopped
            for _ in range(3):
                with alloc.frame():
                    alloc.frame_array(64, np.uint8)
            done.set()
            stop.wait(60)
        threading.Thread(target=other, name=thread_name, daemon=True).start()
        done.wait()
    return alloc, stop


def _snap(names=("physics", "render"), thread_name="MainWorker", label="demo"):
    alloc, stop = _demo_alloc(names, thread_name)
    try:
        return alloc.snapshot(label)
    finally:
        stop.set()


@pytest.fixture(scope="module")
def snapshot():
    return _snap()


def test_page_is_self_contained(snapshot):
    page = snapshot.to_html()
    assert page.startswith("<!DOCTYPE html>")
    assert f'<meta http-equiv="Content-Security-Policy" content="{CSP}">' in page
    assert "default-src 'none'" in CSP and "script-src" not in CSP
    low = page.lower()
    for needle in ("<script", "<link", "<iframe", "<img", "@import", "url(", "http://",
                   "https://", " src=", " href=", "javascript:"):
        assert needle not in low, needle


@pytest.mark.parametrize("hostile", HOSTILE)
def test_every_user_string_is_escaped(hostile):
    """The hostile string as tag, phase, thread name, scratch pool and label: never raw."""
    alloc, stop = _demo_alloc((hostile, "other"), thread_name=hostile)
    alloc.scratch_pool(hostile.replace(" ", "_")[:100], 1024)
    page = alloc.snapshot(label=hostile).to_html()
    stop.set()
    assert hostile not in page
    assert escape(hostile, quote=True) in page
    assert "<script" not in page.lower() and "onerror=" not in page.replace("onerror=alert",
                                                                             "")


def test_sections_and_timeline(snapshot):
    page = snapshot.to_html()
    for anchor in ("timeline", "kinds", "tags", "phases", "threads", "warnings"):
        assert f'id="{anchor}"' in page
    # one bar per non-zero series value of the main thread's by-kind and by-tag timelines
    main = snapshot.history[0]
    bars = sum(int(v > 0) for v in main["frame_bytes"]) + \
        sum(int(v > 0) for v in main["other_bytes"]) + \
        sum(int(v > 0) for col in main.tags.values() for v in col)
    (other,) = snapshot.history[1:]
    bars += sum(int(v > 0) for v in other["frame_bytes"])
    assert "MainWorker" in page
    assert page.count("<rect ") == bars
    assert page.count('class="peak"') >= (main["peak"] > main["frame_bytes"]).sum() > 0
    assert 'class="budget"' in page
    assert "FA155" in page and escape(fa.explain("FA155").splitlines()[1]) in page


def test_notebook_views(snapshot):
    alloc, stop = _demo_alloc()
    stop.set()
    for obj in (alloc.stats(), snapshot, alloc.history(), alloc.snapshot() - snapshot):
        html = obj._repr_html_()
        assert html.startswith("<") and "<script" not in html
    assert "<svg" in snapshot._repr_html_() and "<table" in alloc.stats()._repr_html_()


def test_cli_writes_the_report_and_refuses_bad_files(snapshot, tmp_path):
    snap = tmp_path / "snap.json"
    snapshot.save(snap)
    out = tmp_path / "r.html"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH",
                                                                                 "")]))
    r = subprocess.run([sys.executable, "-m", "framealloc", "report", str(snap), "-o", str(out)],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert out.read_text(encoding="utf-8") == snapshot.to_html()
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "framealloc-snapshot", "version": 1}')
    r = subprocess.run([sys.executable, "-m", "framealloc", "report", str(bad), "-o",
                        str(tmp_path / "x.html")], capture_output=True, text=True, env=env,
                       timeout=120)
    assert r.returncode == 2 and "FA500" in r.stderr and not (tmp_path / "x.html").exists()


# -- in a real browser -------------------------------------------------------------------------

def _chromium():
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.skip("chromium is not installed: run scripts/install-vulkan.sh (apt)")
    return exe


def _browser(args, timeout=180):
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             "--no-first-run", "--disable-extensions", "--window-size=1000,1500"]
    return subprocess.run([_chromium(), *flags, *args], capture_output=True, timeout=timeout)


def _png_pixels(path: Path) -> np.ndarray:
    import matplotlib.image
    return matplotlib.image.imread(str(path))


def test_browser_renders_the_report(snapshot, tmp_path):
    page = tmp_path / "report.html"
    page.write_text(snapshot.to_html(), encoding="utf-8")
    dom = _browser(["--dump-dom", page.as_uri()]).stdout.decode("utf-8", "replace")
    assert 'id="timeline"' in dom and "<svg" in dom and 'class="tags"' in dom
    assert dom.count("<tr>") >= 10 and "FA155" in dom
    shot = tmp_path / "report.png"
    _browser([f"--screenshot={shot}", page.as_uri()])
    px = _png_pixels(shot)
    assert px.shape[0] >= 1000 and px.shape[1] >= 900
    rgb = px[..., :3].reshape(-1, 3)
    assert rgb.std() > 0.05                                   # not blank
    colors = {tuple(c) for c in (rgb[:: 97] * 255).round().astype(int).tolist()}
    assert len(colors) > 20                                   # charts, not one flat colour
    if os.environ.get("FRAMEALLOC_WRITE_SCREENSHOT"):
        (REPO / "docs" / "images").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, REPO / "docs" / "images" / "report.png")


def test_browser_runs_no_script_from_hostile_names(tmp_path):
    page = tmp_path / "hostile.html"
    page.write_text(_snap((HOSTILE[0], HOSTILE[1]), HOSTILE[2], HOSTILE[3]).to_html(),
                    encoding="utf-8")
    dom = _browser(["--dump-dom", page.as_uri()]).stdout.decode("utf-8", "replace")
    # the names are text in the rendered DOM: escaped again when serialised, never elements
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom
    assert not re.search(r"<script|<img", dom, re.I)
