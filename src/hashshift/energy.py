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

Every function here is pure (no I/O); the runners that read the bundled tables and the CBECI
validation live in :mod:`hashshift.cbeci`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from .economics import profitability_threshold_j_th, profitable_mask
from .units import MT_PER_TWH_G_KWH, TWH_YR_PER_GW

__all__ = [
    "BOUNDS",
    "PUE",
    "VALIDATION_GOALS_PCT",
    "balance_subdivision_intensity",
    "cbeci",
    "efficiency_bounds",
    "emissions_by_region",
    "emissions_mt_yr",
    "energy_twh_yr",
    "intensity_holder",
    "intensity_lookup",
    "moving_average",
    "power_by_region",
    "power_gw",
]

#: Bounds in CCAF's order of presentation.
BOUNDS = ("lower", "guess", "upper")
#: Power usage effectiveness per bound (CCAF CBECI methodology).
PUE: dict[str, float] = {"lower": 1.01, "guess": 1.10, "upper": 1.20}
#: The CBECI reproduction goals: median absolute relative daily error [%] per series.
VALIDATION_GOALS_PCT: dict[str, float] = {"lower": 10.0, "guess": 5.0, "upper": 10.0}
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
    out = p * TWH_YR_PER_GW
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
    out = e * i * MT_PER_TWH_G_KWH
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
        out[f"energy_{b}_twh_yr"] = out[f"power_{b}_gw"] * TWH_YR_PER_GW
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
    (``CN`` for ``CN-SC``; ``parents`` may add more), then ``OTHER``; among rows of several
    vintages (column ``published``), the newest. Raises ``LookupError`` naming the region when
    none applies. :func:`intensity_holder` says whose row it was.
    """
    value, source, _ = _lookup(grid, region_code, month, parents)
    return value, source


def intensity_holder(
    grid: pd.DataFrame, region_code: str, month: int, parents: Mapping[str, str] | None = None
) -> str:
    """The region whose grid row :func:`intensity_lookup` uses for ``region_code`` in ``month``:
    the region itself, or the fallback (its parent, or ``OTHER``, the world average)."""
    return _lookup(grid, region_code, month, parents)[2]


def _lookup(
    grid: pd.DataFrame, region_code: str, month: int, parents: Mapping[str, str] | None
) -> tuple[float, str, str]:
    if not 1 <= int(month) <= 12:
        raise ValueError(f"month = {month!r} is not allowed (allowed: 1-12)")
    chain = [region_code]
    parent = (parents or {}).get(region_code)
    if parent is None and "-" in region_code:
        parent = region_code.split("-", 1)[0]
    if parent:
        chain.append(parent)
    chain.append("OTHER")
    # plain lists: the table is small and this runs for every region and month of a run
    codes = grid["region_code"].tolist()
    months = [None if pd.isna(m) else int(m) for m in grid["month"].tolist()]
    published = grid["published"].tolist() if "published" in grid.columns else None
    for code in chain:
        rows = [i for i, c in enumerate(codes) if c == code]
        if not rows:
            continue
        hit = [i for i in rows if months[i] == int(month)] \
            or [i for i in rows if months[i] is None]
        if hit:
            if published is not None:  # the newest vintage; undated rows count as newest
                hit = sorted(hit, key=lambda i: (pd.isna(published[i]),
                                                 pd.Timestamp(0) if pd.isna(published[i])
                                                 else pd.Timestamp(published[i])))
            r = hit[-1]
            value = grid["intensity_g_kwh"].to_numpy(dtype=float)[r]
            return float(value), str(grid["source"].iat[r]), code
    raise LookupError(f"no grid intensity for region {region_code!r} (nor {chain[1:]}) in "
                      f"month {month}; the table has {sorted(grid['region_code'].unique())}")


def balance_subdivision_intensity(
    country_g_kwh: float, shares: Any, own_g_kwh: Any
) -> tuple[np.ndarray, str]:
    """Grid intensities [gCO2/kWh] for a country's subdivisions that keep the country's figure.

    A country's figure is the hashrate-weighted mean of its parts: CCAF's best-guess emissions
    weight the energy sources of countries, provinces or states by the geographical hashrate
    distribution (CBECI greenhouse-gas methodology, https://ccaf.io/cbeci/ghg/methodology), and
    China's monthly coefficient ``CO2_Coef_China`` is such a provincial mean. So when some
    subdivisions carry their own figure (hydro Sichuan), the others cannot also take the whole
    country's figure: they share what remains,

        I_rest = (I_country − Σ_own s_k I_k) / Σ_rest s_k,

    with ``s`` the subdivisions' shares of the country at the start; then Σ s_k I_k = I_country.
    One rule for the observed layer (countries) and the engine (subdivisions).

    Parameters
    ----------
    country_g_kwh : float — the country's intensity [gCO2/kWh]
    shares : array — each subdivision's share of the country's hashrate [any unit; normalised]
    own_g_kwh : array — each subdivision's own intensity [gCO2/kWh], NaN where it has none

    Returns the intensities [gCO2/kWh] and a note: "" when the country's figure is kept,
    else why not (every part has its own figure, or I_rest would fall below 0 and is held at 0).
    """
    s = np.asarray(shares, dtype=float)
    own = np.asarray(own_g_kwh, dtype=float)
    if s.shape != own.shape or s.ndim != 1:
        raise ValueError(f"shares {s.shape} and own_g_kwh {own.shape} must be 1-d and alike")
    if not np.isfinite(country_g_kwh) or country_g_kwh < 0:
        raise ValueError(f"country_g_kwh = {country_g_kwh!r} is not allowed "
                         "(allowed: a finite number ≥ 0)")
    if (s < 0).any() or not np.isfinite(s).all() or s.sum() <= 0:
        raise ValueError(f"shares = {s.tolist()} are not allowed (allowed: finite, ≥ 0, sum > 0)")
    s = s / s.sum()
    rest = np.isnan(own)
    out = np.where(rest, float(country_g_kwh), own)
    if not rest.any():
        return out, "every subdivision has its own figure; the country's is not imposed"
    if s[rest].sum() <= 0:  # the parts without a figure hold no share: nothing to balance
        return out, ""
    value = (country_g_kwh - float(np.dot(s[~rest], own[~rest]))) / s[rest].sum()
    note = ""
    if value < 0:
        value, note = 0.0, "the subdivisions' own figures exceed the country's; the rest held at 0"
    out[rest] = value
    return out, note


def emissions_by_region(power: pd.DataFrame, grid: pd.DataFrame) -> pd.DataFrame:
    """Energy [TWh/yr] and emissions [MtCO2e/yr] by region and date.

    Parameters
    ----------
    power : DataFrame — ``date, region_code, power_gw`` [GW] (e.g. :func:`power_by_region`)
    grid : DataFrame — the grid table (``region_code, intensity_g_kwh, month, source``; see
        :mod:`hashshift.sources.gridtable`)

    Adds ``intensity_g_kwh`` (seasonal rows by the date's month), ``intensity_source``,
    ``intensity_region`` (whose row: the region, or its fallback, :func:`intensity_holder`),
    ``energy_twh_yr`` and ``emissions_mt_yr``.
    """
    df = power.copy()
    months = pd.DatetimeIndex(df["date"]).month
    cache: dict[tuple[str, int], tuple[float, str, str]] = {}
    vals, srcs, holders = [], [], []
    for code, m in zip(df["region_code"].astype(str), months, strict=True):
        key = (code, int(m))
        if key not in cache:
            cache[key] = _lookup(grid, code, int(m), None)
        vals.append(cache[key][0])
        srcs.append(cache[key][1])
        holders.append(cache[key][2])
    df["intensity_g_kwh"] = np.array(vals, dtype=float)
    df["intensity_source"] = srcs
    df["intensity_region"] = holders
    df["energy_twh_yr"] = energy_twh_yr(df["power_gw"].to_numpy())
    df["emissions_mt_yr"] = emissions_mt_yr(df["energy_twh_yr"].to_numpy(),
                                            df["intensity_g_kwh"].to_numpy())
    return df
