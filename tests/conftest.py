"""Shared test fixtures: where the reference data live, the browser, opt-in network tests, and
the rules that keep a green run honest.

- A test that needs ../shared/data (:func:`shared_file`) or Chromium (:func:`chromium_path`, the
  ``browser`` fixture) skips where they are missing, with the reason, unless
  ``HASHSHIFT_REQUIRE_SHARED=1`` or ``HASHSHIFT_REQUIRE_BROWSER=1`` (set by ``.ci/run``): then the
  same test fails. The run ends with a summary of every skip and its reason.
- Hypothesis never fails a test for being slow (``deadline=None``, no ``too_slow`` health
  check): on a busy machine time is not a property of the code; speed lives in benchmarks/.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, NoReturn

import pytest
from hypothesis import HealthCheck, settings

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("HASHSHIFT_SHARED_DATA", REPO.parent / "shared" / "data"))
REQUIRE_SHARED = "HASHSHIFT_REQUIRE_SHARED"
REQUIRE_BROWSER = "HASHSHIFT_REQUIRE_BROWSER"
CHROMIUM = os.environ.get("HASHSHIFT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic"]

settings.register_profile("hashshift", deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("hashshift")


def required(variable: str) -> bool:
    """Whether ``variable`` (``HASHSHIFT_REQUIRE_…``) turns skips of its kind into failures."""
    return os.environ.get(variable, "").strip() not in ("", "0")


def skip_or_fail(reason: str, variable: str) -> NoReturn:
    """Skip the test for ``reason``, or fail it when ``variable`` requires what is missing."""
    if required(variable):
        pytest.fail(f"{reason} ({variable}=1: this must not be skipped)", pytrace=False)
    pytest.skip(reason)


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


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config
                            ) -> None:
    """Every skip grouped by its reason, and whether missing data or Chromium may skip."""
    reasons: Counter[str] = Counter()
    for report in terminalreporter.stats.get("skipped", []):
        longrepr = report.longrepr
        text = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        reasons[text.removeprefix("Skipped: ")] += 1
    tw = terminalreporter
    tw.write_sep("=", f"skipped: {sum(reasons.values())} test(s)", bold=True)
    for reason, n in reasons.most_common():
        tw.write_line(f"{n:>5}  {reason}")
    for variable, what in ((REQUIRE_SHARED, f"reference data ({SHARED_DATA})"),
                           (REQUIRE_BROWSER, f"Chromium ({CHROMIUM})")):
        rule = ("required: missing is a failure" if required(variable)
                else f"optional: missing skips (set {variable}=1 to require)")
        tw.write_line(f"{what}: {rule}")


def shared_file(*parts: str) -> Path:
    """Path of a reference file under ../shared/data; the test skips when it is absent (fails
    under ``HASHSHIFT_REQUIRE_SHARED=1``)."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        skip_or_fail(f"reference data not available: {path}", REQUIRE_SHARED)
    return path


@pytest.fixture
def shared() -> type:
    """Access to ../shared/data: ``shared.file("chain", "x.csv")`` skips when absent."""

    class _Shared:
        root = SHARED_DATA
        file = staticmethod(shared_file)

    return _Shared


def chromium_path() -> str:
    """Chromium's executable (``$HASHSHIFT_CHROMIUM``, default /usr/bin/chromium); the test
    skips when it is missing (fails under ``HASHSHIFT_REQUIRE_BROWSER=1``)."""
    if os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    found = shutil.which(CHROMIUM)
    if found is None:
        skip_or_fail(f"Chromium not found at {CHROMIUM} (apt-get install -y chromium)",
                     REQUIRE_BROWSER)
    return found


def playwright_sync_api() -> ModuleType:
    """``playwright.sync_api``; the test skips when playwright is not installed (fails under
    ``HASHSHIFT_REQUIRE_BROWSER=1``). Never ``playwright install``: the browser is Debian's."""
    try:
        from playwright import sync_api
    except ImportError:
        skip_or_fail("playwright is not installed (pip install playwright)", REQUIRE_BROWSER)
    return sync_api


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright, one per test module."""
    sync_api = playwright_sync_api()
    path = chromium_path()
    with sync_api.sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS, headless=True)
        except Exception as exc:  # depends on the machine
            skip_or_fail(f"Chromium at {path} did not start: {exc}", REQUIRE_BROWSER)
        yield b
        b.close()


@pytest.fixture(autouse=True)
def _isolated_store(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
                    ) -> None:
    """Tests never touch the user's store: HASHSHIFT_HOME points at a fresh folder."""
    monkeypatch.setenv("HASHSHIFT_HOME", str(tmp_path_factory.mktemp("hashshift_home")))
