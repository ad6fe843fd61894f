"""The sweep's driver: runs (or resumes) a sweep on a scheduler and ingests its results.

One driver at a time per work folder (an advisory lock). Tasks whose part is already there
with the same key are not recomputed; the others are submitted to the executor in a bounded
window, and each finished task's part is written by its worker (or by the driver when the
worker cannot see the folder). Only the driver writes to the store, at the end, in one
transaction (:meth:`hashshift.store.Store.replace_sweep`).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import __version__
from .executors import Pool, check_dask_workers, check_scheduler_args, open_executor
from .parts import TaskOutcome, error_path, part_path, read_part_meta, run_task, write_part
from .plan import Sweep, Task
from .results import (
    SweepResult,
    SweepStats,
    TaskFailure,
    collect,
    default_work_dir,
    make_result,
)
from .spec import SweepError, SweepTaskError

if TYPE_CHECKING:
    from ..store import Store

__all__ = ["ingest", "run_sweep"]


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
                check_dask_workers(pool, work)  # also imports the engine on every worker
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
        result = make_result(sweep, tidy, failures, stats, work)
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
        p = part_path(work, t.index)
        if p.exists():
            meta = read_part_meta(p)
            if meta is not None and meta.get("key") == t.key:
                done.add(t.index)
    return done


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
    if not out.wrote_part or not part_path(work, task.index).exists():
        write_part(work, task, out.metrics, out.elapsed_s)  # the worker could not see `work`
    stats.computed += 1
    stats.task_s += out.elapsed_s
    stats.task_cpu_s += out.cpu_s
    return None


def _write_error(work: Path, failure: TaskFailure) -> None:
    record = {"task": failure.index, "params": failure.params, "error": failure.error,
              "traceback": failure.traceback}
    error_path(work, failure.index).write_text(json.dumps(record, indent=2, default=str),
                                               encoding="utf-8")


def ingest(result: SweepResult, store: Store | None = None) -> int:
    """Replace the sweep's rows in the store's ``sweep_results`` table (one transaction)."""
    from ..store import Store

    st = store if store is not None else Store()
    st.replace_sweep(result.name, result.tidy, location=str(result.work_dir),
                     note=f"{result.stats.total} tasks, {len(result.failures)} failed")
    return len(result.tidy)
