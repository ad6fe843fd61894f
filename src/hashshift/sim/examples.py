"""The shipped examples: scenarios (``hashshift/examples/*.toml``) and sweep specs
(``hashshift/examples/sweeps/*.toml``), and the one rule that finds them.

Naming rule: an example's name is its file name without ``.toml``; a name given by a user may
carry the ``.toml`` suffix and may spell ``_`` as ``-`` (``china-2021`` is ``china_2021``).
Every interface (CLI, web, report, sweeps, backtests) loads examples through this module.
"""

from __future__ import annotations

import difflib
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Literal

from .scenario import Scenario, load_scenario, parse_scenario

__all__ = [
    "UnknownExampleError",
    "canonical_name",
    "example_names",
    "example_text",
    "is_example",
    "load_example",
    "resolve_scenario",
    "sweep_names",
    "sweep_path",
]

Kind = Literal["scenario", "sweep"]


class UnknownExampleError(LookupError):
    """A name that is not a shipped example; the message lists the shipped ones."""


def canonical_name(name: str) -> str:
    """The example name a user's spelling stands for (``China-2021.toml`` → ``china_2021``)."""
    return name.strip().removesuffix(".toml").replace("-", "_")


def _folder(kind: Kind) -> Traversable:
    root = resources.files("hashshift").joinpath("examples")
    return root.joinpath("sweeps") if kind == "sweep" else root


def _files(kind: Kind) -> dict[str, Traversable]:
    folder = _folder(kind)
    if not folder.is_dir():
        return {}
    found = {p.name.removesuffix(".toml"): p for p in folder.iterdir()
             if p.name.endswith(".toml") and p.is_file()}
    return dict(sorted(found.items()))


def example_names(kind: Kind = "scenario") -> list[str]:
    """Names of the shipped scenarios (or sweep specs), sorted."""
    return list(_files(kind))


def _find(name: str, kind: Kind) -> Traversable:
    files = _files(kind)
    key = canonical_name(name)
    if key in files:
        return files[key]
    what = "sweep" if kind == "sweep" else "example"
    close = difflib.get_close_matches(key, list(files), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise UnknownExampleError(f"no shipped {what} {name!r}{hint} (shipped: "
                              f"{', '.join(files) or 'none'})")


def example_text(name: str, kind: Kind = "scenario") -> str:
    """The TOML text of a shipped scenario (or sweep spec)."""
    return _find(name, kind).read_text(encoding="utf-8")


def load_example(name: str) -> Scenario:
    """A shipped scenario, validated; its source reads ``example NAME``."""
    key = canonical_name(name)
    return parse_scenario(example_text(key), f"example {_find(key, 'scenario').name[:-5]}")


def sweep_names() -> list[str]:
    """Names of the shipped sweep specs, sorted."""
    return example_names("sweep")


def sweep_path(name: str) -> Path:
    """The file of a shipped sweep spec (sweep specs name their base scenario relative to it)."""
    return Path(str(_find(name, "sweep")))


def is_example(name: str, kind: Kind = "scenario") -> bool:
    """Whether ``name`` (in any accepted spelling) is a shipped example."""
    return canonical_name(name) in _files(kind)


def resolve_scenario(spec: str, base_dir: Path | None = None) -> tuple[Scenario, str]:
    """A scenario from a file path (relative to ``base_dir`` when given) or a shipped example's
    name; returns it and where it came from (the path, or ``example NAME``).

    Raises :class:`UnknownExampleError` naming the shipped examples when ``spec`` is neither,
    :class:`~hashshift.sim.scenario.ScenarioError` when the file is not a valid scenario.
    """
    path = Path(spec)
    candidates = [path] if base_dir is None or path.is_absolute() else \
        [base_dir / path, base_dir / f"{spec}.toml"]
    for c in candidates:
        if c.is_file():
            return load_scenario(c), str(c)
        if c.is_dir():
            raise UnknownExampleError(f"{spec}: is a folder, not a scenario file")
    if path.parent == Path(".") and is_example(spec):
        name = canonical_name(spec)
        return load_example(name), f"example {name}"
    where = f" (looked in {base_dir})" if base_dir is not None else ""
    raise UnknownExampleError(f"{spec}: no such file{where}, and no shipped example of "
                              f"that name (shipped: {', '.join(example_names()) or 'none'})")
