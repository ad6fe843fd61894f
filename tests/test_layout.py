"""The layout rules of docs/architecture.md, checked on the source (ast, nothing is run).

- The model layers read nothing: data are read in ``hashshift/sources/`` and ``store.py``;
  scenario and sweep files a user names are read where they are parsed (``sim/scenario.py``,
  ``sim/examples.py``, the sweep spec loader); the interfaces read the files they are given and
  their own vendored assets; results are written by ``Result`` and the interfaces.
- SQL (DuckDB) only in ``store.py``.
- One definition of each shared constant and formula: 2**32 hashes per difficulty, the subsidy
  halving, the 8.766 and 0.024 unit factors.
"""

from __future__ import annotations

import ast
import re
import tokenize
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "src" / "hashshift"
SOURCES = sorted(p for p in PKG.rglob("*.py") if "vendor" not in p.parts)


def _rel(p: Path) -> str:
    return p.relative_to(PKG).as_posix()


#: Calls that read data from files or the network.
READERS = {"read_csv", "read_parquet", "read_json", "read_text", "read_bytes", "urlopen",
           "connect"}
#: Where reading is allowed (see the module docstring).
MAY_READ = ("sources/", "store.py", "sim/scenario.py", "sim/examples.py", "sweep", "cli",
            "report/", "web/")
#: Where writing results is allowed: the engine's Result and the interfaces.
MAY_WRITE = ("sources/", "store.py", "sim/engine.py", "cli", "report/", "web/", "sweep")
WRITERS = {"to_csv", "to_parquet", "write_text", "write_bytes", "write_table", "write_html",
           "write_image"}


def _calls(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) \
                else ""
            out.append((node.lineno, name))
    return out


@pytest.mark.parametrize("path", SOURCES, ids=_rel)
def test_io_only_where_the_layout_allows_it(path: Path) -> None:
    rel = _rel(path)
    bad = []
    for line, name in _calls(path):
        if name in READERS and not rel.startswith(MAY_READ):
            bad.append(f"{rel}:{line} reads ({name})")
        if name in WRITERS and not rel.startswith(MAY_WRITE):
            bad.append(f"{rel}:{line} writes ({name})")
        if name == "open" and not rel.startswith(MAY_WRITE):
            bad.append(f"{rel}:{line} opens a file")
    assert not bad, "I/O outside sources/, store.py and the interfaces:\n" + "\n".join(bad)


def test_sql_only_in_the_store() -> None:
    sql = re.compile(r"\b(SELECT|INSERT INTO|CREATE TABLE|DELETE FROM)\b")
    bad = [f"{_rel(p)}:{i}" for p in SOURCES if _rel(p) != "store.py"
           for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
           if sql.search(line) and not line.lstrip().startswith("#")]
    assert not bad, "SQL outside store.py: " + ", ".join(bad)


#: uint32 bounds of header fields, not hashes per difficulty.
_UINT32_BOUNDS = ("sources/mempool.py", "sources/bitcoind.py")


def _code_only(path: Path) -> list[tuple[int, str]]:
    """Each line's code without strings and comments (tokens joined by spaces)."""
    lines: dict[int, list[str]] = {}
    with path.open("rb") as f:
        for tok in tokenize.tokenize(f.readline):
            if tok.type in (tokenize.NUMBER, tokenize.OP, tokenize.NAME):
                lines.setdefault(tok.start[0], []).append(tok.string)
    return [(i, " ".join(t)) for i, t in sorted(lines.items())]


@pytest.mark.parametrize(("pattern", "home"), [
    (r"\b2(\.0)? \*\* 32\b|\b4294967296\b", "units.py"),
    (r"\b8\.766(e-3)?\b|\b8766(\.0)?\b|\b8_766(\.0)?\b", "units.py"),
    (r"\b0\.024\b|\b24(\.0)? / 1_?000\b", "units.py"),
    (r"\b50 \* COIN\b", "consensus.py"),
    (r"\b100_000_000\b", "units.py"),
])
def test_one_definition(pattern: str, home: str) -> None:
    """A constant or formula is written once, in its home; everything else imports it."""
    rx = re.compile(pattern)
    found = [f"{_rel(p)}:{i}" for p in SOURCES for i, code in _code_only(p)
             if rx.search(code) and not (home == "units.py" and "32" in pattern
                                         and _rel(p) in _UINT32_BOUNDS)]
    assert found, f"{pattern} is not defined anywhere"
    assert all(f.startswith(home) for f in found), f"{pattern} outside {home}: {found}"
