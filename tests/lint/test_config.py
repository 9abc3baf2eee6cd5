"""[tool.framealloc.lint] loading, selectors, severities and per-file ignores."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from framealloc.lint import config as config_mod
from framealloc.lint import lint_source
from framealloc.lint.config import ConfigFileError, LintConfig, config_for, find_config, load_config
from framealloc.lint.selectors import SelectorError, expand

ESCAPE = "class C:\n    def f(self, alloc):\n        self.a = alloc.frame_array(3)\n"
NJIT = ("from numba import njit\nimport numpy as np\n@njit\ndef k(n):\n    for i in range(n):\n"
        "        np.empty(3)\n")


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "pyproject.toml"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


@pytest.mark.parametrize("sel,codes", [
    ("FA601", {"FA601"}), ("fa6xx", {c for c in expand(["FA6"])}), ("FA60x", expand(["FA60"])),
    ("FA", expand(["FA2", "FA3", "FA6", "FA7", "FA8"])),
])
def test_selectors(sel: str, codes: set[str]) -> None:
    assert expand([sel]) == codes and codes


@pytest.mark.parametrize("bad", ["FA999", "FA1", "E501", "FA6xxx", ""])
def test_bad_selectors_say_what_to_do(bad: str) -> None:
    with pytest.raises(SelectorError, match="framealloc list"):
        expand([bad])


def test_defaults_enable_everything() -> None:
    assert LintConfig().enabled_codes() == expand(["FA"])


def test_select_and_ignore() -> None:
    cfg = LintConfig(select=("FA6",), ignore=("FA601",))
    assert [d.code for d in lint_source(ESCAPE, config=cfg)] == []
    assert [d.code for d in lint_source(ESCAPE, config=LintConfig(select=("FA601",)))] == ["FA601"]


def test_severity_override_and_deny() -> None:
    assert lint_source(NJIT)[0].severity == "warning"
    assert lint_source(NJIT, config=LintConfig(deny=True))[0].severity == "error"
    assert lint_source(NJIT, config=LintConfig(deny_codes=("FA6",)))[0].severity == "error"
    assert lint_source(NJIT, config=LintConfig(deny_codes=("FA7",)))[0].severity == "warning"
    assert lint_source(NJIT, config=LintConfig(severity={"FA607": "error"}))[0].severity == "error"


def test_pyproject_is_read(tmp_path: Path) -> None:
    path = write(tmp_path, """
        [project]
        name = "x"
        [tool.framealloc.lint]
        select = ["FA6", "FA8"]
        ignore = ["FA607"]
        deny = ["FA7"]
        exclude = ["build/*"]
        severity = { FA601 = "warning" }
        tags = ["physics"]
        [tool.framealloc.lint.tag-modules]
        physics = ["sim.physics*"]
        [tool.framealloc.lint.per_file_ignores]
        "tests/*" = ["FA601"]
    """)
    cfg = load_config(path)
    assert cfg.select == ("FA6", "FA8") and cfg.ignore == ("FA607",)
    assert cfg.deny is False and cfg.deny_codes == ("FA7",)
    assert cfg.exclude == ("build/*",) and cfg.tags == ("physics",)
    assert cfg.severity == {"FA601": "warning"}
    assert cfg.tag_modules == {"physics": ("sim.physics*",)}
    assert cfg.root == tmp_path.resolve() and cfg.source == path
    assert cfg.is_enabled("FA601", "src/a.py") and not cfg.is_enabled("FA601", "tests/a.py")
    assert not cfg.is_enabled("FA607") and not cfg.is_enabled("FA201")


def test_nearest_pyproject_with_the_section_wins(tmp_path: Path) -> None:
    write(tmp_path, '[tool.framealloc.lint]\nignore = ["FA601"]\n')
    sub = tmp_path / "pkg"
    sub.mkdir()
    (sub / "pyproject.toml").write_text('[project]\nname = "pkg"\n', encoding="utf-8")
    assert find_config(sub / "mod.py") == tmp_path / "pyproject.toml"
    assert config_for(sub).ignore == ("FA601",)
    (sub / "pyproject.toml").write_text('[tool.framealloc.lint]\nignore = ["FA602"]\n',
                                        encoding="utf-8")
    assert config_for(sub).ignore == ("FA602",)


def test_no_pyproject_means_defaults(tmp_path: Path) -> None:
    assert find_config(tmp_path) is None
    cfg = config_for(tmp_path)
    assert cfg.source is None and cfg.enabled_codes() == expand(["FA"])


@pytest.mark.parametrize("body,message", [
    ('selct = ["FA6"]', "unknown key 'selct'"),
    ('select = "FA999"', "matches no lint code"),
    ("select = [1]", "list of strings"),
    ('severity = { FA601 = "fatal" }', 'must be "error" or "warning"'),
    ('severity = { FA999 = "error" }', "unknown code"),
    ('tag-modules = ["x"]', "must be a table"),
    ("deny = [", "invalid TOML"),
])
def test_bad_config_is_an_error_with_a_fix(tmp_path: Path, body: str, message: str) -> None:
    path = write(tmp_path, "[tool.framealloc.lint]\n" + body + "\n")
    with pytest.raises(ConfigFileError, match=message) as info:
        load_config(path)
    assert str(path) in str(info.value)


def test_without_a_toml_parser_the_message_says_what_to_install(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(config_mod, "toml_module", lambda: None)  # Python 3.10 without tomli
    path = write(tmp_path, '[tool.framealloc.lint]\nselect = ["FA6"]\n')
    with pytest.raises(ConfigFileError, match="pip install tomli"):
        load_config(path)
    plain = tmp_path / "other"
    plain.mkdir()
    (plain / "pyproject.toml").write_text('[project]\nname = "framealloc-user"\n', encoding="utf-8")
    assert load_config(plain / "pyproject.toml").select == ("FA",)  # nothing to read: defaults


def test_tag_checks_need_declared_tags() -> None:
    src = "def f(alloc):\n    with alloc.tag('anything'):\n        pass\n"
    assert lint_source(src) == []
    found = lint_source(src, config=LintConfig(tags=("physics",)))
    assert [d.code for d in found] == ["FA801"]
    assert "physics" in found[0].message
