"""devenv's layers point one way: the import contract docs/ARCHITECTURE.md draws, kept by CI.

Every import counts — module level, inside a function, under ``TYPE_CHECKING`` — because each
is a dependency a reader has to follow. The graph is read from the source with ``ast``, so the
test needs nothing installed and sees imports that never run.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import devenv

PACKAGE = Path(devenv.__file__).parent

#: Low to high. A module may import its own package and any package of a lower layer; packages
#: that share a layer are independent of each other.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("devenv.errors", "devenv.__init__"),
    ("devenv.fs",),
    ("devenv.support",),
    ("devenv.rules",),
    ("devenv.project",),
    ("devenv.plan",),
    ("devenv.review",),
    ("devenv.steps",),
    ("devenv.render",),
    ("devenv.files",),
    ("devenv.container",),
    ("devenv.host", "devenv.verify", "devenv.lock"),
    ("devenv.run",),
    ("devenv.flows",),
    ("devenv.commands",),
    ("devenv.cli",),
    ("devenv.__main__",),
)

#: Where an import of devenv's may wait inside a function: the commands (and the CLI that lists
#: them) load what they run only when they run, so `devenv --help` imports none of docker-py,
#: testcontainers or psycopg (each about as slow as the whole CLI's 0.1 s; measured with
#: `python3 -X importtime -m devenv --help`). Third-party lazy imports are listed, with why, in
#: docs/ARCHITECTURE.md.
LAZY_IMPORTERS = ("devenv.commands", "devenv.cli")


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int
    in_function: bool


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def resolve(name: str) -> str | None:
    """The devenv module an import names (``from devenv.x import y`` may name module x.y)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(name: str) -> Iterator[Import]:
    tree = ast.parse(MODULES[name].read_text())
    in_function: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            in_function.update(id(sub) for sub in ast.walk(node) if sub is not node)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            named = [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            named = [alias.name for alias in node.names]
        else:
            continue
        for full in named:
            target = resolve(full) if full.startswith("devenv") else None
            if target and target != name:
                yield Import(name, target, node.lineno, id(node) in in_function)


GRAPH = {name: tuple(imports_of(name)) for name in MODULES}


def package_of(name: str) -> str:
    if name == "devenv":  # the package's own __init__, named apart so it matches only itself
        return "devenv.__init__"
    for layer in LAYERS:
        for package in layer:
            if name == package or name.startswith(package + "."):
                return package
    raise AssertionError(f"{name} is in no layer: add its package to LAYERS (and the drawing)")


def layer_of(name: str) -> int:
    package = package_of(name)
    return next(i for i, layer in enumerate(LAYERS) if package in layer)


def cycles() -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in MODULES:
        if root in index:
            continue
        work = [(root, iter(sorted({i.imported for i in GRAPH[root]})))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted({i.imported for i in GRAPH[child]}))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def where(i: Import) -> str:
    return f"{MODULES[i.importer].relative_to(PACKAGE.parent)}:{i.line}: imports {i.imported}"


def test_every_module_belongs_to_a_layer() -> None:
    for name in MODULES:
        package_of(name)


def test_no_import_cycles() -> None:
    found = cycles()
    assert not found, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_imports_point_down_the_layers() -> None:
    wrong = [
        where(i)
        for edges in GRAPH.values()
        for i in edges
        if layer_of(i.imported) > layer_of(i.importer)
        or (
            layer_of(i.imported) == layer_of(i.importer)
            and package_of(i.imported) != package_of(i.importer)
        )
    ]
    assert not wrong, "imports up or across the layers:\n" + "\n".join(wrong)


def test_imports_wait_inside_functions_only_where_start_up_needs_it() -> None:
    lazy = [
        where(i)
        for edges in GRAPH.values()
        for i in edges
        if i.in_function and not i.importer.startswith(LAZY_IMPORTERS)
    ]
    assert not lazy, "imports inside functions:\n" + "\n".join(lazy)


def test_the_contract_sees_imports() -> None:
    """The contract is only as good as the graph: it must see the imports we know of."""
    assert any(i.imported == "devenv.errors" for i in GRAPH["devenv.cli"])
    assert any(i.in_function for edges in GRAPH.values() for i in edges)
