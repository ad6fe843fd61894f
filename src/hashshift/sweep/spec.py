"""The sweep spec: pydantic models of a sweep file and the errors a sweep raises.

A spec (TOML, ``extra="forbid"``) names a base scenario and its run size (``[sweep]``), fixed
overrides (``[set]``), a design (``[sampling]``), the ban the ``ban_region`` axis adds
(``[ban]``) and the axes (``[[axis]]``); docs/sweeps.md documents every field. Turning a spec
into tasks is :mod:`.plan`'s job.
"""

from __future__ import annotations

import tomllib
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..sim.scenario import LIMITS

__all__ = ["Axis", "BanTemplate", "Sampling", "SweepError", "SweepMeta", "SweepSpec",
           "SweepTaskError", "read_spec"]


class SweepError(ValueError):
    """A sweep that cannot start (bad spec, axis, value, limit or scheduler); says why."""


class SweepTaskError(RuntimeError):
    """A task failed under ``fail_fast``; the message names the task and its parameters."""


Share = Annotated[float, Field(ge=0.0, le=1.0)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SweepMeta(_Model):
    """``[sweep]``: identity, base scenario and run size of every task."""

    name: str = Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$",
                      description="identifies the sweep in the store and its work folder")
    description: str = ""
    base: str = Field(min_length=1, description="a scenario file (relative to the spec) or a "
                                                "shipped example name, e.g. china_2021")
    paths: int = Field(ge=1, le=LIMITS["paths"], description="[Monte Carlo paths] per task")
    seed: int = Field(ge=0, description="the tasks' seed: with common random numbers every "
                      "task runs from the same seed (paths paired across tasks); without, "
                      "numpy.random.SeedSequence(seed).spawn(n_tasks)")
    common_random_numbers: bool = Field(
        default=True, description="tasks share their random draws path by path, so that their "
        "differences are paired and noise does not decide small effects")
    counterfactual: dict[str, Any] | None = Field(
        default=None, description="axis values of the no-policy task each task's effects are "
        "measured against (default: every categorical axis at its \"none\" level, if any)")


class Sampling(_Model):
    """``[sampling]``: how the axes combine into tasks."""

    method: Literal["grid", "lhs", "sobol", "saltelli"] = "grid"
    n: int | None = Field(default=None, ge=1, le=1_000_000,
                          description="samples (lhs, sobol; base samples for saltelli)")

    @model_validator(mode="after")
    def _n(self) -> Sampling:
        if self.method == "grid" and self.n is not None:
            raise ValueError("n is only for the lhs, sobol and saltelli methods (a grid has "
                             "one task per combination of the axes' values)")
        if self.method != "grid" and self.n is None:
            raise ValueError(f"method {self.method!r} needs n (the number of samples)")
        if self.method in ("sobol", "saltelli") and self.n is not None \
                and self.n & (self.n - 1):
            lo = 1 << (self.n.bit_length() - 1)
            raise ValueError(f"n = {self.n}: {self.method} needs a power of 2 (e.g. {lo} or "
                             f"{lo * 2})")
        return self


class BanTemplate(_Model):
    """``[ban]``: the ban event that the ``ban_region`` axis adds (days after ``as_of``)."""

    announced_day: int = Field(default=0, ge=0, le=3650)
    effective_day: int = Field(default=14, ge=0, le=3650)
    enforcement: Share = 0.9
    underground: Share = 0.05
    ramp_down_days: int = Field(default=14, ge=0, le=365)
    enforcement_uncertainty: Share = 0.0
    others: Literal["keep", "drop"] = Field(
        default="keep", description="keep or drop the base scenario's other ban events")

    @model_validator(mode="after")
    def _days(self) -> BanTemplate:
        if self.effective_day < self.announced_day:
            raise ValueError(f"effective_day ({self.effective_day}) is before announced_day "
                             f"({self.announced_day})")
        return self


_DIST_PARAMS = {
    "uniform": ({"low", "high"}, set()),
    "loguniform": ({"low", "high"}, set()),
    "normal": ({"mean", "sd"}, {"low", "high"}),
    "choice": ({"choices"}, {"weights"}),
}


class Axis(_Model):
    """``[[axis]]``: one scenario field (dotted path) or a special axis, with grid ``values`` or
    a ``distribution`` (uniform: low/high; loguniform: low/high > 0; normal: mean/sd, optionally
    truncated to low/high; choice: choices, optional weights)."""

    path: str = Field(min_length=1, description="e.g. migration.delay_median_days, "
                      "event[0].underground, event[*].underground, region[CN-SC].price_usd_kwh "
                      "or ban_region")
    name: str | None = Field(default=None, min_length=1, max_length=60,
                             description="column name in the results; default: the path")
    values: list[Any] | None = None
    distribution: Literal["uniform", "loguniform", "normal", "choice"] | None = None
    low: float | None = None
    high: float | None = None
    mean: float | None = None
    sd: float | None = Field(default=None, gt=0)
    choices: list[Any] | None = None
    weights: list[Annotated[float, Field(ge=0)]] | None = None

    @property
    def label(self) -> str:
        return self.name or self.path

    @model_validator(mode="after")
    def _shape(self) -> Axis:
        given = {k for k in ("low", "high", "mean", "sd", "choices", "weights")
                 if getattr(self, k) is not None}
        if self.values is not None and self.distribution is not None:
            raise ValueError("give either values (a grid) or a distribution, not both")
        if self.values is None and self.distribution is None:
            raise ValueError("give values (a grid) or a distribution "
                             "(uniform, loguniform, normal or choice)")
        if self.values is not None:
            if not self.values:
                raise ValueError("values is empty: a grid axis needs at least one value")
            if given:
                raise ValueError(f"{', '.join(sorted(given))} only go with a distribution")
            return self
        assert self.distribution is not None
        need, opt = _DIST_PARAMS[self.distribution]
        missing, extra = need - given, given - need - opt
        if missing:
            raise ValueError(f"distribution {self.distribution!r} needs "
                             f"{', '.join(sorted(missing))}")
        if extra:
            raise ValueError(f"{', '.join(sorted(extra))} is not a parameter of "
                             f"{self.distribution!r} (it takes {', '.join(sorted(need | opt))})")
        lo, hi = self.low, self.high
        if self.distribution in ("uniform", "loguniform"):
            assert lo is not None and hi is not None
            if not lo < hi:
                raise ValueError(f"low ({lo:g}) must be below high ({hi:g})")
            if self.distribution == "loguniform" and lo <= 0:
                raise ValueError(f"loguniform needs low > 0 (got {lo:g})")
        if self.distribution == "normal" and lo is not None and hi is not None and not lo < hi:
            raise ValueError(f"low ({lo:g}) must be below high ({hi:g})")
        if self.distribution == "choice":
            assert self.choices is not None
            if not self.choices:
                raise ValueError("choices is empty")
            if self.weights is not None:
                if len(self.weights) != len(self.choices):
                    raise ValueError(f"weights has {len(self.weights)} entries, choices "
                                     f"{len(self.choices)}")
                if sum(self.weights) <= 0:
                    raise ValueError("weights sum to 0")
        return self


class SweepSpec(_Model):
    """A whole sweep file."""

    sweep: SweepMeta
    set_: dict[str, Any] = Field(default_factory=dict, alias="set",
                                 description="fixed overrides for every task: dotted path = value")
    sampling: Sampling = Sampling()
    ban: BanTemplate = BanTemplate()
    axis: list[Axis] = Field(min_length=1)


def read_spec(text: str, source: str = "sweep") -> SweepSpec:
    """Parse and validate sweep TOML; :class:`SweepError` lists every problem on one line."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SweepError(f"{source}: not valid TOML: {exc}") from None
    try:
        return SweepSpec.model_validate(data)
    except ValidationError as exc:
        raise SweepError(f"{source}: " + "; ".join(_spec_problems(exc))) from None


def _spec_problems(exc: ValidationError) -> list[str]:
    out = []
    for e in exc.errors(include_url=False):
        loc = ""
        for part in e["loc"]:
            loc += f"[{part}]" if isinstance(part, int) else ("." if loc else "") + str(part)
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown field (check the spelling; docs/sweeps.md lists the fields)"
        elif e["type"] == "missing":
            msg = "required field is missing"
        val = e.get("input")
        shown = "" if e["type"] == "missing" or isinstance(val, dict) else f" (got {val!r})"
        out.append(f"{loc or '(top level)'}: {msg}{shown[:80]}")
    return out
