"""ASIC catalogue and the fleet's efficiency mix over time.

The catalogue (``hashshift/data/asic_catalogue_<date>.csv``; sources per row there and in
``hashshift/data/SOURCES.md``) lists SHA-256 machines from the first ASIC (Canaan's Avalon 1,
January 2013) to current models, with the maker's nameplate hashrate [TH/s], wall power [W] and
efficiency [J/TH] and the month of first shipments.

Fleet efficiency
----------------
Nobody publishes how many machines of each model run, so the network's mean efficiency is
estimated from which machines *could* run profitably (CCAF's CBECI reasoning,
https://ccaf.io/cbeci/index/methodology): on a day, a machine counts when it has been released
and its efficiency is below the profitability threshold θ [J/TH]
(:func:`hashshift.economics.profitability_threshold_j_th`) at an assumed electricity price.
:func:`fleet_efficiency` then summarises the counted machines by ``method``:

- ``equal_weight_profitable`` — the plain mean (CBECI's best guess: with no sales data, every
  profitable model gets the same weight);
- ``best_profitable`` — the most efficient counted machine (CBECI's lower bound: the whole
  network would run on the best hardware);
- ``worst_profitable`` — the least efficient counted machine (CBECI's upper bound);
- ``equal_weight_released`` — the mean of every released machine, profitable or not (an
  upper-side check that ignores economics).

``max_age_years`` caps how long a model stays in the fleet (CBECI v1.2.0, 2022, retires machines
after 5 years); by default models never retire, as in CBECI up to v1.1.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

from .economics import profitability_threshold_j_th, profitable_mask
from .sources.bundled_observed import read_asic_catalogue, read_market_monthly

__all__ = [
    "FLEET_METHODS",
    "Machine",
    "UnknownMachineError",
    "catalogue",
    "fleet_efficiency",
    "fleet_efficiency_series",
    "machine",
    "released",
]

#: Methods of :func:`fleet_efficiency` (see the module docstring).
FLEET_METHODS = (
    "equal_weight_profitable", "best_profitable", "worst_profitable", "equal_weight_released",
)
_DAYS_PER_YEAR = 365.25


@dataclass(frozen=True)
class Machine:
    """One catalogue row: ``hashrate_ths`` [TH/s], ``power_w`` [W], ``efficiency_j_th`` [J/TH],
    ``release_date`` (first shipments, UTC day), ``cooling``, ``source``."""

    model: str
    maker: str
    release_date: date
    hashrate_ths: float
    power_w: float
    efficiency_j_th: float
    cooling: str
    source: str

    @property
    def name(self) -> str:
        """Maker and model, e.g. ``Bitmain Antminer S19 XP``."""
        return f"{self.maker} {self.model}"


class UnknownMachineError(LookupError):
    """A machine name the catalogue does not know; ``suggestions`` are the nearest names."""

    def __init__(self, name: str, suggestions: list[str]):
        self.value = name
        self.suggestions = suggestions
        msg = f"unknown machine {name!r}"
        if suggestions:
            msg += "; did you mean " + ", ".join(repr(s) for s in suggestions) + "?"
        msg += " (hashshift economics lists the catalogue)"
        super().__init__(msg)


def catalogue(*, as_of: Any = None) -> pd.DataFrame:
    """The bundled ASIC catalogue: ``model, maker, release_date, hashrate_ths [TH/s], power_w
    [W], efficiency_j_th [J/TH], cooling, ccaf_name, source``, sorted by release date; with
    ``as_of``, only machines shipping by then (their ``release_date``)."""
    return read_asic_catalogue(as_of=as_of)


def _norm(s: str) -> str:
    return re.sub(r"[^0-9a-z+]", "", s.casefold())


def machine(name: str) -> Machine:
    """The catalogue row of a machine, by model (``Antminer S19 XP``) or maker and model
    (``Bitmain Antminer S19 XP``); case, spaces and punctuation other than ``+`` are ignored.
    Raises :class:`UnknownMachineError` naming the nearest names (difflib)."""
    cat = catalogue()
    want = _norm(str(name))
    records: list[dict[str, Any]] = cat.to_dict("records")  # type: ignore[assignment]
    keys: dict[str, int] = {}
    for i, rec in enumerate(records):
        model = _norm(str(rec["model"]))
        keys.setdefault(model, i)
        keys.setdefault(_norm(f"{rec['maker']} {rec['model']}"), i)
        for prefix in ("whatsminer", "avalonminer", "avalon", "antminer"):
            if model.startswith(prefix):
                keys.setdefault(model[len(prefix):], i)
    if want in keys and want:
        r = records[keys[want]]
        return Machine(
            model=str(r["model"]), maker=str(r["maker"]),
            release_date=pd.Timestamp(r["release_date"]).date(),
            hashrate_ths=float(r["hashrate_ths"]), power_w=float(r["power_w"]),
            efficiency_j_th=float(r["efficiency_j_th"]), cooling=str(r["cooling"]),
            source=str(r["source"]),
        )
    models = cat["model"].tolist()
    by_norm = {_norm(m): m for m in models}
    close = difflib.get_close_matches(want, list(by_norm), n=3, cutoff=0.5)
    if not close:
        close = difflib.get_close_matches(str(name), models, n=3, cutoff=0.3)
        raise UnknownMachineError(str(name), close)
    raise UnknownMachineError(str(name), [by_norm[c] for c in close])


def _day(when: date | datetime | str | pd.Timestamp, name: str = "date") -> pd.Timestamp:
    try:
        ts = pd.Timestamp(when)
    except (ValueError, TypeError):
        raise ValueError(f"{name} = {when!r} is not a date (allowed: YYYY-MM-DD)") from None
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts.normalize()


def released(when: date | datetime | str, machines: pd.DataFrame | None = None) -> pd.DataFrame:
    """Catalogue rows released on or before ``when`` (UTC day)."""
    cat = catalogue() if machines is None else machines
    return cat[cat["release_date"] <= _day(when)].reset_index(drop=True)


def _threshold(day: pd.Timestamp, price_usd_kwh: float) -> float:
    """θ [J/TH] of the month of ``day`` from the bundled monthly market table."""
    m = read_market_monthly()
    month = day.to_period("M").to_timestamp()
    row = m[m["date"] == month]
    if row.empty:
        lo, hi = m["date"].iloc[0], m["date"].iloc[-1]
        raise ValueError(
            f"date {day:%Y-%m-%d} is outside the bundled market data ({lo:%Y-%m} .. "
            f"{hi:%Y-%m}); pass threshold_j_th to use another date"
        )
    r = row.iloc[0]
    return float(profitability_threshold_j_th(r["revenue_usd_day"], r["hashrate_ehs"],
                                              price_usd_kwh))


def _summarise(effs: np.ndarray, method: str) -> float:
    if effs.size == 0:
        return float("nan")
    if method == "best_profitable":
        return float(effs.min())
    if method == "worst_profitable":
        return float(effs.max())
    return float(effs.mean())


def _check_method(method: str) -> None:
    if method not in FLEET_METHODS:
        near = difflib.get_close_matches(method, FLEET_METHODS, n=1)
        hint = f"; did you mean {near[0]!r}?" if near else ""
        raise ValueError(f"method = {method!r} is not known (allowed: "
                         f"{', '.join(FLEET_METHODS)}){hint}")


def fleet_efficiency(
    when: date | datetime | str,
    method: str = "equal_weight_profitable",
    *,
    price_usd_kwh: float = 0.05,
    threshold_j_th: float | None = None,
    machines: pd.DataFrame | None = None,
    max_age_years: float | None = None,
) -> float:
    """The fleet's efficiency [J/TH] on a day, by ``method`` (module docstring).

    Parameters
    ----------
    when : date — UTC day
    method : str — one of :data:`FLEET_METHODS`
    price_usd_kwh : float — electricity price [USD/kWh] for the threshold
    threshold_j_th : float or None — θ [J/TH]; default: from the bundled monthly market table
        (revenue and hashrate of the month of ``when``)
    machines : DataFrame or None — ``release_date, efficiency_j_th`` (default: the catalogue)
    max_age_years : float or None — retire models this many years after release [yr]

    Returns NaN when no machine qualifies.
    """
    _check_method(method)
    day = _day(when)
    if price_usd_kwh <= 0:
        raise ValueError(f"price_usd_kwh = {price_usd_kwh!r} is not allowed (allowed: > 0)")
    cat = catalogue() if machines is None else machines
    max_age = None if max_age_years is None else max_age_years * _DAYS_PER_YEAR
    if method == "equal_weight_released":
        theta = np.inf
    elif threshold_j_th is not None:
        theta = float(threshold_j_th)
    else:
        theta = _threshold(day, price_usd_kwh)
    mask = profitable_mask([day], [theta], cat["release_date"].to_numpy(),
                           cat["efficiency_j_th"].to_numpy(dtype=float), max_age_days=max_age)
    return _summarise(cat["efficiency_j_th"].to_numpy(dtype=float)[mask[0]], method)


def fleet_efficiency_series(
    since: date | datetime | str | None = None,
    until: date | datetime | str | None = None,
    *,
    method: str = "equal_weight_profitable",
    price_usd_kwh: float = 0.05,
    machines: pd.DataFrame | None = None,
    max_age_years: float | None = None,
) -> pd.DataFrame:
    """Monthly fleet efficiency from the bundled monthly market table.

    Returns ``date`` (first of the month), ``threshold_j_th`` [J/TH], ``efficiency_j_th``
    [J/TH] by ``method`` and ``n_machines`` counted. Arguments as :func:`fleet_efficiency`.
    """
    _check_method(method)
    m = read_market_monthly()
    lo, hi = m["date"].iloc[0], m["date"].iloc[-1]
    if since is not None:
        m = m[m["date"] >= _day(since, "since").to_period("M").to_timestamp()]
    if until is not None:
        m = m[m["date"] <= _day(until, "until")]
    if m.empty:
        raise ValueError(f"no months between {since} and {until}; the bundled market data "
                         f"cover {lo:%Y-%m} .. {hi:%Y-%m}")
    cat = catalogue() if machines is None else machines
    theta = np.asarray(profitability_threshold_j_th(
        m["revenue_usd_day"].to_numpy(), m["hashrate_ehs"].to_numpy(), price_usd_kwh
    ), dtype=float)
    if method == "equal_weight_released":
        theta = np.full(len(m), np.inf)
    max_age = None if max_age_years is None else max_age_years * _DAYS_PER_YEAR
    eff = cat["efficiency_j_th"].to_numpy(dtype=float)
    mask = profitable_mask(m["date"].to_numpy(), theta, cat["release_date"].to_numpy(), eff,
                           max_age_days=max_age)
    return pd.DataFrame({
        "date": m["date"].to_numpy(),
        "threshold_j_th": theta,
        "efficiency_j_th": [_summarise(eff[row], method) for row in mask],
        "n_machines": mask.sum(axis=1),
    })
