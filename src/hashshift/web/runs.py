"""Scenario runs for the web service: bounded, cached, off the event loop.

- A run's ID is the first 16 hex digits of the SHA-256 of the scenario's canonical JSON
  (:func:`scenario_hash`); finished runs stay in an in-memory LRU cache of ``cache_size`` runs.
- Bounded work: a request may ask for at most ``max_work`` path-days (paths × horizon_days,
  summed over the scenario and its baseline), checked before anything else
  (:class:`TooMuchWork`: HTTP 422), whether or not the answer is cached.
- At most ``max_concurrent`` requests compute at once; up to ``max_queue`` more wait for a slot
  in arrival order; beyond that :class:`Busy` (HTTP 429 with ``Retry-After``). One client (its
  address, :data:`~hashshift.web.security.CLIENT`) may have at most ``max_per_client``
  requests computing or waiting. A request for a scenario that is already being computed, or
  waiting, joins that computation instead of starting its own (and takes no slot).
- While every slot is busy and the queue is full (:meth:`RunManager.saturated`), the app
  refuses run requests before reading their bodies: a flood costs almost nothing to refuse.
- Computation happens in a pool of ``max_concurrent`` workers, so the server keeps answering
  other requests meanwhile; a scenario and its baseline compute side by side. Progress (days
  simulated) is readable while it runs, and so are the bands of the world hashrate and power
  over the days simulated so far (:meth:`RunManager.running`), for a page that draws them as
  they grow. With the engine itself (no ``runner`` given) the workers are *processes*
  (``spawn``) at a lower CPU priority (``nice`` 10): runs then take neither the server's GIL
  nor, when CPUs are short, its CPU time, and cached reads stay fast while they compute
  (measured in docs/security.md). A given ``runner`` (tests) runs in threads.
- The worker processes live as long as the server: started once, each keeps the engine
  imported and the inputs it resolved (:func:`warm_worker` prepares them for the lab's first
  example when the lab page is first opened). They ignore Ctrl+C; :meth:`RunManager.close`
  stops them and waits for the pool's threads and queues to close.
- Functions registered with :meth:`RunManager.on_evict` learn which runs leave the cache.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import multiprocessing
import os
import signal
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import BrokenExecutor, Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np

from ..sim.engine import Result
from ..sim.outcomes import largest_cut
from ..sim.scenario import Scenario
from .data import days, num, nums
from .security import CLIENT

__all__ = ["Busy", "RunManager", "RunRecord", "Runner", "TooMuchWork", "baseline_of",
           "result_payload", "scenario_hash", "warm_worker", "work_of"]

#: The engine call: (scenario, progress callback(done, total)) -> Result.
Runner = Callable[[Scenario, Callable[[int, int], None]], Result]

#: World metrics sent to the browser (all are in the CSV download).
WORLD_METRICS = ("hashrate_ehs", "difficulty", "hashprice_usd_ph_day", "power_gw",
                 "emissions_mt_yr", "btc_usd", "exited_ehs", "in_transit_ehs")
TOP_REGIONS = 10
#: World metrics whose bands are readable while a run computes.
PARTIAL_METRICS = ("hashrate_ehs", "power_gw")
#: Shipped examples a worker resolves in advance (the lab opens with the first).
WARM_EXAMPLES = ("china_2021",)
INPUTS_CACHE = 8  # resolved inputs a worker keeps


class Busy(RuntimeError):
    """Every run slot and queue place is taken, or the client has as many runs under way as
    it may; try again later (HTTP 429)."""


class TooMuchWork(ValueError):
    """A request asks for more path-days than the service computes per request (HTTP 422)."""

    def __init__(self, work: int, limit: int, runs: int):
        both = " summed over the scenario and its baseline" if runs > 1 else ""
        super().__init__(
            f"this request asks for {work:,} path-days (paths × horizon_days{both}), more than "
            f"this web service computes per request (at most {limit:,}); use fewer paths or "
            "days" + (", or baseline=false" if runs > 1 else "") + ", or the command line")
        self.work, self.limit, self.runs = work, limit, runs


def work_of(scenarios: list[Scenario]) -> int:
    """Path-days of a request: paths × horizon_days, summed over its scenarios."""
    return sum(s.scenario.paths * s.scenario.horizon_days for s in scenarios)


def canonical_json(scenario: Scenario) -> str:
    return json.dumps(scenario.model_dump(mode="json"), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=True)


def scenario_hash(scenario: Scenario) -> str:
    """The run ID: 16 hex digits of the SHA-256 of the canonical scenario JSON."""
    return hashlib.sha256(canonical_json(scenario).encode()).hexdigest()[:16]


def baseline_of(scenario: Scenario) -> Scenario | None:
    """The same scenario with its bans removed (same seed: common random numbers), or ``None``
    when it has no ban."""
    if not any(getattr(e, "kind", None) == "ban" for e in scenario.event):
        return None
    data = scenario.model_dump()
    data["event"] = [e for e in data["event"] if e.get("kind") != "ban"]
    name = data["scenario"]["name"]
    suffix = " (baseline: bans removed)"
    data["scenario"]["name"] = (name[: 200 - len(suffix)] + suffix)
    return Scenario.model_validate(data)


def default_runner(scenario: Scenario, progress: Callable[[int, int], None]) -> Result:
    from ..sim.engine import run

    return run(scenario, progress=progress)


# ---------------------------------------------------------------------------------------------
# worker processes
# ---------------------------------------------------------------------------------------------
#: In a worker process: the progress table shared with the server, per slot (days done, days
#: in all, days with bands), and the bands (slots × PARTIAL_METRICS × quantiles × days).
_SHARED: Any = None
_BANDS: np.ndarray | None = None
#: In a worker process: resolved inputs by scenario (paths and seed left out), newest last.
_INPUTS: OrderedDict[str, Any] = OrderedDict()


def _bands_view(raw: Any, slots: int, max_days: int) -> np.ndarray:
    return np.frombuffer(raw, dtype=np.float64).reshape(slots, len(PARTIAL_METRICS), 5,
                                                        max_days)


def _init_worker(shared: Any, bands: Any, slots: int, max_days: int, nice: int) -> None:
    global _SHARED, _BANDS
    _SHARED = shared
    _BANDS = _bands_view(bands, slots, max_days)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is the server's: it stops us
    if nice:
        try:
            os.nice(nice)
        except OSError:  # pragma: no cover - not allowed here: run at the same priority
            pass


def _inputs_key(scenario: Scenario) -> str:
    """What resolution depends on: the scenario without its path count and seed."""
    data = scenario.model_dump(mode="json")
    data["scenario"].pop("paths", None)
    data["scenario"].pop("seed", None)
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def _inputs(scenario: Scenario) -> Any:
    """The scenario's resolved inputs (:func:`hashshift.sim.engine.resolve`), kept for the
    next run of the same scenario with other paths or another seed."""
    from ..sim.engine import resolve

    key = _inputs_key(scenario)
    inp = _INPUTS.get(key)
    if inp is None:
        inp = _INPUTS[key] = resolve(scenario)
        while len(_INPUTS) > INPUTS_CACHE:
            _INPUTS.popitem(last=False)
    _INPUTS.move_to_end(key)
    return dataclasses.replace(inp, scenario=scenario)


def warm_worker(names: tuple[str, ...] = WARM_EXAMPLES) -> int:
    """In a worker process: import the engine and resolve the shipped examples ``names`` and
    their baselines, so that the lab's first run starts at once. Returns the process id."""
    from ..sim.examples import load_example

    for name in names:
        sc = load_example(name)
        for s in (sc, baseline_of(sc)):
            if s is not None:
                _inputs(s)
    return os.getpid()


def _run_in_worker(scenario: Scenario, slot: int) -> tuple[Result, dict[str, Any]]:
    """A scenario run in a worker process, reporting progress and partial bands in slot
    ``slot``."""
    from ..sim.engine import run

    def report(done: int, total: int) -> None:
        _SHARED[3 * slot], _SHARED[3 * slot + 1] = done, total

    def partial(days: int, world: dict[str, np.ndarray]) -> None:
        assert _BANDS is not None
        n = min(days, _BANDS.shape[-1])
        for i, m in enumerate(PARTIAL_METRICS):
            _BANDS[slot, i, :, :n] = world[m][:, :n]
        _SHARED[3 * slot + 2] = n

    _SHARED[3 * slot + 2] = 0
    result = run(scenario, inputs=_inputs(scenario), progress=report, partial=partial)
    return result, result_payload(result, scenario)


# ---------------------------------------------------------------------------------------------
# the browser's view of a result
# ---------------------------------------------------------------------------------------------
def _bands(df: Any) -> dict[str, list[float | None]]:
    return {q: nums(df[q], 6) for q in ("q05", "q25", "q50", "q75", "q95")}


def result_payload(result: Result, scenario: Scenario) -> dict[str, Any]:
    """Median and bands of the world metrics, regional shares and per-epoch retargets."""
    from ..regions import region_name

    d = result.daily
    world = d[d["region"] == "WORLD"]
    dates: list[str] = []
    metrics: dict[str, Any] = {}
    for m in WORLD_METRICS:
        w = world[world["metric"] == m]
        if w.empty:
            continue
        if not dates:
            dates = days(w["date"])
        metrics[m] = _bands(w)
    share = d[(d["metric"] == "share_pct") & (d["region"] != "WORLD")]
    regions: dict[str, Any] = {}
    if len(share):
        peak = share.groupby("region", observed=True)["q50"].max().sort_values(ascending=False)
        for code in [str(c) for c in peak.index[:TOP_REGIONS]]:
            s = share[share["region"] == code]
            try:
                name = region_name(code)
            except LookupError:
                name = "Other" if code == "OTHER" else code
            if code == "CN-OTHER":
                name = "Other provinces of China"
            regions[code] = {"name": name, **_bands(s)}
    ep = result.epochs
    epochs: dict[str, Any] = {}
    if len(ep):
        ch = ep[ep["metric"] == "change_pct"].sort_values("epoch")
        st = ep[ep["metric"] == "start_days"].set_index("epoch")["q50"]
        ends = []
        for e in ch["epoch"].tolist():
            nxt = st.get(int(e) + 1)
            ends.append(None if nxt is None else
                        str(scenario.scenario.as_of + timedelta(days=float(nxt))))
        epochs = {"epoch": [int(x) for x in ch["epoch"]],
                  "retarget_height": [(int(x) + 1) * 2016 for x in ch["epoch"]],
                  "retarget_date": ends, "paths": [int(x) for x in ch["paths"]],
                  **_bands(ch)}
    summary: dict[str, Any] = {}
    for m in ("hashrate_ehs", "difficulty", "power_gw", "hashprice_usd_ph_day",
              "emissions_mt_yr"):
        if m in metrics:
            b = metrics[m]
            summary[m] = {"start": b["q50"][0], "end": b["q50"][-1], "end_q05": b["q05"][-1],
                          "end_q95": b["q95"][-1]}
    cut = largest_cut(result)
    if cut is not None:
        summary["largest_cut"] = {"retarget_height": cut["height"], "date": cut["date"],
                                  "change_pct": cut["change_pct"]["q50"],
                                  "q05": cut["change_pct"]["q05"],
                                  "q95": cut["change_pct"]["q95"]}
    return {"name": scenario.scenario.name, "as_of": str(scenario.scenario.as_of),
            "paths": int(result.config.get("paths", scenario.scenario.paths)),
            "dates": dates, "world": metrics, "regions": regions, "epochs": epochs,
            "summary": summary,
            "provenance": result.config.get("provenance", {}),
            "initial_hashrate_ehs": num(result.config.get("initial", {}).get("hashrate_ehs"))}


def _stop_pool(pool: Executor) -> None:
    """Cancel what waits, end the worker processes, and wait until the pool has closed: its
    thread joined, its queues and their semaphores released (a thread pool's threads finish
    their runs on their own)."""
    if not isinstance(pool, ProcessPoolExecutor):
        pool.shutdown(wait=False, cancel_futures=True)
        return
    # a ProcessPoolExecutor's worker processes (a private attribute: no public way in 3.11)
    workers = dict(getattr(pool, "_processes", None) or {})
    for proc in workers.values():
        if proc.is_alive():
            proc.terminate()
    for proc in workers.values():
        proc.join(timeout=10)
    pool.shutdown(wait=True, cancel_futures=True)


# ---------------------------------------------------------------------------------------------
# the manager
# ---------------------------------------------------------------------------------------------
@dataclass
class RunRecord:
    hash: str
    scenario: Scenario
    result: Result
    seconds: float
    payload: dict[str, Any] = field(repr=False)
    created: float = field(default_factory=time.time)


@dataclass
class _Progress:
    name: str
    total: int
    as_of: date | None = None
    done: int = 0
    started: float = field(default_factory=time.time)
    slot: int | None = None  # set while it computes in a worker process


class RunManager:
    """Bounded, cached scenario runs (see the module docstring)."""

    def __init__(self, max_concurrent: int = 2, cache_size: int = 16,
                 runner: Runner | None = None, *, max_queue: int = 0,
                 max_per_client: int | None = None, max_work: int | None = None,
                 processes: bool | None = None, nice: int = 10, max_days: int = 3650):
        if max_concurrent < 1:
            raise ValueError("max_concurrent must be >= 1")
        if max_queue < 0:
            raise ValueError("max_queue must be >= 0")
        if max_per_client is not None and max_per_client < 1:
            raise ValueError("max_per_client must be >= 1")
        self.max_concurrent = max_concurrent
        self.cache_size = max(1, cache_size)
        self.max_queue = max_queue
        self.max_per_client = max_per_client
        self.max_work = max_work
        self._runner: Runner = runner or default_runner
        self._cache: OrderedDict[str, RunRecord] = OrderedDict()
        self._inflight: dict[str, asyncio.Future[RunRecord]] = {}
        self._progress: dict[str, _Progress] = {}
        self._active = 0  # run slots held (computing, or handed to a waiter)
        self._waiters: deque[asyncio.Future[None]] = deque()  # requests queued for a slot
        self._clients: dict[str, int] = {}  # client -> its requests computing or queued
        self._joined = 0  # requests waiting on a computation another request started
        self._evict_hooks: list[Callable[[str], None]] = []
        self.refused = 0  # requests answered with Busy
        self._lock = threading.Lock()  # cache and progress are touched by worker threads
        self.processes = runner is None if processes is None else processes
        if self.processes and runner is not None:
            raise ValueError("a given runner runs in threads (processes=False)")
        self._nice = nice
        # progress slots of worker processes: a request computes a scenario and its baseline
        n_slots = 2 * max_concurrent
        self._slots = list(range(n_slots))
        self._max_days = max_days
        self._shared: Any = None
        self._bands_raw: Any = None
        self._bands: np.ndarray | None = None
        self._warm: list[Any] = []  # warm-up tasks of the current pool
        self._pool: Executor = self._new_pool()

    def _new_pool(self) -> Executor:
        self._warm = []
        if not self.processes:
            return ThreadPoolExecutor(max_workers=self.max_concurrent,
                                      thread_name_prefix="hashshift-run")
        ctx = multiprocessing.get_context("spawn")
        n_slots = 2 * self.max_concurrent
        if self._shared is None:
            self._shared = ctx.RawArray("q", 3 * n_slots)
            self._bands_raw = ctx.RawArray("d", n_slots * len(PARTIAL_METRICS) * 5
                                           * self._max_days)
            self._bands = _bands_view(self._bands_raw, n_slots, self._max_days)
        return ProcessPoolExecutor(
            max_workers=self.max_concurrent, mp_context=ctx, initializer=_init_worker,
            initargs=(self._shared, self._bands_raw, n_slots, self._max_days, self._nice))

    def warm_up(self) -> None:
        """Start the worker processes and prepare each for the lab's first example
        (:func:`warm_worker`), once per pool; returns at once. Does nothing with threads."""
        if not self.processes or self._warm:
            return
        self._warm = [self._pool.submit(warm_worker) for _ in range(self.max_concurrent)]
        for f in self._warm:  # a failed warm-up costs only time: the run resolves itself
            f.add_done_callback(lambda f: f.cancelled() or f.exception())

    # -- state -----------------------------------------------------------------------------
    @property
    def active(self) -> int:
        return self._active

    @property
    def queued(self) -> int:
        """Requests waiting for a run slot."""
        return len(self._waiters)

    @property
    def joined(self) -> int:
        """Requests waiting on a computation (under way or queued) that another request
        started; they take no slot. Lets a caller (and the tests) see that a request has
        joined, rather than guess it from elapsed time."""
        return self._joined

    def __contains__(self, run_hash: object) -> bool:
        """Whether the run is in the cache (without counting as a use)."""
        with self._lock:
            return run_hash in self._cache

    def on_evict(self, hook: Callable[[str], None]) -> None:
        """Call ``hook(run_hash)`` whenever a run leaves the cache (from a worker thread)."""
        self._evict_hooks.append(hook)

    def get(self, run_hash: str) -> RunRecord | None:
        with self._lock:
            rec = self._cache.get(run_hash)
            if rec is not None:
                self._cache.move_to_end(run_hash)
            return rec

    def touch(self, run_hash: str) -> bool:
        """Whether the run is cached; a cached run becomes the most recently used. The response
        cache calls it on every hit, so a run people keep reading stays while newer ones come
        and go (reads answered from the response cache never reach :meth:`get`)."""
        return self.get(run_hash) is not None

    def cached(self) -> list[RunRecord]:
        """The cached runs, least recently used first."""
        with self._lock:
            return list(self._cache.values())

    def running(self) -> list[dict[str, Any]]:
        """Runs being computed: ``hash``, ``name``, ``done`` and ``total`` days, ``seconds``;
        with the engine in worker processes also ``partial``: the days simulated so far
        (``dates``) and, per metric of :data:`PARTIAL_METRICS`, the bands over them
        (``q05`` … ``q95``)."""
        with self._lock:
            progress = list(self._progress.items())
        out = []
        for h, p in progress:
            done, total = p.done, p.total
            entry: dict[str, Any] = {"hash": h, "name": p.name}
            if p.slot is not None and self._shared is not None:
                k = 3 * p.slot
                done, total = int(self._shared[k]), int(self._shared[k + 1])
                days = int(self._shared[k + 2])
                if days and p.as_of is not None and self._bands is not None:
                    entry["partial"] = self._partial(p.slot, days, p.as_of)
            entry.update({"done": done, "total": total or p.total,
                          "seconds": round(time.time() - p.started, 1)})
            out.append(entry)
        return out

    def _partial(self, slot: int, days: int, as_of: date) -> dict[str, Any]:
        assert self._bands is not None
        bands = self._bands[slot, :, :, :days].copy()
        return {"days": days,
                "dates": [str(as_of + timedelta(days=i)) for i in range(days)],
                "world": {m: {q: nums(bands[i, j], 6) for j, q in enumerate(
                    ("q05", "q25", "q50", "q75", "q95"))}
                          for i, m in enumerate(PARTIAL_METRICS)}}

    def _store(self, rec: RunRecord) -> None:
        gone = []
        with self._lock:
            self._cache[rec.hash] = rec
            self._cache.move_to_end(rec.hash)
            while len(self._cache) > self.cache_size:
                gone.append(self._cache.popitem(last=False)[0])
        for h in gone:
            for hook in self._evict_hooks:
                hook(h)

    def close(self) -> None:
        """Stop the workers (runs under way in worker processes are ended) and wait until the
        pool's processes, threads and queues are gone (no semaphore left behind)."""
        _stop_pool(self._pool)

    # -- running ---------------------------------------------------------------------------
    def _run_here(self, scenario: Scenario, prog: _Progress) -> tuple[Result, dict[str, Any]]:
        """A scenario run in a worker thread (a given runner)."""
        def report(done: int, total: int) -> None:
            prog.done, prog.total = done, total

        result = self._runner(scenario, report)
        return result, result_payload(result, scenario)

    async def _execute(self, h: str, scenario: Scenario, slot: int) -> RunRecord:
        """Compute one scenario in the pool (its request holds a run slot)."""
        loop = asyncio.get_running_loop()
        prog = self._progress[h]
        prog.started = time.time()
        t0 = time.perf_counter()
        try:
            if self.processes:
                k = 3 * slot
                self._shared[k], self._shared[k + 1], self._shared[k + 2] = 0, prog.total, 0
                prog.slot = slot
                pool = self._pool
                try:
                    result, payload = await loop.run_in_executor(
                        pool, _run_in_worker, scenario, slot)
                except BrokenExecutor:
                    if self._pool is pool:  # its other runs come here too
                        self._pool = self._new_pool()
                        await asyncio.to_thread(_stop_pool, pool)
                    raise RuntimeError("the worker process of a scenario run ended "
                                       "unexpectedly (out of memory?); try again") from None
            else:
                result, payload = await loop.run_in_executor(self._pool, self._run_here,
                                                             scenario, prog)
        finally:
            with self._lock:
                self._progress.pop(h, None)
        rec = RunRecord(h, scenario, result, time.perf_counter() - t0, payload)
        self._store(rec)
        return rec

    async def run(self, scenarios: list[Scenario], client: str | None = None
                  ) -> tuple[list[RunRecord], bool]:
        """Results of ``scenarios`` (from the cache, a computation under way or queued, or a
        new one in the pool); returns them and whether all came from the cache. ``client``
        (default: :data:`~hashshift.web.security.CLIENT`) is who asks. Raises
        :class:`TooMuchWork` or :class:`Busy`."""
        if self.max_work is not None:
            work = work_of(scenarios)
            if work > self.max_work:
                raise TooMuchWork(work, self.max_work, len(scenarios))
        who = CLIENT.get() if client is None else client
        hashes = [scenario_hash(s) for s in scenarios]
        found: dict[str, RunRecord] = {}
        waits: dict[str, asyncio.Future[RunRecord]] = {}
        todo: list[tuple[str, Scenario]] = []
        for h, sc in zip(hashes, scenarios, strict=True):
            rec = self.get(h)
            if rec is not None:
                found[h] = rec
            elif h in self._inflight:
                waits[h] = self._inflight[h]
            elif all(h != t[0] for t in todo):
                todo.append((h, sc))
        self._joined += len(waits)  # counted from now: a test waits on this, not on time
        try:
            if todo:
                await self._compute_new(todo, who, found)
            for h, fut in waits.items():
                found[h] = await asyncio.shield(fut)
        finally:
            self._joined -= len(waits)
        return [found[h] for h in hashes], not todo and not waits

    def saturated(self) -> str | None:
        """Why a new run request would be refused whatever it asks (every slot busy and the
        queue full), or ``None``: the app refuses run requests then before reading them."""
        if self._active >= self.max_concurrent and len(self._waiters) >= self.max_queue:
            return (f"{self._active} scenario run(s) in progress and {len(self._waiters)} "
                    "waiting, the most this server runs and queues at once; try again when "
                    "one has finished")
        return None

    def _admit(self, who: str) -> None:
        """Refuse (:class:`Busy`) a request that may not compute or queue now."""
        held = self._clients.get(who, 0)
        if self.max_per_client is not None and held >= self.max_per_client:
            self.refused += 1
            raise Busy(f"this client has {held} scenario run(s) computing or queued, the most "
                       "one client may have; try again when it has finished")
        if self._active >= self.max_concurrent or self._waiters:
            if len(self._waiters) >= self.max_queue:
                self.refused += 1
                queue = (f" and {len(self._waiters)} waiting" if self.max_queue else "")
                raise Busy(f"{self._active} scenario run(s) in progress{queue}, the most this "
                           "server runs and queues at once; try again when one has finished")

    async def _slot(self) -> None:
        """Take a run slot, waiting in the queue for one when all are busy."""
        if self._active < self.max_concurrent and not self._waiters:
            self._active += 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except BaseException:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
            elif waiter.done() and not waiter.cancelled():
                self._release()  # handed a slot, then cancelled: pass it on
            raise

    def _release(self) -> None:
        """Give a run slot back: to the first waiter still waiting, or free it."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot changes hands; _active stays
                return
        self._active -= 1

    async def _compute_new(self, todo: list[tuple[str, Scenario]], who: str,
                           found: dict[str, RunRecord]) -> None:
        self._admit(who)
        loop = asyncio.get_running_loop()
        self._clients[who] = self._clients.get(who, 0) + 1
        futures = {h: loop.create_future() for h, _ in todo}
        for h, _ in todo:
            self._inflight[h] = futures[h]
        recs: list[RunRecord] = []
        try:
            await self._slot()
            slots = [self._slots.pop() for _ in todo]
            try:
                with self._lock:
                    for h, sc in todo:
                        self._progress[h] = _Progress(sc.scenario.name, sc.scenario.horizon_days,
                                                      sc.scenario.as_of)

                async def one(h: str, sc: Scenario, slot: int) -> RunRecord:
                    rec = await self._execute(h, sc, slot)
                    futures[h].set_result(rec)  # its waiters need not wait for the rest
                    return rec

                # a scenario and its baseline side by side, in two workers
                tasks = [asyncio.ensure_future(one(h, sc, slot))
                         for (h, sc), slot in zip(todo, slots, strict=True)]
                try:
                    recs.extend(await asyncio.gather(*tasks))
                except BaseException:
                    for task in tasks:
                        task.cancel()
                    await asyncio.gather(*tasks, return_exceptions=True)
                    raise
            finally:
                self._slots.extend(slots)
                self._release()
        except BaseException as exc:
            with self._lock:
                for h, _ in todo:
                    self._progress.pop(h, None)
            for fut in futures.values():
                if not fut.done():
                    fut.set_exception(exc)
                    fut.exception()  # mark retrieved: waiters re-raise it themselves
            raise
        finally:
            left = self._clients.get(who, 1) - 1
            if left > 0:
                self._clients[who] = left
            else:
                self._clients.pop(who, None)
            for h in futures:
                self._inflight.pop(h, None)
        for rec in recs:
            found[rec.hash] = rec
