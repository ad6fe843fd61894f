"""The files bundled in ``hashshift/data``: one rule for finding the newest of a kind.

A bundled file is named ``<kind>_<date>.csv`` where ``<date>`` (``YYYY-MM-DD`` or ``YYYY-MM``) is
the day its content was built or published; the newest date wins.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

__all__ = ["BundledFile", "newest_bundled", "write_sources_section"]


@dataclass(frozen=True)
class BundledFile:
    """One bundled file: its name, the date in its name and where it is shown as coming from."""

    name: str
    date: str

    @property
    def label(self) -> str:
        return f"hashshift/data/{self.name}"

    def read_text(self) -> str:
        return resources.files("hashshift").joinpath("data", self.name).read_text(
            encoding="utf-8")


def newest_bundled(kind: str) -> BundledFile:
    """The newest bundled ``<kind>_<date>.csv``; FileNotFoundError naming the pattern if none."""
    pattern = re.compile(rf"{re.escape(kind)}_(\d{{4}}-\d{{2}}(?:-\d{{2}})?)\.csv")
    folder = resources.files("hashshift").joinpath("data")
    found = sorted((m.group(1), p.name) for p in folder.iterdir()
                   if (m := pattern.fullmatch(p.name)))
    if not found:
        raise FileNotFoundError(f"no bundled {kind}_<date>.csv in hashshift/data")
    date, name = found[-1]
    return BundledFile(name, date)


def write_sources_section(path: Path, section: str, begin: str, end: str) -> None:
    """Replace the part of a ``SOURCES.md`` between the markers ``begin`` and ``end`` with
    ``section`` (which carries both markers), or append it; create the file if absent. Used by
    the committed build scripts that write the bundled data."""
    if path.exists():
        text = path.read_text(encoding="utf-8")
    else:
        text = "# hashshift/data — bundled facts and where they come from\n\n"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
        text = head + section.rstrip("\n") + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text, encoding="utf-8")
