"""Shared test fixtures: where the reference data live, opt-in network tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("HASHSHIFT_SHARED_DATA", REPO.parent / "shared" / "data"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--remote-data", action="store_true", default=False,
        help="run tests that reach public services on the internet",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--remote-data"):
        return
    skip = pytest.mark.skip(reason="needs the internet: run with --remote-data")
    for item in items:
        if "remote_data" in item.keywords:
            item.add_marker(skip)


def shared_file(*parts: str) -> Path:
    """Path of a reference file under ../shared/data, skipping the test when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"reference data not available: {path}")
    return path


@pytest.fixture
def shared() -> type:
    """Access to ../shared/data: ``shared.file("chain", "x.csv")`` skips when absent."""

    class _Shared:
        root = SHARED_DATA
        file = staticmethod(shared_file)

    return _Shared


@pytest.fixture(autouse=True)
def _isolated_store(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
                    ) -> None:
    """Tests never touch the user's store: HASHSHIFT_HOME points at a fresh folder."""
    monkeypatch.setenv("HASHSHIFT_HOME", str(tmp_path_factory.mktemp("hashshift_home")))
