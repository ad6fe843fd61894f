"""Parameter sweeps: many scenarios and seeds on one machine's cores or a Dask cluster.

A sweep spec (TOML, validated by pydantic, ``extra="forbid"``) names a base scenario, fixed
overrides (``[set]``) and axes (``[[axis]]``): grid values, or samples from named distributions
(Latin hypercube, Sobol' or a Saltelli design for Sobol' indices, all via ``scipy.stats.qmc``).
Every task's scenario is validated before anything runs; its seed comes from
``numpy.random.SeedSequence(seed).spawn(n_tasks)``, so a task's result does not depend on the
scheduler, the number of workers or the order in which tasks finish.

Tasks run behind one ``concurrent.futures.Executor`` interface: ``local`` (in the driver's
process), ``processes`` (a spawn-safe process pool) or ``dask`` (a running cluster at
``--address``, else a ``LocalCluster``). Each task writes its own Parquet part into the sweep's
work folder (atomic rename; workers never touch the database and never print); the driver
ingests the parts into the store's ``sweep_results`` table at the end, and a re-run of an
interrupted sweep computes only the tasks whose part is missing.

Results: a tidy table of outcome metrics per task (:func:`outcome_metrics`), sensitivity
summaries (:func:`sensitivity`: main-effect ranges, standardized regression coefficients, and
Sobol' first-order and total indices for ``saltelli`` designs); the tornado charts are in
:mod:`hashshift.report.sensitivity`. docs/sweeps.md documents the format and the commands.
"""

from __future__ import annotations

import contextlib
import copy
import difflib
import hashlib
import io
import itertools
import json
import math
import os
import re
import shutil
import socket
import time
import tomllib
import traceback
import types
import typing
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, ParamSpec, TypeVar

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from . import __version__
from .sim.examples import UnknownExampleError, resolve_scenario, sweep_names, sweep_path
from .sim.outcomes import HEADLINE_METRICS, outcome_metrics
from .sim.scenario import LIMITS, RegionSpec, Scenario, ScenarioError

if TYPE_CHECKING:
    from .report.sensitivity import tornado_figure, tornado_html
    from .store import Store

__all__ = [
    "DEFAULT_MAX_TASKS",
    "HEADLINE_METRICS",
    "SCHEDULERS",
    "Axis",
    "Pool",
    "Sweep",
    "SweepError",
    "SweepResult",
    "SweepSpec",
    "SweepStats",
    "SweepTaskError",
    "Task",
    "TaskFailure",
    "TaskOutcome",
    "ingest",
    "load_sweep",
    "open_executor",
    "outcome_metrics",
    "parse_sweep",
    "run_sweep",
    "run_task",
    "sensitivity",
    "shipped_sweeps",
    "tornado_figure",
    "tornado_html",
]

SCHEDULERS = ("local", "processes", "dask")
DEFAULT_MAX_TASKS = 10_000
SPECIAL_AXES = ("ban_region",)
#: Bump when the outcome metrics change: finished parts of older versions are recomputed.
OUTCOME_VERSION = 1
_RESERVED = {"task", "seed", "sweep", "metric", "value", "params"}
_PART_META = b"hashshift_sweep"


class SweepError(ValueError):
    """A sweep that cannot start (bad spec, axis, value, limit or scheduler); says why."""


class SweepTaskError(RuntimeError):
    """A task failed under ``fail_fast``; the message names the task and its parameters."""


# ---------------------------------------------------------------------------------------------
# The spec (TOML → pydantic)
# ---------------------------------------------------------------------------------------------
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
    seed: int = Field(ge=0, description="numpy.random.SeedSequence(seed).spawn(n_tasks)")


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


# ---------------------------------------------------------------------------------------------
# Tasks
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Task:
    """One scenario run: its index, seed, axis values and the validated scenario as JSON."""

    index: int
    seed: int
    params: dict[str, Any]
    scenario_json: str
    key: str  # digest of the scenario (with seed and paths), the package version, OUTCOME_VERSION


@dataclass(frozen=True)
class _Leaf:
    path: str
    steps: tuple[tuple[str, int | str | None], ...]
    kind: str  # int | float | date | str | bool | other


@dataclass
class Sweep:
    """A loaded sweep: the spec, its base scenario, and every task (validated)."""

    spec: SweepSpec
    base: Scenario
    source: str
    tasks: list[Task]
    axis_kinds: dict[str, str]  # axis label -> "numeric" | "categorical"

    @property
    def name(self) -> str:
        return self.spec.sweep.name

    @property
    def axes(self) -> list[Axis]:
        return list(self.spec.axis)

    @property
    def digest(self) -> str:
        h = hashlib.sha256()
        for t in self.tasks:
            h.update(t.key.encode())
        return h.hexdigest()[:16]


def shipped_sweeps() -> dict[str, Path]:
    """Shipped sweep specs by name (``examples/sweeps/*.toml``)."""
    return {name: sweep_path(name) for name in sweep_names()}


def load_sweep(path: str | Path, *, max_tasks: int = DEFAULT_MAX_TASKS) -> Sweep:
    """Read, validate and expand a sweep spec (a file or a shipped sweep name)."""
    p = Path(path)
    if not p.exists():
        shipped = shipped_sweeps()
        if str(path) in shipped:
            p = shipped[str(path)]
        else:
            names = ", ".join(shipped) or "none"
            raise SweepError(f"{path}: no such file (shipped sweeps: {names})")
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise SweepError(f"{p}: cannot read the file: {exc.strerror}") from None
    return parse_sweep(text, str(p), base_dir=p.parent, max_tasks=max_tasks)


def parse_sweep(text: str, source: str = "sweep", *, base_dir: str | Path | None = None,
                max_tasks: int = DEFAULT_MAX_TASKS) -> Sweep:
    """Validate sweep TOML, resolve its base scenario, expand and validate every task.

    Raises :class:`SweepError` (one line per problem, naming the field, axis and value) before
    anything runs; also when the spec expands to more than ``max_tasks`` tasks.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SweepError(f"{source}: not valid TOML: {exc}") from None
    try:
        spec = SweepSpec.model_validate(data)
    except ValidationError as exc:
        raise SweepError(f"{source}: " + "; ".join(_spec_problems(exc))) from None
    base = _load_base(spec.sweep.base, Path(base_dir) if base_dir is not None else Path.cwd(),
                      source)
    return _expand(spec, base, source, max_tasks)


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


def _load_base(base: str, base_dir: Path, source: str) -> Scenario:
    try:
        return resolve_scenario(base, base_dir)[0]
    except ScenarioError as exc:
        raise SweepError(f"{source}: sweep.base {base!r}: " + "; ".join(exc.problems)) from None
    except UnknownExampleError as exc:
        raise SweepError(f"{source}: sweep.base {exc}") from None


_STEP = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?:\[([^\]]*)\])?$")


def _split_path(path: str) -> list[tuple[str, int | str | None]]:
    parts: list[str] = []
    depth, cur = 0, ""
    for ch in path:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        if ch == "." and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    steps: list[tuple[str, int | str | None]] = []
    for p in parts:
        m = _STEP.match(p.strip())
        if not m:
            raise ValueError(f"{p!r} is not a field name (write fields as a.b, list items as "
                             "a[0], a[*] or a[CODE])")
        name, idx = m.group(1), m.group(2)
        if idx is None:
            steps.append((name, None))
        elif idx.strip().isdigit():
            steps.append((name, int(idx)))
        elif idx.strip():
            steps.append((name, idx.strip()))
        else:
            raise ValueError(f"{p!r}: empty [] (use an index, * or a code)")
    return steps


def _annotation_kind(ann: Any) -> str:
    if ann is None:
        return "other"
    args = {a for a in _flatten_args(ann) if a is not type(None)}
    if bool in args:
        return "bool"
    if float in args:
        return "float"
    if int in args:
        return "int"
    if date in args:
        return "date"
    if str in args:
        return "str"
    return "other"


def _flatten_args(ann: Any) -> list[Any]:
    origin = typing.get_origin(ann)
    if origin is Literal:
        return [type(a) for a in typing.get_args(ann)]
    if origin in (typing.Union, types.UnionType, Annotated):
        out: list[Any] = []
        for a in typing.get_args(ann)[: 1 if origin is Annotated else None]:
            out += _flatten_args(a)
        return out
    return [ann]


def _dict_value_annotation(ann: Any) -> Any:
    if ann is None:
        return None
    for a in _flatten_args(ann):
        if typing.get_origin(a) is dict:
            return typing.get_args(a)[1]
    return None


def _find_item(items: list[Any], key: str) -> int | None:
    for i, x in enumerate(items):
        for attr in ("code", "name"):
            v = x.get(attr) if isinstance(x, dict) else getattr(x, attr, None)
            if v == key:
                return i
    return None


def _resolve_path(base: Scenario, path: str, what: str) -> _Leaf:
    """Check that ``path`` names a field of the base scenario; returns how to set it."""
    try:
        steps = _split_path(path)
    except ValueError as exc:
        raise SweepError(f"{what}: {exc}") from None
    if len(steps) == 2 and steps[0] == ("scenario", None) and steps[1][0] in ("seed", "paths"):
        raise SweepError(f"{what}: scenario.{steps[1][0]} is set by the sweep ([sweep] "
                         f"{steps[1][0]}), not here")
    cur: list[tuple[Any, Any]] = [(base, Scenario)]
    where = ""
    for pos, (name, idx) in enumerate(steps):
        last = pos == len(steps) - 1
        here = f"{where}.{name}" if where else name
        nxt: list[tuple[Any, Any]] = []
        for obj, obj_ann in cur:
            if isinstance(obj, BaseModel):
                fields = type(obj).model_fields
                if name not in fields:
                    close = difflib.get_close_matches(name, list(fields), n=3)
                    hint = (f"did you mean {' or '.join(close)}?" if close else
                            f"its fields: {', '.join(fields)}")
                    raise SweepError(f"{what}: unknown field {here!r} ({where or 'a scenario'} "
                                     f"has no {name!r}; {hint})")
                ann = fields[name].annotation
                val = getattr(obj, name)
            elif isinstance(obj, dict):
                ann = _dict_value_annotation(obj_ann)
                val = obj.get(name)
            else:
                raise SweepError(f"{what}: {where} is a value, not a table, so {here!r} does "
                                 "not exist")
            if idx is not None:
                if not isinstance(val, list):
                    raise SweepError(f"{what}: {here} is not a list in the base scenario (it is "
                                     f"{val!r}), so [{idx}] does not apply")
                if idx == "*":
                    if not val:
                        raise SweepError(f"{what}: the base scenario has no {name} entries")
                    items = list(val)
                elif isinstance(idx, int):
                    if idx >= len(val):
                        raise SweepError(f"{what}: {name}[{idx}] does not exist (the base "
                                         f"scenario has {len(val)} {name} entr"
                                         f"{'y' if len(val) == 1 else 'ies'})")
                    items = [val[idx]]
                else:
                    i = _find_item(val, idx)
                    if i is not None:
                        items = [val[i]]
                    elif name == "region":
                        items = [RegionSpec(code=idx)]  # added to the scenario when set
                    else:
                        raise SweepError(f"{what}: no {name} entry named {idx!r} in the base "
                                         "scenario")
                nxt += [(x, type(x)) for x in items]
                continue
            if not last and val is None:
                if _dict_value_annotation(ann) is None:
                    raise SweepError(f"{what}: {here} is not set in the base scenario, so "
                                     f"{path!r} cannot be addressed; set {here} in [set]")
                val = {}
            nxt.append((val, ann))
        cur = nxt
        where = here + (f"[{idx}]" if idx is not None else "")
    kind = "other" if steps[-1][1] is not None else _annotation_kind(cur[0][1])
    return _Leaf(path, tuple(steps), kind)


def _assign(data: dict[str, Any], steps: Sequence[tuple[str, int | str | None]], value: Any
            ) -> None:
    targets: list[Any] = [data]
    for pos, (name, idx) in enumerate(steps):
        last = pos == len(steps) - 1
        nxt: list[Any] = []
        for obj in targets:
            if idx is None:
                if last:
                    obj[name] = copy.deepcopy(value)
                    continue
                if obj.get(name) is None:
                    obj[name] = {}
                nxt.append(obj[name])
                continue
            items = obj[name]
            if idx == "*":
                positions = list(range(len(items)))
            elif isinstance(idx, int):
                positions = [idx]
            else:
                i = _find_item(items, idx)
                if i is None:
                    items.append({"code": idx})
                    i = len(items) - 1
                positions = [i]
            for i in positions:
                if last:
                    items[i] = copy.deepcopy(value)
                else:
                    nxt.append(items[i])
        targets = nxt


def _flatten_set(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}.{k}" if prefix else k
        if isinstance(v, dict):
            out.update(_flatten_set(v, key))
        else:
            out[key] = v
    return out


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)


def _unit_samples(method: str, n: int, d: int, seed: int) -> np.ndarray:
    """``n`` × ``d`` points in [0, 1) from the sweep seed (a stream apart from the task seeds)."""
    from scipy.stats import qmc

    rng = np.random.default_rng([seed, 0x5EED])
    engine: Any
    cls = qmc.LatinHypercube if method == "lhs" else qmc.Sobol
    try:
        engine = cls(d, rng=rng)
    except TypeError:  # scipy < 1.15 names it `seed`
        engine = cls(d, seed=rng)
    if method == "lhs":
        u = engine.random(n)
    else:
        u = engine.random_base2(int(math.log2(n)))
    return np.clip(np.asarray(u, dtype=float), 1e-12, 1.0 - 1e-12)


def _from_unit(axis: Axis, u: np.ndarray, kind: str) -> list[Any]:
    from scipy import stats

    dist = axis.distribution
    if dist == "choice":
        assert axis.choices is not None
        w = np.asarray(axis.weights if axis.weights is not None else [1.0] * len(axis.choices),
                       dtype=float)
        edges = np.cumsum(w) / w.sum()
        idx = np.minimum(np.searchsorted(edges, u, side="right"), len(axis.choices) - 1)
        return [axis.choices[int(i)] for i in idx]
    if dist == "uniform":
        assert axis.low is not None and axis.high is not None
        x = axis.low + u * (axis.high - axis.low)
    elif dist == "loguniform":
        assert axis.low is not None and axis.high is not None
        x = np.exp(math.log(axis.low) + u * math.log(axis.high / axis.low))
    else:  # normal, optionally truncated
        assert axis.mean is not None and axis.sd is not None
        lo = -np.inf if axis.low is None else (axis.low - axis.mean) / axis.sd
        hi = np.inf if axis.high is None else (axis.high - axis.mean) / axis.sd
        x = stats.truncnorm.ppf(u, lo, hi, loc=axis.mean, scale=axis.sd)
    if kind == "int":
        return [int(round(float(v))) for v in x]
    return [float(v) for v in x]


def _check_ban_values(axis: Axis, values: list[Any], source: str) -> None:
    from .regions import check_region_code

    for v in values:
        if not isinstance(v, str):
            raise SweepError(f"{source}: axis {axis.label!r}: ban_region values are region "
                             f"codes (or 'none'), got {v!r}")
        if v == "none":
            continue
        try:
            check_region_code(v)
        except LookupError as exc:
            raise SweepError(f"{source}: axis {axis.label!r}: value {v!r}: {exc}") from None


def _apply_ban(data: dict[str, Any], code: str, tpl: BanTemplate) -> None:
    as_of = data["scenario"]["as_of"]
    if isinstance(as_of, str):
        as_of = date.fromisoformat(as_of)
    events = [e for e in data.get("event", []) if not (
        e.get("kind") == "ban" and (tpl.others == "drop" or e.get("region") == code))]
    if code != "none":
        events.append({
            "kind": "ban", "region": code,
            "announced": as_of + timedelta(days=tpl.announced_day),
            "effective": as_of + timedelta(days=tpl.effective_day),
            "enforcement": tpl.enforcement, "underground": tpl.underground,
            "ramp_down_days": tpl.ramp_down_days,
            "enforcement_uncertainty": tpl.enforcement_uncertainty,
            "source": "sweep [ban] template",
        })
    data["event"] = events


def _fmt_params(params: dict[str, Any]) -> str:
    parts = []
    for k, v in params.items():
        shown = f"{v:.4g}" if isinstance(v, float) else str(v)
        parts.append(f"{k}={shown}")
    return ", ".join(parts)


def _task_count(spec: SweepSpec) -> int:
    grid = math.prod(len(a.values) for a in spec.axis if a.values is not None)
    n = spec.sampling.n or 1
    k = sum(1 for a in spec.axis if a.distribution is not None)
    return {"grid": grid, "lhs": grid * n, "sobol": grid * n,
            "saltelli": n * (k + 2)}[spec.sampling.method]


def _expand(spec: SweepSpec, base: Scenario, source: str, max_tasks: int) -> Sweep:
    method = spec.sampling.method
    axes = spec.axis
    labels = [a.label for a in axes]
    dupes = sorted({x for x in labels if labels.count(x) > 1})
    if dupes:
        raise SweepError(f"{source}: axis names must be unique: {', '.join(dupes)} repeat "
                         "(give each axis a distinct name)")
    clash = [x for x in labels if x in _RESERVED or x in HEADLINE_METRICS]
    if clash:
        raise SweepError(f"{source}: axis name {clash[0]!r} is reserved; give the axis another "
                         "name")
    paths = [a.path for a in axes]
    if len(set(paths)) != len(paths):
        rep = next(p for p in paths if paths.count(p) > 1)
        raise SweepError(f"{source}: two axes set {rep!r}")
    grid_axes = [a for a in axes if a.values is not None]
    dist_axes = [a for a in axes if a.distribution is not None]
    if method == "grid" and dist_axes:
        raise SweepError(f"{source}: axis {dist_axes[0].label!r} has a distribution; the grid "
                         "method needs values on every axis (use method = 'lhs', 'sobol' or "
                         "'saltelli' to sample it)")
    if method != "grid" and not dist_axes:
        raise SweepError(f"{source}: sampling.method {method!r} needs at least one axis with a "
                         "distribution (or use method = 'grid')")
    if method == "saltelli" and grid_axes:
        raise SweepError(f"{source}: saltelli designs sample every axis: axis "
                         f"{grid_axes[0].label!r} has values (use distribution = 'choice')")

    # Every path names a field of the base scenario (or a special axis).
    leaves: dict[str, _Leaf] = {}
    for a in axes:
        what = f"{source}: axis {a.label!r}"
        if a.path in SPECIAL_AXES:
            if a.distribution not in (None, "choice"):
                raise SweepError(f"{what}: ban_region takes values or distribution = 'choice' "
                                 "(region codes)")
            _check_ban_values(a, a.values if a.values is not None else list(a.choices or []),
                              source)
            continue
        leaf = _resolve_path(base, a.path, what)
        if a.distribution in ("uniform", "loguniform", "normal") and \
                leaf.kind not in ("int", "float"):
            raise SweepError(f"{what}: distribution {a.distribution!r} needs a numeric field; "
                             f"{a.path} is {leaf.kind} (use values or distribution = 'choice')")
        leaves[a.label] = leaf
    fixed = _flatten_set(spec.set_)
    set_leaves = {k: _resolve_path(base, k, f"{source}: [set] {k!r}") for k in fixed}
    for key in set_leaves:
        if key in paths:
            raise SweepError(f"{source}: [set] {key!r} is also an axis")

    total = _task_count(spec)
    if total > max_tasks:
        raise SweepError(f"{source}: the spec expands to {total:,} tasks, more than --max-tasks "
                         f"{max_tasks:,}; shrink the grid or sampling.n, or raise --max-tasks")

    # Axis values of every task, in spec order.
    rows: list[dict[str, Any]] = []
    combos = list(itertools.product(*[a.values or [] for a in grid_axes])) if grid_axes \
        else [()]
    if method == "grid":
        rows = [dict(zip([a.label for a in grid_axes], c, strict=True)) for c in combos]
    else:
        k = len(dist_axes)
        n = spec.sampling.n
        assert n is not None
        kinds = [leaves[a.label].kind if a.label in leaves else "str" for a in dist_axes]
        if method == "saltelli":
            u = _unit_samples("sobol", n, 2 * k, spec.sweep.seed)
            a_mat, b_mat = u[:, :k], u[:, k:]
            blocks = [a_mat, b_mat] + [np.where(np.arange(k) == i, b_mat, a_mat)
                                       for i in range(k)]
            u_all = np.vstack(blocks)
        else:
            u_all = _unit_samples(method, n, k, spec.sweep.seed)
        cols = [_from_unit(a, u_all[:, j], kinds[j]) for j, a in enumerate(dist_axes)]
        samples = [dict(zip([a.label for a in dist_axes], vals, strict=True))
                   for vals in zip(*cols, strict=True)]
        for c in combos:
            g = dict(zip([a.label for a in grid_axes], c, strict=True))
            rows += [{**g, **s} for s in samples]
    assert len(rows) == total

    children = np.random.SeedSequence(spec.sweep.seed).spawn(total)
    base_data = base.model_dump()
    for k_, v in fixed.items():
        _assign(base_data, set_leaves[k_].steps, v)
    base_data["scenario"]["paths"] = spec.sweep.paths
    tasks: list[Task] = []
    problems: list[str] = []
    for i, row in enumerate(rows):
        params = {a.label: row[a.label] for a in axes}
        seed = int(children[i].generate_state(1)[0])
        data = copy.deepcopy(base_data)
        data["scenario"]["seed"] = seed
        ban_code: str | None = None
        for a in axes:
            if a.path == "ban_region":
                ban_code = params[a.label]
            else:
                _assign(data, leaves[a.label].steps, params[a.label])
        if ban_code is not None:
            _apply_ban(data, ban_code, spec.ban)
        try:
            sc = Scenario.model_validate(data)
        except ValidationError as exc:
            from .sim.scenario import _explain

            for p in _explain(exc):
                problems.append(f"task {i} ({_fmt_params(params)}): {_blame(p, axes, params)}")
            if len(problems) >= 3:
                break
            continue
        js = sc.model_dump_json()
        key = hashlib.sha256(f"{OUTCOME_VERSION}\n{__version__}\n{js}".encode()).hexdigest()[:24]
        tasks.append(Task(i, seed, _jsonable(params), js, key))
    if problems:
        more = "" if len(problems) < 3 else " (showing the first 3)"
        raise SweepError(f"{source}: invalid task scenarios{more}: " + "; ".join(problems[:3]))
    kinds_out = {}
    for a in axes:
        vals = a.values if a.values is not None else (a.choices if a.distribution == "choice"
                                                      else [0.0])
        kinds_out[a.label] = "numeric" if all(_is_number(v) for v in vals or []) else \
            "categorical"
    return Sweep(spec, base, source, tasks, kinds_out)


def _blame(problem: str, axes: Sequence[Axis], params: dict[str, Any]) -> str:
    problem = problem.replace("Value error, ", "")
    loc = problem.split(":", 1)[0]
    for a in axes:
        p = a.path
        pat = re.escape(p).replace(r"\[\*\]", r"\[\d+\]")
        if re.fullmatch(pat, loc) or (p == "ban_region" and loc.startswith("event")):
            v = params[a.label]
            shown = f"{v:.6g}" if isinstance(v, float) else repr(v)
            return f"{problem} — set by axis {a.label!r} = {shown}"
    return problem


def _jsonable(params: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in params.items():
        if isinstance(v, date):
            out[k] = v.isoformat()
        elif isinstance(v, np.integer):
            out[k] = int(v)
        elif isinstance(v, np.floating):
            out[k] = float(v)
        else:
            out[k] = v
    return out


# ---------------------------------------------------------------------------------------------
# Outcome metrics of one run
# ---------------------------------------------------------------------------------------------
# ---------------------------------------------------------------------------------------------
# One task (runs in a worker: no printing, no global state, no database)
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TaskOutcome:
    """What a worker returns: the metrics (or the error) and the time it took."""

    index: int
    key: str
    metrics: dict[str, float] | None
    error: str | None
    traceback: str | None
    elapsed_s: float
    wrote_part: bool
    cpu_s: float = float("nan")  # CPU time of the task's process (contention: cpu_s < elapsed_s)


def run_task(task: Task, parts_dir: str | None = None, capture_output: bool = True
             ) -> TaskOutcome:
    """Run one task; write its part into ``parts_dir`` when this worker sees that folder.

    Exceptions are returned (not raised) so that one bad task does not stop the others;
    warnings are swallowed and, with ``capture_output`` (workers), so is anything printed — the
    ``local`` scheduler leaves stdout alone because the driver's progress bar draws on it.
    """
    from .sim.engine import run

    t0, c0 = time.perf_counter(), time.process_time()
    sink = io.StringIO()
    quiet = contextlib.redirect_stdout(sink) if capture_output else contextlib.nullcontext()
    try:
        with warnings.catch_warnings(), quiet:
            warnings.simplefilter("ignore")
            scenario = Scenario.model_validate_json(task.scenario_json)
            metrics = outcome_metrics(run(scenario))
    except Exception as exc:
        return TaskOutcome(task.index, task.key, None, f"{type(exc).__name__}: {exc}",
                           traceback.format_exc(), time.perf_counter() - t0, False)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    wrote = False
    if parts_dir is not None and os.path.isdir(parts_dir):
        try:
            write_part(Path(parts_dir), task, metrics, elapsed)
            wrote = True
        except OSError:
            wrote = False  # the driver writes it from the returned metrics
    return TaskOutcome(task.index, task.key, metrics, None, None, elapsed, wrote, cpu)


def _part_path(parts_dir: Path, index: int) -> Path:
    return parts_dir / f"part-{index:06d}.parquet"


def write_part(parts_dir: Path, task: Task, metrics: dict[str, float], elapsed_s: float
               ) -> Path:
    """Write one task's metrics as a Parquet part (temporary file, then an atomic rename)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    names = sorted(metrics)
    table = pa.table({
        "task": pa.array([task.index] * len(names), type=pa.int64()),
        "metric": pa.array(names, type=pa.string()),
        "value": pa.array([metrics[m] for m in names], type=pa.float64()),
    })
    meta = {"key": task.key, "index": task.index, "seed": task.seed, "params": task.params,
            "elapsed_s": elapsed_s, "version": __version__}
    table = table.replace_schema_metadata({_PART_META: json.dumps(meta).encode()})
    final = _part_path(parts_dir, task.index)
    tmp = final.with_name(f".{final.name}.{os.getpid()}.{time.monotonic_ns()}.tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, final)
    return final


def _read_part_meta(path: Path) -> dict[str, Any] | None:
    import pyarrow.parquet as pq

    try:
        meta = pq.read_schema(path).metadata or {}
        return dict(json.loads(meta[_PART_META]))
    except Exception:  # a foreign or damaged file: recompute the task
        return None


def _read_part(path: Path) -> pd.DataFrame:
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pandas()


# ---------------------------------------------------------------------------------------------
# Schedulers: one concurrent.futures interface
# ---------------------------------------------------------------------------------------------
_P = ParamSpec("_P")
_T = TypeVar("_T")


class InlineExecutor(Executor):
    """Runs each task in the calling thread when it is submitted (``--scheduler local``)."""

    def submit(self, fn: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs
               ) -> Future[_T]:
        fut: Future[_T] = Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except Exception as exc:
            fut.set_exception(exc)
        return fut


@dataclass
class Pool:
    """An executor with its worker count; ``client`` is the Dask client for ``dask``."""

    scheduler: str
    executor: Executor
    workers: int
    label: str
    client: Any = None


_SINGLE_THREADED = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@contextlib.contextmanager
def _worker_environ(values: dict[str, str]) -> Iterator[None]:
    """Environment for processes spawned inside the block (variables the user set win)."""
    added = {k: v for k, v in values.items() if k not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for k in added:
            os.environ.pop(k, None)


#: Settings of the LocalCluster a sweep starts (a cluster given by --address keeps its own).
#: Dask's nannies set MALLOC_TRIM_THRESHOLD_ in their workers, which turns off glibc's adaptive
#: mmap threshold: every large temporary array of the engine is then a fresh mmap whose pages
#: are faulted in again (measured: 6-20x the system time of a task). The other settings cut
#: the periodic work of an idle cluster from about 0.10 to 0.02 of a core (2 workers; no
#: dashboard to show profiles, and queued tasks of equal size need no work stealing) -- on 2
#: cores that is CPU taken from the tasks.
_LOCAL_CLUSTER_CONFIG = {
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
    "distributed.worker.profile.enabled": False,
    "distributed.scheduler.work-stealing": False,
    "distributed.admin.tick.interval": "500ms",
    "distributed.admin.tick.limit": "30s",
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.worker.memory.monitor-interval": "1s",
}


def _ignore_sigint() -> None:  # pragma: no cover - runs in pool workers
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def check_address(address: str, timeout_s: float = 5.0) -> None:
    """Fail fast (:class:`SweepError`) when a Dask scheduler address is malformed or closed."""
    m = re.fullmatch(r"(tcp|tls)://(\[[0-9a-fA-F:]+\]|[^:/\s]+):(\d{1,5})/?", address.strip())
    if not m:
        raise SweepError(f"--address {address!r} is not a Dask scheduler address; use "
                         "tcp://HOST:PORT (e.g. tcp://10.0.0.5:8786)")
    host, port = m.group(2).strip("[]"), int(m.group(3))
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise SweepError(f"cannot reach the Dask scheduler at {address}: {reason}; start it "
                         "(dask scheduler) or check the address and firewall") from None


def check_scheduler_args(scheduler: str, workers: int | None, address: str | None) -> None:
    """Refuse a scheduler name or a combination of options that cannot work (SweepError)."""
    if scheduler not in SCHEDULERS:
        raise SweepError(f"--scheduler {scheduler!r} is not one of {', '.join(SCHEDULERS)}")
    if address is not None and scheduler != "dask":
        raise SweepError("--address is for --scheduler dask")
    if address is not None and workers is not None:
        raise SweepError("--workers sizes a local pool; a running Dask cluster has its own "
                         "workers (drop --workers)")


@contextlib.contextmanager
def open_executor(scheduler: str = "processes", workers: int | None = None,
                  address: str | None = None, *, timeout_s: float = 10.0) -> Iterator[Pool]:
    """A :class:`Pool` for ``local``, ``processes`` (spawned processes, default all cores) or
    ``dask`` (the cluster at ``address``, else a ``LocalCluster`` of ``workers`` processes)."""
    check_scheduler_args(scheduler, workers, address)
    ncpu = os.cpu_count() or 1
    if scheduler == "local":
        with InlineExecutor() as ex:
            yield Pool("local", ex, 1, "local (in-process)")
        return
    if scheduler == "processes":
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        n = workers or ncpu
        pex = ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context("spawn"),
                                  initializer=_ignore_sigint)
        try:
            # Start the workers now (one warm-up call each), so that starting them counts as
            # start-up time rather than as the first tasks' time. Each worker is one task at a
            # time: its BLAS runs single-threaded (as Dask's workers do), so that n workers do
            # not run n × cores threads.
            with _worker_environ(_SINGLE_THREADED):
                for f in [pex.submit(_probe) for _ in range(n)]:
                    f.result()
            yield Pool("processes", pex, n, f"processes ({n} workers)")
        except BaseException:
            pex.shutdown(wait=False, cancel_futures=True)
            raise
        pex.shutdown(wait=True)
        return
    # dask
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise SweepError("--scheduler dask needs dask.distributed: pip install "
                         "'dask[distributed]'") from None
    import logging

    cluster = None
    with contextlib.ExitStack() as stack:
        if address is not None:
            check_address(address, timeout_s=min(timeout_s, 5.0))
            try:
                client = Client(address, timeout=timeout_s)
            except (OSError, TimeoutError) as exc:
                raise SweepError(f"cannot connect to the Dask scheduler at {address}: {exc}"
                                 ) from None
            stack.callback(client.close)
            label = f"dask {address}"
        else:
            import dask

            n = workers or ncpu
            with dask.config.set(_LOCAL_CLUSTER_CONFIG):
                cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=logging.ERROR)
            stack.callback(cluster.close)
            client = Client(cluster)
            stack.callback(client.close)
            label = f"dask LocalCluster ({n} workers)"
        nthreads = sum(client.nthreads().values())
        if nthreads == 0:
            raise SweepError(f"the Dask cluster at {address or 'LocalCluster'} has no workers")
        ex = client.get_executor(pure=False)
        try:
            yield Pool("dask", ex, nthreads, label, client)
        except BaseException:
            ex.shutdown(wait=False)
            raise
        ex.shutdown(wait=True)


def _probe(parts_dir: str | None = None) -> tuple[str, bool]:
    """Run on each worker before the tasks: imports the engine (so that the first task does not
    pay for it) and returns the worker's hashshift version and whether it sees the parts
    folder."""
    from . import __version__ as v
    from .sim import engine  # noqa: F401

    return v, parts_dir is not None and os.path.isdir(parts_dir) and os.access(parts_dir,
                                                                                os.W_OK)


# ---------------------------------------------------------------------------------------------
# The driver
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TaskFailure:
    index: int
    params: dict[str, Any]
    error: str
    traceback: str | None = None

    def describe(self) -> str:
        return f"task {self.index} ({_fmt_params(self.params)}): {self.error}"


@dataclass
class SweepStats:
    scheduler: str = ""
    workers: int = 0
    total: int = 0
    resumed: int = 0
    computed: int = 0
    failed: int = 0
    wall_s: float = 0.0  # the whole run_sweep call
    startup_s: float = 0.0  # starting the executor (pool, cluster, connection)
    run_s: float = 0.0  # first submission to last result
    task_s: float = 0.0  # sum of the computed tasks' own times (inside the workers)
    task_cpu_s: float = 0.0  # their CPU time: below task_s when other processes take the cores

    @property
    def overhead_per_task_s(self) -> float:
        """(workers × run time − Σ task time) / tasks computed: the scheduler's share."""
        if not self.computed:
            return float("nan")
        return (self.workers * self.run_s - self.task_s) / self.computed


@dataclass
class SweepResult:
    """A finished sweep: the tidy table, one row per task (wide), sensitivity and failures."""

    name: str
    tidy: pd.DataFrame  # sweep, task, seed, params (JSON), metric, value
    tasks: pd.DataFrame  # task, seed, one column per axis, one per metric
    sensitivity: pd.DataFrame
    failures: list[TaskFailure]
    stats: SweepStats
    work_dir: Path
    axis_kinds: dict[str, str] = field(default_factory=dict)
    plan: Sweep | None = None  # the sweep it belongs to (paths per task, axes, ranges)

    def write(self, folder: str | Path) -> list[Path]:
        """``results.csv`` (per task), ``results_tidy.csv``, ``sensitivity.csv``,
        ``failures.csv`` (when any) and ``tornado.html`` (when plotly is installed)."""
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        files = [out / "results.csv", out / "results_tidy.csv", out / "sensitivity.csv"]
        self.tasks.to_csv(files[0], index=False)
        self.tidy.to_csv(files[1], index=False)
        self.sensitivity.to_csv(files[2], index=False)
        if self.failures:
            pd.DataFrame([{"task": f.index, "params": json.dumps(f.params), "error": f.error}
                          for f in self.failures]).to_csv(out / "failures.csv", index=False)
            files.append(out / "failures.csv")
        try:  # presentation lives in report/; plotly is optional here
            from .report.sensitivity import tornado_html

            html = tornado_html(self.sensitivity, title=f"Sweep {self.name}")
        except ImportError:
            return files
        if html:
            (out / "tornado.html").write_text(html, encoding="utf-8")
            files.append(out / "tornado.html")
        return files


class _WorkLock:
    """An advisory lock on the work folder: one driver per sweep folder at a time."""

    def __init__(self, folder: Path):
        self.path = folder / ".driver.lock"
        self.fh: Any = None

    def __enter__(self) -> _WorkLock:
        self.fh = open(self.path, "a+")  # noqa: SIM115
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            return self
        try:
            fcntl.flock(self.fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self.fh.seek(0)
            pid = self.fh.read().strip() or "?"
            self.fh.close()
            raise SweepError(f"another sweep driver (pid {pid}) is using {self.path.parent}; "
                             "wait for it or use another --work folder") from None
        self.fh.seek(0)
        self.fh.truncate()
        self.fh.write(str(os.getpid()))
        self.fh.flush()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fh is not None and not self.fh.closed:
            self.fh.close()


def default_work_dir(name: str) -> Path:
    """``$HASHSHIFT_HOME/sweeps/NAME`` (or the user data directory's)."""
    from .store import default_home

    return default_home() / "sweeps" / name


def run_sweep(
    sweep: Sweep,
    *,
    scheduler: str = "processes",
    workers: int | None = None,
    address: str | None = None,
    work_dir: str | Path | None = None,
    fail_fast: bool = False,
    fresh: bool = False,
    store: Store | None = None,
    ingest_results: bool = True,
    progress: Callable[[int, int], None] | None = None,
    on_failure: Callable[[TaskFailure], None] | None = None,
    on_start: Callable[[Pool, int, int], None] | None = None,
) -> SweepResult:
    """Run (or resume) a sweep; returns its results and ingests them into the store.

    Tasks whose part is already in ``work_dir`` (same scenario, seed and paths) are not
    recomputed. A task that raises is reported (``on_failure``) and the others go on; with
    ``fail_fast`` the sweep stops at the first failure (:class:`SweepTaskError`). ``progress``
    is called with (finished, total) as tasks finish; ``on_start`` with the pool, the tasks
    already finished and the total, once the scheduler is up.
    """
    t_start = time.perf_counter()
    check_scheduler_args(scheduler, workers, address)
    work = Path(work_dir) if work_dir is not None else default_work_dir(sweep.name)
    try:
        work.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SweepError(f"cannot create the work folder {work}: {exc.strerror}") from None
    stats = SweepStats(scheduler=scheduler, total=len(sweep.tasks))
    failures: list[TaskFailure] = []
    with _WorkLock(work):
        if fresh:
            for p in work.glob("part-*"):
                p.unlink()
        _write_manifest(work, sweep)
        done = _finished(work, sweep.tasks)
        todo = [t for t in sweep.tasks if t.index not in done]
        stats.resumed = len(done)
        for p in [*work.glob("part-*.error.json"), *work.glob(".part-*.tmp")]:
            p.unlink()  # earlier failures are tried again; half-written parts are dropped
        t0 = time.perf_counter()
        # Nothing left to compute: no pool or cluster to start.
        args = (scheduler, workers, address) if todo else ("local", None, None)
        with open_executor(*args) as pool:
            stats.workers = pool.workers
            if pool.client is not None and todo:
                _check_dask_workers(pool, work)  # also imports the engine on every worker
            stats.startup_s = time.perf_counter() - t0
            if on_start is not None:
                on_start(pool, len(done), len(sweep.tasks))
            if progress is not None:
                progress(len(done), len(sweep.tasks))
            t1 = time.perf_counter()
            _drive(pool, todo, work, stats, failures, fail_fast, progress, on_failure,
                   len(done), len(sweep.tasks))
            stats.run_s = time.perf_counter() - t1
        tidy = collect(work, sweep)
        result = _result(sweep, tidy, failures, stats, work)
        if ingest_results and len(tidy):
            ingest(result, store)
    stats.wall_s = time.perf_counter() - t_start
    return result


def _write_manifest(work: Path, sweep: Sweep) -> None:
    manifest = {"sweep": sweep.name, "source": sweep.source, "tasks": len(sweep.tasks),
                "digest": sweep.digest, "version": __version__,
                "spec": sweep.spec.model_dump(mode="json", by_alias=True)}
    tmp = work / ".sweep.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=2, default=str), encoding="utf-8")
    os.replace(tmp, work / "sweep.json")


def _finished(work: Path, tasks: Sequence[Task]) -> set[int]:
    done = set()
    for t in tasks:
        p = _part_path(work, t.index)
        if p.exists():
            meta = _read_part_meta(p)
            if meta is not None and meta.get("key") == t.key:
                done.add(t.index)
    return done


def _check_dask_workers(pool: Pool, work: Path) -> None:
    try:
        info = pool.client.run(_probe, str(work))
    except Exception as exc:
        raise SweepError(f"the Dask workers cannot import hashshift ({type(exc).__name__}: "
                         f"{exc}); install the same hashshift on every worker") from None
    bad = {w: v for w, (v, _) in info.items() if v != __version__}
    if bad:
        w, v = next(iter(bad.items()))
        raise SweepError(f"Dask worker {w} runs hashshift {v}, the driver {__version__}; "
                         "install the same version everywhere")


def _drive(pool: Pool, todo: list[Task], work: Path, stats: SweepStats,
           failures: list[TaskFailure], fail_fast: bool,
           progress: Callable[[int, int], None] | None,
           on_failure: Callable[[TaskFailure], None] | None, done0: int, total: int) -> None:
    window = 1 if pool.scheduler == "local" else max(4 * pool.workers, 8)
    queue = iter(todo)
    pending: dict[Future[Any], Task] = {}
    finished = done0
    parts_dir = str(work)
    capture = pool.scheduler != "local"

    def fill() -> None:
        while len(pending) < window:
            task = next(queue, None)
            if task is None:
                return
            pending[pool.executor.submit(run_task, task, parts_dir, capture)] = task

    try:
        fill()
        while pending:
            ready, _ = wait(list(pending), return_when=FIRST_COMPLETED)
            for fut in ready:
                task = pending.pop(fut)
                failure = _settle(fut, task, work, stats)
                finished += 1
                if failure is not None:
                    failures.append(failure)
                    stats.failed += 1
                    if on_failure is not None:
                        on_failure(failure)
                    if fail_fast:
                        raise SweepTaskError(
                            f"{failure.describe()} (--fail-fast: stopped; finished tasks are "
                            "kept, run again to resume)")
                if progress is not None:
                    progress(finished, total)
            fill()
    except BaseException:
        for f in pending:
            f.cancel()
        raise


def _settle(fut: Future[Any], task: Task, work: Path, stats: SweepStats) -> TaskFailure | None:
    try:
        out: TaskOutcome = fut.result()
    except Exception as exc:  # the worker died or the scheduler lost the task
        failure = TaskFailure(task.index, task.params, f"{type(exc).__name__}: {exc}")
        _write_error(work, failure)
        return failure
    if out.error is not None:
        failure = TaskFailure(task.index, task.params, out.error, out.traceback)
        _write_error(work, failure)
        return failure
    assert out.metrics is not None
    if not out.wrote_part or not _part_path(work, task.index).exists():
        write_part(work, task, out.metrics, out.elapsed_s)  # the worker could not see `work`
    stats.computed += 1
    stats.task_s += out.elapsed_s
    stats.task_cpu_s += out.cpu_s
    return None


def _write_error(work: Path, failure: TaskFailure) -> None:
    path = work / f"part-{failure.index:06d}.error.json"
    path.write_text(json.dumps({"task": failure.index, "params": failure.params,
                                "error": failure.error, "traceback": failure.traceback},
                               indent=2, default=str), encoding="utf-8")


def collect(work: Path, sweep: Sweep) -> pd.DataFrame:
    """The tidy table from the finished parts of ``sweep`` in ``work``."""
    frames = []
    for t in sweep.tasks:
        p = _part_path(work, t.index)
        if not p.exists():
            continue
        meta = _read_part_meta(p)
        if meta is None or meta.get("key") != t.key:
            continue
        df = _read_part(p)
        df.insert(0, "sweep", sweep.name)
        df.insert(2, "seed", t.seed)
        df.insert(3, "params", json.dumps(t.params, sort_keys=False, default=str))
        frames.append(df)
    if not frames:
        return pd.DataFrame(columns=["sweep", "task", "seed", "params", "metric", "value"])
    tidy = pd.concat(frames, ignore_index=True)
    tidy["task"] = tidy["task"].astype("int64")
    tidy["seed"] = tidy["seed"].astype("int64")
    tidy["value"] = tidy["value"].astype("float64")
    return tidy.sort_values(["task", "metric"], kind="stable").reset_index(drop=True)


def _result(sweep: Sweep, tidy: pd.DataFrame, failures: list[TaskFailure], stats: SweepStats,
            work: Path) -> SweepResult:
    wide = wide_table(sweep, tidy)
    sens = sensitivity(sweep, wide)
    return SweepResult(sweep.name, tidy, wide, sens, failures, stats, work, sweep.axis_kinds,
                       sweep)


def wide_table(sweep: Sweep, tidy: pd.DataFrame) -> pd.DataFrame:
    """One row per finished task: task, seed, the axis values, then the metrics."""
    labels = [a.label for a in sweep.axes]
    if tidy.empty:
        return pd.DataFrame(columns=["task", "seed", *labels])
    vals = tidy.pivot(index="task", columns="metric", values="value")
    order = [m for m in HEADLINE_METRICS if m in vals.columns]
    order += sorted(c for c in vals.columns if c not in order and ":" not in c)
    order += sorted(c for c in vals.columns if ":" in c)
    vals = vals[order]
    by_index = {t.index: t for t in sweep.tasks}
    front = pd.DataFrame([{"task": i, "seed": by_index[i].seed, **by_index[i].params}
                          for i in vals.index])
    out = pd.concat([front.reset_index(drop=True), vals.reset_index(drop=True)], axis=1)
    out.columns.name = None
    return out


def ingest(result: SweepResult, store: Store | None = None) -> int:
    """Replace the sweep's rows in the store's ``sweep_results`` table (one transaction)."""
    from .store import Store

    st = store if store is not None else Store()
    st.replace_sweep(result.name, result.tidy, location=str(result.work_dir),
                     note=f"{result.stats.total} tasks, {len(result.failures)} failed")
    return len(result.tidy)


# ---------------------------------------------------------------------------------------------
# Sensitivity
# ---------------------------------------------------------------------------------------------
SENSITIVITY_COLUMNS = ["metric", "axis", "kind", "n", "base", "low", "high", "low_label",
                       "high_label", "swing", "src", "r2", "s1", "st"]


def sensitivity(sweep: Sweep, wide: pd.DataFrame, metrics: Sequence[str] | None = None
                ) -> pd.DataFrame:
    """Per metric × axis: main-effect range (``low``/``high``: the metric's mean at the axis's
    low and high end — the lowest and highest value, or the lowest and highest fifth of the
    samples; for categorical axes the levels with the lowest and highest mean), ``swing``
    = |high − low|, standardized regression coefficients ``src`` (numeric axes, with the fit's
    ``r2``), and Sobol' first-order ``s1`` and total ``st`` indices for saltelli designs."""
    metrics = [m for m in (metrics or HEADLINE_METRICS) if m in wide.columns]
    rows: list[dict[str, Any]] = []
    axes = sweep.axes
    numeric = [a.label for a in axes if sweep.axis_kinds.get(a.label) == "numeric"]
    for metric in metrics:
        y_all = wide[metric].to_numpy(dtype=float)
        ok = np.isfinite(y_all)
        if ok.sum() < 2:
            continue
        sub = wide[ok]
        y = y_all[ok]
        base = float(y.mean())
        src, r2 = _src(sub, numeric, y)
        s1, st = _sobol(sweep, wide, metric)
        for a in axes:
            lo, hi, lo_lab, hi_lab = _main_effect(sub[a.label], y,
                                                  sweep.axis_kinds.get(a.label, "categorical"))
            rows.append({"metric": metric, "axis": a.label,
                         "kind": sweep.axis_kinds.get(a.label, "categorical"), "n": int(ok.sum()),
                         "base": base, "low": lo, "high": hi, "low_label": lo_lab,
                         "high_label": hi_lab, "swing": abs(hi - lo),
                         "src": src.get(a.label, float("nan")), "r2": r2,
                         "s1": s1.get(a.label, float("nan")), "st": st.get(a.label, float("nan"))})
    out = pd.DataFrame(rows, columns=SENSITIVITY_COLUMNS)
    if len(out):
        rank = {m: i for i, m in enumerate(metrics)}
        out = out.assign(_r=out["metric"].map(rank)).sort_values(
            ["_r", "swing"], ascending=[True, False], kind="stable").drop(columns="_r")
    return out.reset_index(drop=True)


def _label(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _main_effect(x: pd.Series, y: np.ndarray, kind: str) -> tuple[float, float, str, str]:
    xs = x.to_numpy()
    levels = pd.unique(x)
    if len(levels) < 2:
        m = float(y.mean())
        return m, m, _label(levels[0]) if len(levels) else "", _label(levels[0]) if len(
            levels) else ""
    if kind == "numeric" and len(levels) > 12:
        xf = xs.astype(float)
        q20, q80 = np.quantile(xf, [0.2, 0.8])
        lo, hi = y[xf <= q20].mean(), y[xf >= q80].mean()
        return float(lo), float(hi), f"≤ {q20:.4g}", f"≥ {q80:.4g}"
    means = pd.Series(y).groupby(pd.Series(xs, dtype=object).astype(str).to_numpy()).mean()
    if kind == "numeric":
        order = sorted(levels, key=float)
        lo_v, hi_v = order[0], order[-1]
        return (float(means[str(lo_v)]), float(means[str(hi_v)]), _label(lo_v), _label(hi_v))
    lo_k, hi_k = str(means.idxmin()), str(means.idxmax())
    return float(means[lo_k]), float(means[hi_k]), lo_k, hi_k


def _src(sub: pd.DataFrame, numeric: list[str], y: np.ndarray) -> tuple[dict[str, float], float]:
    cols = [c for c in numeric if sub[c].astype(float).std() > 0]
    if not cols or len(y) < len(cols) + 2 or y.std() == 0:
        return {}, float("nan")
    x = sub[cols].to_numpy(dtype=float)
    xz = (x - x.mean(axis=0)) / x.std(axis=0)
    yz = (y - y.mean()) / y.std()
    coef, *_ = np.linalg.lstsq(xz, yz, rcond=None)
    resid = yz - xz @ coef
    r2 = float(1.0 - (resid @ resid) / (yz @ yz))
    return dict(zip(cols, (float(c) for c in coef), strict=True)), r2


def _sobol(sweep: Sweep, wide: pd.DataFrame, metric: str) -> tuple[dict[str, float],
                                                                   dict[str, float]]:
    if sweep.spec.sampling.method != "saltelli":
        return {}, {}
    n = sweep.spec.sampling.n
    assert n is not None
    dist_axes = [a.label for a in sweep.axes]
    k = len(dist_axes)
    y = pd.Series(wide[metric].to_numpy(dtype=float), index=wide["task"].to_numpy())
    y = y.reindex(range(n * (k + 2)))
    if not np.isfinite(y.to_numpy()).all():
        return {}, {}  # a failed task or an undefined value: no indices
    from scipy.stats import sobol_indices

    v = y.to_numpy()
    f_a, f_b = v[:n][None, :], v[n:2 * n][None, :]
    f_ab = v[2 * n:].reshape(k, n)[:, None, :]
    if np.var(np.concatenate([f_a, f_b], axis=1)) == 0:
        return {}, {}
    with np.errstate(all="ignore"):
        res = sobol_indices(func={"f_A": f_a, "f_B": f_b, "f_AB": f_ab}, n=n)
    s1 = np.asarray(res.first_order).reshape(-1)
    st = np.asarray(res.total_order).reshape(-1)
    return (dict(zip(dist_axes, (float(x) for x in s1), strict=True)),
            dict(zip(dist_axes, (float(x) for x in st), strict=True)))


def remove_work_dir(work: Path) -> None:
    """Delete a sweep's work folder (parts, manifest, lock)."""
    shutil.rmtree(work, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Results of a sweep that ran earlier (read back from its work folder, for the report)
# ---------------------------------------------------------------------------------------------
__all__ += ["load_result"]


def load_result(spec: str | Path | Sweep, work_dir: str | Path | None = None, *,
                max_tasks: int = DEFAULT_MAX_TASKS) -> SweepResult:
    """The results of a sweep that ran earlier: its finished parts in ``work_dir`` (default
    ``$HASHSHIFT_HOME/sweeps/NAME``), collected without computing anything; failures from
    ``part-*.error.json``. ``spec``: a sweep file, a shipped sweep name or a loaded
    :class:`Sweep`. Raises :class:`SweepError` when no task of the sweep finished there."""
    plan = spec if isinstance(spec, Sweep) else load_sweep(spec, max_tasks=max_tasks)
    work = Path(work_dir) if work_dir is not None else default_work_dir(plan.name)
    tidy = collect(work, plan)
    if tidy.empty:
        arg = plan.source if isinstance(spec, Sweep) else str(spec)
        again = f"hashshift sweep {arg}" + (f" --work {work}" if work_dir is not None else "")
        stale = len(list(work.glob("part-*.parquet"))) if work.is_dir() else 0
        why = (f" ({stale} part(s) there belong to another version of the spec or of "
               "hashshift)") if stale else ""
        raise SweepError(f"sweep {plan.name}: no finished task in {work}{why}; run "
                         f"`{again}` first")
    done = set(tidy["task"].astype(int))
    failures = _read_failures(work, plan, done)
    stats = SweepStats(scheduler="none", total=len(plan.tasks), resumed=len(done),
                       failed=len(failures))
    return _result(plan, tidy, failures, stats, work)


def _read_failures(work: Path, plan: Sweep, done: set[int]) -> list[TaskFailure]:
    """The failures the last run left in ``work`` (tasks of ``plan`` without a finished part)."""
    known = {t.index for t in plan.tasks}
    out = []
    for p in sorted(work.glob("part-*.error.json")):
        try:
            d = json.loads(p.read_text(encoding="utf-8"))
            index = int(d["task"])
        except (OSError, ValueError, KeyError, TypeError):
            continue  # a damaged file: not a failure to report
        if index in known and index not in done:
            out.append(TaskFailure(index, dict(d.get("params") or {}), str(d.get("error", "")),
                                   d.get("traceback")))
    return out


def __getattr__(name: str) -> Any:  # the charts moved to report/; plotly only when asked for
    if name in ("tornado_figure", "tornado_html"):
        from .report import sensitivity as charts

        return getattr(charts, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
