"""A sweep's results: the tidy table from its finished parts, one row per task, the
sensitivity summary and the failures; read back without computing anything
(:func:`load_result`) or returned by :func:`~hashshift.sweep.run.run_sweep`."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..sim.outcomes import HEADLINE_METRICS
from .effects import sensitivity
from .parts import part_path, read_part, read_part_meta
from .plan import DEFAULT_MAX_TASKS, Sweep, format_params, load_sweep
from .spec import SweepError

__all__ = ["SweepResult", "SweepStats", "TaskFailure", "collect", "collect_paths",
           "default_work_dir", "effects_table", "load_result", "wide_table"]


@dataclass(frozen=True)
class TaskFailure:
    """A task that raised (or whose worker died): its axis values, error and traceback."""

    index: int
    params: dict[str, Any]
    error: str
    traceback: str | None = None

    def describe(self) -> str:
        """One line: the task, its axis values and the error."""
        return f"task {self.index} ({format_params(self.params)}): {self.error}"


@dataclass
class SweepStats:
    """Counts and times of one run [s]."""

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
    #: per task and effect: the paired differences against the counterfactual task (median,
    #: 90 % interval, mean, paths); empty without a counterfactual
    effects: pd.DataFrame = field(default_factory=pd.DataFrame)

    def write(self, folder: str | Path) -> list[Path]:
        """``results.csv`` (per task), ``results_tidy.csv``, ``sensitivity.csv``,
        ``effects.csv`` (against the counterfactual, when there is one), ``failures.csv`` (when
        any), ``tornado.html`` (numeric axes) and ``effects.html`` (when plotly is installed)."""
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        files = [out / "results.csv", out / "results_tidy.csv", out / "sensitivity.csv"]
        self.tasks.to_csv(files[0], index=False)
        self.tidy.to_csv(files[1], index=False)
        self.sensitivity.to_csv(files[2], index=False)
        if len(self.effects):
            self.effects.to_csv(out / "effects.csv", index=False)
            files.append(out / "effects.csv")
        if self.failures:
            pd.DataFrame([{"task": f.index, "params": json.dumps(f.params), "error": f.error}
                          for f in self.failures]).to_csv(out / "failures.csv", index=False)
            files.append(out / "failures.csv")
        try:  # presentation lives in report/; plotly is optional here
            from ..report.sensitivity import effects_html, tornado_html
        except ImportError:
            return files
        pages = {"tornado.html": tornado_html(self.sensitivity, title=f"Sweep {self.name}")}
        if len(self.effects) and self.plan is not None:
            pages["effects.html"] = effects_html(
                self.effects, against=counterfactual_label(self.plan),
                title=f"Sweep {self.name}: effects against {counterfactual_label(self.plan)}")
        for name, html in pages.items():
            if html:
                (out / name).write_text(html, encoding="utf-8")
                files.append(out / name)
        return files


def default_work_dir(name: str) -> Path:
    """``$HASHSHIFT_HOME/sweeps/NAME`` (or the user data directory's)."""
    from ..store import default_home

    return default_home() / "sweeps" / name


def collect(work: Path, sweep: Sweep) -> pd.DataFrame:
    """The tidy table from the finished parts of ``sweep`` in ``work``: the tasks' own metrics
    (per-path outcomes: :func:`collect_paths`)."""
    every = _collect_all(work, sweep)
    if every.empty:
        return every.drop(columns="path", errors="ignore")
    tidy = every[every["path"] == -1].drop(columns="path")
    return tidy.sort_values(["task", "metric"], kind="stable").reset_index(drop=True)


def collect_paths(work: Path, sweep: Sweep) -> pd.DataFrame:
    """Per task and path, the per-path outcomes (``hashshift.sim.outcomes.path_outcomes``):
    columns task, path and one per outcome."""
    every = _collect_all(work, sweep)
    if every.empty or not (every["path"] >= 0).any():
        return pd.DataFrame(columns=["task", "path"])
    p = every[every["path"] >= 0]
    from ..sim.outcomes import PATH_METRICS

    wide = p.pivot(index=["task", "path"], columns="metric", values="value")
    series = [c for c in wide.columns if c not in PATH_METRICS]
    wide = wide.reindex(columns=[*PATH_METRICS, *series])  # an outcome NaN on every path stays
    wide.columns.name = None
    return wide.reset_index()


def _collect_all(work: Path, sweep: Sweep) -> pd.DataFrame:
    frames = []
    for t in sweep.tasks:
        p = part_path(work, t.index)
        if not p.exists():
            continue
        meta = read_part_meta(p)
        if meta is None or meta.get("key") != t.key:
            continue
        df = read_part(p)
        df.insert(0, "sweep", sweep.name)
        df.insert(2, "seed", t.seed)
        df.insert(3, "params", json.dumps(t.params, sort_keys=False, default=str))
        frames.append(df)
    if not frames:
        return pd.DataFrame(columns=["sweep", "task", "path", "seed", "params", "metric",
                                     "value"])
    tidy = pd.concat(frames, ignore_index=True)
    tidy["task"] = tidy["task"].astype("int64")
    tidy["seed"] = tidy["seed"].astype("int64")
    tidy["value"] = tidy["value"].astype("float64")
    return tidy.reset_index(drop=True)


def make_result(sweep: Sweep, tidy: pd.DataFrame, failures: list[TaskFailure],
                stats: SweepStats, work: Path) -> SweepResult:
    """A :class:`SweepResult` from the tidy table: the wide table and its sensitivity."""
    wide = wide_table(sweep, tidy)
    sens = sensitivity(sweep, wide)
    effects = effects_table(sweep, collect_paths(work, sweep))
    return SweepResult(sweep.name, tidy, wide, sens, failures, stats, work, sweep.axis_kinds,
                       sweep, effects)


def effects_table(sweep: Sweep, paths: pd.DataFrame) -> pd.DataFrame:
    """Per task with a counterfactual (:meth:`Sweep.counterfactuals`) and per effect
    (:data:`hashshift.sim.outcomes.EFFECTS`): the median, 90 % interval, mean and its Monte
    Carlo standard error of the paired per-path differences, with the counterfactual's task
    index, the axis values and a ``label`` naming the task by what it changes."""
    from ..sim.outcomes import EFFECTS, paired_effects

    cols = ["task", "counterfactual", "label", *[a.label for a in sweep.axes], "effect", "unit",
            "q05", "q50", "q95", "mean", "mc_se", "n"]
    if paths.empty:
        return pd.DataFrame(columns=cols)
    by_task = {int(str(t)): g.sort_values("path").set_index("path")
               for t, g in paths.groupby("task")}
    params = {t.index: t.params for t in sweep.tasks}
    rows = []
    for task, cf in sorted(sweep.counterfactuals().items()):
        if task not in by_task or cf not in by_task:
            continue
        eff = paired_effects(by_task[task], by_task[cf])
        label = task_label(sweep, params[task])
        for name, v in eff.items():
            rows.append({"task": task, "counterfactual": cf, "label": label, **params[task],
                         "effect": name, "unit": EFFECTS[name][1], **v})
    return pd.DataFrame(rows, columns=cols)


def task_label(sweep: Sweep, params: dict[str, Any]) -> str:
    """A task named by its axis values: the values of the axes the counterfactual fixes, then
    ``name=value`` for the other axes, e.g. ``"United States (US) · delay=52.3"``."""
    from ..regions import region_name

    def show(k: str, v: Any) -> str:
        if k == "ban_region" and v != "none":
            return f"{region_name(str(v))} ({v})"
        return str(v)

    cf = sweep.counterfactual_values()
    first = [show(k, params[k]) for k in cf if k in params]
    rest = [f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
            for k, v in params.items() if k not in cf]
    return " · ".join(first + rest) or "task"


def counterfactual_label(sweep: Sweep) -> str:
    """What the effects are measured against, e.g. ``"ban_region = none"``."""
    cf = sweep.counterfactual_values()
    return ", ".join(f"{k} = {v}" for k, v in cf.items()) or "no counterfactual"


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
    return make_result(plan, tidy, failures, stats, work)


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
