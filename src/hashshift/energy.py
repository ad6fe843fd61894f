"""Bitcoin's electricity use by the CBECI method, by region, and its emissions.

Method (Cambridge Bitcoin Electricity Consumption Index, CCAF, https://ccaf.io/cbeci/index/
methodology; as stated in shared/data/cambridge/SOURCES.md):

1. profitability threshold θ [J/TH] = miners' revenue per hash ÷ electricity price per joule
   (:func:`hashshift.economics.profitability_threshold_j_th`), from daily revenue [USD/day] and
   network hashrate; its 14-day trailing moving average is used;
2. a machine counts on a day once released and while its efficiency is below θ;
3. lower bound = most efficient profitable machine × hashrate × PUE 1.01; upper bound = least
   efficient profitable machine × hashrate × PUE 1.20; best guess = equal-weight mean of the
   profitable machines × hashrate × PUE 1.10;
4. power [GW] = e [J/TH] × H [TH/s] × PUE / 1e9, on a 7-day trailing moving average;
   annualised energy [TWh/yr] = power [GW] × 8.766 (365.25 d × 24 h / 1000).

Emissions [MtCO2e/yr] = energy [TWh/yr] × intensity [gCO2/kWh] / 1000 (1 TWh = 1e9 kWh;
CCAF's API files satisfy ``GUESS_CO2 = GUESS × intensity / 1000``).

The functions down to :func:`emissions_by_region` (and :func:`ccaf_api_hardware`) are pure;
:func:`run_cbeci`, :func:`energy_by_region` and :func:`validate_cbeci` are thin runners: the
first two fall back to the bundled tables, the last takes every input as a data frame (its
callers read the reference files).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from .economics import profitability_threshold_j_th

__all__ = [
    "BOUNDS",
    "CCAF_API_MAKERS",
    "HOURS_PER_YEAR",
    "PUE",
    "VALIDATION_GOALS_PCT",
    "cbeci",
    "ccaf_api_hardware",
    "efficiency_bounds",
    "emissions_by_region",
    "emissions_mt_yr",
    "energy_by_region",
    "energy_twh_yr",
    "intensity_lookup",
    "moving_average",
    "power_by_region",
    "power_gw",
    "profitable_mask",
    "run_cbeci",
    "validate_cbeci",
]

#: Bounds in CCAF's order of presentation.
BOUNDS = ("lower", "guess", "upper")
#: Power usage effectiveness per bound (CCAF CBECI methodology).
PUE: dict[str, float] = {"lower": 1.01, "guess": 1.10, "upper": 1.20}
#: Hours in an average year (365.25 d × 24 h).
HOURS_PER_YEAR = 8766.0
#: The CBECI reproduction goals: median absolute relative daily error [%] per series.
VALIDATION_GOALS_PCT: dict[str, float] = {"lower": 10.0, "guess": 5.0, "upper": 10.0}
#: Makers whose machines the CCAF API vintage files count (measured; see ccaf_api_hardware).
CCAF_API_MAKERS = ("Bitmain", "Canaan", "MicroBT")
_HW_COLUMNS = ("model", "release_date", "efficiency_j_th")
THRESHOLD_WINDOW_DAYS = 14
OUTPUT_WINDOW_DAYS = 7

Arr = npt.NDArray[np.float64]


def _check_nonneg(name: str, a: Arr) -> None:
    bad = np.isfinite(a) & (a < 0)
    if bad.any():
        raise ValueError(f"{name} = {float(a.flat[int(np.argmax(bad))])!r} is not allowed "
                         "(allowed: >= 0)")


def moving_average(values: Any, window: int) -> Arr:
    """Trailing moving average over ``window`` points (NaN until ``window`` values are seen;
    a NaN inside the window gives NaN), as pandas' ``rolling(window).mean()`` that CCAF uses.

    Parameters
    ----------
    values : array — any unit; the result has the same unit
    window : int — [points] >= 1
    """
    if int(window) != window or window < 1:
        raise ValueError(f"window = {window!r} is not allowed (allowed: an integer >= 1)")
    s = pd.Series(np.asarray(values, dtype=float))
    return s.rolling(int(window)).mean().to_numpy()


def profitable_mask(
    dates: Any, threshold_j_th: Any, release_dates: Any, efficiency_j_th: Any,
    *, max_age_days: float | None = None,
) -> npt.NDArray[np.bool_]:
    """Which machines count on which day: released on or before the day, efficiency strictly
    below the day's threshold θ, and (optionally) released less than ``max_age_days`` ago.

    Parameters
    ----------
    dates : array of datetime64 — days (n)
    threshold_j_th : array — θ per day [J/TH] (n; NaN = no machine counts)
    release_dates : array of datetime64 — per machine (m)
    efficiency_j_th : array — per machine [J/TH] (m)
    max_age_days : float or None — lifetime cap [days] (CBECI v1.2.0 uses 5 years)

    Returns a boolean array (n × m).
    """
    d = pd.DatetimeIndex(np.asarray(dates)).to_numpy(dtype="datetime64[ns]")
    rel = pd.DatetimeIndex(np.asarray(release_dates)).to_numpy(dtype="datetime64[ns]")
    th = np.asarray(threshold_j_th, dtype=float)
    eff = np.asarray(efficiency_j_th, dtype=float)
    if d.shape != th.shape:
        raise ValueError(f"dates ({d.shape[0]}) and threshold_j_th ({th.shape[0]}) differ "
                         "in length")
    if rel.shape != eff.shape:
        raise ValueError(f"release_dates ({rel.shape[0]}) and efficiency_j_th "
                         f"({eff.shape[0]}) differ in length")
    with np.errstate(invalid="ignore"):
        mask = (rel[None, :] <= d[:, None]) & (eff[None, :] < th[:, None])
    if max_age_days is not None:
        age = (d[:, None] - rel[None, :]) / np.timedelta64(1, "D")
        mask &= age < float(max_age_days)
    return mask


def efficiency_bounds(
    dates: Any, threshold_j_th: Any, release_dates: Any, efficiency_j_th: Any,
    *, max_age_days: float | None = None,
) -> pd.DataFrame:
    """Per day, the efficiencies [J/TH] behind CBECI's bounds: ``lower_j_th`` (best profitable
    machine), ``guess_j_th`` (equal-weight mean of the profitable machines), ``upper_j_th``
    (worst profitable machine), and ``n_profitable``; NaN when no machine is profitable.
    Arguments as :func:`profitable_mask`."""
    mask = profitable_mask(dates, threshold_j_th, release_dates, efficiency_j_th,
                           max_age_days=max_age_days)
    eff = np.asarray(efficiency_j_th, dtype=float)
    n = mask.sum(axis=1)
    some = n > 0
    lower = np.where(some, np.where(mask, eff[None, :], np.inf).min(axis=1), np.nan)
    upper = np.where(some, np.where(mask, eff[None, :], -np.inf).max(axis=1), np.nan)
    total = np.where(mask, eff[None, :], 0.0).sum(axis=1)
    guess = np.where(some, total / np.maximum(n, 1), np.nan)
    return pd.DataFrame({
        "date": pd.DatetimeIndex(np.asarray(dates)),
        "lower_j_th": lower, "guess_j_th": guess, "upper_j_th": upper,
        "n_profitable": n.astype(int),
    })


def power_gw(efficiency_j_th: Any, hashrate_ths: Any, pue: Any = 1.0) -> Any:
    """Power [GW] = e [J/TH] × H [TH/s] × PUE / 1e9 (CCAF CBECI methodology).

    Parameters
    ----------
    efficiency_j_th : float — [J/TH]
    hashrate_ths : float — [TH/s]
    pue : float — power usage effectiveness [dimensionless, >= 1]
    """
    e = np.asarray(efficiency_j_th, dtype=float)
    h = np.asarray(hashrate_ths, dtype=float)
    p = np.asarray(pue, dtype=float)
    _check_nonneg("efficiency_j_th", e)
    _check_nonneg("hashrate_ths", h)
    if np.any(p < 1.0):
        raise ValueError(f"pue = {float(p.min())!r} is not allowed (allowed: >= 1)")
    out = e * h * p / 1e9
    return float(out) if out.ndim == 0 else out


def energy_twh_yr(power_gw: Any) -> Any:
    """Annualised energy [TWh/yr] = power [GW] × 8.766 (8766 h/yr ÷ 1000; CCAF).

    Parameters
    ----------
    power_gw : float — [GW]
    """
    p = np.asarray(power_gw, dtype=float)
    _check_nonneg("power_gw", p)
    out = p * HOURS_PER_YEAR / 1000.0
    return float(out) if out.ndim == 0 else out


def emissions_mt_yr(energy_twh_yr: Any, intensity_g_kwh: Any) -> Any:
    """Emissions [MtCO2e/yr] = energy [TWh/yr] × intensity [gCO2/kWh] / 1000.

    Parameters
    ----------
    energy_twh_yr : float — [TWh/yr]
    intensity_g_kwh : float — grid carbon intensity [gCO2/kWh]
    """
    e = np.asarray(energy_twh_yr, dtype=float)
    i = np.asarray(intensity_g_kwh, dtype=float)
    _check_nonneg("energy_twh_yr", e)
    _check_nonneg("intensity_g_kwh", i)
    out = e * i / 1000.0
    return float(out) if out.ndim == 0 else out


def cbeci(
    dates: Any,
    revenue_usd_day: Any,
    hashrate_ehs: Any,
    release_dates: Any,
    efficiency_j_th: Any,
    *,
    price_usd_kwh: float = 0.05,
    threshold_window: int = THRESHOLD_WINDOW_DAYS,
    output_window: int = OUTPUT_WINDOW_DAYS,
    max_age_days: float | None = None,
) -> pd.DataFrame:
    """CBECI's daily power and annualised energy bounds (module docstring, steps 1-4).

    Parameters
    ----------
    dates : array of datetime64 — consecutive days (n)
    revenue_usd_day : array — miners' revenue [USD/day] (n)
    hashrate_ehs : array — network hashrate [EH/s] (n)
    release_dates, efficiency_j_th : arrays — the hardware list (m): release day, [J/TH]
    price_usd_kwh : float — electricity price [USD/kWh] (CCAF's default 0.05)
    threshold_window, output_window : int — [days] moving averages (14 and 7); use 1 for
        monthly inputs
    max_age_days : float or None — lifetime cap of a machine [days]

    Returns ``date, hashrate_ehs, threshold_j_th`` (moving average), ``{lower,guess,upper}_j_th``,
    ``n_profitable``, ``power_{lower,guess,upper}_gw`` and ``energy_{…}_twh_yr`` (moving
    averages).
    """
    d = pd.DatetimeIndex(np.asarray(dates))
    rev = np.asarray(revenue_usd_day, dtype=float)
    h = np.asarray(hashrate_ehs, dtype=float)
    if not (len(d) == len(rev) == len(h)):
        raise ValueError(f"dates ({len(d)}), revenue_usd_day ({len(rev)}) and hashrate_ehs "
                         f"({len(h)}) differ in length")
    if len(d) == 0:
        raise ValueError("no days given")
    _check_nonneg("revenue_usd_day", rev)
    if float(price_usd_kwh) <= 0 or not np.isfinite(price_usd_kwh):
        raise ValueError(f"price_usd_kwh = {price_usd_kwh!r} is not allowed "
                         "(allowed: a finite number > 0)")
    ok = np.isfinite(rev) & np.isfinite(h) & (h > 0)
    theta_day = np.full(len(d), np.nan)
    theta_day[ok] = np.asarray(
        profitability_threshold_j_th(rev[ok], h[ok], price_usd_kwh), dtype=float
    )
    theta = moving_average(theta_day, threshold_window)
    eff = efficiency_bounds(d, theta, release_dates, efficiency_j_th, max_age_days=max_age_days)
    out = pd.DataFrame({"date": d, "hashrate_ehs": h, "threshold_j_th": theta})
    for b in BOUNDS:
        out[f"{b}_j_th"] = eff[f"{b}_j_th"].to_numpy()
    out["n_profitable"] = eff["n_profitable"].to_numpy()
    h_ths = np.where(np.isfinite(h), h, np.nan) * 1e6
    for b in BOUNDS:
        e = out[f"{b}_j_th"].to_numpy()
        daily = e * h_ths * PUE[b] / 1e9
        out[f"power_{b}_gw"] = moving_average(daily, output_window)
    for b in BOUNDS:
        out[f"energy_{b}_twh_yr"] = out[f"power_{b}_gw"] * HOURS_PER_YEAR / 1000.0
    return out


# --------------------------------------------------------------------------------------------
# by region
# --------------------------------------------------------------------------------------------


def power_by_region(
    hashrate_by_region: pd.DataFrame, efficiency_j_th: Any, *, pue: float = PUE["guess"]
) -> pd.DataFrame:
    """Power [GW] by region: regional hashrate × efficiency × PUE / 1e9.

    Parameters
    ----------
    hashrate_by_region : DataFrame — ``date, region_code, hashrate_ehs`` [EH/s]
    efficiency_j_th : float, or a Series indexed by date, or a DataFrame ``date,
        efficiency_j_th`` (one global fleet efficiency per date), or a DataFrame ``region_code,
        efficiency_j_th`` (per region) [J/TH]
    pue : float — [dimensionless]

    Returns the input's columns plus ``efficiency_j_th`` and ``power_gw``.
    """
    need = {"date", "region_code", "hashrate_ehs"}
    missing = need - set(hashrate_by_region.columns)
    if missing:
        raise ValueError(f"hashrate_by_region lacks column(s) {sorted(missing)} "
                         f"(needs {sorted(need)})")
    df = hashrate_by_region.copy()
    if isinstance(efficiency_j_th, pd.DataFrame):
        key = "region_code" if "region_code" in efficiency_j_th.columns else "date"
        m = efficiency_j_th.set_index(key)["efficiency_j_th"]
        df["efficiency_j_th"] = df[key].map(m).to_numpy(dtype=float)
    elif isinstance(efficiency_j_th, pd.Series):
        df["efficiency_j_th"] = df["date"].map(efficiency_j_th).to_numpy(dtype=float)
    else:
        df["efficiency_j_th"] = float(efficiency_j_th)
    df["power_gw"] = power_gw(df["efficiency_j_th"].to_numpy(),
                              df["hashrate_ehs"].to_numpy() * 1e6, pue)
    return df


def intensity_lookup(
    grid: pd.DataFrame, region_code: str, month: int, parents: Mapping[str, str] | None = None
) -> tuple[float, str]:
    """Grid intensity [gCO2/kWh] and its source for a region in a month (1-12).

    Order: the region's row for that month, its whole-year row, then the same for its parent
    (``CN`` for ``CN-SC``; ``parents`` may add more), then ``OTHER``. Raises ``LookupError``
    naming the region when none applies.
    """
    if not 1 <= int(month) <= 12:
        raise ValueError(f"month = {month!r} is not allowed (allowed: 1-12)")
    chain = [region_code]
    parent = (parents or {}).get(region_code)
    if parent is None and "-" in region_code:
        parent = region_code.split("-", 1)[0]
    if parent:
        chain.append(parent)
    chain.append("OTHER")
    months = grid["month"]
    for code in chain:
        rows = grid[grid["region_code"] == code]
        if rows.empty:
            continue
        m = months.loc[rows.index]
        hit = rows[(m == int(month)).fillna(False).to_numpy(dtype=bool)]
        if hit.empty:
            hit = rows[m.isna().to_numpy()]
        if not hit.empty:
            r = hit.iloc[0]
            return float(r["intensity_g_kwh"]), str(r["source"])
    raise LookupError(f"no grid intensity for region {region_code!r} (nor {chain[1:]}) in "
                      f"month {month}; the table has {sorted(grid['region_code'].unique())}")


def emissions_by_region(power: pd.DataFrame, grid: pd.DataFrame) -> pd.DataFrame:
    """Energy [TWh/yr] and emissions [MtCO2e/yr] by region and date.

    Parameters
    ----------
    power : DataFrame — ``date, region_code, power_gw`` [GW] (e.g. :func:`power_by_region`)
    grid : DataFrame — the grid table (``region_code, intensity_g_kwh, month, source``; see
        :mod:`hashshift.sources.gridtable`)

    Adds ``intensity_g_kwh`` (seasonal rows by the date's month), ``intensity_source``,
    ``energy_twh_yr`` and ``emissions_mt_yr``.
    """
    df = power.copy()
    months = pd.DatetimeIndex(df["date"]).month
    cache: dict[tuple[str, int], tuple[float, str]] = {}
    vals, srcs = [], []
    for code, m in zip(df["region_code"].astype(str), months, strict=True):
        key = (code, int(m))
        if key not in cache:
            cache[key] = intensity_lookup(grid, code, int(m))
        vals.append(cache[key][0])
        srcs.append(cache[key][1])
    df["intensity_g_kwh"] = np.array(vals, dtype=float)
    df["intensity_source"] = srcs
    df["energy_twh_yr"] = energy_twh_yr(df["power_gw"].to_numpy())
    df["emissions_mt_yr"] = emissions_mt_yr(df["energy_twh_yr"].to_numpy(),
                                            df["intensity_g_kwh"].to_numpy())
    return df


# --------------------------------------------------------------------------------------------
# runners
# --------------------------------------------------------------------------------------------


def _window_days(dates: pd.DatetimeIndex) -> int:
    """1 for monthly (or coarser) inputs, else 0 meaning 'daily'."""
    if len(dates) < 2:
        return 0
    step = np.median(np.diff(dates.to_numpy()).astype("timedelta64[D]").astype(float))
    return 1 if step >= 27 else 0


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


def ccaf_api_hardware(miners: pd.DataFrame, early: pd.DataFrame | None = None) -> pd.DataFrame:
    """Reconstruct the hardware list behind CCAF's API vintage files (measured, see
    docs/energy.md): CCAF's list restricted to :data:`CCAF_API_MAKERS`, plus ``early`` rows
    (machines older than the list, e.g. the catalogue's Antminer S1 at 2000 J/TH), each machine
    counted from the day after its release timestamp.

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


def validate_cbeci(
    hardware: pd.DataFrame | Mapping[str, pd.DataFrame],
    market: pd.DataFrame,
    references: Mapping[str, pd.DataFrame],
    *,
    start: str = "2015-01-01",
    end: str = "2020-12-31",
    price_usd_kwh: float = 0.05,
) -> pd.DataFrame:
    """Reproduce CBECI with CCAF's hardware list and compare with CCAF's published series.

    Parameters
    ----------
    hardware : DataFrame or mapping name -> DataFrame — hardware lists with ``release_date,
        efficiency_j_th`` [J/TH] (CCAF's list from
        :func:`hashshift.sources.bundled_observed.read_ccaf_miners`, or
        :func:`ccaf_api_hardware` of it); a bare DataFrame is named ``ccaf``
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
            for b in BOUNDS:
                col = f"energy_{b}_twh_yr"
                if col not in r.columns:
                    raise ValueError(f"reference {vintage!r} lacks column {col!r}")
                a = ours[col].reindex(days).to_numpy(dtype=float)
                c = r[col].reindex(days).to_numpy(dtype=float)
                ok = np.isfinite(a) & np.isfinite(c) & (c > 0)
                rel = a[ok] / c[ok] - 1.0
                n = int(ok.sum())
                err = np.abs(rel) * 100
                med = float(np.median(err)) if n else float("nan")
                rows.append({
                    "hardware": hw_name, "vintage": vintage, "series": b, "days": n,
                    "median_abs_err_pct": med,
                    "p90_abs_err_pct": float(np.quantile(err, 0.9)) if n else float("nan"),
                    "max_abs_err_pct": float(err.max()) if n else float("nan"),
                    "median_err_pct": float(np.median(rel) * 100) if n else float("nan"),
                    "goal_pct": VALIDATION_GOALS_PCT[b],
                    "meets_goal": bool(n and med <= VALIDATION_GOALS_PCT[b]),
                })
    return pd.DataFrame(rows)
