"""Census of the framealloc package: modules, import graph, cycles, status namespaces.

Reads the sources of ``framealloc/`` from the working tree or from any git commit (without
checking it out), so the same figures can be taken before and after a change::

    python scripts/census.py              # the working tree
    python scripts/census.py HEAD~5       # a commit (anything ``git rev-parse`` accepts)
    python scripts/census.py --json REV   # the same figures as JSON

The import graph is built with :mod:`ast`, nothing is imported. An edge ``a -> b`` means that
module ``a`` has an ``import`` statement that loads module ``b``:

* absolute (``import framealloc.x``, ``from framealloc.x import y``) and relative
  (``from .x import y``, ``from .. import x``) imports; ``from p import x`` is an edge to the
  submodule ``p.x`` when there is one, else to ``p``;
* imports inside functions count: a cycle made lazy is still a cycle;
* imports under ``if TYPE_CHECKING:`` do not (they never run); the census lists them apart;
* the implicit import of a package's ``__init__`` when one of its submodules loads is not an
  edge (every submodule would otherwise depend on its package);
* ``importlib.import_module`` with a name from a string literal is not an import statement: the
  census lists such *dynamic* edges and the cycles they close apart (in a module that calls
  ``import_module`` or ``__import__``, every string literal naming a module of the package).

``tests/test_architecture.py`` loads this file and asserts on the same graph.
"""
from __future__ import annotations

import argparse
import ast
import json
import os
import re
import subprocess
import sys
from collections import deque
from dataclasses import dataclass, field

PACKAGE = "framealloc"
#: Subpackages counted apart in the module census.
APART = ("framealloc.gpu", "framealloc.lint")


@dataclass(frozen=True)
class Edge:
    """One import statement of ``src`` that loads ``dst``."""

    src: str
    dst: str
    line: int
    lazy: bool          # inside a function (runs when called, not at import)
    type_only: bool     # under ``if TYPE_CHECKING:``
    dynamic: bool = False   # a string literal in a module that calls importlib.import_module

    def describe(self) -> str:
        where = f"line {self.line}"
        if self.dynamic:
            where += ", importlib"
        elif self.type_only:
            where += ", TYPE_CHECKING"
        elif self.lazy:
            where += ", in a function"
        return f"{self.src} -> {self.dst} ({where})"


@dataclass
class Graph:
    """Modules of the package (name -> source) and the import edges between them."""

    modules: dict[str, str]
    paths: dict[str, str]
    edges: list[Edge] = field(default_factory=list)

    def counted(self, type_only: bool = False, dynamic: bool = False) -> list[Edge]:
        """The import statements (run time, lazy included), and on request the TYPE_CHECKING
        and the dynamic ones too."""
        return [e for e in self.edges
                if (type_only or not e.type_only) and (dynamic or not e.dynamic)]

    def adjacency(self, type_only: bool = False, dynamic: bool = False) -> dict[str, set[str]]:
        """``module -> modules it imports`` over the edges :meth:`counted` picks."""
        adj: dict[str, set[str]] = {m: set() for m in self.modules}
        for e in self.counted(type_only, dynamic):
            adj[e.src].add(e.dst)
        return adj

    def edge(self, src: str, dst: str, type_only: bool = False, dynamic: bool = False) -> Edge:
        """The first import of ``src`` that loads ``dst`` (run-time statements first)."""
        found = [e for e in self.counted(type_only, dynamic) if e.src == src and e.dst == dst]
        return min(found, key=lambda e: (e.dynamic, e.type_only, e.lazy, e.line))


# -- reading sources ----------------------------------------------------------------------------
def _git(root: str, *args: str) -> str:
    return subprocess.run(["git", "-C", root, *args], check=True, capture_output=True,
                          text=True).stdout


def read_sources(root: str, rev: str | None = None) -> dict[str, str]:
    """``path relative to root -> source`` of every ``.py`` file under ``framealloc/``."""
    out: dict[str, str] = {}
    if rev is None:
        base = os.path.join(root, PACKAGE)
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
            for name in sorted(filenames):
                if name.endswith(".py"):
                    path = os.path.join(dirpath, name)
                    with open(path, encoding="utf-8") as f:
                        out[os.path.relpath(path, root).replace(os.sep, "/")] = f.read()
        return out
    for path in _git(root, "ls-tree", "-r", "--name-only", rev, "--", PACKAGE).split("\n"):
        if path.endswith(".py"):
            out[path] = _git(root, "show", f"{rev}:{path}")
    return out


def module_name(path: str) -> str:
    parts = path[:-3].split("/")
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


# -- the import graph ---------------------------------------------------------------------------
def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.Module):
    """Yield ``(node, lazy, type_only)`` for every import statement of a module."""
    stack: list[tuple[ast.AST, bool, bool]] = [(tree, False, False)]
    while stack:
        node, lazy, type_only = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node, lazy, type_only
            continue
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend((n, lazy, True) for n in node.body)
            stack.extend((n, lazy, type_only) for n in node.orelse)
            continue
        inner = lazy or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        stack.extend((n, inner, type_only) for n in ast.iter_child_nodes(node))


def _known(name: str, modules: dict[str, str]) -> str | None:
    """``name`` or its longest prefix that is a module of the package."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def build_graph(sources: dict[str, str]) -> Graph:
    """The import graph of the package whose sources :func:`read_sources` returned."""
    modules = {module_name(p): src for p, src in sources.items()}
    paths = {module_name(p): p for p in sources}
    graph = Graph(modules, paths)
    for mod, src in sorted(modules.items()):
        is_pkg = paths[mod].endswith("/__init__.py")
        package = mod if is_pkg else mod.rpartition(".")[0]
        tree = ast.parse(src, filename=paths[mod])
        for node, lazy, type_only in _imports(tree):
            targets: list[str | None] = []
            if isinstance(node, ast.Import):
                targets = [_known(a.name, modules) for a in node.names]
            else:
                if node.level:
                    parts = package.split(".")
                    base = ".".join(parts[:len(parts) - node.level + 1])
                    if node.module:
                        base = f"{base}.{node.module}" if base else node.module
                else:
                    base = node.module or ""
                for a in node.names:
                    sub = f"{base}.{a.name}"
                    targets.append(sub if sub in modules else _known(base, modules))
            for dst in targets:
                if dst is not None and dst != mod:
                    graph.edges.append(Edge(mod, dst, node.lineno, lazy, type_only))
        if "import_module" in src or "__import__" in src:
            for node in ast.walk(tree):
                if isinstance(node, ast.Constant) and node.value in modules \
                        and node.value != mod:
                    graph.edges.append(Edge(mod, node.value, node.lineno, True, False, True))
    return graph


def strongly_connected(adj: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one module, each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for root in sorted(adj):
        if root in index:
            continue
        # Iterative depth-first search: (node, iterator over its successors).
        work = [(root, iter(sorted(adj[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, it = work[-1]
            for nxt in it:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(adj[nxt]))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    comp = []
                    while True:
                        m = stack.pop()
                        on_stack.discard(m)
                        comp.append(m)
                        if m == node:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
    return sorted(out)


def shortest_path(adj: dict[str, set[str]], members: set[str], start: str, goal: str) -> list[str]:
    """A shortest path ``[start, ..., goal]`` of at least one edge inside ``members``."""
    prev: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for nxt in sorted(adj[node] & members):
            if nxt == goal:
                chain = [goal, node]
                while chain[-1] != start:
                    chain.append(prev[chain[-1]])
                return chain[::-1]
            if nxt not in prev:
                prev[nxt] = node
                queue.append(nxt)
    raise ValueError(f"no path from {start} to {goal} in {sorted(members)}")


def import_cycles(graph: Graph, type_only: bool = False,
                  dynamic: bool = False) -> list[list[str]]:
    """The strongly connected components of the import graph (each one holds a cycle)."""
    return strongly_connected(graph.adjacency(type_only, dynamic))


def describe_cycle(graph: Graph, component: list[str], type_only: bool = False,
                   dynamic: bool = False) -> str:
    """A component as a readable chain of import statements, ``a -> b (line n) -> a``."""
    adj = graph.adjacency(type_only, dynamic)
    members = set(component)
    # Through an edge of the kind asked for where there is one (else the extra kind is moot).
    extra = [e for e in graph.counted(type_only, dynamic)
             if e.src in members and e.dst in members
             and ((type_only and e.type_only) or (dynamic and e.dynamic))]
    if extra:
        chain = [extra[0].src] + shortest_path(adj, members, extra[0].dst, extra[0].src)
    else:
        chain = shortest_path(adj, members, component[0], component[0])
    lines = [f"cycle of {len(component)} modules: {' -> '.join(chain)}"]
    lines += [f"    {graph.edge(a, b, type_only, dynamic).describe()}"
              for a, b in zip(chain, chain[1:])]
    if len(component) > len(chain) - 1:
        rest = ", ".join(sorted(set(component) - set(chain)))
        lines.append(f"    (the component also holds: {rest})")
    return "\n".join(lines)


# -- status namespaces --------------------------------------------------------------------------
def _int_value(node: ast.expr) -> int | None:
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError):
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def status_constants(graph: Graph) -> dict[str, dict[str, int | None]]:
    """``module -> {ST_* name: value}`` for every module defining ``ST_*`` constants at module
    level or in a class body (value None where it is not an integer literal)."""
    out: dict[str, dict[str, int | None]] = {}
    for mod, src in sorted(graph.modules.items()):
        found: dict[str, int | None] = {}
        tree = ast.parse(src)
        bodies = [tree.body] + [n.body for n in tree.body if isinstance(n, ast.ClassDef)]
        for body in bodies:
            for stmt in body:
                if isinstance(stmt, ast.Assign):
                    pairs = [(t, stmt.value) for t in stmt.targets]
                elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
                    pairs = [(stmt.target, stmt.value)]
                else:
                    continue
                for target, value in pairs:
                    if isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple):
                        pairs += list(zip(target.elts, value.elts))
                    elif isinstance(target, ast.Name) and target.id.startswith("ST_"):
                        found[target.id] = _int_value(value)
        if found:
            out[mod] = found
    return out


def status_collisions(constants: dict[str, dict[str, int | None]]) -> dict[str, dict[str, int]]:
    """``ST_* name -> {module: value}`` where one name has different integer values."""
    by_name: dict[str, dict[str, int]] = {}
    for mod, names in constants.items():
        for name, value in names.items():
            if value is not None:
                by_name.setdefault(name, {})[mod] = value
    return {n: v for n, v in sorted(by_name.items()) if len(set(v.values())) > 1}


# -- the report ---------------------------------------------------------------------------------
def _code_lines(src: str) -> int:
    return sum(1 for line in src.splitlines() if line.strip() and not line.lstrip().startswith("#"))


def census(root: str, rev: str | None = None) -> dict:
    graph = build_graph(read_sources(root, rev))
    mods = sorted(graph.modules)

    def part(m: str) -> str:
        return next((a for a in APART if m == a or m.startswith(a + ".")), "core")

    counts: dict[str, int] = {}
    lines: dict[str, int] = {}
    for m in mods:
        counts[part(m)] = counts.get(part(m), 0) + 1
        lines[part(m)] = lines.get(part(m), 0) + _code_lines(graph.modules[m])
    constants = status_constants(graph)
    cycles = import_cycles(graph)
    typed = [c for c in import_cycles(graph, type_only=True) if c not in cycles]
    dynamic = [c for c in import_cycles(graph, dynamic=True) if c not in cycles]
    return {
        "rev": rev or "working tree",
        "modules": {"total": len(mods), **counts},
        "code_lines": {"total": sum(lines.values()), **lines},
        "import_edges": len({(e.src, e.dst) for e in graph.counted()}),
        "dynamic_imports": sorted({f"{e.src} -> {e.dst}" for e in graph.edges if e.dynamic}),
        "import_cycles": [{"modules": c, "chain": describe_cycle(graph, c)} for c in cycles],
        "type_only_cycles": [{"modules": c, "chain": describe_cycle(graph, c, True)}
                             for c in typed],
        "dynamic_cycles": [{"modules": c, "chain": describe_cycle(graph, c, dynamic=True)}
                           for c in dynamic],
        "status_namespaces": {m: len(v) for m, v in constants.items()},
        "status_collisions": status_collisions(constants),
        "code_tables": sorted(m for m in mods if m.endswith("_codes") or m.endswith(".codes")),
        "code_table_defs": sorted(m for m in mods if _defines_codes(graph.modules[m])),
    }


_CODE_ENTRY = re.compile(r"""_add\(\s*(?:ST\.|["']FA\d{3})|["']FA\d{3}["']\s*:\s*(?:\(|CodeInfo)""")


def _defines_codes(module: str) -> bool:
    """Whether a module writes code entries itself (three or more), rather than re-exporting."""
    return len(_CODE_ENTRY.findall(module)) >= 3


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("rev", nargs="?", help="a git commit (default: the working tree)")
    ap.add_argument("--root", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                    help="repository root (default: the one holding this script)")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args(argv)
    c = census(args.root, args.rev)
    if args.json:
        print(json.dumps(c, indent=2))
        return 0
    m = c["modules"]
    print(f"census of {PACKAGE} at {c['rev']}")
    print(f"modules: {m['total']} in all; {m.get('core', 0)} outside gpu and lint; "
          + "; ".join(f"{a.rpartition('.')[2]} {m.get(a, 0)}" for a in APART))
    cl = c["code_lines"]
    print(f"code lines (no blanks or comments): {cl['total']} in all; {cl.get('core', 0)} "
          "outside gpu and lint")
    print(f"import edges (run time, lazy included): {c['import_edges']}")
    print(f"import cycles (run time, lazy included): {len(c['import_cycles'])}")
    for cyc in c["import_cycles"]:
        print("  " + cyc["chain"].replace("\n", "\n  "))
    print(f"further cycles when TYPE_CHECKING imports count: {len(c['type_only_cycles'])}")
    for cyc in c["type_only_cycles"]:
        print("  " + cyc["chain"].replace("\n", "\n  "))
    print(f"dynamic imports (importlib with a literal module name): {len(c['dynamic_imports'])}")
    for e in c["dynamic_imports"]:
        print(f"  {e}")
    print(f"cycles (or larger components) when dynamic imports count too: "
          f"{len(c['dynamic_cycles'])}")
    for cyc in c["dynamic_cycles"]:
        print("  " + cyc["chain"].replace("\n", "\n  "))
    ns = c["status_namespaces"]
    print(f"status namespaces (modules defining ST_* constants): {len(ns)}")
    for mod, n in ns.items():
        print(f"  {mod}: {n} names")
    print(f"ST_* names with different values in different modules: {len(c['status_collisions'])}")
    for name, values in c["status_collisions"].items():
        print(f"  {name}: " + ", ".join(f"{v} in {mod}" for mod, v in values.items()))
    print(f"code-table modules (*_codes, codes): {len(c['code_tables'])}: "
          + ", ".join(c["code_tables"]))
    print(f"modules that write code entries (FA number with its text; the rest are views): "
          f"{len(c['code_table_defs'])}: " + ", ".join(c["code_table_defs"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
