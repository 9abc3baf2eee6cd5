"""Documentation examples are tests: module docstrings and docs/gpu.md."""
from __future__ import annotations

import doctest
import importlib
import pathlib
import pkgutil

import pytest

import framealloc.gpu

ROOT = pathlib.Path(__file__).resolve().parents[2]
MODULES = sorted(m.name for m in pkgutil.walk_packages(framealloc.gpu.__path__, "framealloc.gpu.")
                 if not m.name.startswith("framealloc.gpu.vk"))
VK_MODULES = sorted(m.name for m in pkgutil.walk_packages(framealloc.gpu.__path__,
                                                          "framealloc.gpu.")
                    if m.name.startswith("framealloc.gpu.vk"))


def _run(module_name: str) -> None:
    module = importlib.import_module(module_name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} doctest(s) failed in {module_name}"


@pytest.mark.parametrize("module_name", ["framealloc.gpu"] + MODULES)
def test_module_doctests(module_name):
    _run(module_name)


@pytest.mark.gpu
@pytest.mark.parametrize("module_name", VK_MODULES)
def test_vulkan_module_doctests(module_name, vulkan_instance):
    _run(module_name)


def test_user_guide_examples():
    guide = ROOT / "docs" / "gpu.md"
    parser = doctest.DocTestParser()
    text = guide.read_text()
    test = parser.get_doctest(text, {}, "docs/gpu.md", str(guide), 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    assert test.examples, "docs/gpu.md has no examples"
    assert runner.failures == 0, f"{runner.failures} example(s) in docs/gpu.md failed"
