"""One task in a worker, and its Parquet part in the sweep's work folder.

:func:`run_task` is what the executors run (by module path: process-pool and Dask workers
import it from here). It never prints, keeps no global state and never touches the database.
A part, ``part-NNNNNN.parquet``, holds the task's metrics (task, path, metric, value; ``path``
-1 for the task's own metrics, else one row per path and per-path outcome, for the paired
effects against the counterfactual task); its schema
metadata carries the task's key (a digest of its scenario, seed, paths and the hashshift
version), seed, axis values and run time. It is written to a temporary file and renamed into
place, so a killed task leaves no half part.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import time
import traceback
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..sim.outcomes import outcome_metrics, path_outcomes

#: Prefix of the per-path outcomes in a task's metrics (``path:<outcome>:<path index>``).
from ..sim.scenario import Scenario

if TYPE_CHECKING:
    import pandas as pd

    from .plan import Task

__all__ = ["TaskOutcome", "error_path", "part_path", "read_part", "read_part_meta", "run_task",
           "write_part"]

_PART_META = b"hashshift_sweep"
#: Metric-name prefix of per-path outcomes: ``path:<name>:<path index>``.
PATH_PREFIX = "path:"


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
    from ..sim.engine import run

    t0, c0 = time.perf_counter(), time.process_time()
    sink = io.StringIO()
    quiet = contextlib.redirect_stdout(sink) if capture_output else contextlib.nullcontext()
    try:
        with warnings.catch_warnings(), quiet:
            warnings.simplefilter("ignore")
            scenario = Scenario.model_validate_json(task.scenario_json)
            result = run(scenario, keep_paths=True)
            metrics = outcome_metrics(result)
            for name, col in path_outcomes(result).items():
                for p, v in enumerate(col.to_numpy(dtype=float)):
                    metrics[f"{PATH_PREFIX}{name}:{p}"] = float(v)
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


def part_path(parts_dir: Path, index: int) -> Path:
    """Where task ``index`` leaves its metrics."""
    return parts_dir / f"part-{index:06d}.parquet"


def error_path(parts_dir: Path, index: int) -> Path:
    """Where the driver records why task ``index`` failed (tried again on the next run)."""
    return parts_dir / f"part-{index:06d}.error.json"


def write_part(parts_dir: Path, task: Task, metrics: dict[str, float], elapsed_s: float
               ) -> Path:
    """Write one task's metrics as a Parquet part (temporary file, then an atomic rename)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    names = sorted(metrics)
    path, metric = [], []
    for m in names:
        if m.startswith(PATH_PREFIX):
            name, p = m[len(PATH_PREFIX):].rsplit(":", 1)
            path.append(int(p))
            metric.append(name)
        else:
            path.append(-1)
            metric.append(m)
    table = pa.table({
        "task": pa.array([task.index] * len(names), type=pa.int64()),
        "path": pa.array(path, type=pa.int64()),
        "metric": pa.array(metric, type=pa.string()),
        "value": pa.array([metrics[m] for m in names], type=pa.float64()),
    })
    meta = {"key": task.key, "index": task.index, "seed": task.seed, "params": task.params,
            "elapsed_s": elapsed_s, "version": __version__}
    table = table.replace_schema_metadata({_PART_META: json.dumps(meta).encode()})
    final = part_path(parts_dir, task.index)
    tmp = final.with_name(f".{final.name}.{os.getpid()}.{time.monotonic_ns()}.tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, final)
    return final


def read_part_meta(path: Path) -> dict[str, Any] | None:
    """A part's metadata (key, index, seed, params, elapsed_s, version); None if unreadable."""
    import pyarrow.parquet as pq

    try:
        meta = pq.read_schema(path).metadata or {}
        return dict(json.loads(meta[_PART_META]))
    except Exception:  # a foreign or damaged file: recompute the task
        return None


def read_part(path: Path) -> pd.DataFrame:
    """A part's rows: task, path (-1: the task's own metric), metric, value."""
    import pyarrow.parquet as pq

    df = pq.read_table(path).to_pandas()
    if "path" not in df.columns:  # a part written before per-path outcomes
        df.insert(1, "path", -1)
    return df
