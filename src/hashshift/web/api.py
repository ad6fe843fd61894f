"""The JSON API under ``/api`` (schema at ``/openapi.json``)."""

from __future__ import annotations

import asyncio
import json
import tomllib
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from .. import __version__
from ..sim.scenario import LIMITS, Scenario, region_problems
from . import data
from .runs import Busy, RunManager, RunRecord, baseline_of, scenario_hash

__all__ = ["DOWNLOADS", "router"]

router = APIRouter(prefix="/api")

#: Files of a run that can be downloaded: name -> (media type, what it is).
DOWNLOADS: dict[str, tuple[str, str]] = {
    "daily.csv": ("text/csv; charset=utf-8",
                  "one row per day × region × metric: mean and quantiles over the paths"),
    "epochs.csv": ("text/csv; charset=utf-8",
                   "one row per epoch × metric: retarget, duration, hashrate quantiles"),
    "config.json": ("application/json", "the resolved run: scenario, inputs, provenance, seed"),
    "result.json": ("application/json", "what the dashboard plots: medians and bands"),
    "scenario.toml": ("application/toml; charset=utf-8", "the scenario as run (TOML)"),
    "scenario.json": ("application/json", "the scenario as run (JSON)"),
}

Price = Annotated[float, Query(gt=0, le=1.0, allow_inf_nan=False,
                               description="electricity price [USD/kWh]")]


def _settings(request: Request) -> Any:
    return request.app.state.settings


def _manager(request: Request) -> RunManager:
    manager: RunManager = request.app.state.runs
    return manager


def _unprocessable(field: str, msg: str, kind: str = "value_error") -> RequestValidationError:
    loc: tuple[Any, ...] = ("body", *_split_field(field))
    return RequestValidationError([{"type": kind, "loc": loc, "msg": msg}])


def _split_field(field: str) -> tuple[Any, ...]:
    out: list[Any] = []
    for part in field.replace("]", "").split("."):
        name, *idx = part.split("[")
        out.append(name)
        out += [int(i) for i in idx]
    return tuple(out)


# ---------------------------------------------------------------------------------------------
# service
# ---------------------------------------------------------------------------------------------
@router.get("", summary="What this API offers")
def index(request: Request) -> dict[str, Any]:
    spec = request.app.openapi()
    routes = [(path, ",".join(sorted(m.upper() for m in ops)))
              for path, ops in spec["paths"].items() if path.startswith("/api")]
    return {"version": __version__, "openapi": "/openapi.json",
            "endpoints": [{"path": p, "methods": m,
                           "summary": next(iter(spec["paths"][p].values())).get("summary", "")}
                          for p, m in routes]}


@router.get("/limits", summary="Bounds of scenario runs in this service")
def limits(request: Request) -> dict[str, Any]:
    s = _settings(request)
    return {"max_paths": s.max_paths, "max_horizon_days": s.max_horizon_days,
            "max_concurrent_runs": s.max_concurrent_runs, "cache_size": s.cache_size,
            "max_body_bytes": s.max_body_bytes, "engine_limits": dict(LIMITS),
            "version": __version__}


@router.get("/overview", summary="Headline numbers (home page)")
def overview() -> dict[str, Any]:
    return data.overview()


# ---------------------------------------------------------------------------------------------
# observed layer
# ---------------------------------------------------------------------------------------------
@router.get("/history", summary="Hashrate per day (block counts, 1 and 7 days) and per epoch, "
                                 "difficulty")
def history() -> dict[str, Any]:
    return data.history_view()


@router.get("/pools", summary="Mining pools' shares of the blocks of a period, from the local "
                               "store (mempool.space)")
def pools(
    period: Annotated[str | None, Query(
        pattern=r"^(24h|3d|1w|1m|3m|6m|1y|2y|3y|4y|all)$",
        description="24h, 3d, 1w, 1m, 3m, 6m, 1y, 2y, 3y, 4y or all (default: 1w when "
                    "stored, else the shortest stored)")] = None,
) -> dict[str, Any]:
    return data.pools_view(period)


@router.get("/hashprice", summary="Hashprice per day at the difficulty in force, and monthly")
def hashprice() -> dict[str, Any]:
    return data.hashprice_view()


@router.get("/retarget", summary="Projected next retarget of the current epoch")
def retarget(
    blocks: Annotated[int | None, Query(ge=2, le=2016, description=(
        "blocks of the current epoch mined so far, its first block included"))] = None,
    elapsed_hours: Annotated[float | None, Query(gt=0, le=24 * 7 * 16, allow_inf_nan=False,
                                                 description=(
        "[h] from the epoch's first block to the latest block"))] = None,
) -> dict[str, Any]:
    return data.retarget_view(blocks, elapsed_hours)


@router.get("/map/months", summary="Months of the mining map")
def map_months() -> dict[str, Any]:
    return {"months": data.map_months()}


@router.get("/map", summary="Shares of the global hashrate by country or Chinese province")
def mining_map(
    month: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$",
                                       description="YYYY-MM (default: the newest)")] = None,
    level: Annotated[str, Query(pattern="^(country|province)$")] = "country",
) -> dict[str, Any]:
    return data.map_view(month, level)


@router.get("/nowcast/months", summary="Months of the map: observed (CCAF) and nowcast")
def nowcast_months() -> dict[str, Any]:
    return data.nowcast_months()


@router.get("/nowcast", summary="One month's map, observed or nowcast (median, 90 % interval)")
def nowcast(
    month: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$", description=(
        "YYYY-MM, observed or nowcast (default: the newest nowcast month)"))] = None,
    level: Annotated[str, Query(pattern="^(country|province)$")] = "country",
) -> dict[str, Any]:
    return data.nowcast_view(month, level)


@router.get("/nowcast/series", summary="Shares over time, CCAF's first month to the nowcast's last")
def nowcast_series(
    level: Annotated[str, Query(pattern="^(country|province)$")] = "country",
) -> dict[str, Any]:
    return data.nowcast_series(level)


@router.get("/events", summary="Natural experiments: regions whose miners stopped on known dates")
def events() -> dict[str, Any]:
    return data.events_view()


@router.get("/events/{name}", summary="One natural experiment measured from the chain")
def event(name: Annotated[str, Path(pattern=r"^[a-z0-9_]{1,60}$",
                                    description="the event's name, as in /api/events")]
          ) -> dict[str, Any]:
    return data.event_view(name)


@router.get("/freshness", summary="How far each bundled dataset reaches and how old it is")
def freshness(
    as_of: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}$", description=(
        "YYYY-MM-DD: also say what a run starting that day extrapolates"))] = None,
) -> dict[str, Any]:
    return data.freshness_view(data.today(), as_of)


@router.get("/energy", summary="CBECI power and energy bounds at an electricity price")
def energy(price: Price = 0.05) -> dict[str, Any]:
    return data.energy_view(round(price, 4))


@router.get("/energy/emissions",
            summary="Network emissions by month with CBECI's bounds, and by country for a month")
def energy_emissions(
    price: Price = 0.05,
    month: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$", description=(
        "YYYY-MM: the month of the per-country table (default: CCAF's last published "
        "month)"))] = None,
) -> dict[str, Any]:
    return data.emissions_view(round(price, 4), month)


@router.get("/machines", summary="The ASIC catalogue")
def machines() -> dict[str, Any]:
    return {"machines": data.machines_view()}


@router.get("/economics", summary="Hashprice and a machine's break-even electricity price")
def economics(
    machine: Annotated[str, Query(min_length=1, max_length=100,
                                  description="model, exactly as in /api/machines")],
    price: Price = 0.05,
    month: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$",
                                       description="market month YYYY-MM (default: newest)")]
    = None,
) -> dict[str, Any]:
    return data.economics_view(machine, round(price, 4), month)


# ---------------------------------------------------------------------------------------------
# scenarios
# ---------------------------------------------------------------------------------------------
def _example_info(name: str, text: str) -> dict[str, Any]:
    from ..sim.scenario import parse_scenario

    sc = parse_scenario(text, f"example {name}")
    bans = [e for e in sc.event if e.kind == "ban"]
    return {"name": name, "title": sc.scenario.name, "description": sc.scenario.description,
            "as_of": str(sc.scenario.as_of), "horizon_days": sc.scenario.horizon_days,
            "paths": sc.scenario.paths, "events": len(sc.event), "bans": len(bans)}


@router.get("/regions", summary="The region tree: mining countries and their subdivisions, "
                                 "then every other country")
def regions() -> dict[str, Any]:
    return data.regions_view()


@router.get("/scenario/schema", summary="JSON Schema of the scenario format")
def scenario_schema() -> dict[str, Any]:
    return data.scenario_schema()


@router.get("/examples", summary="The shipped example scenarios")
def examples() -> dict[str, Any]:
    return {"examples": [_example_info(n, t) for n, t in data.examples().items()]}


def _region_names(sc: Scenario) -> dict[str, str]:
    from ..regions import region_name

    codes = {r.code for r in sc.region} | {str(getattr(e, "region", None)) for e in sc.event
                                           if getattr(e, "region", None)}
    out = {}
    for code in sorted(codes):
        try:
            out[code] = region_name(code)
        except LookupError:
            continue
    return out


@router.get("/examples/{name}", summary="One shipped example: scenario JSON and TOML")
def example(name: str) -> dict[str, Any]:
    from ..sim.scenario import parse_scenario

    shipped = data.examples()
    if name not in shipped:  # a whitelist: the name never reaches the filesystem
        raise data.NotFound(f"no example {name!r}; examples: {', '.join(shipped)}")
    text = shipped[name]
    sc = parse_scenario(text, f"example {name}")
    return {**_example_info(name, text), "scenario": sc.model_dump(mode="json"), "toml": text,
            "region_names": _region_names(sc)}


def _check_limits(request: Request, sc: Scenario) -> None:
    s = _settings(request)
    errors = []
    meta = sc.scenario
    if meta.paths > s.max_paths:
        errors.append({"type": "less_than_equal", "loc": ("body", "scenario", "paths"),
                       "msg": f"paths {meta.paths:,} is more than this web service runs "
                              f"(at most {s.max_paths:,}; the command line allows "
                              f"{LIMITS['paths']:,})"})
    if meta.horizon_days > s.max_horizon_days:
        errors.append({"type": "less_than_equal", "loc": ("body", "scenario", "horizon_days"),
                       "msg": f"horizon_days {meta.horizon_days:,} is more than this web "
                              f"service runs (at most {s.max_horizon_days:,})"})
    for where, msg in region_problems(sc):
        errors.append({"type": "value_error", "loc": ("body", *_split_field(where)),
                       "msg": msg})
    if errors:
        raise RequestValidationError(errors)


def _downloads(run_hash: str) -> dict[str, str]:
    return {name: f"/api/runs/{run_hash}/{name}" for name in DOWNLOADS}


def _run_json(rec: RunRecord) -> dict[str, Any]:
    return {"hash": rec.hash, "seconds": round(rec.seconds, 2), "result": rec.payload,
            "downloads": _downloads(rec.hash)}


@router.post("/scenario/run", summary="Run a scenario (and its baseline without bans)",
             responses={413: {"description": "request body too large"},
                        422: {"description": "invalid scenario; `problems` names each field"},
                        429: {"description": "every run slot is busy; retry later"}})
async def run_scenario(
    request: Request,
    scenario: Annotated[Scenario, Body(description="a scenario, as `hashshift scenario "
                                                   "schema` describes it")],
    baseline: Annotated[bool, Query(description="also run the same scenario with its bans "
                                                "removed, for comparison")] = True,
) -> dict[str, Any]:
    from ..sim.engine import EngineError

    _check_limits(request, scenario)
    base = baseline_of(scenario) if baseline else None
    jobs = [scenario] + ([base] if base is not None else [])
    try:
        recs, cached = await _manager(request).run(jobs)
    except Busy:
        raise
    except (EngineError, LookupError) as exc:
        raise RequestValidationError([{"type": "value_error", "loc": ("body", "scenario"),
                                       "msg": str(exc)}]) from None
    main = recs[0]
    return {**_run_json(main), "cached": cached, "scenario": scenario.model_dump(mode="json"),
            "baseline": _run_json(recs[1]) if len(recs) > 1 else None,
            "baseline_note": None if base is not None else (
                "not requested" if not baseline else "the scenario has no ban: nothing to "
                                                     "compare")}


@router.post("/scenario/parse", summary="Validate a TOML scenario; returns its JSON",
             responses={422: {"description": "invalid TOML or scenario"}})
async def parse_scenario(request: Request) -> dict[str, Any]:
    from ..sim.scenario import ScenarioError
    from ..sim.scenario import parse_scenario as parse

    raw = await request.body()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _unprocessable("body", "the TOML text must be UTF-8") from None
    try:
        sc = parse(text, "request")
    except ScenarioError as exc:
        raise RequestValidationError(
            [{"type": "value_error", "loc": ("body", *_split_field(p.split(":", 1)[0])),
              "msg": p.split(":", 1)[1].strip() if ":" in p else p}
             for p in exc.problems]) from None
    from ..sim.engine import check

    # validate fully, as a run would: region codes, then the data known on as_of
    _, problems = await asyncio.to_thread(check, sc)
    if problems:
        raise RequestValidationError([{"type": "value_error",
                                       "loc": ("body", *_split_field(where)), "msg": msg}
                                      for where, msg in problems])
    return {"hash": scenario_hash(sc), "scenario": sc.model_dump(mode="json"),
            "region_names": _region_names(sc)}


@router.get("/runs", summary="Runs in the cache (newest last)")
def runs(request: Request) -> dict[str, Any]:
    m = _manager(request)
    recs = m.cached()
    return {"runs": [{"hash": r.hash, "name": r.scenario.scenario.name,
                      "seconds": round(r.seconds, 2), "downloads": _downloads(r.hash)}
                     for r in recs], "cache_size": m.cache_size}


@router.get("/runs/active", summary="Runs being computed, with progress in days")
def active(request: Request) -> dict[str, Any]:
    m = _manager(request)
    return {"active": m.active, "max": m.max_concurrent, "runs": m.running()}


def _record(request: Request, run_hash: str) -> RunRecord:
    rec = _manager(request).get(run_hash)
    if rec is None:
        raise data.NotFound(f"no run {run_hash!r} in this server's cache (runs are kept in "
                            "memory; POST /api/scenario/run computes it again)")
    return rec


@router.get("/runs/{run_hash}", summary="A cached run's result")
def run_result(request: Request, run_hash: str) -> dict[str, Any]:
    rec = _record(request, run_hash)
    return {**_run_json(rec), "scenario": rec.scenario.model_dump(mode="json")}


@router.get("/runs/{run_hash}/{name}", summary="Download a file of a cached run",
            response_class=Response,
            responses={200: {"content": {t.split(";")[0]: {} for t, _ in DOWNLOADS.values()}}})
async def run_file(request: Request, run_hash: str, name: str) -> Response:
    if name not in DOWNLOADS:
        raise data.NotFound(f"no file {name!r}; files: {', '.join(DOWNLOADS)}")
    rec = _record(request, run_hash)
    body = await asyncio.to_thread(_file_body, rec, name)
    media, _ = DOWNLOADS[name]
    return Response(body, media_type=media, headers={
        "content-disposition": f'attachment; filename="hashshift-{rec.hash}-{name}"',
        "cache-control": "no-store"})


def _file_body(rec: RunRecord, name: str) -> bytes:
    if name == "daily.csv":
        return rec.result.daily.to_csv(index=False, date_format="%Y-%m-%d").encode()
    if name == "epochs.csv":
        return rec.result.epochs.to_csv(index=False).encode()
    if name == "config.json":
        return json.dumps(rec.result.config, indent=2, default=str).encode()
    if name == "result.json":
        return json.dumps(rec.payload, separators=(",", ":")).encode()
    if name == "scenario.toml":
        text = rec.scenario.to_toml()
        tomllib.loads(text)  # the writer's output must read back
        return text.encode()
    return json.dumps(rec.scenario.model_dump(mode="json"), indent=2).encode()


def validation_problems(exc: RequestValidationError | ValidationError) -> list[dict[str, Any]]:
    """Errors as ``{"field", "msg", "type", "loc"}`` with the field in the scenario file's
    notation (``scenario.paths``, ``event[2].effective``)."""
    out = []
    for e in exc.errors():
        loc = tuple(e.get("loc", ()))
        name = "body" if e.get("type") == "json_invalid" else field_name(loc)
        out.append({"field": name, "msg": str(e.get("msg", "")),
                    "type": str(e.get("type", "")), "loc": [str(x) if not isinstance(x, int)
                                                            else x for x in loc]})
    return out


_EVENT_KINDS = {"ban", "curtailment", "seasonal", "price_shock", "tax"}


def field_name(loc: tuple[Any, ...]) -> str:
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header"):
        where = parts.pop(0)
        if not parts:
            return "body" if where == "body" else where
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        elif p in _EVENT_KINDS and out.endswith("]"):
            continue
        else:
            out += ("." if out else "") + str(p)
    return out or "body"


def busy_response(exc: Busy) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=429, headers={"retry-after": "5"})
