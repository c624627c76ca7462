"""Architecture rules of ``consensus/`` checked on its source."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "consensus"
MODULES = sorted(PACKAGE.glob("*.py"))
FORBIDDEN = {"asyncio", "socket", "threading", "time", "random", "os", "subprocess", "select", "selectors"}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_consensus_modules_do_no_io_and_draw_no_randomness(path):
    assert not imported_modules(path) & FORBIDDEN


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_every_module_opens_with_a_docstring_saying_what_it_owns_and_must_never_do(path):
    doc = ast.get_docstring(ast.parse(path.read_text())) or ""
    if path.name != "__init__.py":
        assert "Owns" in doc and ("never" in doc.lower()), path.name


def test_only_the_safety_module_calls_a_key_to_sign():
    for path in MODULES:
        calls = [n for n in ast.walk(ast.parse(path.read_text()))
                 if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "sign"]
        assert not calls or path.name == "safety.py", path.name
