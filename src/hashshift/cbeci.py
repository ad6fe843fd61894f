"""CBECI runners: Bitcoin's power and energy from market data and a hardware list, by region,
and the reproduction of CCAF's published series (layer 2: reads the bundled tables).

The model is :mod:`hashshift.energy` (pure functions, CCAF CBECI methodology,
https://ccaf.io/cbeci/index/methodology); this module feeds it data and compares it with CCAF.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .energy import (
    BOUNDS,
    OUTPUT_WINDOW_DAYS,
    PUE,
    THRESHOLD_WINDOW_DAYS,
    VALIDATION_GOALS_PCT,
    cbeci,
    emissions_by_region,
    power_by_region,
)

__all__ = ["CCAF_API_MAKERS", "MarketInputError", "cbeci_default_path_table",
           "cbeci_error_sources", "cbeci_market", "cbeci_reconstruction_table",
           "cbeci_validation_table", "energy_by_region", "reconstruct_api_hardware", "run_cbeci",
           "validate_cbeci"]

#: Makers whose machines the CCAF API vintage files count (measured, by comparing runs with
#: those files; see reconstruct_api_hardware).
CCAF_API_MAKERS = ("Bitmain", "Canaan", "MicroBT")
_HW_COLUMNS = ("model", "release_date", "efficiency_j_th")


def _window_days(dates: pd.DatetimeIndex) -> int:
    """1 for monthly (or coarser) inputs, else 0 meaning 'daily'."""
    if len(dates) < 2:
        return 0
    step = np.median(np.diff(dates.to_numpy()).astype("timedelta64[D]").astype(float))
    return 1 if step >= 27 else 0


class MarketInputError(ValueError):
    """A market file CBECI cannot run on (missing, or not Coin Metrics' layout); the message
    starts with the file's path."""


def cbeci_market(path: Path | None = None) -> tuple[pd.DataFrame, str]:
    """The market table to run CBECI on and a label of where it came from.

    ``path`` (Coin Metrics' daily ``btc.csv``) when given; else the local store's ``prices``
    table when it holds more than 14 days with revenue and hashrate (daily); else the bundled
    monthly table. An unreadable store counts as empty.
    """
    if path is not None:
        from .sources.prices import read_price_csv

        try:
            parsed = read_price_csv(path)
        except FileNotFoundError:
            raise MarketInputError(f"{path}: no such file") from None
        if parsed.kind != "coinmetrics":
            raise MarketInputError(f"{path}: needs Coin Metrics' btc.csv layout (time, "
                                   "PriceUSD, HashRate, BlkCnt, FeeTotNtv, IssTotNtv); this file "
                                   "is a plain price series")
        return parsed.frame, f"{path} (daily)"
    try:
        from .store import Store

        stored = Store(lock_timeout_s=2.0).read_table("prices")
    except Exception:  # an unreadable store falls back to the bundled table
        stored = pd.DataFrame()
    if not stored.empty and {"revenue_usd", "hashrate_ehs"} <= set(stored.columns):
        stored = stored.dropna(subset=["revenue_usd", "hashrate_ehs"])
        if len(stored) > 14:
            stored = stored.assign(date=pd.to_datetime(stored["date"]))
            return stored, "the local store's prices table (daily)"
    from .sources.bundled_observed import bundled_name, read_market_monthly

    return read_market_monthly(), f"bundled {bundled_name('market_monthly')} (monthly means)"


def run_cbeci(
    market: pd.DataFrame | None = None,
    machines: pd.DataFrame | None = None,
    *,
    price_usd_kwh: float = 0.05,
    since: Any = None,
    until: Any = None,
    max_age_days: float | None = None,
) -> pd.DataFrame:
    """CBECI bounds from a market table and a hardware list.

    Parameters
    ----------
    market : DataFrame or None — daily ``date, revenue_usd, hashrate_ehs`` (as
        :func:`hashshift.sources.prices.read_coinmetrics`) or monthly ``date, revenue_usd_day,
        hashrate_ehs`` (the bundled monthly table, used when None; with monthly rows the moving
        averages are off: one row = one month)
    machines : DataFrame or None — ``release_date, efficiency_j_th`` [J/TH] (default: the
        bundled catalogue, :func:`hashshift.hardware.catalogue`)
    price_usd_kwh : float — [USD/kWh]
    since, until : date-like or None — rows kept (after the moving averages are computed)
    max_age_days : float or None — lifetime cap [days]

    Returns :func:`cbeci`'s columns; ``attrs["resolution"]`` is ``"daily"`` or ``"monthly"``.
    """
    if market is None:
        from .sources.bundled_observed import read_market_monthly

        market = read_market_monthly()
    if machines is None:
        from .hardware import catalogue

        machines = catalogue()
    rev_col = "revenue_usd" if "revenue_usd" in market.columns else "revenue_usd_day"
    for col in ("date", rev_col, "hashrate_ehs"):
        if col not in market.columns:
            raise ValueError(f"market table lacks column {col!r} (has {list(market.columns)})")
    m = market.sort_values("date").reset_index(drop=True)
    d = pd.DatetimeIndex(m["date"])
    if d.tz is not None:
        d = d.tz_convert("UTC").tz_localize(None)
    monthly = _window_days(d) == 1
    out = cbeci(
        d, m[rev_col].to_numpy(dtype=float), m["hashrate_ehs"].to_numpy(dtype=float),
        machines["release_date"].to_numpy(), machines["efficiency_j_th"].to_numpy(dtype=float),
        price_usd_kwh=price_usd_kwh,
        threshold_window=1 if monthly else THRESHOLD_WINDOW_DAYS,
        output_window=1 if monthly else OUTPUT_WINDOW_DAYS,
        max_age_days=max_age_days,
    )
    lo, hi = out["date"].iloc[0], out["date"].iloc[-1]
    keep = np.ones(len(out), dtype=bool)
    if since is not None:
        s = pd.Timestamp(since)
        keep &= (out["date"] >= (s.to_period("M").to_timestamp() if monthly else s)).to_numpy()
    if until is not None:
        keep &= (out["date"] <= pd.Timestamp(until)).to_numpy()
    out = out[keep].reset_index(drop=True)
    if out.empty:
        fmt = "%Y-%m" if monthly else "%Y-%m-%d"
        asked = " .. ".join("…" if v is None else f"{pd.Timestamp(v):%Y-%m-%d}"
                            for v in (since, until))
        raise ValueError(f"no market data in {asked}; the {'monthly' if monthly else 'daily'} "
                         f"market data cover {lo:{fmt}} .. {hi:{fmt}}")
    out.attrs["resolution"] = "monthly" if monthly else "daily"
    return out


def energy_by_region(
    when: Any,
    level: str = "country",
    *,
    efficiency_j_th: float | None = None,
    price_usd_kwh: float = 0.05,
    pue: float = PUE["guess"],
    grid: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Power, energy and emissions by region in the month of ``when``.

    Hashrate by region [EH/s] is CCAF's mining-map share × the network's monthly hashrate
    (:func:`hashshift.geography.hashrate_by_region`); every region runs the global fleet
    efficiency (CBECI best guess, :func:`hashshift.hardware.fleet_efficiency` at
    ``price_usd_kwh``) unless ``efficiency_j_th`` [J/TH] is given; intensities come from the
    bundled grid table (or ``grid``) with seasonal rows for the month.

    Parameters
    ----------
    when : date — any day of the month
    level : str — ``country`` or ``province`` (Chinese provinces)
    efficiency_j_th : float or None — [J/TH]
    price_usd_kwh : float — [USD/kWh], for the fleet efficiency
    pue : float — [dimensionless]
    grid : DataFrame or None — a grid table (:mod:`hashshift.sources.gridtable` layout)

    Returns ``date, region_code, hashrate_ehs, efficiency_j_th, power_gw, intensity_g_kwh,
    intensity_source, energy_twh_yr, emissions_mt_yr``.
    """
    from .geography import hashrate_by_region
    from .hardware import fleet_efficiency

    month = pd.Timestamp(when).to_period("M").to_timestamp()
    hr = hashrate_by_region(month, level)  # type: ignore[arg-type]
    eff = (fleet_efficiency(month, "equal_weight_profitable", price_usd_kwh=price_usd_kwh)
           if efficiency_j_th is None else float(efficiency_j_th))
    if grid is None:
        from .sources.bundled_observed import read_grid_intensity

        grid = read_grid_intensity()
    frame = pd.DataFrame({"date": month, "region_code": hr.index.astype(str),
                          "hashrate_ehs": hr.to_numpy(dtype=float)})
    return emissions_by_region(power_by_region(frame, eff, pue=pue), grid)


def reconstruct_api_hardware(miners: pd.DataFrame, early: pd.DataFrame | None = None
                             ) -> pd.DataFrame:
    """A **reconstruction**, not a validation: the hardware list that CCAF's API vintage files
    evidently used, found by comparing them day by day with runs of CCAF's published list
    (docs/energy.md). CCAF's list restricted to :data:`CCAF_API_MAKERS`, plus ``early`` rows
    (machines older than the list, e.g. the catalogue's Antminer S1 at 2000 J/TH), each machine
    counted from the day after its release timestamp. Since it was fitted to the API series,
    agreeing with that series is true by construction.

    Parameters
    ----------
    miners : DataFrame — CCAF's list: ``model`` (maker first), ``release_date``,
        ``efficiency_j_th`` [J/TH]
    early : DataFrame or None — extra rows with ``model, release_date, efficiency_j_th``
    """
    maker = miners["model"].astype(str).str.split().str[0]
    out = miners[maker.isin(CCAF_API_MAKERS).to_numpy()][list(_HW_COLUMNS)]
    if early is not None:
        out = pd.concat([early[list(_HW_COLUMNS)], out], ignore_index=True)
    out = out.copy()
    out["release_date"] = pd.DatetimeIndex(out["release_date"]) + pd.Timedelta(days=1)
    return out.reset_index(drop=True)


def _error_rows(ours: pd.DataFrame, reference: pd.DataFrame, days: pd.DatetimeIndex,
                by_year: bool = False, count: str = "days") -> list[dict[str, Any]]:
    """Error statistics of ``ours`` against ``reference`` (both indexed by date, columns
    ``energy_{b}_twh_yr``) on ``days``, per series (and per year); ``count`` names the column
    of the number of dates compared."""
    rows = []
    for b in BOUNDS:
        col = f"energy_{b}_twh_yr"
        if col not in reference.columns:
            raise ValueError(f"the reference lacks column {col!r}")
        a = ours[col].reindex(days).to_numpy(dtype=float)
        c = reference[col].reindex(days).to_numpy(dtype=float)
        ok = np.isfinite(a) & np.isfinite(c) & (c > 0)
        groups = ({int(y): ok & (days.year == y) for y in sorted(set(days.year))} if by_year
                  else {None: ok})
        for year, sel in groups.items():
            rel = a[sel] / c[sel] - 1.0
            err = np.abs(rel) * 100
            n = int(sel.sum())
            row: dict[str, Any] = {} if year is None else {"year": year}
            rows.append({
                **row, "series": b, count: n,
                "median_abs_err_pct": float(np.median(err)) if n else float("nan"),
                "p90_abs_err_pct": float(np.quantile(err, 0.9)) if n else float("nan"),
                "max_abs_err_pct": float(err.max()) if n else float("nan"),
                "median_err_pct": float(np.median(rel) * 100) if n else float("nan"),
            })
    return rows


def validate_cbeci(
    hardware: pd.DataFrame | Mapping[str, pd.DataFrame],
    market: pd.DataFrame,
    references: Mapping[str, pd.DataFrame],
    *,
    start: str = "2015-01-01",
    end: str = "2020-12-31",
    price_usd_kwh: float = 0.05,
) -> pd.DataFrame:
    """Reproduce CBECI from a hardware list and compare with CCAF's published daily series.

    Parameters
    ----------
    hardware : DataFrame or mapping name -> DataFrame — hardware lists with ``release_date,
        efficiency_j_th`` [J/TH] (CCAF's list from
        :func:`hashshift.sources.bundled_observed.read_ccaf_miners`); a bare DataFrame is named
        ``ccaf``
    market : DataFrame — Coin Metrics daily ``date, revenue_usd`` [USD/day] ``, hashrate_ehs``
        [EH/s] (:func:`hashshift.sources.prices.read_coinmetrics`)
    references : mapping — vintage name -> CCAF daily frame with ``date,
        energy_{lower,guess,upper}_twh_yr`` [TWh/yr] (:func:`hashshift.sources.ccaf.read_cbeci`)
    start, end : str — days compared (inclusive)
    price_usd_kwh : float — [USD/kWh]

    Returns one row per (hardware, vintage, series): ``days`` compared, ``median_abs_err_pct``,
    ``p90_abs_err_pct``, ``max_abs_err_pct``, ``median_err_pct`` (signed, ours vs CCAF),
    ``goal_pct`` (:data:`VALIDATION_GOALS_PCT`) and ``meets_goal``.
    """
    lists = {"ccaf": hardware} if isinstance(hardware, pd.DataFrame) else dict(hardware)
    days = pd.date_range(start, end, freq="D")
    rows = []
    for hw_name, hw in lists.items():
        ours = run_cbeci(market, hw, price_usd_kwh=price_usd_kwh)
        if ours.attrs.get("resolution") != "daily":
            raise ValueError("validate_cbeci needs a daily market table")
        ours = ours.set_index("date")
        for vintage, ref in references.items():
            r = ref.drop_duplicates("date").set_index("date")
            for row in _error_rows(ours, r, days):
                goal = VALIDATION_GOALS_PCT[row["series"]]
                rows.append({"hardware": hw_name, "vintage": vintage, **row, "goal_pct": goal,
                             "meets_goal": bool(row["days"] and
                                                row["median_abs_err_pct"] <= goal)})
    return pd.DataFrame(rows)


def _references(data_dir: Path | None) -> Any:
    from .sources.reference import default_data_dir, read_cbeci_references

    return read_cbeci_references(default_data_dir() if data_dir is None else data_dir)


def _catalogue_s1() -> pd.DataFrame:
    """The bundled catalogue's Antminer S1 (2000 J/TH), named as in CCAF's list."""
    from .hardware import catalogue

    cat = catalogue()
    return cat[cat["model"] == "Antminer S1"].assign(model="Bitmain Antminer S1")


def cbeci_validation_table(data_dir: Path | None = None, *, start: str = "2015-01-01",
                           end: str = "2020-12-31", price_usd_kwh: float = 0.05) -> pd.DataFrame:
    """The CBECI validation: :func:`validate_cbeci` with CCAF's published hardware list (2021-02)
    and Coin Metrics' daily data, against CCAF's API vintage (Aug 2022) and its 2022-01
    download. Nothing in this path was fitted to those series.

    Parameters
    ----------
    data_dir : Path or None — folder with ``cambridge/`` and ``market/``
        (:data:`hashshift.sources.reference.CBECI_FILES`; default:
        :func:`hashshift.sources.reference.default_data_dir`); a missing file raises
        :class:`~hashshift.sources.errors.MissingFilesError`
    start, end : str — days compared (inclusive)
    price_usd_kwh : float — [USD/kWh]
    """
    ref = _references(data_dir)
    return validate_cbeci({"ccaf-2021-02": ref.miners}, ref.market,
                          {"api-2022-08": ref.api, "download-2022-01": ref.download},
                          start=start, end=end, price_usd_kwh=price_usd_kwh)


def cbeci_reconstruction_table(data_dir: Path | None = None, *, start: str = "2015-01-01",
                               end: str = "2020-12-31", price_usd_kwh: float = 0.05
                               ) -> pd.DataFrame:
    """How closely the **reconstructed** API hardware list (:func:`reconstruct_api_hardware`,
    hardware ``api-reconstruction``) reproduces CCAF's series; the same columns as
    :func:`cbeci_validation_table`. Not a validation: the list was fitted to the
    ``api-2022-08`` series, so its agreement with that series shows only that the
    reconstruction is complete. Arguments as :func:`cbeci_validation_table`."""
    ref = _references(data_dir)
    return validate_cbeci({"api-reconstruction": reconstruct_api_hardware(ref.miners,
                                                                          _catalogue_s1())},
                          ref.market, {"api-2022-08": ref.api, "download-2022-01": ref.download},
                          start=start, end=end, price_usd_kwh=price_usd_kwh)


def _monthly(frame: pd.DataFrame) -> pd.DataFrame:
    """Monthly means of the ``energy_*_twh_yr`` columns, indexed by the month's first day."""
    cols = [f"energy_{b}_twh_yr" for b in BOUNDS]
    f = frame.drop_duplicates("date").set_index("date")[cols]
    return f.resample("MS").mean()


def cbeci_default_path_table(data_dir: Path | None = None, *, start: str = "2015-01-01",
                             end: str = "2020-12-31", by_year: bool = False) -> pd.DataFrame:
    """What ``hashshift energy`` shows by default — :func:`run_cbeci` on the bundled monthly
    market means and the bundled ASIC catalogue, at 0.05 USD/kWh — against the monthly means of
    CCAF's API-vintage daily series (the reference files as :func:`cbeci_validation_table`).

    Returns one row per series (and per ``year`` when ``by_year``): ``months`` compared,
    ``median_abs_err_pct``, ``p90_abs_err_pct``, ``max_abs_err_pct``,
    ``median_err_pct`` (signed, ours vs CCAF).
    """
    ref = _references(data_dir)
    months = pd.date_range(pd.Timestamp(start).to_period("M").to_timestamp(), end, freq="MS")
    ours = run_cbeci().set_index("date")
    return pd.DataFrame(_error_rows(ours, _monthly(ref.api), months, by_year=by_year,
                                    count="months"))


def cbeci_error_sources(data_dir: Path | None = None, *, start: str = "2015-01-01",
                        end: str = "2020-12-31") -> pd.DataFrame:
    """Which input makes which gap: the median absolute error [%] per year of each series,
    for each hardware list (``catalogue``: the bundled one; ``ccaf-2021-02``: CCAF's list;
    ``ccaf-2021-02+S1``: with the 2000 J/TH Antminer S1 added; ``api-reconstruction``) on each
    market input (``monthly``: the bundled monthly means; ``daily``: Coin Metrics' daily
    data), every run compared as monthly means with the monthly means of CCAF's API vintage.

    Returns ``hardware, market, series`` and one column per year.
    """
    from .hardware import catalogue

    ref = _references(data_dir)
    months = pd.date_range(pd.Timestamp(start).to_period("M").to_timestamp(), end, freq="MS")
    s1 = _catalogue_s1()
    lists = {"catalogue": catalogue(), "ccaf-2021-02": ref.miners,
             "ccaf-2021-02+S1": pd.concat([s1, ref.miners], ignore_index=True),
             "api-reconstruction": reconstruct_api_hardware(ref.miners, s1)}
    reference = _monthly(ref.api)
    rows = []
    for hw_name, hw in lists.items():
        for market_name, market in (("monthly", None), ("daily", ref.market)):
            ours = run_cbeci(market, hw)
            ours = ours.set_index("date") if market is None else _monthly(ours)
            for row in _error_rows(ours, reference, months, by_year=True):
                rows.append({"hardware": hw_name, "market": market_name, **row})
    long = pd.DataFrame(rows)
    wide = long.pivot_table(index=["hardware", "market", "series"], columns="year",
                            values="median_abs_err_pct", sort=False)
    wide.columns = [str(c) for c in wide.columns]
    return wide.reset_index()
