"""The schedulers behind one ``concurrent.futures`` interface: ``local`` (in the driver's
process), ``processes`` (a spawned process pool) and ``dask`` (a running cluster at an address,
else a ``LocalCluster``), with the checks of their options.

Workers are started and warmed up (the engine imported) before the first task. Pool workers run
one BLAS thread each; the LocalCluster leaves glibc's malloc alone (docs/sweeps.md,
Performance, says why each setting matters).
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from .. import __version__
from .spec import SweepError

__all__ = ["SCHEDULERS", "InlineExecutor", "Pool", "check_address", "check_dask_workers",
           "check_scheduler_args", "open_executor"]

SCHEDULERS = ("local", "processes", "dask")

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
                for f in [pex.submit(probe_worker) for _ in range(n)]:
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


def probe_worker(parts_dir: str | None = None) -> tuple[str, bool]:
    """Run on each worker before the tasks: imports the engine (so that the first task does not
    pay for it) and returns the worker's hashshift version and whether it sees the parts
    folder."""
    from .. import __version__ as v
    from ..sim import engine  # noqa: F401

    return v, parts_dir is not None and os.path.isdir(parts_dir) and os.access(parts_dir,
                                                                                os.W_OK)


def check_dask_workers(pool: Pool, work: Path) -> None:
    """Refuse Dask workers that cannot import hashshift or run another version of it (this
    also imports the engine on every worker before the first task)."""
    try:
        info = pool.client.run(probe_worker, str(work))
    except Exception as exc:
        raise SweepError(f"the Dask workers cannot import hashshift ({type(exc).__name__}: "
                         f"{exc}); install the same hashshift on every worker") from None
    bad = {w: v for w, (v, _) in info.items() if v != __version__}
    if bad:
        w, v = next(iter(bad.items()))
        raise SweepError(f"Dask worker {w} runs hashshift {v}, the driver {__version__}; "
                         "install the same version everywhere")
