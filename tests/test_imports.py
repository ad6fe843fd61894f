"""The package's import structure: every module imports on its own, there is no import circle,
the model layer never imports an interface, and the command line starts without the heavy
libraries.

The graph is read from the source (``ast``): every ``import`` / ``from … import`` statement of a
module — at module level, inside functions, and under ``if TYPE_CHECKING:`` (a layer should not
even name a higher layer's types) — with relative imports resolved. ``from pkg import name``
is an edge to ``pkg.name`` when that is a module, else to ``pkg``.
"""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "hashshift"
#: Interfaces and runners (layer 3); ``sweep`` may be a module or a package.
INTERFACES = ("hashshift.cli", "hashshift.web", "hashshift.report", "hashshift.sweep")
#: ``python -m hashshift`` runs the command line: an interface too.
ENTRY_POINTS = ("hashshift.__main__",)
#: Known import circles outside what has been untangled so far, as sorted module lists, each
#: with the reason it is tolerated. Empty: there is none.
KNOWN_CYCLES: dict[tuple[str, ...], str] = {}


def _modules() -> dict[str, Path]:
    """Module name -> source file of every module of the package."""
    out = {}
    for path in sorted((SRC / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _nearest(name: str) -> str | None:
    """``name`` or its closest enclosing module of the package (None outside it)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str) -> set[str]:
    """The package's modules that ``module`` imports anywhere in its source."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str | None] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found |= {_nearest(a.name) for a in node.names if _within(a.name, PACKAGE)}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            if not _within(target, PACKAGE):
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in MODULES else _nearest(target))
    found.discard(None)
    found.discard(module)
    return {m for m in found if m is not None}


def import_graph() -> dict[str, set[str]]:
    """Module -> the package's modules it imports."""
    return {m: _imports(m) for m in MODULES}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One circle per strongly connected component of more than one module (Tarjan), as the
    modules in import order, the first repeated at the end."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                components.append(comp)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return [_circle(graph, comp) for comp in components]


def _circle(graph: dict[str, set[str]], comp: set[str]) -> list[str]:
    """A shortest circle through the first module of a component (breadth-first)."""
    start = min(comp)
    parent: dict[str, str] = {}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(graph[v] & comp):
            if w == start:  # back at the start: walk the parents from v
                path = [v]
                while path[-1] != start:
                    path.append(parent[path[-1]])
                return [*reversed(path), start]
            if w not in parent:
                parent[w] = v
                queue.append(w)
    raise AssertionError(f"no circle in {sorted(comp)}")  # pragma: no cover


# ---------------------------------------------------------------------------------------------
# the checks
# ---------------------------------------------------------------------------------------------
def test_the_graph_sees_the_package() -> None:
    graph = import_graph()
    assert {"hashshift.cli", "hashshift.cli._base", "hashshift.sim.engine"} <= set(graph)
    assert "hashshift.cli._base" in graph["hashshift.cli.history"]
    assert "hashshift.history" in graph["hashshift.cli.history"]  # inside the command
    assert "hashshift.sim.scenario" in graph["hashshift.sim.engine"]  # relative import
    assert "hashshift.cli" in graph["hashshift.__main__"]


def test_cycle_finder_names_the_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e2"}, "e2": set()}
    assert cycles(graph) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_circle() -> None:
    found = {tuple(sorted(set(c))): c for c in cycles(import_graph())}
    unexpected = [" -> ".join(c) for key, c in found.items() if key not in KNOWN_CYCLES]
    assert not unexpected, "import circle(s): " + "; ".join(unexpected)
    stale = [k for k in KNOWN_CYCLES if k not in found]
    assert not stale, f"known circle(s) gone, drop them from KNOWN_CYCLES: {stale}"


def test_model_layer_imports_no_interface() -> None:
    graph = import_graph()
    bad = []
    for module, deps in sorted(graph.items()):
        if module in ENTRY_POINTS or any(_within(module, i) for i in INTERFACES):
            continue
        for dep in sorted(deps):
            if any(_within(dep, i) for i in INTERFACES):
                bad.append(f"{module} imports {dep}")
    assert not bad, "; ".join(bad)


def test_command_modules_share_only_the_helper_modules() -> None:
    """A command module imports no other command module (shared code lives in ``cli._*``),
    and each adds itself to the app through ``register(app)``."""
    graph = import_graph()
    commands = sorted(m for m in MODULES if m.startswith("hashshift.cli.")
                      and not m.rpartition(".")[2].startswith("_"))
    assert len(commands) >= 12, commands
    for module in commands:
        assert callable(getattr(importlib.import_module(module), "register", None)), module
        siblings = {d for d in graph[module] if d in commands}
        assert not siblings, f"{module} imports {sorted(siblings)}"
    assert set(commands) <= graph["hashshift.cli"]


def test_every_module_imports_on_its_own() -> None:
    """Each module imported first, with no other hashshift module loaded (one interpreter;
    ``hashshift.*`` cleared from sys.modules before each)."""
    names = sorted(set(MODULES) - set(ENTRY_POINTS))  # __main__ runs the command line
    script = """
import importlib, json, sys, traceback
failed = {}
for name in sys.argv[1:]:
    for loaded in [m for m in sys.modules if m == "hashshift" or m.startswith("hashshift.")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except BaseException:
        failed[name] = traceback.format_exc(limit=-3)
print(json.dumps(failed))
"""
    out = subprocess.run([sys.executable, "-c", script, *names], capture_output=True,
                         text=True, timeout=600, check=True)
    failed = json.loads(out.stdout.strip().splitlines()[-1])
    assert not failed, "\n".join(f"{k}:\n{v}" for k, v in failed.items())


@pytest.mark.parametrize("module", ["hashshift.cli", "hashshift.web.settings"])
def test_light_modules_import_no_heavy_library(module: str) -> None:
    """``hashshift --help`` loads the command modules only: no numeric, web or engine stack."""
    heavy = ("pandas", "numpy", "plotly", "duckdb", "fastapi", "starlette", "uvicorn", "pydantic",
             "scipy", "matplotlib", "dask", "hashshift.sim.engine", "hashshift.store")
    code = (f"import sys, {module}; print(' '.join(m for m in {heavy!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=600, check=True)
    assert out.stdout.split() == [], f"{module} imports {out.stdout.strip()}"


def test_entry_points() -> None:
    import hashshift.cli

    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "hashshift"]
    assert script.value == "hashshift.cli:main" and script.load() is hashshift.cli.main
    out = subprocess.run([sys.executable, "-m", "hashshift", "--version"], capture_output=True,
                         text=True, timeout=600, check=True)
    assert out.stdout.startswith("hashshift ")


def test_history_listing_loads_no_pandas() -> None:
    """``hashshift history --rows 3`` lists the bundled epochs from plain columns: pandas, which
    takes longer to import than the whole listing takes, is never loaded."""
    code = ("import sys\nfrom hashshift.cli import main\nsys.argv = ['hashshift', 'history', "
            "'--rows', '3']\ntry:\n    main()\nexcept SystemExit as e:\n    assert not e.code, "
            "e.code\nprint('LOADED', ' '.join(m for m in ('pandas', 'pyarrow', 'scipy') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=600, check=True)
    assert "689,472" in out.stdout or "Largest difficulty cuts" in out.stdout, out.stdout
    assert out.stdout.strip().splitlines()[-1].split() == ["LOADED"], out.stdout
