"""Scenario files: TOML validated by pydantic models (``extra="forbid"``).

A scenario says when the forecast starts (``as_of``: the engine may only use data before it), how
long it runs, how many Monte Carlo paths, the seed, and what happens: regions and their electricity
prices, capacity and policy; new machine deliveries; the bitcoin price path; fees; and events
(``ban``, ``curtailment``, ``seasonal``, ``price_shock``, ``tax``). ``hashshift scenario schema``
prints the JSON Schema; docs/scenarios.md documents every field.
"""

from __future__ import annotations

import json
import tomllib
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

__all__ = [
    "LIMITS",
    "Ban",
    "Curtailment",
    "Event",
    "FeeModel",
    "MachineClass",
    "Migration",
    "Miners",
    "PriceModel",
    "PriceShock",
    "RegionSpec",
    "Scenario",
    "ScenarioError",
    "Seasonal",
    "Supply",
    "Tax",
    "describe_event",
    "load_scenario",
    "parse_scenario",
    "region_problems",
    "with_overrides",
    "scenario_schema",
]

#: Bounds a run may not exceed (the web service lowers them further).
LIMITS = {"paths": 100_000, "horizon_days": 3_650}

Share = Annotated[float, Field(ge=0.0, le=1.0)]
Positive = Annotated[float, Field(gt=0.0)]
NonNeg = Annotated[float, Field(ge=0.0)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Meta(_Model):
    """``[scenario]``: identity and run size."""

    name: str = Field(min_length=1, max_length=200,
                      description="scenario name, shown in summaries and reports")
    description: str = Field(default="", description="free text")
    as_of: date = Field(description="forecast start; only data before this date are used")
    horizon_days: int = Field(ge=1, le=LIMITS["horizon_days"],
                              description="[days] days simulated from `as_of`")
    paths: int = Field(ge=1, le=LIMITS["paths"], description="[Monte Carlo paths] number of "
                       "paths; each draws the uncertain inputs afresh")
    seed: int = Field(ge=0, description="seed of numpy.random.SeedSequence")


class MachineClass(_Model):
    """An efficiency class of machines (``[[machine_class]]``)."""

    name: str = Field(min_length=1, description="class name (the keys of `supply.mix_pct`)")
    efficiency_j_th: Positive = Field(description="[J/TH] energy per unit of hashing")
    share_pct: NonNeg = Field(description="[%] of the initial fleet's hashrate")
    release: date | None = Field(default=None, description="first deliveries of this class")


class Initial(_Model):
    """``[initial]``: the state at ``as_of``; every field defaults to the observed layer."""

    hashrate_ehs: Positive | None = Field(default=None, le=1e6,
                                          description="[EH/s] network hashrate")
    start: Literal["auto", "nowcast", "published"] = Field(
        default="auto", description="where the starting map comes from when neither shares_pct "
        "nor shares_month is given: `published`: the newest month CCAF had released by as_of, "
        "carried forward; `nowcast`: the nowcast of the month before as_of from what was public "
        "then (hashshift.nowcast; each path draws its own map from the nowcast's particles); "
        "`auto`: the nowcast when that month was not yet published, else the published month")
    shares_month: str | None = Field(
        default=None, pattern=r"^\d{4}-\d{2}$",
        description="mining-map month (YYYY-MM) to start from; default: the last month "
                    "ending before as_of")
    shares_pct: dict[str, NonNeg] | None = Field(
        default=None, description="[%] share of global hashrate by region code (sums to 100)")
    split_pct: dict[str, Annotated[float, Field(gt=0.0, lt=100.0)]] | None = Field(
        default=None, description="[%] for a region the mining map does not list on its own "
        "(e.g. US-TX), its share of the map region that holds it (its country, or OTHER for a "
        "country the map lumps together); default: the bundled published figure, if any was "
        "public by as_of")
    share_concentration: NonNeg = Field(
        default=200.0, description="[1] Dirichlet concentration of the starting shares across "
        "paths (CCAF's map is a sample of pools; smaller = more uncertain); 0 = exact shares")
    hashrate_uncertainty: bool = Field(
        default=True, description="draw each path's starting hashrate from the epoch estimate's "
                                  "Gamma interval (see hashshift.history)")
    fleet_mix: Literal["cbeci", "cbeci_lower", "cbeci_upper", "age"] = Field(
        default="cbeci", description="starting mix of the default machine classes: `cbeci` "
        "tilts the age mix so that the fleet draws the CBECI best guess's power per EH/s of the "
        "last month public before as_of (`cbeci_lower` / `cbeci_upper`: its bounds), `age` keeps "
        "the age mix (hashshift.sim.fleet); ignored when [[machine_class]] gives the shares")


class RegionSpec(_Model):
    """``[[region]]``: a region's economics and policy (overrides the bundled defaults)."""

    code: str = Field(min_length=2, description="ISO 3166-1/-2 code, e.g. CN-XJ, US-TX, KZ")
    price_usd_kwh: NonNeg | None = Field(default=None, description="[USD/kWh] typical miner tariff")
    seasonal_price: list[Positive] | None = Field(
        default=None, min_length=12, max_length=12,
        description="[factor] price multiplier per month, January first")
    capacity_mw: NonNeg | None = Field(default=None, description="[MW] power available to miners")
    growth_mw_month: NonNeg | None = Field(default=None, description="[MW/month] capacity growth")
    intensity_g_kwh: NonNeg | None = Field(default=None, description="[gCO2/kWh] grid intensity")
    policy_risk: Share | None = Field(
        default=None, description="[0..1] perceived risk of a future ban (migration choice)")


class Supply(_Model):
    """``[supply]``: new machines delivered to the market."""

    deliveries_ehs_month: NonNeg | None = Field(
        default=None, description="[EH/s per month]; default: the trend of the 180 days before "
                                  "as_of")
    mix_pct: dict[str, NonNeg] | None = Field(
        default=None, description="[%] of deliveries by machine-class name; default: the newest "
                                  "two classes released before each day")
    elasticity: NonNeg = Field(
        default=1.0, le=5.0, description="[1] deliveries scale with (hashprice lag_days earlier "
                                         "/ mean hashprice of the year before as_of) ** this")
    lag_days: int = Field(default=90, ge=0, le=730, description="[days] from order to delivery")
    uncertainty: NonNeg = Field(default=0.3, le=2.0, description="[log] path-to-path spread of "
                                "the delivery rate")


class PriceModel(_Model):
    """``[price]``: the bitcoin price path [USD/BTC]."""

    kind: Literal["historical", "fixed", "gbm"] = Field(
        default="historical",
        description="`historical`: the bundled monthly means; `fixed`: `usd` (default: the last "
                    "monthly mean before `as_of`); `gbm`: geometric Brownian motion from `usd` "
                    "with `drift_pct_yr` and `volatility_pct_yr`")
    usd: Positive | None = Field(default=None, description="[USD/BTC] fixed level or GBM start")
    drift_pct_yr: float = Field(default=0.0, ge=-100, le=500, description="[%/yr] GBM drift")
    volatility_pct_yr: NonNeg = Field(default=70.0, le=500, description="[%/yr] GBM volatility")


class FeeModel(_Model):
    """``[fees]``: transaction fees per block [BTC]."""

    kind: Literal["historical", "fixed", "recent"] = Field(
        default="historical", description="`historical`: the realised monthly means (data "
        "published after as_of: a conditional forecast); `fixed`: `btc_per_block`; `recent`: "
        "the mean per block of the last three months public on as_of")
    btc_per_block: NonNeg | None = Field(default=None, description="[BTC/block] for kind=fixed")


class Miners(_Model):
    """``[miners]``: how machines decide to run."""

    site_price_sigma: Positive = Field(
        default=0.35, le=3.0, description="[log USD/kWh] spread of site tariffs within a region")
    hysteresis_pct: NonNeg = Field(default=10.0, le=100, description="[%] margin band before "
                                   "switching on or off")
    startup_lag_days: NonNeg = Field(default=3.0, le=60, description="[days] to bring idle "
                                     "machines back online")
    pue: float = Field(default=1.10, ge=1.0, le=2.0, description="[ratio] power usage "
                       "effectiveness")
    uptime: Share = Field(default=0.97, description="[share] of running machines hashing")


class Migration(_Model):
    """``[migration]``: what displaced machines do."""

    delay_median_days: Positive = Field(default=75.0, le=720, description="[days] median "
                                        "logistics delay (lognormal)")
    delay_sigma: Positive = Field(default=0.5, le=3.0, description="[log days] delay spread")
    delay_uncertainty: NonNeg = Field(default=0.25, le=2.0, description="[log] path-to-path "
                                      "spread of the median delay")
    beta_price: float = Field(default=-40.0, ge=-1000, le=1000,
                              description="[1/(USD/kWh)] logit weight of price")
    beta_risk: float = Field(default=-4.0, ge=-1000, le=1000,
                             description="[1] logit weight of policy risk")
    beta_presence: float = Field(default=1.0, ge=-1000, le=1000,
                                 description="[1] weight of log existing presence")
    beta_distance: float = Field(default=-0.1, ge=-1000, le=1000,
                                 description="[1/1000 km] weight of distance")
    exit_payback_days: Positive = Field(default=365.0, description="[days] a machine relocates "
                                        "only if its margin repays shipping within this time")
    shipping_usd_th: NonNeg = Field(default=3.0, description="[USD/TH] cost to move a machine")
    build_days: Positive = Field(default=120.0, le=1000, description="[days] for hosts to "
                                 "energise new capacity for machines waiting in a region")
    build_days_uncertainty: NonNeg = Field(
        default=0.5, le=2.0, description="[log] path-to-path spread of build_days (lognormal "
        "around it; 0.5 puts 90 % of paths between 0.44× and 2.3×): a container site "
        "energises in weeks, a new substation takes a year")


# Descriptions of the fields every event kind has.
_KIND = "the event type; it decides which other fields apply"
_REGION = ("ISO 3166-1/-2 region code (e.g. `CN-XJ`, `US-TX`, `KZ`); a country code covers its "
           "subdivisions")
_START = "first day (inclusive)"
_END = "last day (inclusive, on or after `start`)"
_SOURCE = "where the dates and figures come from (free text, shown in summaries)"


class Ban(_Model):
    kind: Literal["ban"] = Field(description=_KIND)
    region: str = Field(description=_REGION)
    announced: date = Field(description="date the ban becomes known: from then on no new "
                                        "machines arrive in the region")
    effective: date = Field(description="date enforcement starts (on or after `announced`); it "
                                        "then ramps over `ramp_down_days`")
    enforcement: Share = Field(description="[share] of the region's hashrate that must stop")
    underground: Share = Field(default=0.0, description="[share] of the stopped hashrate that "
                               "keeps running covertly")
    underground_uncertainty: Share = Field(default=0.0, description="[share] ± path-to-path "
                                           "spread of the underground share")
    ramp_down_days: int = Field(default=0, ge=0, le=365, description="[days] to full enforcement")
    enforcement_uncertainty: Share = Field(default=0.0, description="[share] ± path-to-path "
                                           "spread of enforcement")
    source: str = Field(default="", description=_SOURCE)

    @model_validator(mode="after")
    def _dates(self) -> Ban:
        if self.effective < self.announced:
            raise ValueError(f"effective ({self.effective}) is before announced "
                             f"({self.announced}); a ban takes effect on or after its announcement")
        return self


class Curtailment(_Model):
    kind: Literal["curtailment"] = Field(description=_KIND)
    region: str = Field(description=_REGION)
    start: date = Field(description=_START)
    end: date = Field(description=_END)
    share: Share = Field(description="[share] of the region's running hashrate switched off")
    recurring: Literal["none", "yearly"] = Field(
        default="none", description="`yearly` repeats the same calendar window every year")
    source: str = Field(default="", description=_SOURCE)

    @model_validator(mode="after")
    def _dates(self) -> Curtailment:
        if self.end < self.start:
            raise ValueError(f"end ({self.end}) is before start ({self.start})")
        return self


class Seasonal(_Model):
    kind: Literal["seasonal"] = Field(description=_KIND)
    region: str = Field(description=_REGION)
    months: list[Annotated[int, Field(ge=1, le=12)]] = Field(
        min_length=1, description="months it applies to (1 = January)")
    price_multiplier: Positive = Field(
        default=1.0, description="[factor] electricity price multiplier in those months")
    capacity_multiplier: NonNeg = Field(
        default=1.0, description="[factor] capacity multiplier in those months (e.g. dry season)")
    source: str = Field(default="", description=_SOURCE)


class PriceShock(_Model):
    kind: Literal["price_shock"] = Field(description=_KIND)
    target: Literal["electricity", "btc"] = Field(
        default="electricity",
        description="the price shocked: `electricity` (of `region`, or all regions) or `btc`")
    region: str | None = Field(default=None, description="electricity shocks: one region or all")
    start: date = Field(description=_START)
    end: date | None = Field(default=None, description=_END)
    multiplier: Positive = Field(description="[factor] multiplier on the price while the shock "
                                             "lasts")
    source: str = Field(default="", description=_SOURCE)

    @model_validator(mode="after")
    def _dates(self) -> PriceShock:
        if self.end is not None and self.end < self.start:
            raise ValueError(f"end ({self.end}) is before start ({self.start})")
        return self


class Tax(_Model):
    kind: Literal["tax"] = Field(description=_KIND)
    region: str = Field(description=_REGION)
    start: date = Field(description=_START)
    usd_kwh: NonNeg = Field(default=0.0, description="[USD/kWh] levy on electricity")
    usd_th_day: NonNeg = Field(default=0.0, description="[USD/(TH/s)/day] levy on hashrate")
    source: str = Field(default="", description=_SOURCE)


Event = Annotated[Ban | Curtailment | Seasonal | PriceShock | Tax, Field(discriminator="kind")]


class Scenario(_Model):
    """A whole scenario file."""

    scenario: Meta
    initial: Initial = Initial()
    machine_class: list[MachineClass] | None = Field(
        default=None, description="efficiency classes; default: the bundled six classes")
    region: list[RegionSpec] = []
    supply: Supply = Supply()
    price: PriceModel = PriceModel()
    fees: FeeModel = FeeModel()
    miners: Miners = Miners()
    migration: Migration = Migration()
    event: list[Event] = []

    @field_validator("region")
    @classmethod
    def _unique_regions(cls, v: list[RegionSpec]) -> list[RegionSpec]:
        seen: set[str] = set()
        for r in v:
            if r.code in seen:
                raise ValueError(f"region {r.code!r} is listed twice")
            seen.add(r.code)
        return v

    @model_validator(mode="after")
    def _consistency(self) -> Scenario:
        if self.price.kind == "fixed" and self.price.usd is None:
            raise ValueError("price.usd is required when price.kind = 'fixed'")
        if self.fees.kind == "fixed" and self.fees.btc_per_block is None:
            raise ValueError("fees.btc_per_block is required when fees.kind = 'fixed'")
        if self.initial.shares_pct is not None:
            total = sum(self.initial.shares_pct.values())
            if abs(total - 100.0) > 0.1:
                raise ValueError(f"initial.shares_pct sums to {total:.2f}, not 100 ± 0.1")
        end = self.scenario.as_of + timedelta(days=self.scenario.horizon_days - 1)
        for i, ev in enumerate(self.event):
            first = getattr(ev, "announced", None) or getattr(ev, "start", None)
            if first is not None and first > end:
                what = "announced" if hasattr(ev, "announced") else "start"
                raise ValueError(f"event[{i}].{what} {first} is after the horizon ends ({end}: "
                                 f"as_of + horizon_days − 1); move it or lengthen the horizon")
        if self.machine_class is not None:
            total = sum(c.share_pct for c in self.machine_class)
            if abs(total - 100.0) > 0.1:
                raise ValueError(f"machine_class share_pct sums to {total:.2f}, not 100 ± 0.1")
            names = [c.name for c in self.machine_class]
            if len(set(names)) != len(names):
                raise ValueError("machine_class names must be unique")
        return self

    def to_toml(self) -> str:
        """The scenario as TOML (round-trips through :func:`parse_scenario`)."""
        return _dump_toml(self.model_dump(exclude_none=True))


class ScenarioError(ValueError):
    """A scenario that does not validate; the message names each field, value and rule."""

    def __init__(self, problems: list[str], source: str = "scenario"):
        self.problems = problems
        super().__init__(f"{source}: {len(problems)} problem(s):\n  " + "\n  ".join(problems))


def with_overrides(sc: Scenario, *, paths: int | None = None, horizon_days: int | None = None,
                   seed: int | None = None) -> tuple[Scenario, list[str]]:
    """The scenario with its run size changed (a quick preview: fewer paths, a shorter horizon).
    Events that start after a shortened horizon are left out and named in the second value
    (the file's own horizon holds them; a file whose events fall after its horizon is invalid).
    Raises :class:`pydantic.ValidationError` for values out of bounds."""
    data = sc.model_dump()
    data["scenario"].update({k: v for k, v in (("paths", paths), ("horizon_days", horizon_days),
                                               ("seed", seed)) if v is not None})
    dropped: list[str] = []
    if horizon_days is not None:
        end = sc.scenario.as_of + timedelta(days=horizon_days - 1)
        keep = []
        for i, ev in enumerate(sc.event):
            first = getattr(ev, "announced", None) or getattr(ev, "start", None)
            if first is not None and first > end:
                dropped.append(f"event[{i}] ({ev.kind} {getattr(ev, 'region', '') or ''} from "
                               f"{first}) starts after the shortened horizon ({end})")
            else:
                keep.append(data["event"][i])
        data["event"] = keep
    return Scenario.model_validate(data), dropped


def region_problems(sc: Scenario) -> list[tuple[str, str]]:
    """Region codes of a scenario that are not ISO 3166 codes: ``(field, message)`` pairs, one
    per offending field (``region[0].code``, ``event[2].region``, ``initial.shares_pct.XX``)."""
    from ..regions import UnknownRegionError, check_region_code

    fields: list[tuple[str, str]] = [(f"region[{i}].code", r.code)
                                     for i, r in enumerate(sc.region)]
    for i, ev in enumerate(sc.event):
        code = getattr(ev, "region", None)
        if code:
            fields.append((f"event[{i}].region", str(code)))
    if sc.initial.shares_pct:
        fields += [(f"initial.shares_pct.{c}", c) for c in sc.initial.shares_pct]
    out = []
    for where, code in fields:
        if code == "OTHER" or code.endswith("-OTHER"):
            continue
        try:
            check_region_code(code)
        except UnknownRegionError as exc:
            out.append((where, f"{exc} (use an ISO 3166-1 alpha-2 or 3166-2 code, e.g. US, "
                               "CN-XJ, US-TX)"))
    return out


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("ban", "curtailment", "seasonal", "price_shock", "tax") and out.endswith("]"):
            continue  # the discriminator's branch name adds nothing for the user
        else:
            out += ("." if out else "") + str(part)
    return out


def _explain(err: ValidationError) -> list[str]:
    problems = []
    for e in err.errors(include_url=False):
        where = _loc(tuple(e["loc"])) or "(top level)"
        value = e.get("input")
        shown = repr(value) if not isinstance(value, dict) else "{…}"
        if len(shown) > 60:
            shown = shown[:57] + "…"
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown field (check the spelling; `hashshift scenario schema` lists them)"
        elif e["type"] == "missing":
            msg = "required field is missing"
            shown = ""
        problems.append(f"{where}: {msg}" + (f" (got {shown})" if shown else ""))
    return problems


def parse_scenario(text: str, source: str = "scenario") -> Scenario:
    """Validate TOML text into a :class:`Scenario`; raises :class:`ScenarioError`."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError([f"not valid TOML: {exc}"], source) from None
    except RecursionError:
        raise ScenarioError(["not valid TOML: nested too deeply"], source) from None
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(_explain(exc), source) from None


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError([f"cannot read the file: {exc.strerror}"], str(path)) from None
    except UnicodeDecodeError as exc:
        raise ScenarioError([f"not UTF-8 text (byte offset {exc.start}: {exc.reason}); save "
                             "the file as UTF-8"], str(path)) from None
    return parse_scenario(text, str(path))


def scenario_schema() -> dict[str, Any]:
    """JSON Schema of the scenario format."""
    return Scenario.model_json_schema()


def _pct(share: float) -> str:
    """A share [0..1] as a percentage: whole numbers without decimals, else one decimal."""
    pct = share * 100
    return f"{pct:.0f} %" if abs(pct - round(pct)) < 1e-9 else f"{pct:.1f} %"


def describe_event(ev: Any) -> dict[str, str]:
    """One event in words: ``kind``, ``region`` (``all`` or ``–`` when none applies),
    ``when``, ``what`` and ``source``."""
    kind = str(ev.kind)
    region = str(getattr(ev, "region", None) or "all")
    when = what = ""
    if kind == "ban":
        when = f"announced {ev.announced}, effective {ev.effective}"
        what = f"enforcement {_pct(ev.enforcement)}"
        if ev.enforcement_uncertainty:
            what += f" ± {_pct(ev.enforcement_uncertainty)}"
        what += f", underground {_pct(ev.underground)}"
        if getattr(ev, "underground_uncertainty", 0):
            what += f" ± {_pct(ev.underground_uncertainty)}"
        what += f", ramp {ev.ramp_down_days} d"
    elif kind == "curtailment":
        when = f"{ev.start} to {ev.end}" + (", every year" if ev.recurring == "yearly" else "")
        what = f"{_pct(ev.share)} of running hashrate off"
    elif kind == "seasonal":
        months = ("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec").split()
        when = ", ".join(months[m - 1] for m in ev.months)
        what = f"price × {ev.price_multiplier:g}, capacity × {ev.capacity_multiplier:g}"
    elif kind == "price_shock":
        when = f"{ev.start} to {ev.end}" if ev.end else f"from {ev.start}"
        what = f"{ev.target} price × {ev.multiplier:g}"
        if ev.target == "btc":
            region = "–"
    elif kind == "tax":
        when = f"from {ev.start}"
        what = f"{ev.usd_kwh:g} USD/kWh, {ev.usd_th_day:g} USD/(TH/s)/day"
    else:  # a kind added to the format later: show its fields
        what = ", ".join(f"{k}={v}" for k, v in ev.model_dump(mode="json").items()
                         if k not in ("kind", "region", "source"))
    return {"kind": kind, "region": region, "when": when, "what": what,
            "source": str(getattr(ev, "source", "") or "")}


# -- a small TOML writer (tomllib only reads) ----------------------------------------------------
def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, str):
        # A JSON string is a TOML basic string once DEL is escaped too (TOML forbids it raw).
        return json.dumps(v, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f'"{k}" = {_toml_value(x)}' for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def _dump_toml(data: dict[str, Any]) -> str:
    lines: list[str] = []
    for key, val in data.items():
        if isinstance(val, dict):
            lines.append(f"[{key}]")
            lines += [f"{k} = {_toml_value(x)}" for k, x in val.items()]
            lines.append("")
        elif isinstance(val, list) and val and isinstance(val[0], dict):
            for item in val:
                lines.append(f"[[{key}]]")
                lines += [f"{k} = {_toml_value(x)}" for k, x in item.items()]
                lines.append("")
    return "\n".join(lines)
