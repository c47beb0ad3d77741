"""The package's shape: packages by role, none too big, and no import cycles (imports inside
functions count: a lazy import hides a cycle, it does not remove it)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("colorizer", "train")
MAX_MODULES = 12


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def import_graph() -> dict[str, set[str]]:
    """module -> the project modules it imports anywhere in its file (top level, functions, TYPE_CHECKING)."""
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    targets.append(sub if sub in modules else base)
            graph[name] |= {t for t in targets if t in modules and t != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path a -> b -> ... -> a, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_no_import_cycles():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_package_folder_holds_more_than_a_dozen_modules():
    for package in PACKAGES:
        for folder in [ROOT / package, *(p for p in (ROOT / package).rglob("*") if p.is_dir())]:
            modules = [p for p in folder.glob("*.py")]
            assert len(modules) <= MAX_MODULES, f"{folder.relative_to(ROOT)} holds {len(modules)} modules"


def test_inference_never_imports_evaluation_or_training():
    graph = import_graph()
    inference = [m for m in graph if m.startswith(("colorizer.models", "colorizer.pipelines", "colorizer.io"))]
    for module in inference:
        bad = {t for t in graph[module] if t.startswith(("colorizer.evaluate", "train"))}
        assert not bad, f"{module} imports {sorted(bad)}"


def test_layers_only_import_downwards():
    """settings/errors/color < io < models < pipelines < evaluate < cli and commands: a lower layer
    never imports a higher one, so each package can be read (and tested) without those above it."""
    order = ["colorizer.errors", "colorizer.settings", "colorizer.color", "colorizer.io", "colorizer.models",
             "colorizer.pipelines", "colorizer.evaluate"]

    def layer(module: str) -> int | None:
        return next((i for i, prefix in enumerate(order) if module == prefix or module.startswith(prefix + ".")),
                    None)

    for module, targets in import_graph().items():
        low = layer(module)
        for target in targets:
            high = layer(target)
            if low is not None and high is not None:
                assert high <= low, f"{module} (layer {order[low]}) imports {target} (layer {order[high]})"
