"""The package's import graph: no cycles, and the solvers never import the layers above them.

The graph is read from the sources with :mod:`ast` (no module is imported): every ``import`` and
``from ... import`` of a pjcsync module, at the top of a file or inside a function, is an edge;
imports under ``if TYPE_CHECKING:`` (annotations, never executed) are not.  Data flows one way
(README, "Design"): config -> model -> superoperator -> preconditioner -> solvers -> observables
-> results -> command line.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "pjcsync"

# the solvers and what they build on: none of them may import the results files, the sweep,
# the command line or the Python interface
BELOW_RESULTS = ("choices", "validate", "states", "memory", "steady", "floquet", "evolve", "rate",
                 "gap", "sylvester", "matfree", "superoperator", "model", "operators", "observables",
                 "truncation", "lindblad")
ABOVE_SOLVERS = ("results", "sweep", "cli", "api", "checkpoint", "report")


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
           (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST, modules: set[str]) -> set[str]:
    """The pjcsync modules imported anywhere in ``tree`` (TYPE_CHECKING blocks excepted)."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.ImportFrom):
            parts = (node.module or "").split(".")
            if node.level == 1 or (node.level == 0 and parts[0] == "pjcsync"):
                inner = parts if node.level == 1 else parts[1:]
                if inner and inner[0]:
                    found.add(inner[0])
                else:                           # from . import x / from pjcsync import x
                    found.update(a.name for a in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "pjcsync" and len(parts) > 1:
                    found.add(parts[1])
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found & modules


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """Module name -> the pjcsync modules it imports (itself excluded)."""
    files = {p.stem: p for p in package.glob("*.py")}
    modules = set(files)
    return {name: _imports(ast.parse(path.read_text(), str(path)), modules) - {name}
            for name, path in files.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index, low, on_stack, stack, out = {}, {}, set(), [], []
    counter = [0]

    def connect(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return sorted(out)


def _path(graph: dict[str, set[str]], comp: list[str]) -> str:
    """One cycle through the component, as ``a -> b -> a`` (for the failure message)."""
    start = comp[0]
    seen, trail = {start}, [start]
    node = start
    while True:
        nxt = sorted(w for w in graph[node] if w in comp)
        back = [w for w in nxt if w == start]
        if back and len(trail) > 1:
            return " -> ".join(trail + [start])
        fresh = [w for w in nxt if w not in seen]
        if not fresh:
            return " <-> ".join(comp)
        node = fresh[0]
        seen.add(node)
        trail.append(node)


def test_the_checker_finds_cycles(tmp_path):
    """The checker itself: a package with a cycle through a function-level import fails,
    one whose back edge is under ``if TYPE_CHECKING:`` passes."""
    (tmp_path / "a.py").write_text("from . import b\n")
    (tmp_path / "b.py").write_text("def f():\n    from .c import g\n")
    (tmp_path / "c.py").write_text("import pjcsync.a as a\n")
    (tmp_path / "d.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .a import x\n")
    graph = import_graph(tmp_path)
    assert graph == {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}
    assert cycles(graph) == [["a", "b", "c"]]
    (tmp_path / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pjcsync.a\n")
    assert cycles(import_graph(tmp_path)) == []


def test_no_import_cycles():
    graph = import_graph()
    assert {"steady", "memory", "choices", "cli"} <= set(graph)      # the real package was read
    found = cycles(graph)
    assert not found, "import cycles: " + "; ".join(_path(graph, c) for c in found)


@pytest.mark.parametrize("module", BELOW_RESULTS)
def test_solvers_do_not_import_upper_layers(module):
    graph = import_graph()
    if module not in graph:
        pytest.skip(f"no module pjcsync.{module}")
    upper = sorted(graph[module] & set(ABOVE_SOLVERS))
    assert not upper, f"pjcsync.{module} imports {', '.join(upper)} (a layer above the solvers)"
