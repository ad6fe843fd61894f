"""The generated reference docs equal what scripts/gen_cli_reference.py produces now.

When a test here fails, a command, an option or a scenario field changed: re-run
``.venv/bin/python scripts/gen_cli_reference.py`` and commit docs/cli.md and docs/scenarios.md."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest
import typer

from hashshift.cli import app

REPO = Path(__file__).resolve().parents[1]
HINT = "out of date: re-run `.venv/bin/python scripts/gen_cli_reference.py`"


@pytest.fixture(scope="module")
def gen() -> ModuleType:
    path = REPO / "scripts" / "gen_cli_reference.py"
    spec = importlib.util.spec_from_file_location("gen_cli_reference", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_cli_md_is_up_to_date(gen: ModuleType) -> None:
    assert (REPO / "docs" / "cli.md").read_text("utf-8") == gen.render_cli(), f"docs/cli.md {HINT}"


def test_scenario_field_tables_are_up_to_date(gen: ModuleType) -> None:
    current = (REPO / "docs" / "scenarios.md").read_text("utf-8")
    assert current == gen.render_scenarios(current), f"docs/scenarios.md {HINT}"


def test_check_mode_agrees(gen: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    assert gen.main(["--check"]) == 0, capsys.readouterr().out


def test_output_does_not_depend_on_the_terminal(gen: ModuleType,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    first = gen.render_cli()
    monkeypatch.setenv("COLUMNS", "37")
    monkeypatch.setenv("TERM", "dumb")
    assert gen.render_cli() == first


def _commands(cmd: typer.main.TyperGroup | object, path: str) -> list[str]:
    out = [path]
    for name, sub in sorted(getattr(cmd, "commands", {}).items()):
        if not getattr(sub, "hidden", False):
            out += _commands(sub, f"{path} {name}")
    return out


def test_every_command_and_option_is_documented(gen: ModuleType) -> None:
    text = gen.render_cli()
    root = typer.main.get_command(app)
    for path in _commands(root, "hashshift"):
        assert f"\n## {path}\n" in text, path
    for needle in ("## hashshift run", "## hashshift scenario validate", "`--paths <int range>`",
                   "`--format <str>`", "[default: csv]", "Usage: hashshift run [OPTIONS]"):
        assert needle in text, needle
    anchors = set(re.findall(r"\]\(#([a-z0-9-]+)\)", text))
    headings = {h.strip().replace(" ", "-") for h in re.findall(r"^## (.+)$", text, re.M)}
    assert anchors <= headings, anchors - headings
