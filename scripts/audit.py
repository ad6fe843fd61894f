"""Dependency audit: ``pip-audit`` over the installed environment, when PyPI is reachable.

Usage: python scripts/audit.py [--ignore-vuln ID ...] [--timeout S]

1. A short HTTPS request to PyPI's per-release JSON API — the one pip-audit reads advisories
   from, ``https://pypi.org/pypi/pip/<installed pip version>/json``;
   ``HASHSHIFT_AUDIT_CHECK_URL`` overrides it — tells whether the network allows an audit; when
   it does not (offline, or a mirror without that API), the script prints
   ``dependency audit skipped: <reason>`` and exits 0 (``make test`` goes on offline). So does
   an audit in which not a single package could be looked up.
2. ``pip-audit`` is installed into this interpreter's environment when it is missing
   (``python -m pip install pip-audit``).
3. ``python -m pip_audit`` audits the environment of this interpreter (the project's venv when
   run as ``.venv/bin/python scripts/audit.py``) against PyPI's advisory data; the project itself
   (installed editable, not on PyPI) is skipped.

Exit status: 0 when no known vulnerability is found (or the audit was skipped), 1 when some are
(each is printed: package, version, advisory IDs, fixed versions) or pip-audit failed.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from typing import Any


def check_url() -> str:
    """The reachability check: PyPI's JSON for the installed pip release."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"https://pypi.org/pypi/pip/{version('pip')}/json"
    except PackageNotFoundError:  # pragma: no cover - pip is in every venv
        return "https://pypi.org/pypi/pip/json"


#: Errors that mean "the network does not allow it" rather than "the audit failed".
OFFLINE_MARKERS = ("connectionerror", "connection refused", "max retries exceeded",
                   "name or service not known", "temporary failure in name resolution",
                   "timed out", "network is unreachable", "proxyerror", "ssl")


def skip(reason: str) -> int:
    print(f"dependency audit skipped: {reason}")
    return 0


def pypi_unreachable(url: str, timeout_s: float) -> str | None:
    """``None`` when ``url`` answers HTTP 200 with JSON within ``timeout_s``, else why not."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as r:  # noqa: S310 (fixed URL)
            if r.status != 200:
                return f"PyPI's JSON API is not available here ({url}: HTTP {r.status})"
            json.loads(r.read(2_000_000))
            return None
    except urllib.error.HTTPError as exc:
        return (f"PyPI's per-release JSON API, which pip-audit reads, is not available here "
                f"({url}: HTTP {exc.code})")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        why = getattr(exc, "reason", None) or exc
        return f"PyPI is not reachable ({url}: {why})"


def ensure_pip_audit() -> str | None:
    """``None`` when ``pip_audit`` can be imported (installing it first if needed), else why
    not."""
    if importlib.util.find_spec("pip_audit") is not None:
        return None
    print("installing pip-audit into this environment …", flush=True)
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "pip-audit"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        tail = (r.stderr or r.stdout).strip().splitlines()[-1:] or ["?"]
        return f"could not install pip-audit ({tail[0]})"
    importlib.invalidate_caches()
    return None


def run_pip_audit(ignore: list[str], timeout_s: float) -> tuple[dict[str, Any] | None, str]:
    """pip-audit's JSON report of this environment (``None`` if it produced none) and its
    stderr."""
    cmd = [sys.executable, "-m", "pip_audit", "--format", "json", "--progress-spinner", "off",
           "--skip-editable", "--timeout", str(int(timeout_s))]
    for vuln in ignore:
        cmd += ["--ignore-vuln", vuln]
    r = subprocess.run(cmd, capture_output=True, text=True)
    try:
        report = json.loads(r.stdout)
    except ValueError:
        return None, r.stderr
    return (report if isinstance(report, dict) else None), r.stderr


def summarize(report: dict[str, Any]) -> int:
    """Print the report's findings; 1 if any package has a known vulnerability, else 0."""
    deps = report.get("dependencies", [])
    audited = [d for d in deps if "skip_reason" not in d]
    missing = [d for d in deps if "skip_reason" in d and "editable" not in d["skip_reason"]]
    found = [(d, v) for d in audited for v in d.get("vulns", [])]
    if not audited and missing:
        return skip(f"none of the {len(missing)} installed packages could be looked up in "
                    "PyPI's advisory data (a mirror without the per-release JSON API?)")
    if missing:
        print(f"  not audited ({len(missing)}, not found on PyPI): "
              + ", ".join(f"{d.get('name')} {d.get('version', '')}".strip() for d in missing))
    if not found:
        print(f"dependency audit: {len(audited)} packages, no known vulnerabilities "
              "(pip-audit, PyPI advisory data)")
        return 0
    for d, v in found:
        aliases = ", ".join(v.get("aliases") or [])
        fixed = ", ".join(v.get("fix_versions") or []) or "no fixed release yet"
        print(f"  {d['name']} {d['version']}: {v['id']}" + (f" ({aliases})" if aliases else "")
              + f"; fixed in: {fixed}")
        desc = " ".join(str(v.get("description") or "").split())
        if desc:
            print(f"      {desc[:300]}")
    pkgs = len({d["name"] for d, _ in found})
    print(f"dependency audit: {len(found)} known "
          f"{'vulnerability' if len(found) == 1 else 'vulnerabilities'} in {pkgs} of "
          f"{len(audited)} packages")
    return 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--ignore-vuln", action="append", default=[], metavar="ID",
                    help="an advisory ID to accept (repeatable); say why in the Makefile")
    ap.add_argument("--timeout", type=float, default=5.0,
                    help="seconds for the reachability check (default 5)")
    args = ap.parse_args(argv)
    url = os.environ.get("HASHSHIFT_AUDIT_CHECK_URL") or check_url()
    why = pypi_unreachable(url, args.timeout)
    if why:
        return skip(why)
    why = ensure_pip_audit()
    if why:
        return skip(why)
    report, err = run_pip_audit(args.ignore_vuln, max(15.0, args.timeout))
    if report is None:
        low = err.lower()
        if any(m in low for m in OFFLINE_MARKERS):
            last = err.strip().splitlines()[-1:] or ["?"]
            return skip(f"pip-audit could not reach its advisory data ({last[0][:200]})")
        print(f"dependency audit failed: pip-audit gave no report\n{err.strip()}")
        return 1
    return summarize(report)


if __name__ == "__main__":
    sys.exit(main())
