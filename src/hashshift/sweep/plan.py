"""A sweep's plan: its design (grid, Latin hypercube, Sobol', Saltelli), expanded into tasks.

Every task's scenario (base + ``[set]`` + its axis values, with its own seed from
``numpy.random.SeedSequence(seed).spawn(n_tasks)``) is built and validated here, before
anything runs, so a task's result does not depend on the scheduler, the number of workers or
the order in which tasks finish.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from .. import __version__
from ..sim.examples import UnknownExampleError, resolve_scenario, sweep_names, sweep_path
from ..sim.outcomes import HEADLINE_METRICS
from ..sim.scenario import Scenario, ScenarioError
from .overrides import Leaf, apply_ban, assign, check_ban_values, flatten_set, resolve_path
from .spec import Axis, SweepError, SweepSpec, read_spec

__all__ = ["DEFAULT_MAX_TASKS", "Sweep", "Task", "format_params", "load_sweep", "parse_sweep",
           "shipped_sweeps"]

DEFAULT_MAX_TASKS = 10_000
SPECIAL_AXES = ("ban_region",)
#: Bump when the outcome metrics change: finished parts of older versions are recomputed.
OUTCOME_VERSION = 2  # 2: per-path outcomes in the parts (paired effects)
_RESERVED = {"task", "seed", "sweep", "metric", "value", "params"}


@dataclass(frozen=True)
class Task:
    """One scenario run: its index, seed, axis values and the validated scenario as JSON."""

    index: int
    seed: int
    params: dict[str, Any]
    scenario_json: str
    key: str  # digest of the scenario (with seed and paths), the package version, OUTCOME_VERSION


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

    def counterfactual_values(self) -> dict[str, Any]:
        """Axis values of the no-policy task: the spec's ``counterfactual``, else every
        categorical axis at its "none" level ({} when there is none)."""
        if self.spec.sweep.counterfactual is not None:
            return dict(self.spec.sweep.counterfactual)
        out: dict[str, Any] = {}
        for a in self.axes:
            if self.axis_kinds.get(a.label) == "categorical" and "none" in (a.values or []):
                out[a.label] = "none"
        return out

    def counterfactuals(self) -> dict[int, int]:
        """Task index -> the index of its counterfactual task (same axis values but the
        counterfactual's); tasks that are their own counterfactual are left out."""
        cf = self.counterfactual_values()
        if not cf:
            return {}
        key = {json.dumps(t.params, sort_keys=True, default=str): t.index for t in self.tasks}
        out = {}
        for t in self.tasks:
            other = json.dumps({**t.params, **cf}, sort_keys=True, default=str)
            j = key.get(other)
            if j is not None and j != t.index:
                out[t.index] = j
        return out

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
    spec = read_spec(text, source)
    base = _load_base(spec.sweep.base, Path(base_dir) if base_dir is not None else Path.cwd(),
                      source)
    return _expand(spec, base, source, max_tasks)


def _load_base(base: str, base_dir: Path, source: str) -> Scenario:
    try:
        return resolve_scenario(base, base_dir)[0]
    except ScenarioError as exc:
        raise SweepError(f"{source}: sweep.base {base!r}: " + "; ".join(exc.problems)) from None
    except UnknownExampleError as exc:
        raise SweepError(f"{source}: sweep.base {exc}") from None


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


def format_params(params: dict[str, Any]) -> str:
    """``name=value, …`` of a task's axis values (floats to 4 significant digits)."""
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
    leaves: dict[str, Leaf] = {}
    for a in axes:
        what = f"{source}: axis {a.label!r}"
        if a.path in SPECIAL_AXES:
            if a.distribution not in (None, "choice"):
                raise SweepError(f"{what}: ban_region takes values or distribution = 'choice' "
                                 "(region codes)")
            check_ban_values(a, a.values if a.values is not None else list(a.choices or []),
                              source)
            continue
        leaf = resolve_path(base, a.path, what)
        if a.distribution in ("uniform", "loguniform", "normal") and \
                leaf.kind not in ("int", "float"):
            raise SweepError(f"{what}: distribution {a.distribution!r} needs a numeric field; "
                             f"{a.path} is {leaf.kind} (use values or distribution = 'choice')")
        leaves[a.label] = leaf
    fixed = flatten_set(spec.set_)
    set_leaves = {k: resolve_path(base, k, f"{source}: [set] {k!r}") for k in fixed}
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

    children = np.random.SeedSequence(spec.sweep.seed).spawn(
        1 if spec.sweep.common_random_numbers else total)
    base_data = base.model_dump()
    for k_, v in fixed.items():
        assign(base_data, set_leaves[k_].steps, v)
    base_data["scenario"]["paths"] = spec.sweep.paths
    tasks: list[Task] = []
    problems: list[str] = []
    for i, row in enumerate(rows):
        params = {a.label: row[a.label] for a in axes}
        seed = int(children[0 if spec.sweep.common_random_numbers else i].generate_state(1)[0])
        data = copy.deepcopy(base_data)
        data["scenario"]["seed"] = seed
        ban_code: str | None = None
        for a in axes:
            if a.path == "ban_region":
                ban_code = params[a.label]
            else:
                assign(data, leaves[a.label].steps, params[a.label])
        if ban_code is not None:
            apply_ban(data, ban_code, spec.ban)
        if data["scenario"]["horizon_days"] < base.scenario.horizon_days:
            _leave_out_later_events(data)
        try:
            sc = Scenario.model_validate(data)
        except ValidationError as exc:
            from ..sim.scenario import _explain

            for p in _explain(exc):
                problems.append(f"task {i} ({format_params(params)}): {_blame(p, axes, params)}")
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
    _check_counterfactual(spec, tasks, source)
    return Sweep(spec, base, source, tasks, kinds_out)


def _check_counterfactual(spec: SweepSpec, tasks: list[Task], source: str) -> None:
    """A named counterfactual must use the sweep's axes and values some task has."""
    cf = spec.sweep.counterfactual
    if cf is None:
        return
    labels = [a.label for a in spec.axis]
    for k, v in cf.items():
        if k not in labels:
            raise SweepError(f"{source}: sweep.counterfactual names {k!r}, which is not an "
                             f"axis; axes: {', '.join(labels)}")
        seen = sorted({str(t.params[k]) for t in tasks})
        if str(v) not in seen:
            raise SweepError(f"{source}: sweep.counterfactual {k} = {v!r} is not a value of "
                             f"that axis in any task; values: {', '.join(seen[:20])}")


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


def _leave_out_later_events(data: dict[str, Any]) -> None:
    """A sweep that shortens the base scenario's horizon leaves out the events that start after
    it (as ``hashshift run --horizon-days`` does): a scenario's events must fall inside it."""
    from datetime import date, timedelta

    meta = data["scenario"]
    as_of = meta["as_of"] if isinstance(meta["as_of"], date) else \
        date.fromisoformat(str(meta["as_of"]))
    end = as_of + timedelta(days=int(meta["horizon_days"]) - 1)

    def first(ev: dict[str, Any]) -> date | None:
        d = ev.get("announced") or ev.get("start")
        return None if d is None else d if isinstance(d, date) else date.fromisoformat(str(d))

    data["event"] = [ev for ev in data.get("event", []) if (first(ev) or end) <= end]
