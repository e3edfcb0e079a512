"""The package's shape: subpackages with one job, imports pointing down only, no cycles.

Every `import` in symbp/ is read with `ast` (those inside functions too: a lazy import is still
a dependency) and checked against `MAY_IMPORT`, the module map of DEVELOPERS.md written as
data. Each rule is also broken on purpose below, so a check that cannot fail is caught.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "symbp"

# Which layers each layer may import (besides itself). "top" is the application layer: the
# modules directly in symbp/ (pipeline, report, files, cli, the public __init__).
MAY_IMPORT: dict[str, set[str]] = {
    "support": set(),
    "spec": {"support"},
    "symbolic": {"spec", "support"},
    "reference": {"spec", "support"},
    "proofs": {"symbolic", "spec", "support"},
    "codegen": {"symbolic", "spec", "support"},
    "laws": {"symbolic", "spec", "support"},
    "document": {"laws", "proofs", "symbolic", "reference", "spec", "support"},
    "training": {"codegen", "symbolic", "reference", "spec", "support"},
    "top": {
        "document",
        "training",
        "laws",
        "proofs",
        "codegen",
        "symbolic",
        "reference",
        "spec",
        "support",
    },
}
# Third-party packages a layer must never touch (a reference that imported SymPy would share
# the code it is meant to check independently).
FORBIDDEN_THIRD_PARTY = {"reference": {"sympy"}, "spec": {"sympy"}, "support": {"sympy", "numpy"}}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> str:
    parts = module.split(".")
    if len(parts) > 2 or (len(parts) == 2 and (PACKAGE / parts[1]).is_dir()):
        return parts[1]
    return "top"


def imports_of(path: Path, source: str | None = None) -> Iterator[tuple[str, list[str], int]]:
    """(imported module, names taken from it, line) for every import in the file."""
    module = module_name(path)
    is_package = path.name == "__init__.py"
    text = path.read_text() if source is None else source
    for node in ast.walk(ast.parse(text, str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, [], node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join(anchor + ([base] if base else []))
            names = [alias.name for alias in node.names]
            # `from pkg import mod` imports the module pkg.mod when it is one
            for name in names:
                candidate = PACKAGE.parent / Path(*f"{base}.{name}".split("."))
                if candidate.with_suffix(".py").is_file() or candidate.is_dir():
                    yield f"{base}.{name}", [], node.lineno
                    names = [n for n in names if n != name]
            if names or not node.names:
                yield base, names, node.lineno


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def import_graph() -> dict[str, set[str]]:
    modules = all_modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        graph[name] = {
            target for target, _, _ in imports_of(path) if target in modules and target != name
        }
    return graph


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    found = []
    for module, targets in graph.items():
        here = layer_of(module)
        for target in targets:
            there = layer_of(target)
            if there != here and there not in MAY_IMPORT[here]:
                found.append(f"{module} imports {target} ({here} may not import {there})")
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def private_imports(sources: dict[Path, str] | None = None) -> list[str]:
    found = []
    files = sources or {path: None for path in all_modules().values()}
    for path, source in files.items():
        module = module_name(path)
        for target, names, line in imports_of(path, source):
            if target.startswith("symbp"):
                private = [n for n in names if n.startswith("_") and not n.startswith("__")]
                if private:
                    found.append(f"{module}:{line} takes {', '.join(private)} from {target}")
    return found


def forbidden_third_party() -> list[str]:
    found = []
    for module, path in all_modules().items():
        banned = FORBIDDEN_THIRD_PARTY.get(layer_of(module), set())
        for target, _, line in imports_of(path):
            if target.split(".")[0] in banned:
                found.append(f"{module}:{line} imports {target}")
    return found


def test_every_subpackage_has_a_rule() -> None:
    layers = {layer_of(name) for name in all_modules()}
    assert layers <= set(MAY_IMPORT), layers - set(MAY_IMPORT)
    folders = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert folders == set(MAY_IMPORT) - {"top"}


def test_imports_point_down_only() -> None:
    assert upward_imports(import_graph()) == []


def test_no_import_cycles() -> None:
    assert cycles(import_graph()) == []


def test_no_private_names_across_modules() -> None:
    assert private_imports() == []


def test_references_never_import_sympy() -> None:
    assert forbidden_third_party() == []


# ------------------------------------------------------------------ the checks can fail


def test_an_upward_import_is_reported() -> None:
    graph = import_graph()
    before = set(upward_imports(graph))
    graph["symbp.symbolic.derivation"].add("symbp.document.build")
    assert sorted(set(upward_imports(graph)) - before) == [
        "symbp.symbolic.derivation imports symbp.document.build (symbolic may not import document)"
    ]


def test_a_cycle_is_reported() -> None:
    graph = import_graph()
    graph["symbp.spec.model"].add("symbp.spec.config")
    assert ["symbp.spec.config", "symbp.spec.model"] in cycles(graph)


@pytest.mark.parametrize(
    "source, expected",
    [
        (
            "from .module import _needed\n",
            ["symbp.codegen.fake:1 takes _needed from symbp.codegen.module"],
        ),
        (
            "def f():\n    from symbp.codegen.module import _needed\n",
            ["symbp.codegen.fake:2 takes _needed from symbp.codegen.module"],
        ),
        ("from .module import load, __version__\n", []),
    ],
)
def test_a_private_import_is_reported(source: str, expected: list[str]) -> None:
    fake = PACKAGE / "codegen" / "fake.py"  # never written: the source is given
    assert private_imports({fake: source}) == expected


def test_relative_imports_resolve_to_modules() -> None:
    path = PACKAGE / "proofs" / "run.py"  # from .result import Proof; from . import x
    targets = {target for target, _, _ in imports_of(path)}
    assert {"symbp.proofs.result", "symbp.proofs.composition"} <= targets
    package = {target for target, _, _ in imports_of(PACKAGE / "proofs" / "__init__.py")}
    assert "symbp.proofs.run" in package  # relative to the package itself
