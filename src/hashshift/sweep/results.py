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

__all__ = ["SweepResult", "SweepStats", "TaskFailure", "collect", "default_work_dir",
           "load_result", "wide_table"]


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
            from ..report.sensitivity import tornado_html

            html = tornado_html(self.sensitivity, title=f"Sweep {self.name}")
        except ImportError:
            return files
        if html:
            (out / "tornado.html").write_text(html, encoding="utf-8")
            files.append(out / "tornado.html")
        return files


def default_work_dir(name: str) -> Path:
    """``$HASHSHIFT_HOME/sweeps/NAME`` (or the user data directory's)."""
    from ..store import default_home

    return default_home() / "sweeps" / name


def collect(work: Path, sweep: Sweep) -> pd.DataFrame:
    """The tidy table from the finished parts of ``sweep`` in ``work``."""
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
        return pd.DataFrame(columns=["sweep", "task", "seed", "params", "metric", "value"])
    tidy = pd.concat(frames, ignore_index=True)
    tidy["task"] = tidy["task"].astype("int64")
    tidy["seed"] = tidy["seed"].astype("int64")
    tidy["value"] = tidy["value"].astype("float64")
    return tidy.sort_values(["task", "metric"], kind="stable").reset_index(drop=True)


def make_result(sweep: Sweep, tidy: pd.DataFrame, failures: list[TaskFailure],
                stats: SweepStats, work: Path) -> SweepResult:
    """A :class:`SweepResult` from the tidy table: the wide table and its sensitivity."""
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
