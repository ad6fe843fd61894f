"""Scenario arguments shared by ``scenario``, ``run`` and ``report``: a file path or a shipped
example's name, loaded and checked, with problems as one-line messages."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ._base import UserError

if TYPE_CHECKING:
    from ..sim.engine import Inputs
    from ..sim.scenario import Scenario

__all__ = ["check_scenario", "example_list", "load_scenario", "one_line", "region_problems",
           "source_of"]


def example_list() -> str:
    """The shipped examples' names, comma-separated."""
    from ..sim.examples import example_names

    return ", ".join(example_names()) or "(none shipped)"


def load_scenario(spec: str, option: str | None = None) -> tuple[Scenario, str]:
    """A scenario from a file path or a shipped example's name, and where it came from; an
    unknown name is a UserError (prefixed with ``option``, e.g. ``--scenario``). Raises
    :class:`~hashshift.sim.scenario.ScenarioError` for an invalid file."""
    from ..sim.examples import UnknownExampleError, resolve_scenario

    try:
        return resolve_scenario(spec)
    except UnknownExampleError as exc:
        raise UserError(f"{option} {exc}" if option else str(exc)) from None


def source_of(exc: Exception) -> str:
    """The file a ScenarioError is about (its message starts "SOURCE: N problem(s):")."""
    m = re.match(r"(.*): \d+ problem\(s\):", str(exc))
    return m.group(1) if m else "scenario"


def one_line(exc: Exception) -> str:
    """A ScenarioError's problems on one line, after the file's name."""
    from ..sim.scenario import ScenarioError

    if isinstance(exc, ScenarioError):
        return f"{source_of(exc)}: " + "; ".join(exc.problems)
    return str(exc)


def region_problems(sc: Scenario) -> list[str]:
    """Unknown region codes, each named by its field (the engine would stop at the first)."""
    from ..sim.scenario import region_problems as problems

    return [f"{where}: {msg}" for where, msg in problems(sc)]


def check_scenario(spec: str) -> tuple[Scenario | None, Inputs | None, list[str], str]:
    """Validate a scenario and resolve it against the data: ``(scenario, inputs, problems,
    source)``, with problems listed instead of raised for anything the file can fix."""
    from ..sim.engine import check
    from ..sim.scenario import ScenarioError

    try:
        sc, source = load_scenario(spec)
    except ScenarioError as exc:
        return None, None, list(exc.problems), source_of(exc)
    inputs, problems = check(sc)
    return sc, inputs, [msg if where == "scenario" else f"{where}: {msg}"
                        for where, msg in problems], source
