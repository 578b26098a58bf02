"""The package's shape: no import cycles (lazy imports included), and in-function imports only
for heavy third-party packages, modules that need an optional extra, or a registry loading its
built-ins."""

from __future__ import annotations

import ast
from pathlib import Path

import chatclone

ROOT = Path(chatclone.__file__).parent
# A registry imports its built-in entries when first asked, through the same hook a plugin uses.
REGISTRY_HOOK = "_load_builtins"
# Modules whose top-level imports need an optional extra (the serve extra's Starlette): loaded
# when their command runs, so that `chatclone` works without the extra installed.
EXTRA_MODULES = {"chatclone.chat.server.app"}
# The CLI's commands import their own stage: nothing imports the CLI, so this dodges no cycle,
# and `chatclone ingest` or `chat --once` pay only for what they use (issue 14).
LAZY_STAGES = {"chatclone.cli", "chatclone.memory.facts_cli"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in ROOT.rglob("*.py")}


def imported(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> list[str]:
    """The package modules an import statement loads (`from a import b` loads a.b when b is a
    module, else a)."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            package = module.split(".") if is_package else module.split(".")[:-1]
            package = package[: len(package) - node.level + 1]
            base = ".".join([*package, base] if base else package)
        names = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
    found = []
    for name in names:
        while name and name not in MODULES:
            name = name.rpartition(".")[0]
        if name and name != module:
            found.append(name)
    return found


def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Import | ast.ImportFrom):
                graph[module].update(imported(node, module, path.name == "__init__.py"))
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (or a module importing itself)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles_among_the_package_modules() -> None:
    graph = import_graph()
    assert len(graph) > 50 and graph["chatclone.cli"]  # the walk really saw the package
    assert cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_in_function_imports_of_the_package_only_in_registries() -> None:
    """Lazy imports are for heavy third-party packages (torch, transformers, peft, openai…), so
    that `chatclone --help` starts fast; never to dodge a cycle between our own modules."""
    offenders = []
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text("utf-8"))
        for func in ast.walk(tree):
            if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            if func.name == REGISTRY_HOOK or module in LAZY_STAGES:
                continue
            for node in ast.walk(func):
                if not isinstance(node, ast.Import | ast.ImportFrom):
                    continue
                if set(imported(node, module, path.name == "__init__.py")) - EXTRA_MODULES:
                    offenders.append(f"{module}.{func.name}:{node.lineno}")
    assert offenders == []
