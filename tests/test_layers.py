"""The package's layers import only downward: no circle, no import of a higher layer, and no
import hidden inside a function (the one discovery, ``derive._registry``, imports by name)."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "derive"
# lowest first; a module may import its own layer and the layers before it
LAYERS = ["_registry", "core", "calculus", "numeric", "checks", "printing", "recurrent",
          "topics", "models", "catalogue", "answers", "grade", "problemset", "report",
          "testing", "cli"]
TOP = "__init__"  # the public API: may import every layer


def layer_of(module: str) -> str:
    parts = module.split(".")
    return TOP if len(parts) == 1 else parts[1]


def modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        yield module, ast.parse(path.read_text(encoding="utf-8"), str(path))


def imports(tree: ast.Module):
    """``(imported module, line, inside a function)`` for every import of ``derive``."""
    inside = set()
    for scope in ast.walk(tree):
        if isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef):
            inside.update(id(n) for n in ast.walk(scope) if n is not scope)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and \
                node.module.split(".")[0] == "derive":
            names = [f"derive.{a.name}" for a in node.names] if node.module == "derive" \
                else [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names if a.name.split(".")[0] == "derive"]
        else:
            continue
        for name in names:
            yield name, node.lineno, id(node) in inside


def test_every_folder_of_the_package_is_a_known_layer():
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"}
    files = {p.stem for p in PACKAGE.glob("*.py")}
    assert folders | files <= set(LAYERS) | {TOP}, (folders | files) - set(LAYERS)


@pytest.mark.parametrize("module, tree", list(modules()), ids=lambda x: x
                         if isinstance(x, str) else "")
def test_imports_run_only_downward(module, tree):
    mine = layer_of(module)
    for name, line, local in imports(tree):
        assert not local, f"{module}:{line} imports {name} inside a function"
        theirs = layer_of(name)
        if mine in (TOP,) or theirs == TOP and mine == "cli":
            continue
        assert theirs != TOP, f"{module}:{line} imports the package itself ({name})"
        assert LAYERS.index(theirs) <= LAYERS.index(mine), \
            f"{module}:{line} ({mine}) imports {name} ({theirs}), a higher layer"


def test_the_checker_sees_an_upward_import():
    tree = ast.parse("def f():\n    from derive.report import render\n")
    found = list(imports(tree))
    assert found == [("derive.report", 2, True)]
    assert LAYERS.index(layer_of("derive.report")) > LAYERS.index(layer_of("derive.core.cell"))
