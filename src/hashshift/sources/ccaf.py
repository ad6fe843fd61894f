"""Cambridge Centre for Alternative Finance (CCAF) files: the Bitcoin Mining Map and CBECI.

Layouts (detected from the header line by :func:`parse_ccaf`):

``mining_countries`` — the mining map by country, share of global hashrate:
  - CCAF export ``mining_countries`` v1.1.1: ``date, country, monthly_hashrate_%,
    monthly_absolute_hashrate_EH/S`` (shares as strings such as ``"75.53%"``);
  - the older v1.1.0 export (R-written): ``"", Date, Country, Share.of.global.hashrate``.
  Country names are World Bank spellings (``Mainland China``, ``Iran, Islamic Rep.``,
  ``Germany *``) mapped to ISO 3166 codes by :func:`hashshift.regions.region_code`.
  -> ``date, region_code, region_name, share_pct [%], hashrate_ehs [EH/s]`` (NaN where the layout
  has no absolute hashrate). Monthly rows are dated on the first of the month (that month's mean).

``mining_provinces`` — China by province, share of CHINA's hashrate (not global):
  ``Date, Province, Share of Chinese hashrate`` ->
  ``date, region_code, region_name, share_of_china_pct [%]``.

``cbeci_daily`` — CBECI daily series (annualised, 7-day moving averages):
  - the ``download/data`` export (``cbeci_daily_annualised_TWh_vintage-*``): ``"", timestamp,
    datetime, max, min, guess, date`` -> ``date, energy_upper_twh_yr, energy_lower_twh_yr,
    energy_guess_twh_yr`` [TWh/yr];
  - CCAF's API ``historical.csv`` (``power MAX, GW`` … ``annualised consumption GUESS, TWh``,
    ``CO2_Coef_World``, ``CO2_Coef_China``, ``China_%hashrate``, ``intensity``, ``*_CO2``) ->
    ``power_*_gw`` [GW], ``energy_*_twh_yr`` [TWh/yr], ``intensity_g_kwh``,
    ``intensity_world_g_kwh``, ``intensity_china_g_kwh`` [gCO2/kWh], ``china_share_pct`` [%] and
    ``emissions_*_mtco2e_yr`` [MtCO2e/yr];
  - CCAF's API ``prov.csv`` (``Date and Time, MAX_CO2, MIN_CO2, GUESS_CO2, MAX, MIN, GUESS,
    intensity``) -> ``energy_*``, ``emissions_*`` and ``intensity_g_kwh``.
  ``*`` is ``upper``, ``lower`` or ``guess`` (CCAF's MAX, MIN, GUESS).

``cbeci_guess_by_price`` — CBECI v1.2.0 best guess under several electricity prices
  (``date, 0.01, 0.02, …``: one column per price [USD/kWh]) ->
  ``date, price_usd_kwh, energy_guess_twh_yr`` (long form).

Dates: a ``date`` column of datetime64[ns] at midnight, meaning the UTC day. Every parser rejects
a file of the wrong shape with :class:`~hashshift.sources._tabular.TableFormatError` (a
:class:`~hashshift.sources.errors.SourceFormatError`) naming the file, line and field; an unknown
region name raises :class:`~hashshift.regions.UnknownRegionError` naming the file and line and
suggesting the nearest known names.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..regions import REGIONS, UnknownRegionError, region_code, region_name
from . import _tabular as tab
from ._tabular import ParsedTable, TableFormatError

__all__ = [
    "CCAF_KINDS",
    "UNIT_SCALE",
    "VARIABLE_MAP",
    "ParsedTable",
    "parse_cbeci",
    "parse_cbeci_by_price",
    "parse_ccaf",
    "parse_mining_countries",
    "parse_mining_provinces",
    "read_cbeci",
    "read_cbeci_by_price",
    "read_ccaf",
    "read_mining_countries",
    "read_mining_provinces",
]

#: Source column -> project column, per layout. ``country``/``Province`` names become
#: ``region_code`` (and ``region_name``, the English name from :data:`hashshift.regions.REGIONS`).
VARIABLE_MAP: dict[str, dict[str, str]] = {
    "mining_countries": {
        "date": "date",
        "country": "region_code",
        "monthly_hashrate_%": "share_pct",
        "monthly_absolute_hashrate_EH/S": "hashrate_ehs",
    },
    "mining_countries_v1.1.0": {
        "Date": "date",
        "Country": "region_code",
        "Share.of.global.hashrate": "share_pct",
    },
    "mining_provinces": {
        "Date": "date",
        "Province": "region_code",
        "Share of Chinese hashrate": "share_of_china_pct",
    },
    "cbeci_daily": {
        "date": "date",
        "max": "energy_upper_twh_yr",
        "min": "energy_lower_twh_yr",
        "guess": "energy_guess_twh_yr",
    },
    "cbeci_api_historical": {
        "date": "date",
        "power MAX, GW": "power_upper_gw",
        "power MIN, GW": "power_lower_gw",
        "power GUESS, GW": "power_guess_gw",
        "annualised consumption MAX, TWh": "energy_upper_twh_yr",
        "annualised consumption MIN, TWh": "energy_lower_twh_yr",
        "annualised consumption GUESS, TWh": "energy_guess_twh_yr",
        "intensity": "intensity_g_kwh",
        "CO2_Coef_World": "intensity_world_g_kwh",
        "CO2_Coef_China": "intensity_china_g_kwh",
        "China_%hashrate": "china_share_pct",
        "MAX_CO2": "emissions_upper_mtco2e_yr",
        "MIN_CO2": "emissions_lower_mtco2e_yr",
        "GUESS_CO2": "emissions_guess_mtco2e_yr",
    },
    "cbeci_api_prov": {
        "Date and Time": "date",
        "MAX": "energy_upper_twh_yr",
        "MIN": "energy_lower_twh_yr",
        "GUESS": "energy_guess_twh_yr",
        "intensity": "intensity_g_kwh",
        "MAX_CO2": "emissions_upper_mtco2e_yr",
        "MIN_CO2": "emissions_lower_mtco2e_yr",
        "GUESS_CO2": "emissions_guess_mtco2e_yr",
    },
    "cbeci_guess_by_price": {
        "date": "date",
        # every other column: its header is the price [USD/kWh] -> price_usd_kwh, its cells
        # -> energy_guess_twh_yr
    },
}

#: Multipliers from a source column's unit to the project's (``China_%hashrate`` is a fraction).
UNIT_SCALE: dict[str, float] = {"China_%hashrate": 100.0}

#: Columns a layout must have (the rest of its VARIABLE_MAP entry is optional).
_REQUIRED: dict[str, tuple[str, ...]] = {
    "mining_countries": ("date", "country", "monthly_hashrate_%"),
    "mining_countries_v1.1.0": ("Date", "Country", "Share.of.global.hashrate"),
    "mining_provinces": ("Date", "Province", "Share of Chinese hashrate"),
    "cbeci_daily": ("date", "max", "min", "guess"),
    "cbeci_api_historical": (
        "date", "power MAX, GW", "power MIN, GW", "power GUESS, GW",
        "annualised consumption MAX, TWh", "annualised consumption MIN, TWh",
        "annualised consumption GUESS, TWh",
    ),
    "cbeci_api_prov": ("Date and Time", "MAX", "MIN", "GUESS"),
}

#: Header columns that identify each layout, tried in this order.
_SIGNATURES: dict[str, tuple[str, ...]] = {
    "mining_countries": ("country", "monthly_hashrate_%"),
    "mining_countries_v1.1.0": ("Country", "Share.of.global.hashrate"),
    "mining_provinces": ("Province", "Share of Chinese hashrate"),
    "cbeci_api_historical": ("power GUESS, GW",),
    "cbeci_api_prov": ("Date and Time", "GUESS"),
    "cbeci_daily": ("timestamp", "guess"),
}

#: Layout -> the kind of table :func:`parse_ccaf` reports.
CCAF_KINDS: dict[str, str] = {
    "mining_countries": "mining_countries",
    "mining_countries_v1.1.0": "mining_countries",
    "mining_provinces": "mining_provinces",
    "cbeci_daily": "cbeci_daily",
    "cbeci_api_historical": "cbeci_daily",
    "cbeci_api_prov": "cbeci_daily",
    "cbeci_guess_by_price": "cbeci_guess_by_price",
}

_BOUNDS = ("upper", "lower", "guess")
_CBECI_ORDER = (
    [f"power_{b}_gw" for b in _BOUNDS]
    + [f"energy_{b}_twh_yr" for b in _BOUNDS]
    + ["intensity_g_kwh", "intensity_world_g_kwh", "intensity_china_g_kwh", "china_share_pct"]
    + [f"emissions_{b}_mtco2e_yr" for b in _BOUNDS]
)
_TIMESTAMP_COLUMNS = ("timestamp", "Timestamp")
_PRICE_HEADER = re.compile(r"\d*\.?\d+")


def _text(data: str | bytes, name: str) -> str:
    return tab.decode(data, name)


def _layout(df: pd.DataFrame, name: str, allowed: tuple[str, ...]) -> str:
    sigs = {k: v for k, v in _SIGNATURES.items() if k in allowed}
    return tab.detect(list(df.columns), sigs, name)


# --------------------------------------------------------------------------------------------
# mining map
# --------------------------------------------------------------------------------------------


def _codes(df: pd.DataFrame, col: str, level: str, name: str) -> np.ndarray:
    lines = tab.lines(df)
    out = np.empty(len(df), dtype=object)
    raw = df[col].to_numpy(dtype=object)
    cache: dict[str, str] = {}
    for i, v in enumerate(raw):
        if v not in cache:
            if v == "":
                raise TableFormatError(name, col, v, "missing region name", line=int(lines[i]))
            try:
                cache[v] = region_code(v, "province" if level == "province" else "country")
            except UnknownRegionError as e:
                raise e.located(f"{name}: line {lines[i]}, field {col!r}") from None
        out[i] = cache[v]
    return out


def _check_first_of_month(frame: pd.DataFrame, lines: np.ndarray, name: str, col: str) -> None:
    bad = (frame["date"].dt.day != 1).to_numpy()
    if bad.any():
        i = int(np.argmax(bad))
        raise TableFormatError(
            name, col, frame["date"].iloc[i].strftime("%Y-%m-%d"),
            "monthly rows must be dated on the first day of the month", line=int(lines[i]),
        )


def _check_share_sums(
    frame: pd.DataFrame, share: str, lines: np.ndarray, name: str, field: str, tol: float
) -> None:
    sums = frame.groupby("date", sort=False)[share].sum()
    off = (sums - 100.0).abs() > tol + 1e-9
    if share == "share_of_china_pct":
        # CCAF puts every province at 0 in a month when China's share is 0 (July 2021); the
        # mining map checks that against China's country share (hashshift.geography)
        off &= sums != 0.0
    if off.any():
        day = off.index[int(np.argmax(off.to_numpy()))]
        total = float(sums[day])
        at = np.flatnonzero((frame["date"] == day).to_numpy())
        raise TableFormatError(
            name, field, round(total, 6),
            f"shares for {day:%Y-%m-%d} sum to {total:.6g} %, expected 100 ± {tol:g} "
            f"(lines {lines[at].min()}-{lines[at].max()})",
            line=int(lines[at[0]]),
        )


def _mining(
    df: pd.DataFrame, layout: str, name: str, level: str, tol: float
) -> pd.DataFrame:
    vmap = VARIABLE_MAP[layout]
    tab.require_columns(df, _REQUIRED[layout], name)
    src = {v: k for k, v in vmap.items()}  # project name -> source column
    share_out = "share_of_china_pct" if level == "province" else "share_pct"
    lines = tab.lines(df)
    frame = pd.DataFrame({"date": tab.dates(df, src["date"], name)})
    _check_first_of_month(frame, lines, name, src["date"])
    codes = _codes(df, src["region_code"], level, name)
    frame["region_code"] = codes
    frame["region_name"] = [REGIONS[c].name if c in REGIONS else region_name(c) for c in codes]
    frame[share_out] = tab.numbers(
        df, src[share_out], name, percent=True, min_value=0.0, max_value=100.0
    )
    if level == "country":
        hcol = src.get("hashrate_ehs")
        if hcol is not None and hcol in df.columns:
            frame["hashrate_ehs"] = tab.numbers(
                df, hcol, name, allow_missing=True, min_value=0.0
            )
        else:
            frame["hashrate_ehs"] = np.nan
    tab.check_unique(frame, ("date", "region_code"), lines, name, src["region_code"])
    tab.check_ascending(frame, lines, name, src["date"], by=("region_code",))
    _check_share_sums(frame, share_out, lines, name, src[share_out], tol)
    frame = frame.sort_values(["date", "region_code"], kind="stable").reset_index(drop=True)
    frame.attrs.update(layout=layout, source=name)
    return frame


def parse_mining_countries(
    text: str | bytes, *, name: str = "<mining_countries>", share_tolerance_pct: float = 0.1
) -> pd.DataFrame:
    """Parse CCAF's mining map by country (v1.1.1 export or v1.1.0 layout).

    Returns ``date`` (first of the month, UTC day), ``region_code`` (ISO 3166-1 or ``OTHER``),
    ``region_name``, ``share_pct`` [% of global hashrate, monthly mean] and ``hashrate_ehs``
    [EH/s; NaN when the layout lacks it], sorted by date then code.

    Checks: required columns, ISO dates on the first of a month, shares in [0, 100], known
    country names, no repeated (date, country), dates ascending per country, and each month's
    shares summing to 100 ± ``share_tolerance_pct``. ``name`` labels error messages.
    """
    df = tab.load_csv(_text(text, name), name)
    layout = _layout(df, name, ("mining_countries", "mining_countries_v1.1.0"))
    return _mining(df, layout, name, "country", share_tolerance_pct)


def parse_mining_provinces(
    text: str | bytes, *, name: str = "<mining_provinces>", share_tolerance_pct: float = 0.1
) -> pd.DataFrame:
    """Parse CCAF's mining map of China by province.

    Returns ``date`` (first of the month), ``region_code`` (ISO 3166-2 ``CN-XJ`` … or
    ``CN-OTHER``), ``region_name`` and ``share_of_china_pct`` [% of CHINA's hashrate; the global
    share is this × China's ``share_pct`` / 100]. Checks as :func:`parse_mining_countries`.
    """
    df = tab.load_csv(_text(text, name), name)
    layout = _layout(df, name, ("mining_provinces",))
    return _mining(df, layout, name, "province", share_tolerance_pct)


def read_mining_countries(path: str | Path, *, share_tolerance_pct: float = 0.1) -> pd.DataFrame:
    """Read a CCAF mining-map-by-country CSV file (see :func:`parse_mining_countries`)."""
    return parse_mining_countries(
        tab.read_text(path), name=str(path), share_tolerance_pct=share_tolerance_pct
    )


def read_mining_provinces(path: str | Path, *, share_tolerance_pct: float = 0.1) -> pd.DataFrame:
    """Read a CCAF China-by-province CSV file (see :func:`parse_mining_provinces`)."""
    return parse_mining_provinces(
        tab.read_text(path), name=str(path), share_tolerance_pct=share_tolerance_pct
    )


# --------------------------------------------------------------------------------------------
# CBECI
# --------------------------------------------------------------------------------------------


def _check_timestamps(
    df: pd.DataFrame, frame: pd.DataFrame, lines: np.ndarray, name: str
) -> None:
    col = next((c for c in _TIMESTAMP_COLUMNS if c in df.columns), None)
    if col is None:
        return
    # datetime64[ns] holds +-9.2e9 s around 1970: a unix time beyond cannot name a day
    ts = tab.numbers(df, col, name, min_value=-9.2e9, max_value=9.2e9)
    day = pd.DatetimeIndex(pd.to_datetime(ts, unit="s")).normalize()
    bad = np.asarray(day != pd.DatetimeIndex(frame["date"]))
    if bad.any():
        i = int(np.argmax(bad))
        raise TableFormatError(
            name, col, df[col].iloc[i],
            f"unix time is {day[i]:%Y-%m-%d}, the row's date {frame['date'].iloc[i]:%Y-%m-%d}",
            line=int(lines[i]),
        )


def _cbeci(df: pd.DataFrame, layout: str, name: str) -> pd.DataFrame:
    vmap = VARIABLE_MAP[layout]
    tab.require_columns(df, _REQUIRED[layout], name)
    lines = tab.lines(df)
    date_col = next(k for k, v in vmap.items() if v == "date")
    frame = pd.DataFrame({"date": tab.dates(df, date_col, name)})
    values: dict[str, np.ndarray] = {}
    for src, out in vmap.items():
        if out == "date" or src not in df.columns:
            continue
        values[out] = tab.numbers(df, src, name, min_value=0.0) * UNIT_SCALE.get(src, 1.0)
    for out in _CBECI_ORDER:
        if out in values:
            frame[out] = values[out]
    tab.check_unique(frame, ("date",), lines, name, date_col)
    tab.check_ascending(frame, lines, name, date_col)
    _check_timestamps(df, frame, lines, name)
    for what, unit in (("power", "gw"), ("energy", "twh_yr")):
        cols = [f"{what}_{b}_{unit}" for b in ("lower", "guess", "upper")]
        if all(c in frame.columns for c in cols):
            tab.check_bounds_order(frame, cols[0], cols[1], cols[2], lines, name)
    frame.attrs.update(layout=layout, source=name)
    return frame


def parse_cbeci(text: str | bytes, *, name: str = "<cbeci>") -> pd.DataFrame:
    """Parse a CBECI daily series (the ``download/data`` export or CCAF's API files).

    Returns ``date`` and, as the layout has them: ``power_{upper,lower,guess}_gw`` [GW],
    ``energy_{upper,lower,guess}_twh_yr`` [TWh/yr, annualised], ``intensity_g_kwh``,
    ``intensity_world_g_kwh``, ``intensity_china_g_kwh`` [gCO2/kWh], ``china_share_pct`` [%],
    ``emissions_{upper,lower,guess}_mtco2e_yr`` [MtCO2e/yr].

    Checks: required columns, ISO dates (and the unix ``timestamp`` agreeing with them), numbers
    non-negative, one row per day, days ascending, lower <= guess <= upper.
    """
    df = tab.load_csv(_text(text, name), name)
    layout = _layout(df, name, ("cbeci_api_historical", "cbeci_api_prov", "cbeci_daily"))
    return _cbeci(df, layout, name)


def read_cbeci(path: str | Path) -> pd.DataFrame:
    """Read a CBECI daily series file (see :func:`parse_cbeci`)."""
    return parse_cbeci(tab.read_text(path), name=str(path))


def _is_by_price(columns: list[str]) -> bool:
    return (
        len(columns) > 1
        and columns[0].casefold() == "date"
        and all(_PRICE_HEADER.fullmatch(c) for c in columns[1:])
    )


def parse_cbeci_by_price(text: str | bytes, *, name: str = "<cbeci_by_price>") -> pd.DataFrame:
    """Parse CBECI's best guess under several electricity prices (``date, 0.01, 0.02, …``).

    Returns the long form ``date, price_usd_kwh [USD/kWh], energy_guess_twh_yr [TWh/yr]``, sorted
    by date then price. Checks: ISO dates, one row per day ascending, numbers non-negative.
    """
    df = tab.load_csv(_text(text, name), name)
    cols = tab.columns_of(df)
    if not _is_by_price(cols):
        raise TableFormatError(
            name, "(header)", ",".join(cols),
            "expected 'date' then one column per electricity price [USD/kWh]", line=1,
        )
    lines = tab.lines(df)
    day = tab.dates(df, cols[0], name)
    frame = pd.DataFrame({"date": day})
    tab.check_unique(frame, ("date",), lines, name, cols[0])
    tab.check_ascending(frame, lines, name, cols[0])
    prices = [float(c) for c in cols[1:]]
    if len(set(prices)) != len(prices):
        raise TableFormatError(name, "(header)", ",".join(cols), "repeated price column", line=1)
    parts = [
        pd.DataFrame(
            {
                "date": day,
                "price_usd_kwh": p,
                "energy_guess_twh_yr": tab.numbers(df, c, name, min_value=0.0),
            }
        )
        for c, p in zip(cols[1:], prices, strict=True)
    ]
    out = pd.concat(parts, ignore_index=True)
    out = out.sort_values(["date", "price_usd_kwh"], kind="stable").reset_index(drop=True)
    out.attrs.update(layout="cbeci_guess_by_price", source=name)
    return out


def read_cbeci_by_price(path: str | Path) -> pd.DataFrame:
    """Read a CBECI best-guess-by-price file (see :func:`parse_cbeci_by_price`)."""
    return parse_cbeci_by_price(tab.read_text(path), name=str(path))


# --------------------------------------------------------------------------------------------
# dispatcher
# --------------------------------------------------------------------------------------------


def parse_ccaf(text: str | bytes, *, name: str = "<ccaf>") -> ParsedTable:
    """Detect a CCAF file's layout from its header and parse it.

    Returns ``ParsedTable(kind, frame)`` with ``kind`` one of ``mining_countries``,
    ``mining_provinces``, ``cbeci_daily``, ``cbeci_guess_by_price`` (the frame's
    ``attrs["layout"]`` names the exact layout, see :data:`VARIABLE_MAP`). A header that matches
    no layout raises :class:`TableFormatError` listing the layouts expected.
    """
    s = _text(text, name)
    header = tab.header_of(s)
    if _is_by_price(header):
        return ParsedTable("cbeci_guess_by_price", parse_cbeci_by_price(s, name=name))
    df = tab.load_csv(s, name)
    layout = _layout(df, name, tuple(_SIGNATURES))
    if layout.startswith("mining_"):
        level = "province" if layout == "mining_provinces" else "country"
        frame = _mining(df, layout, name, level, 0.1)
    else:
        frame = _cbeci(df, layout, name)
    return ParsedTable(CCAF_KINDS[layout], frame)


def read_ccaf(path: str | Path) -> ParsedTable:
    """Read any CCAF file this module knows (see :func:`parse_ccaf`)."""
    return parse_ccaf(tab.read_text(path), name=str(path))
