"""Scenario runs for the web service: bounded, cached, off the event loop.

- A run's ID is the first 16 hex digits of the SHA-256 of the scenario's canonical JSON
  (:func:`scenario_hash`); finished runs stay in an in-memory LRU cache of ``cache_size`` runs.
- At most ``max_concurrent`` requests compute at once (:class:`Busy` beyond that: HTTP 429); a
  request for a scenario that is already being computed waits for that computation instead of
  starting its own.
- Computation happens in a thread pool of ``max_concurrent`` workers, so the server keeps
  answering other requests meanwhile; progress (days simulated) is readable while it runs.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from ..sim.engine import Result
from ..sim.scenario import Scenario
from .data import days, num, nums

__all__ = ["Busy", "RunManager", "RunRecord", "Runner", "baseline_of", "result_payload",
           "scenario_hash"]

#: The engine call: (scenario, progress callback(done, total)) -> Result.
Runner = Callable[[Scenario, Callable[[int, int], None]], Result]

#: World metrics sent to the browser (all are in the CSV download).
WORLD_METRICS = ("hashrate_ehs", "difficulty", "hashprice_usd_ph_day", "power_gw",
                 "emissions_mt_yr", "btc_usd", "exited_ehs", "in_transit_ehs")
TOP_REGIONS = 10


class Busy(RuntimeError):
    """Every run slot is taken; try again later (HTTP 429)."""


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
    if epochs:
        i = min(range(len(epochs["q50"])), key=lambda k: epochs["q50"][k] or 0.0)
        summary["largest_cut"] = {"retarget_height": epochs["retarget_height"][i],
                                  "date": epochs["retarget_date"][i],
                                  "change_pct": epochs["q50"][i], "q05": epochs["q05"][i],
                                  "q95": epochs["q95"][i]}
    return {"name": scenario.scenario.name, "as_of": str(scenario.scenario.as_of),
            "paths": int(result.config.get("paths", scenario.scenario.paths)),
            "dates": dates, "world": metrics, "regions": regions, "epochs": epochs,
            "summary": summary,
            "provenance": result.config.get("provenance", {}),
            "initial_hashrate_ehs": num(result.config.get("initial", {}).get("hashrate_ehs"))}


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
    done: int = 0
    started: float = field(default_factory=time.time)


class RunManager:
    """Bounded, cached scenario runs (see the module docstring)."""

    def __init__(self, max_concurrent: int = 2, cache_size: int = 16,
                 runner: Runner | None = None):
        if max_concurrent < 1:
            raise ValueError("max_concurrent must be >= 1")
        self.max_concurrent = max_concurrent
        self.cache_size = max(1, cache_size)
        self._runner: Runner = runner or default_runner
        self._cache: OrderedDict[str, RunRecord] = OrderedDict()
        self._inflight: dict[str, asyncio.Future[RunRecord]] = {}
        self._progress: dict[str, _Progress] = {}
        self._active = 0
        self._lock = threading.Lock()  # cache and progress are touched by worker threads
        self._pool = ThreadPoolExecutor(max_workers=max_concurrent,
                                        thread_name_prefix="hashshift-run")

    # -- state -----------------------------------------------------------------------------
    @property
    def active(self) -> int:
        return self._active

    def get(self, run_hash: str) -> RunRecord | None:
        with self._lock:
            rec = self._cache.get(run_hash)
            if rec is not None:
                self._cache.move_to_end(run_hash)
            return rec

    def cached(self) -> list[RunRecord]:
        """The cached runs, least recently used first."""
        with self._lock:
            return list(self._cache.values())

    def running(self) -> list[dict[str, Any]]:
        with self._lock:
            return [{"hash": h, "name": p.name, "done": p.done, "total": p.total,
                     "seconds": round(time.time() - p.started, 1)}
                    for h, p in self._progress.items()]

    def _store(self, rec: RunRecord) -> None:
        with self._lock:
            self._cache[rec.hash] = rec
            self._cache.move_to_end(rec.hash)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- running ---------------------------------------------------------------------------
    def _compute(self, jobs: list[tuple[str, Scenario]]) -> list[RunRecord]:
        out = []
        for h, sc in jobs:
            prog = self._progress[h]

            def report(done: int, total: int, prog: _Progress = prog) -> None:
                prog.done, prog.total = done, total

            t0 = time.perf_counter()
            try:
                result = self._runner(sc, report)
                rec = RunRecord(h, sc, result, time.perf_counter() - t0,
                                result_payload(result, sc))
                self._store(rec)
            finally:
                with self._lock:
                    self._progress.pop(h, None)
            out.append(rec)
        return out

    async def run(self, scenarios: list[Scenario]) -> tuple[list[RunRecord], bool]:
        """Results of ``scenarios`` (from the cache, a computation under way, or a new one in
        the pool); returns them and whether all came from the cache. Raises :class:`Busy`."""
        loop = asyncio.get_running_loop()
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
        if todo:
            if self._active >= self.max_concurrent:
                raise Busy(f"{self._active} scenario run(s) in progress, the most this server "
                           "runs at once; try again when one has finished")
            self._active += 1
            futures = {h: loop.create_future() for h, _ in todo}
            for h, sc in todo:
                self._inflight[h] = futures[h]
                with self._lock:
                    self._progress[h] = _Progress(sc.scenario.name, sc.scenario.horizon_days)
            try:
                recs = await loop.run_in_executor(self._pool, self._compute, todo)
            except BaseException as exc:
                for fut in futures.values():
                    if not fut.done():
                        fut.set_exception(exc)
                        fut.exception()  # mark retrieved: waiters re-raise it themselves
                raise
            finally:
                self._active -= 1
                for h in futures:
                    self._inflight.pop(h, None)
            for rec in recs:
                futures[rec.hash].set_result(rec)
                found[rec.hash] = rec
        for h, fut in waits.items():
            found[h] = await asyncio.shield(fut)
        return [found[h] for h in hashes], not todo and not waits
