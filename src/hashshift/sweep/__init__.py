"""Parameter sweeps: many scenarios and seeds on one machine's cores or a Dask cluster.

A sweep spec (TOML, :mod:`.spec`) names a base scenario, fixed overrides and axes: grid values,
or samples from named distributions (Latin hypercube, Sobol' or a Saltelli design for Sobol'
indices). :mod:`.plan` expands it into tasks, each a validated scenario with its own seed, so a
task's result does not depend on the scheduler, the number of workers or the order in which
tasks finish. :mod:`.run` drives them on ``local``, ``processes`` or ``dask``
(:mod:`.executors`); each task writes its own Parquet part (:mod:`.parts`), so an interrupted
sweep resumes where it stopped, and the driver ingests the results into the store at the end.
:mod:`.results` reads them back (one row per task, failures) and :mod:`.effects` summarises
what drives the outcomes (main effects, SRC, Sobol' indices). The tornado charts are in
:mod:`hashshift.report.sensitivity`. docs/sweeps.md documents the format and the commands.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..sim.outcomes import HEADLINE_METRICS, outcome_metrics
from .effects import sensitivity
from .executors import SCHEDULERS, Pool, check_address, check_scheduler_args, open_executor
from .parts import TaskOutcome, run_task
from .plan import DEFAULT_MAX_TASKS, Sweep, Task, load_sweep, parse_sweep, shipped_sweeps
from .results import (
    SweepResult,
    SweepStats,
    TaskFailure,
    collect,
    default_work_dir,
    load_result,
    wide_table,
)
from .run import ingest, run_sweep
from .spec import (
    Axis,
    BanTemplate,
    Sampling,
    SweepError,
    SweepMeta,
    SweepSpec,
    SweepTaskError,
)

if TYPE_CHECKING:
    from ..report.sensitivity import tornado_figure, tornado_html

__all__ = [
    "DEFAULT_MAX_TASKS",
    "HEADLINE_METRICS",
    "SCHEDULERS",
    "Axis",
    "BanTemplate",
    "Pool",
    "Sampling",
    "Sweep",
    "SweepError",
    "SweepMeta",
    "SweepResult",
    "SweepSpec",
    "SweepStats",
    "SweepTaskError",
    "Task",
    "TaskFailure",
    "TaskOutcome",
    "check_address",
    "check_scheduler_args",
    "collect",
    "default_work_dir",
    "ingest",
    "load_result",
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
    "wide_table",
]


def __getattr__(name: str) -> Any:  # the charts moved to report/; plotly only when asked for
    if name in ("tornado_figure", "tornado_html"):
        from ..report import sensitivity as charts

        return getattr(charts, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
