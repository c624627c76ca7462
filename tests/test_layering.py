"""Architecture rules checked on the source of every package: which package may import which,
the purity of the deterministic cores, module docstrings and module sizes.

Imports are read from the AST of every module, lazy imports inside functions included, relative
imports resolved to absolute names, and ``importlib.import_module("x")`` / ``__import__("x")``
with a constant name counted as importing ``x``.  A failure names the file, the line and the rule.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("ledger", "settlement", "consensus", "node", "sdk", "cli", "bench", "fuzz")

# package -> the packages it must never import.  Allowed, among others: cli -> bench (``settle
# bench``, ``settle stress`` and ``settle chaos`` run the harnesses), bench/fuzz -> node and cli,
# cli/bench -> sdk (the client of a node's API).  sdk is a client: it sees the node only over RPC.
HARNESSES = {"bench", "fuzz", "tests"}
FORBIDDEN_IMPORTS = {
    "ledger": {"settlement", "consensus", "node", "sdk", "cli"} | HARNESSES,
    "settlement": {"consensus", "node", "sdk", "cli"} | HARNESSES,
    "consensus": {"settlement", "node", "sdk", "cli"} | HARNESSES,
    "node": {"sdk", "cli"} | HARNESSES,
    "sdk": {"consensus", "node", "cli"} | HARNESSES,
    "cli": {"fuzz", "tests"},
    "bench": {"fuzz", "tests"},
    "fuzz": {"tests"},
}
# The only modules of settlement/ the SDK may use: the checks a body passes before it is signed.
SDK_SETTLEMENT_IMPORTS = {"settlement.checktx"}
# Known exceptions to the rules below: each list only shrinks (a test fails once an entry no
# longer breaks its rule, so it is removed, never left to hide a new one).
# (file, imported package) pairs still breaking FORBIDDEN_IMPORTS:
KNOWN_IMPORT_EXCEPTIONS: set[tuple[str, str]] = set()

# The deterministic cores: same inputs, same bytes, on every node.
PURE = ("settlement", "consensus")
IMPURE_MODULES = {
    "time", "datetime",  # clocks: time comes from the block header or an event
    "random", "secrets", "uuid",  # randomness
    "os", "io", "pathlib", "shutil", "socket", "select", "selectors", "signal", "subprocess",  # I/O
    "asyncio", "threading", "multiprocessing", "concurrent",  # concurrency
}

MAX_LINES = 500
SIZE_REASON = "Size:"  # a docstring line starting with this lets a module run over MAX_LINES
STRICT_SIZE = ("settlement/risk/", "settlement/audit.py", "settlement/swaps.py")  # never over MAX_LINES
# Modules over MAX_LINES with no 'Size:' reason yet:
KNOWN_SIZE_EXCEPTIONS: set[str] = set()
# Modules of PURE packages whose docstring says what they own but not what they never do:
KNOWN_DOCSTRING_EXCEPTIONS: set[str] = set()


@dataclass(frozen=True)
class Module:
    rel: str  # path from the repository root, with "/"
    package: str  # the top-level package
    name: str  # dotted module name
    tree: ast.Module
    lines: int

    @property
    def parent(self) -> str:
        """The package relative imports start from."""
        return self.name if self.rel.endswith("__init__.py") else self.name.rpartition(".")[0]


@cache
def modules() -> tuple[Module, ...]:
    out = []
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            parts = rel[:-3].split("/")
            if parts[-1] == "__init__":
                parts.pop()
            text = path.read_text()
            out.append(Module(rel, pkg, ".".join(parts), ast.parse(text, rel), len(text.splitlines())))
    return tuple(out)


def in_packages(*packages: str) -> list[Module]:
    return [m for m in modules() if m.package in packages]


def imports(m: Module) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in ``m``, lazy and relative ones included."""
    out = []
    for node in ast.walk(m.tree):
        if isinstance(node, ast.Import):
            out.extend((node.lineno, a.name) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = m.parent.split(".")
                if node.level > 1:
                    base = base[: -(node.level - 1)]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            out.append((node.lineno, name))
            if node.module is None or node.level:  # "from . import x": x may be a module
                out.extend((node.lineno, f"{name}.{a.name}") for a in node.names)
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            f = node.func
            if (isinstance(f, ast.Name) and f.id == "__import__") or (
                    isinstance(f, ast.Attribute) and f.attr == "import_module"):
                out.append((node.lineno, node.args[0].value))
    return out


def report(rule: str, found: list[str]) -> str:
    return f"{rule}:\n  " + "\n  ".join(found)


# ------------------------------------------------------------------ layering


def test_the_harness_sees_every_package_and_resolves_relative_and_lazy_imports():
    assert {m.package for m in modules()} == set(PACKAGES)
    chain = next(m for m in modules() if m.rel == "node/chain.py")
    assert (chain.parent, chain.name) == ("node", "node.chain")
    assert "settlement.blockrules" in {name for _, name in imports(chain)}
    machine = next(m for m in modules() if m.rel == "settlement/machine.py")
    assert {"settlement.context", "settlement.state"} <= {name for _, name in imports(machine)}
    tree = ast.parse("def f():\n    from ..node import app\n    import cli.main\n")
    probe = Module("settlement/risk/x.py", "settlement", "settlement.risk.x", tree, 3)
    assert {"settlement.node", "settlement.node.app", "cli.main"} == {n for _, n in imports(probe)}


def test_no_package_imports_a_package_its_layer_forbids():
    found = []
    for m in modules():
        for line, name in imports(m):
            top = name.split(".")[0]
            if top in FORBIDDEN_IMPORTS[m.package] and (m.rel, top) not in KNOWN_IMPORT_EXCEPTIONS:
                found.append(f"{m.rel}:{line}: imports {name} ({m.package} must never import {top})")
    assert not found, report("forbidden imports", found)


def test_the_sdk_uses_only_the_stateless_checks_of_settlement():
    found = [f"{m.rel}:{line}: imports {name}" for m in in_packages("sdk") for line, name in imports(m)
             if name.split(".")[0] == "settlement" and name not in SDK_SETTLEMENT_IMPORTS]
    assert not found, report(f"sdk imports settlement beyond {sorted(SDK_SETTLEMENT_IMPORTS)}", found)


# Imports inside a function in node/ and cli/, each for a reason other than a circle.
LAZY_IMPORTS = {
    "node/app.py": "node.p2p loads py-libp2p (about a second), which a node without peers never needs",
    "node/p2p/tuning.py": "libp2p's auto-connector sets its own log level when imported: imported, then held",
    "cli/testnet.py": "node.p2p loads py-libp2p only to derive peer ids when a testnet is written",
    "cli/net.py": "the node's runtime (node.run, node.app: ~60 ms) only for `settle node start`, not every command",
}


def _lazy_imports(*packages: str) -> list[tuple[str, int, str]]:
    return [(m.rel, node.lineno, fn.name)
            for m in in_packages(*packages) for fn in ast.walk(m.tree)
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef))
            for node in ast.walk(fn) if isinstance(node, (ast.Import, ast.ImportFrom))]


def test_the_cores_import_at_module_level_only():
    """No import inside a function to dodge a circle: module dependencies run one way."""
    found = [f"{rel}:{line}: imports inside {fn}()" for rel, line, fn in _lazy_imports("ledger", "consensus", "settlement")]
    assert not found, report("imports inside functions", found)


def test_node_and_cli_import_inside_a_function_only_for_a_stated_reason():
    lazy = _lazy_imports("node", "cli")
    found = [f"{rel}:{line}: imports inside {fn}()" for rel, line, fn in lazy if rel not in LAZY_IMPORTS]
    found += [f"{rel}: listed in LAZY_IMPORTS but imports nothing inside a function"
              for rel in LAZY_IMPORTS if rel not in {r for r, _, _ in lazy}]
    assert not found, report("imports inside functions without a reason in LAZY_IMPORTS", found)


# ------------------------------------------------------------------ the pure cores


def test_settlement_and_consensus_do_no_io_read_no_clock_and_draw_no_randomness():
    found = [f"{m.rel}:{line}: imports {name}"
             for m in in_packages(*PURE) for line, name in imports(m) if name.split(".")[0] in IMPURE_MODULES]
    assert not found, report(f"{'/'.join(PURE)} import I/O, a clock or randomness", found)


def test_settlement_and_consensus_use_no_floats():
    found = []
    for m in in_packages(*PURE):
        for node in ast.walk(m.tree):
            if isinstance(node, ast.Constant) and type(node.value) is float:
                found.append(f"{m.rel}:{node.lineno}: float literal {node.value!r}")
            elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
                found.append(f"{m.rel}:{node.lineno}: true division '/' (use // and document the rounding)")
            elif isinstance(node, ast.AugAssign) and isinstance(node.op, ast.Div):
                found.append(f"{m.rel}:{node.lineno}: true division '/=' (use //= and document the rounding)")
            elif isinstance(node, ast.Name) and node.id == "float":
                found.append(f"{m.rel}:{node.lineno}: uses float")
    assert not found, report(f"floats in {'/'.join(PURE)}", found)


def test_only_the_consensus_safety_module_calls_a_key_to_sign():
    found = [f"{m.rel}:{node.lineno}: calls .sign()"
             for m in in_packages("consensus") if m.rel != "consensus/safety.py"
             for node in ast.walk(m.tree)
             if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "sign"]
    assert not found, report("only consensus/safety.py signs", found)


def says_owns_and_never(m: Module) -> bool:
    doc = ast.get_docstring(m.tree) or ""
    return "Owns" in doc and "never" in doc.lower()


def test_settlement_and_consensus_modules_say_what_they_own_and_must_never_do():
    found = []
    for m in in_packages(*PURE):
        if m.rel.endswith("__init__.py") or m.rel in KNOWN_DOCSTRING_EXCEPTIONS:
            continue
        if not says_owns_and_never(m):
            found.append(f"{m.rel}: the module docstring must say what it Owns and what it must never do")
    assert not found, report("module docstrings", found)


# ------------------------------------------------------------------ sizes


def size_reason(m: Module) -> str | None:
    doc = ast.get_docstring(m.tree) or ""
    return next((line for line in doc.splitlines()
                 if line.startswith(SIZE_REASON) and line[len(SIZE_REASON):].strip()), None)


def test_no_module_runs_over_500_lines_without_a_reason_in_its_docstring():
    found = []
    for m in modules():
        if m.lines <= MAX_LINES or m.rel in KNOWN_SIZE_EXCEPTIONS:
            continue
        if m.rel.startswith(STRICT_SIZE):
            found.append(f"{m.rel}: {m.lines} lines (this module may never exceed {MAX_LINES}, reason or not)")
        elif size_reason(m) is None:
            found.append(f"{m.rel}: {m.lines} lines and no docstring line starting {SIZE_REASON!r} saying why")
    assert not found, report(f"modules over {MAX_LINES} lines", found)


def test_the_known_exceptions_still_break_their_rule():
    """An exception that no longer breaks its rule is removed from its list, not left to hide a new one."""
    by_rel = {m.rel: m for m in modules()}
    present = {(m.rel, name.split(".")[0]) for m in modules() for _, name in imports(m)}
    stale = sorted(f"{rel} imports {top}" for rel, top in KNOWN_IMPORT_EXCEPTIONS - present)
    stale += sorted(f"{rel} is {by_rel[rel].lines if rel in by_rel else 'no'} lines"
                    for rel in KNOWN_SIZE_EXCEPTIONS if rel not in by_rel or by_rel[rel].lines <= MAX_LINES)
    stale += sorted(f"{rel} says what it owns and never does" for rel in KNOWN_DOCSTRING_EXCEPTIONS
                    if rel not in by_rel or says_owns_and_never(by_rel[rel]))
    assert not stale, report("exceptions to remove from their list", stale)
