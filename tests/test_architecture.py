"""The shape of the package: no import cycles, kernels below the Python API, a light import.

The import graph comes from ``scripts/census.py`` (``ast`` over the sources of ``framealloc/``,
nothing imported), so the census and these tests count the same edges:

* every ``import`` statement counts, also inside functions: a cycle made lazy is still a cycle;
* imports under ``if TYPE_CHECKING:`` do not count (they never run);
* ``importlib.import_module("framealloc.x")`` is not an import statement and does not count here;
  the census lists those edges and the cycles they would close.

That ``import framealloc`` leaves numba unloaded is checked by running it in a subprocess in
``tests/core/test_docs_and_import.py`` (and for collections, pools and lint in their folders);
:func:`test_import_framealloc_loads_no_numba_module` below says *which* chain of imports would
load numba, from the sources.
"""
from __future__ import annotations

import ast
import importlib.util
import os
import re
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _load_census():
    spec = importlib.util.spec_from_file_location("framealloc_census",
                                                  os.path.join(ROOT, "scripts", "census.py"))
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod        # dataclasses look their module up by name
    spec.loader.exec_module(mod)
    return mod


census = _load_census()

#: Known violations, allowed while they are being removed: none today. An entry needs a reason;
#: the test also fails when an entry no longer exists, so the list cannot go stale.
_KNOWN_UNTIL_MERGE: dict[str, set] = {
    "cycles": set(),            # frozensets of the modules of a strongly connected component
    "kernels_imports": set(),   # (kernels module, Python-API module it imports)
}
#: The numba surface imports no Python-API module either: the API registers its classes in
#: ``framealloc.kernels.PYTHON_CLASSES`` / ``BOXERS`` when it is imported.
_NUMBA_SURFACE_IMPORTS_API: set = set()

#: Modules outside kernels/ that kernels may import: the exceptions and their code tables, the
#: dtype rules, and the checkpoint value type. Each imports nothing but one another (checked).
_FOUNDATION_NAMES = {"framealloc.errors", "framealloc._dtypes", "framealloc.checkpoints"}
_FOUNDATION_PATTERN = re.compile(r"framealloc\.\w+_codes")

KERNELS = "framealloc.kernels"


@pytest.fixture(scope="module")
def graph():
    return census.build_graph(census.read_sources(ROOT))


def _in_kernels(module: str) -> bool:
    return module == KERNELS or module.startswith(KERNELS + ".")


def _foundation(graph) -> set[str]:
    return {m for m in graph.modules
            if m in _FOUNDATION_NAMES or _FOUNDATION_PATTERN.fullmatch(m)}


# -- import cycles ------------------------------------------------------------------------------
def test_no_import_cycles(graph):
    """No two modules of framealloc/ (gpu and lint included) import each other, even lazily."""
    found = census.import_cycles(graph)
    known = _KNOWN_UNTIL_MERGE["cycles"]
    new = [c for c in found if frozenset(c) not in known]
    gone = known - {frozenset(c) for c in found}
    problems = [census.describe_cycle(graph, c) for c in new]
    problems += [f"{' <-> '.join(sorted(c))} is no longer a cycle: remove it from "
                 "_KNOWN_UNTIL_MERGE in tests/test_architecture.py" for c in gone]
    if problems:
        pytest.fail("import cycles in framealloc/:\n" + "\n".join(problems), pytrace=False)


# -- layers -------------------------------------------------------------------------------------
def test_kernels_import_no_python_api(graph):
    """framealloc/kernels/ imports only kernels modules and the foundation below them."""
    allowed = _foundation(graph)
    found: dict[tuple[str, str], census.Edge] = {}
    for e in graph.counted():
        if _in_kernels(e.src) and not _in_kernels(e.dst) and e.dst not in allowed:
            found.setdefault((e.src, e.dst), e)
    known = _KNOWN_UNTIL_MERGE["kernels_imports"] | _NUMBA_SURFACE_IMPORTS_API
    problems = [f"{e.describe()}: kernels may import only kernels modules and "
                f"{', '.join(sorted(allowed))}"
                for pair, e in sorted(found.items()) if pair not in known]
    problems += [f"{src} no longer imports {dst}: remove the pair from the allow-list in "
                 "tests/test_architecture.py" for src, dst in sorted(known - set(found))]
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


def test_foundation_modules_are_leaves(graph):
    """What kernels may import from outside kernels imports nothing above itself."""
    allowed = _foundation(graph)
    assert {"framealloc.errors", "framealloc._dtypes"} <= allowed
    # ...besides the bottom of kernels/: its modules that import nothing (the layouts, statuses).
    importers = {e.src for e in graph.counted()}
    bottom = {m for m in graph.modules if _in_kernels(m) and m not in importers}
    assert {"framealloc.kernels.layout", "framealloc.kernels.status"} <= bottom
    # explain() reads the linter's code table: the same record (CodeInfo), nothing else.
    lint_table = "framealloc.lint.codes"
    assert {e.dst for e in graph.counted() if e.src == lint_table} <= bottom
    bottom.add(lint_table)
    problems = [e.describe() for e in graph.counted()
                if e.src in allowed and e.dst not in allowed | bottom]
    if problems:
        pytest.fail("foundation modules importing above themselves:\n" + "\n".join(problems),
                    pytrace=False)


#: The numba surface inside kernels/: typing, boxing and overload registration. Every other
#: kernels module is a state machine (layer 1) and imports none of these.
_SURFACE = {"framealloc.kernels", "framealloc.kernels.njit_api", "framealloc.kernels.pools_njit",
            "framealloc.kernels.scratch_njit", "framealloc.kernels.collections_njit",
            "framealloc.kernels.creation_njit", "framealloc.kernels.expressions_njit",
            "framealloc.kernels.python_only", "framealloc.kernels.aliasing",
            "framealloc.kernels.leases"}
#: numba names that only the surface uses: types, data models, boxing, overloads.
_TYPING_NAMES = {"overload", "overload_method", "overload_attribute", "register_model",
                 "typeof_impl", "unbox", "box", "make_attribute_wrapper", "infer_getattr",
                 "models"}


def _numba_typing(graph, module: str) -> list[str]:
    """The typing names ``module`` imports from numba (anywhere in the file)."""
    found = []
    for node in ast.walk(ast.parse(graph.modules[module])):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("numba"):
            found += [a.name for a in node.names if a.name in _TYPING_NAMES]
    return found


def test_state_machines_import_no_numba_surface(graph):
    """Layer 1 (kernels modules that are not the surface) imports no surface module and
    registers no typing: the surface is built over the kernels, never the other way."""
    from framealloc.kernels import NJIT_MODULES

    assert set(NJIT_MODULES) <= _SURFACE, "a new surface module: add it to _SURFACE"
    layer1 = {m for m in graph.modules if _in_kernels(m) and m not in _SURFACE}
    assert {"framealloc.kernels.arena", "framealloc.kernels.org",
            "framealloc.kernels.pool_kernels", "framealloc.kernels.scratch",
            "framealloc.kernels.collections"} <= layer1
    assert _numba_typing(graph, "framealloc.kernels.collections_njit"), "the check sees nothing"
    problems = [e.describe() for e in graph.counted(dynamic=True)
                if e.src in layer1 and e.dst in _SURFACE]
    for m in sorted(layer1):
        problems += [f"{m} imports numba typing: {name}" for name in _numba_typing(graph, m)]
    if problems:
        pytest.fail("state-machine modules reaching the numba surface:\n" + "\n".join(problems),
                    pytrace=False)


# -- import weight ------------------------------------------------------------------------------
_HEAVY = ("numba", "llvmlite")


def _loaded_at_import(graph, root: str) -> dict[str, tuple[str, ...]]:
    """Modules that ``import root`` loads (top-level statements, parent packages included),
    each with the chain of modules that loads it."""
    top: dict[str, set[str]] = {m: set() for m in graph.modules}
    for e in graph.counted():
        if not e.lazy:
            top[e.src].add(e.dst)
    chains = {root: (root,)}
    todo = [root]
    while todo:
        mod = todo.pop()
        parents = [".".join(mod.split(".")[:i]) for i in range(1, mod.count(".") + 1)]
        for nxt in sorted(top[mod]) + [p for p in parents if p in graph.modules]:
            if nxt not in chains:
                chains[nxt] = chains[mod] + (nxt,)
                todo.append(nxt)
    return chains


def _heavy_imports(source: str) -> list[tuple[int, str]]:
    """Top-level (not lazy, not TYPE_CHECKING) imports of numba or llvmlite."""
    out = []
    for node, lazy, type_only in census._imports(ast.parse(source)):
        if lazy or type_only:
            continue
        names = [a.name for a in node.names] if isinstance(node, ast.Import) \
            else [node.module or ""] if not node.level else []
        out += [(node.lineno, n) for n in names if n.split(".")[0] in _HEAVY]
    return out


@pytest.mark.parametrize("root", ["framealloc", "framealloc.gpu", "framealloc.lint"])
def test_import_framealloc_loads_no_numba_module(graph, root):
    """No module that ``import framealloc`` (or its gpu/lint package) loads imports numba at
    its top level: numba and the kernels load on first use."""
    problems = [f"{' -> '.join(chain)} imports {name} at line {line}"
                for mod, chain in sorted(_loaded_at_import(graph, root).items())
                for line, name in _heavy_imports(graph.modules[mod])]
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


# -- the analysis itself ------------------------------------------------------------------------
def test_graph_resolves_every_kind_of_import():
    """Relative and absolute imports, ``from . import sub``, lazy imports, TYPE_CHECKING."""
    sources = {
        "framealloc/__init__.py": "from .a import f\nfrom . import sub\n",
        "framealloc/a.py": "import framealloc.b\nfrom framealloc.sub import x as y\n",
        "framealloc/b.py": ("from typing import TYPE_CHECKING\n"
                            "if TYPE_CHECKING:\n    from .a import f\nelse:\n    import os\n"
                            "def g():\n    from .sub.deep import z\n"),
        "framealloc/sub/__init__.py": "from .. import b\nfrom . import deep\n",
        "framealloc/sub/deep.py": "from ..a import f\nimport numpy\n",
    }
    g = census.build_graph(sources)
    got = {(e.src, e.dst, e.lazy, e.type_only) for e in g.edges}
    assert got == {
        ("framealloc", "framealloc.a", False, False),
        ("framealloc", "framealloc.sub", False, False),
        ("framealloc.a", "framealloc.b", False, False),
        ("framealloc.a", "framealloc.sub", False, False),
        ("framealloc.b", "framealloc.a", False, True),
        ("framealloc.b", "framealloc.sub.deep", True, False),
        ("framealloc.sub", "framealloc.b", False, False),
        ("framealloc.sub", "framealloc.sub.deep", False, False),
        ("framealloc.sub.deep", "framealloc.a", False, False),
    }
    cycles = census.import_cycles(g)
    assert cycles == [["framealloc.a", "framealloc.b", "framealloc.sub", "framealloc.sub.deep"]]
    text = census.describe_cycle(g, cycles[0])
    assert text.splitlines()[0] == ("cycle of 4 modules: framealloc.a -> framealloc.b -> "
                                    "framealloc.sub.deep -> framealloc.a")
    assert "framealloc.b -> framealloc.sub.deep (line 7, in a function)" in text
    # The TYPE_CHECKING edge alone closes no cycle; counted, it closes a -> b -> a as well.
    assert census.import_cycles(g, type_only=True) == cycles


def test_census_runs_on_the_working_tree(capsys):
    assert census.main(["--root", ROOT]) == 0
    out = capsys.readouterr().out
    assert "import cycles (run time, lazy included):" in out
    assert "status namespaces" in out
