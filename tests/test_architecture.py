"""The import rule of docs/architecture.md, read from the code: data flows one way.

Every import counts, module-level or inside a function: a function-local import is still a
dependency, so it cannot hide a cycle or a reach into a later stage.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "flynet_tiny"

# The floors, earliest first. A module may import its own package and any earlier floor, never a later one.
FLOORS = [
    "errors", "reporting", "resources", "processes",  # shared plumbing
    "int8", "tflite", "targets", "data",           # ground floor: arithmetic, the TFLite format, boards, datasets
    "models", "train", "quant",                    # PyTorch: architectures, training, int8 quantization
    "convert", "verify",                           # ONNX -> TFLite, runtime agreement on a .tflite
    "codegen", "build", "fit", "sim",              # .tflite -> C -> ELF (and its fit) -> emulator
    "pipeline", "cli",                             # the end-to-end commands
]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Every flynet_tiny module `name` imports (a `from pkg import sub` names the submodule)."""
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("flynet_tiny"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("flynet_tiny"):
                continue
            subs = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in known]
            found.update(subs or [target])
    found.discard(name)
    return found


def _floor(module: str) -> str:
    return module.split(".")[1] if module.count(".") else ""


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, set(modules)) for name, path in modules.items()}


def test_every_package_has_a_floor():
    packages = {_floor(m) for m in _modules() if _floor(m)}
    assert packages <= set(FLOORS), f"add {sorted(packages - set(FLOORS))} to FLOORS and docs/architecture.md"


def test_no_module_imports_a_later_floor():
    wrong = []
    for module, targets in _graph().items():
        if not _floor(module):
            continue
        here = FLOORS.index(_floor(module))
        wrong += [f"{module} -> {t}" for t in sorted(targets) if _floor(t) and FLOORS.index(_floor(t)) > here]
    assert not wrong, "imports from a later stage:\n" + "\n".join(wrong)


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph, as a path, or None (iterative depth-first search)."""
    state: dict[str, int] = {}
    for start in sorted(graph):
        if state.get(start):
            continue
        stack = [(start, iter(sorted(graph[start])))]
        path = [start]
        state[start] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                stack.pop()
                path.pop()
            elif state.get(child) == 1:
                return path[path.index(child):] + [child]
            elif not state.get(child) and child in graph:
                state[child] = 1
                stack.append((child, iter(sorted(graph[child]))))
                path.append(child)
    return None


def test_no_cycle_between_modules():
    cycle = _cycle(_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_no_cycle_between_packages():
    packages: dict[str, set[str]] = {}
    for module, targets in _graph().items():
        packages.setdefault(_floor(module), set()).update(_floor(t) for t in targets if _floor(t) != _floor(module))
    cycle = _cycle(packages)
    assert cycle is None, "package cycle: " + " -> ".join(cycle)


@pytest.mark.parametrize("graph, expected", [
    ({"a": {"b"}, "b": {"c"}, "c": set()}, None),
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, ["a", "b", "c", "a"]),
    ({"a": {"a"}}, ["a", "a"]),
])
def test_cycle_finder(graph, expected):
    assert _cycle(graph) == expected
