"""The rules that keep a green run honest, checked on real pytest runs in a subprocess.

- Under ``HASHSHIFT_REQUIRE_SHARED=1`` a test whose reference data are missing fails instead of
  skipping; so does a browser test under ``HASHSHIFT_REQUIRE_BROWSER=1`` when Chromium is
  missing. ``.ci/run`` sets both.
- Every run ends with a summary of the skips and their reasons, before pytest's closing line,
  which ``make test`` prints last.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from conftest import REPO, shared_file

SHARED_TEST = "tests/test_hardware.py::test_catalogue_agrees_with_ccaf_list"
BROWSER_TEST = "tests/test_web_browser.py::test_home"


def run_pytest(test: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """One test in a fresh pytest process, with the HASHSHIFT_REQUIRE_* variables as given."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HASHSHIFT_REQUIRE_")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test],
        cwd=REPO, env={**clean, **env}, capture_output=True, text=True, timeout=600)


def closing_line(out: str) -> str:
    return out.strip().splitlines()[-1]


def test_missing_reference_data_skips_or_fails_when_required(tmp_path: Path) -> None:
    empty = tmp_path / "no-shared-data"
    empty.mkdir()
    skipped = run_pytest(SHARED_TEST, tmp_path, HASHSHIFT_SHARED_DATA=str(empty))
    assert skipped.returncode == 0, skipped.stdout
    assert re.fullmatch(r"1 skipped in [0-9.]+s( \(.*\))?", closing_line(skipped.stdout)), \
        skipped.stdout
    # the summary names the reason and how to make it a failure
    assert "skipped: 1 test(s)" in skipped.stdout
    assert f"reference data not available: {empty}" in skipped.stdout
    assert "optional: missing skips (set HASHSHIFT_REQUIRE_SHARED=1" in skipped.stdout

    failed = run_pytest(SHARED_TEST, tmp_path, HASHSHIFT_SHARED_DATA=str(empty),
                        HASHSHIFT_REQUIRE_SHARED="1")
    assert failed.returncode == 1, failed.stdout
    assert closing_line(failed.stdout).startswith("1 failed"), failed.stdout
    assert "HASHSHIFT_REQUIRE_SHARED=1: this must not be skipped" in failed.stdout
    assert "required: missing is a failure" in failed.stdout


def test_missing_chromium_skips_or_fails_when_required(tmp_path: Path) -> None:
    nowhere = str(tmp_path / "no-chromium")
    skipped = run_pytest(BROWSER_TEST, tmp_path, HASHSHIFT_CHROMIUM=nowhere)
    assert skipped.returncode == 0, skipped.stdout
    assert closing_line(skipped.stdout).startswith("1 skipped"), skipped.stdout
    assert f"Chromium not found at {nowhere}" in skipped.stdout

    failed = run_pytest(BROWSER_TEST, tmp_path, HASHSHIFT_CHROMIUM=nowhere,
                        HASHSHIFT_REQUIRE_BROWSER="1")
    assert failed.returncode == 1, failed.stdout
    assert closing_line(failed.stdout).startswith("1 error"), failed.stdout  # in its fixture
    assert "HASHSHIFT_REQUIRE_BROWSER=1: this must not be skipped" in failed.stdout


def test_the_data_are_required_when_present(tmp_path: Path) -> None:
    """With the data in place, the required run passes (the rule does not fail good runs)."""
    shared_file("cambridge", "ccaf_cbeci_miners_2021-02.json")
    passed = run_pytest(SHARED_TEST, tmp_path, HASHSHIFT_REQUIRE_SHARED="1")
    assert passed.returncode == 0, passed.stdout
    assert closing_line(passed.stdout).startswith("1 passed"), passed.stdout


def test_ci_requires_data_and_browser_and_ends_with_pytest() -> None:
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r"^export HASHSHIFT_REQUIRE_SHARED=1 HASHSHIFT_REQUIRE_BROWSER=1$", ci,
                     re.M)
    assert ci.index("HASHSHIFT_REQUIRE_SHARED=1") < ci.index("make test")
    # make test runs pytest last, so its closing line is the last line of the run
    dry = subprocess.run(["make", "-n", "--no-print-directory", "test"], cwd=REPO,
                         capture_output=True, text=True, timeout=600)
    assert dry.returncode == 0, dry.stderr
    steps = [line for line in dry.stdout.splitlines() if line.startswith(".venv/bin/")]
    assert steps and steps[-1].startswith(".venv/bin/pytest"), steps
