"""docs/api.md is generated from the code and kept in sync."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_api_reference_is_up_to_date() -> None:
    spec = importlib.util.spec_from_file_location("gen_api", ROOT / "scripts/gen_api_reference.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    text = mod.render()
    assert "## `hashshift.consensus`" in text and "validate_headers" in text
    assert (ROOT / "docs/api.md").read_text() == text, (
        "docs/api.md is stale: run python scripts/gen_api_reference.py")
