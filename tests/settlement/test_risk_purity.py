"""Architecture rules of ``settlement/`` checked on its source."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "settlement"
MODULES = sorted(PACKAGE.rglob("*.py"))
RISK = sorted(p for p in (PACKAGE / "risk").glob("*.py") if p.name != "__init__.py") + [
    PACKAGE / "audit.py", PACKAGE / "swaps.py"]
FORBIDDEN = {"asyncio", "socket", "threading", "time", "random", "os", "subprocess", "select", "selectors", "datetime"}


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_settlement_does_no_io_reads_no_clock_draws_no_randomness(path):
    assert not imported_modules(path) & FORBIDDEN


@pytest.mark.parametrize("path", RISK, ids=lambda p: p.name)
def test_risk_modules_use_no_floats(path):
    tree = ast.parse(path.read_text())
    assert not [n for n in ast.walk(tree) if isinstance(n, ast.Constant) and type(n.value) is float]
    divs = [n for n in ast.walk(tree) if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Div)]
    assert not divs, f"true division in {path.name}"


@pytest.mark.parametrize("path", RISK, ids=lambda p: p.name)
def test_risk_modules_say_what_they_own_and_must_never_do(path):
    doc = ast.get_docstring(ast.parse(path.read_text())) or ""
    assert "Owns" in doc and "never" in doc.lower(), path.name


@pytest.mark.parametrize("path", RISK, ids=lambda p: p.name)
def test_risk_modules_stay_under_500_lines(path):
    assert len(path.read_text().splitlines()) <= 500
