"""Where the hashrate is after the last published map: a nowcast of the mining map, month by month
to the newest block, from evidence anyone can check, with intervals.

Model (a particle filter: Gordon, Salmond & Smith 1993, doi:10.1049/ip-f-2.1993.0015; smoothed
by the particles' ancestry, Kitagawa 1996, doi:10.1080/10618600.1996.10474692):

- **State**: each region's share of the network's hashrate (the map's regions as known on the
  as-of day — countries, China's provinces while CCAF published them — plus the subdivisions a
  natural experiment names, split off their country with the newest published figure).
- **Start**: the last month the map had published by the as-of day, with the map's sampling
  noise (Dirichlet, concentration :attr:`Settings.concentration`, the engine's default: CCAF's
  map is a sample of a few pools).
- **Dynamics between observations**: per month, each region's log share follows its damped
  trend (its log-share change over the last published year, times ``damping ** months``) and,
  for China's provinces, last year's step into the same calendar month (the hydro season); it
  departs from that path by Student-t noise (3 degrees of freedom: most months are quiet, some
  are not) scaled by the robust spread of the published month-to-month changes, and departures
  persist with a monthly factor of 0.97, so that years ahead the spread stays finite and no
  region vanishes for good. A ban in the catalogue that falls after the last published month
  removes a fraction of its region's hashrate drawn from its stated bounds (lasting).
- **Evidence**: each natural experiment known on the as-of day
  (:func:`hashshift.events.event_study`): the network's drop ``d`` (with its interval from the
  block process) is about the region's share ``s`` times the fraction stopped ``f``; a particle
  is weighted by ``mean over f of Normal(d; s·f, se)``, ``f`` uniform on the stated bounds.
  When the region lies inside a larger region of the state (Xinjiang inside China after 2021),
  the larger region's share only bounds it from above.
- Parameters are judgements fixed before any validation (:class:`Settings`) or measured on the
  data public on the as-of day; nothing is fitted to months published later.

Hashrate by region [EH/s] = share × the network's hashrate (the chain's monthly mean, or the
newest days for a month in progress); power [GW] = share × the network's CBECI best-guess power
of the month (the newest known when the month is later); emissions [MtCO2e/yr] = power × 8.766 ×
the region's grid intensity known on the as-of day / 1000.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from . import geography, regions
from .scoring import crps_samples
from .sources.pit import as_of_day, record_access, vintages_used

__all__ = ["Nowcast", "Settings", "naive", "nowcast", "score", "validation"]

#: Quantiles of the outputs.
Q = (0.05, 0.5, 0.95)


@dataclass(frozen=True)
class Settings:
    """The nowcast's judgements (fixed before validation; docs/nowcast.md gives the reasons)."""

    particles: int = 4000
    #: Dirichlet concentration of the published map's sampling noise [1] (the engine's default).
    concentration: float = 200.0
    #: Monthly damping of a region's trend [1]: half-life about 6.6 months.
    damping: float = 0.9
    #: Months of the published map the trend is measured over [months].
    trend_months: int = 12
    #: Largest trend in log share [1/month].
    trend_cap: float = 0.15
    #: Degrees of freedom of the monthly noise (Student t) [1]: most months are quiet, some not.
    tail_df: float = 3.0
    #: Smallest noise scale in log share [1/month].
    sigma_floor: float = 0.02
    #: Monthly persistence of a region's departure from its starting map plus trend [1]: 0.97
    #: lets departures last (half-life about 23 months) while keeping years-ahead spreads finite
    #: (a stationary spread of the noise scale / √(1 − 0.97²) ≈ 4.1 × it).
    reversion: float = 0.97
    #: Spread [log] of a published subdivision share around its value (pool samples).
    split_sd: float = 0.3
    #: Points of the stopped-fraction grid in the event likelihood.
    fraction_grid: int = 16


@dataclass
class Nowcast:
    """A nowcast as of a day: ``shares`` (one row per month × region: ``share_pct_q05``,
    ``share_pct_q50``, ``share_pct_q95``, ``share_pct_mean``, the same for ``hashrate_ehs``,
    ``power_gw``, ``emissions_mt_yr``, and ``observed``: True for a published month, whose
    values are exact), the particles of each nowcast month (``samples``: month -> particles ×
    regions, shares as fractions), the evidence used and the vintages read."""

    as_of: date
    last_published: pd.Timestamp
    regions: list[str]
    shares: pd.DataFrame
    samples: dict[pd.Timestamp, np.ndarray] = field(repr=False)
    evidence: pd.DataFrame = field(repr=False)
    vintages: list[dict[str, Any]] = field(default_factory=list, repr=False)
    settings: Settings = field(default_factory=Settings)
    seed: int = 0

    def country_samples(self, month: Any) -> tuple[list[str], np.ndarray]:
        """Particles × countries of a nowcast month (subdivisions summed into their country)."""
        m = pd.Timestamp(month)
        x = self.samples[m]
        codes = sorted({regions.parent_code(c) for c in self.regions})
        out = np.zeros((x.shape[0], len(codes)))
        for j, c in enumerate(self.regions):
            out[:, codes.index(regions.parent_code(c))] += x[:, j]
        return codes, out


# ---------------------------------------------------------------------------------------------
# the published map as known on a day
# ---------------------------------------------------------------------------------------------
def _known_map(as_of: date) -> tuple[pd.DataFrame, pd.DataFrame]:
    c = geography.shares_over_time("country", as_of=as_of)
    wide = c.pivot_table(index="date", columns="region_code", values="share_pct").fillna(0.0)
    try:
        p = geography.shares_over_time("province", as_of=as_of)
        pw = p.pivot_table(index="date", columns="region_code", values="share_pct").fillna(0.0)
    except (ValueError, KeyError):
        pw = pd.DataFrame()
    return wide / 100.0, pw / 100.0


def _leaves(country: pd.DataFrame, province: pd.DataFrame, last: pd.Timestamp
            ) -> tuple[list[str], np.ndarray]:
    """The state's regions at the last published month and their shares (fractions)."""
    row = country.loc[last]
    codes, shares = [], []
    split_cn = last in province.index and row.get("CN", 0.0) > 0
    for code, s in zip(row.index, row.to_numpy(float), strict=True):
        if code == "CN" and split_cn:
            prow = province.loc[last]
            for pc, ps in zip(prow.index, prow.to_numpy(float), strict=True):
                codes.append(str(pc))
                shares.append(float(ps))
            continue
        codes.append(str(code))
        shares.append(float(s))
    x = np.asarray(shares)
    return codes, x / x.sum()


def _series(country: pd.DataFrame, province: pd.DataFrame, code: str) -> pd.Series:
    if code in country.columns:
        return country[code]
    if code in province.columns:
        return province[code]
    return pd.Series(dtype=float)


def _trend_and_noise(country: pd.DataFrame, province: pd.DataFrame, codes: list[str],
                     last: pd.Timestamp, st: Settings) -> tuple[np.ndarray, float]:
    """Per region, the trend of its log share [1/month]: its change over exactly one year of
    published months (the same season at both ends, so the hydro season does not pass for a
    trend), 0 when the map does not yet reach a year back; and the noise scale [1/month]: the
    robust spread (1.4826 × median absolute deviation) of every published month-to-month change
    of a log share, over the regions holding at least 1 % at the state's own levels."""
    mu = np.zeros(len(codes))
    year = last - pd.DateOffset(months=st.trend_months)
    for j, c in enumerate(codes):
        s = _series(country, province, c)
        if year in s.index and last in s.index and s[year] > 0.002 and s[last] > 0.002:
            mu[j] = np.clip(math.log(s[last] / s[year]) / st.trend_months, -st.trend_cap,
                            st.trend_cap)
    changes = []
    frames = [country] + ([province] if any(c.startswith("CN-") for c in codes) else [])
    for frame in frames:
        if frame.empty:
            continue
        f = frame[frame.index <= last]
        with np.errstate(divide="ignore", invalid="ignore"):
            d = np.diff(np.log(f.where(f >= 0.01).to_numpy()), axis=0).ravel()
        changes.append(d[np.isfinite(d)])
    x = np.concatenate(changes) if changes else np.zeros(0)
    sigma = 1.4826 * float(np.median(np.abs(x - np.median(x)))) if x.size >= 8 else 0.1
    return mu, max(sigma, st.sigma_floor)


def _seasonal(province: pd.DataFrame, codes: list[str], last: pd.Timestamp,
              month: pd.Timestamp) -> np.ndarray:
    """Expected change of each province's log share into ``month``: the same calendar step a
    year earlier (Sichuan's and Yunnan's wet season), only when the map holds a whole year of
    provinces (every step of the cycle, so the steps add up to the year's change); else 0."""
    out = np.zeros(len(codes))
    if province.empty or (province.index <= last).sum() < 13:
        return out
    a, b = month - pd.DateOffset(months=13), month - pd.DateOffset(months=12)
    while b > last:  # beyond the data: the last known year's step for that calendar month
        a, b = a - pd.DateOffset(months=12), b - pd.DateOffset(months=12)
    if a not in province.index or b not in province.index:
        return out
    cols = list(province.columns)
    ra, rb = province.loc[a].to_numpy(float), province.loc[b].to_numpy(float)
    for j, c in enumerate(codes):
        if c in cols:
            va, vb = float(ra[cols.index(c)]), float(rb[cols.index(c)])
            if va > 0.002 and vb > 0.002:
                out[j] = math.log(vb / va)
    return out


# ---------------------------------------------------------------------------------------------
# the filter
# ---------------------------------------------------------------------------------------------
def _normalise(logs: np.ndarray) -> np.ndarray:
    z = np.exp(logs - logs.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def _resample(w: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Systematic resampling: indices of the particles kept."""
    n = w.size
    u = (rng.random() + np.arange(n)) / n
    return np.minimum(np.searchsorted(np.cumsum(w), u), n - 1)


def _covered(node: str, codes: list[str]) -> np.ndarray:
    return np.array([regions.covers(node, c) for c in codes])


def _event_weight(shares: np.ndarray, codes: list[str], ev: dict[str, Any],
                  f_fixed: np.ndarray | None, st: Settings) -> np.ndarray:
    """Likelihood of one event's measured drop for every particle."""
    d = ev["drop"]
    se = ev["drop_se"]
    mask = _covered(ev["region"], codes)
    if mask.any():
        s = shares[:, mask].sum(axis=1)
        upper_only = False
    else:  # the region lies inside a region of the state: that one's share bounds it
        hold = regions.holder(ev["region"], codes)
        if hold is None:
            return np.ones(shares.shape[0])
        s = shares[:, codes.index(hold)]
        upper_only = True
    if f_fixed is not None:
        f = f_fixed[:, None]
    else:
        f = np.linspace(ev["stopped_lo"], ev["stopped_hi"], st.fraction_grid)[None, :]
    if upper_only:
        # the region's own share s_r <= s: P(d <= s_r f) integrated over s_r ~ U(0, s)
        sr = s[:, None] * np.linspace(0.0, 1.0, 21)[None, :]
        x = (d - sr[:, :, None] * f[:, None, :]) / se  # the normal density, as scipy.stats'
        lik = (np.exp(-x**2 / 2.0) / np.sqrt(2 * np.pi) / se).mean(axis=(1, 2))
        return np.asarray(lik)
    z = (d - s[:, None] * f) / se
    return np.exp(-0.5 * z * z).mean(axis=1)


def _evidence(as_of: date, first_month: pd.Timestamp) -> list[dict[str, Any]]:
    """The natural experiments known on ``as_of`` that fall after the last published month,
    measured as of that day."""
    from .events import catalogue, event_study

    out = []
    cat = catalogue(as_of=as_of)
    for r in cat.to_dict("records"):
        month = pd.Timestamp(r["during_start"]).tz_localize(None).to_period("M").to_timestamp()
        if month < first_month or not r["nowcast"]:
            continue
        es = event_study(r["event"], as_of=as_of)
        rr = 1 - es.drop_pct["drop_pct"] / 100
        out.append({"event": r["event"], "region": r["region"], "kind": r["kind"],
                    "month": month, "drop": 1 - rr, "drop_se": rr * es.drop_pct["log_ratio_se"],
                    "stopped_lo": r["stopped_lo"], "stopped_hi": r["stopped_hi"],
                    "drop_pct": es.drop_pct["drop_pct"], "drop_lo_pct": es.drop_pct["lo_pct"],
                    "drop_hi_pct": es.drop_pct["hi_pct"]})
    return out


def _split_subdivisions(codes: list[str], x0: np.ndarray, names: list[str], as_of: date,
                        n: int, rng: np.random.Generator, st: Settings
                        ) -> tuple[list[str], np.ndarray, list[str]]:
    """Split the subdivisions ``names`` off their country in every particle (``x0``: particles ×
    regions), with the newest share published on ``as_of`` (log-normal spread)."""
    from .sources.bundled_geo import read_subdivision_shares

    pub = read_subdivision_shares(as_of=as_of)
    pub = pub.sort_values("published").groupby("region_code").tail(1).set_index("region_code")
    notes = []
    for name in names:
        parent = regions.parent_code(name)
        if name in codes or parent not in codes or name not in pub.index:
            continue
        row = pub.loc[name]
        frac = float(pub["share_of_parent_pct"].to_numpy(float)[pub.index.get_loc(name)]) / 100.0
        draw = np.clip(frac * np.exp(st.split_sd * rng.standard_normal(n)
                                     - st.split_sd**2 / 2), 0.001, 0.95)
        j = codes.index(parent)
        part = x0[:, j] * draw
        x0 = np.column_stack([x0, part])
        x0[:, j] -= part
        codes = [*codes[:j], f"{parent}-OTHER", *codes[j + 1:], name]
        notes.append(f"{name}: {frac * 100:.1f} % of {parent} "
                     f"({row['source']!s}, published {str(row['published'])[:10]})")
    return codes, x0, notes


def nowcast(as_of: Any, *, through: Any = None, seed: int = 2022,
            settings: Settings | None = None) -> Nowcast:
    """The mining map as known on ``as_of``: published months as published, later months to
    ``through`` (default: the month of the newest chain day public then) nowcast with their
    intervals (see the module docstring)."""
    st = settings or Settings()
    day = as_of_day(as_of)
    if day is None:
        raise ValueError("as_of is required: the nowcast is always as known on a day")
    with record_access() as log:
        out = _nowcast(day, through, seed, st)
    out.vintages = vintages_used(log)
    return out


def _newest_chain_day(day: date) -> pd.Timestamp:
    from .sources.bundled_chain import read_blocks_daily

    d = read_blocks_daily(as_of=day)
    if d.empty:
        raise ValueError(f"no chain data were public on {day}")
    return pd.Timestamp(d["date"].max())


def _nowcast(day: date, through: Any, seed: int, st: Settings) -> Nowcast:
    country, province = _known_map(day)
    if country.empty:
        raise ValueError(f"no mining-map month was public on {day}")
    last = pd.Timestamp(country.index.max())
    end = (pd.Timestamp(through) if through is not None else _newest_chain_day(day))
    end = end.to_period("M").to_timestamp()
    months = list(pd.date_range(last + pd.offsets.MonthBegin(1), end, freq="MS"))
    rng = np.random.default_rng(seed)
    codes, base = _leaves(country, province, last)
    n = st.particles
    x0 = rng.dirichlet(np.maximum(base * st.concentration, 1e-3), size=n)
    evidence = _evidence(day, months[0]) if months else []
    codes, x0, split_notes = _split_subdivisions(
        codes, x0, [e["region"] for e in evidence if "-" in e["region"]], day, n, rng, st)
    mu, sigma = _trend_and_noise(country, province, codes, last, st)
    logs = np.log(np.maximum(x0, 1e-9))
    anchor = logs.copy()  # each particle's starting map: what the noise reverts towards
    ban_f: dict[str, np.ndarray] = {}
    history_x: list[np.ndarray] = []
    ancestors: list[np.ndarray] = []
    for m_i, month in enumerate(months):
        # log shares: the drift (damped trend, seasonal step), a slow pull back towards the
        # starting map (so that no region vanishes or takes all over years) and Student-t noise
        drift = mu * st.damping ** (m_i + 1) + _seasonal(province, codes, last, month)
        anchor = anchor + drift
        logs = anchor + st.reversion * (logs - anchor) + \
            sigma * rng.standard_t(st.tail_df, size=logs.shape)
        logs -= logs.max(axis=1, keepdims=True)
        anchor -= anchor.max(axis=1, keepdims=True)
        x = _normalise(logs)
        w = np.ones(n)
        for ev in (e for e in evidence if e["month"] == month):
            f = None
            if ev["kind"] == "ban":
                f = ban_f.setdefault(ev["event"], rng.uniform(ev["stopped_lo"],
                                                                ev["stopped_hi"], n))
            w *= _event_weight(x, codes, ev, f, st)
        for ev in (e for e in evidence if e["month"] == month and e["kind"] == "ban"):
            mask = _covered(ev["region"], codes)
            cut = np.log(np.maximum(1 - ban_f[ev["event"]], 1e-6))[:, None]
            logs[:, mask] += cut
            anchor[:, mask] += cut  # a ban lasts: the path the shares revert to moves too
        idx = np.arange(n)
        if w.sum() > 0 and np.isfinite(w).all():
            w = w / w.sum()
            if 1.0 / np.sum(w * w) < n / 2:
                idx = _resample(w, rng)
                logs, anchor = logs[idx], anchor[idx]
                for key in ban_f:
                    ban_f[key] = ban_f[key][idx]
        ancestors.append(idx)
        history_x.append(_normalise(logs).astype(np.float32))
    # smoothing by ancestry: trace the final particles back through every resampling
    samples: dict[pd.Timestamp, np.ndarray] = {}
    lineage = np.arange(n)
    for m_i in range(len(months) - 1, -1, -1):
        samples[months[m_i]] = history_x[m_i][lineage]
        lineage = ancestors[m_i][lineage]
    frame = _tabulate(day, country, province, last, codes, samples)
    ev_frame = pd.DataFrame(evidence)
    if split_notes:
        ev_frame.attrs["splits"] = split_notes
    return Nowcast(day, last, codes, frame, samples, ev_frame, settings=st, seed=seed)


# ---------------------------------------------------------------------------------------------
# outputs: shares, hashrate, power, emissions
# ---------------------------------------------------------------------------------------------
def _network(day: date, months: list[pd.Timestamp]) -> dict[pd.Timestamp, float]:
    """The network's mean hashrate [EH/s] per month as known on ``day`` (the newest known days
    for a month still in progress; NaN beyond the data)."""
    from . import history

    monthly = geography.network_hashrate_monthly(as_of=day)
    daily = history.hashrate_daily(as_of=day)
    daily["month"] = pd.to_datetime(daily["date"]).dt.to_period("M").dt.to_timestamp()
    partial = daily.groupby("month")["hashrate_ehs"].mean()
    return {m: float(monthly.get(m, partial.get(m, np.nan))) for m in months}


def _power_per_ehs(day: date, months: list[pd.Timestamp]) -> dict[pd.Timestamp, float]:
    """CBECI best-guess power per unit of hashrate [GW per EH/s] per month, from the market
    months public on ``day`` (a later month takes the newest known)."""
    from .cbeci import run_cbeci
    from .hardware import catalogue
    from .sources.bundled_observed import read_market_monthly

    cb = run_cbeci(read_market_monthly(as_of=day), catalogue(as_of=day))
    cb = cb.dropna(subset=["power_guess_gw"])
    ratio = (cb["power_guess_gw"] / cb["hashrate_ehs"]).to_numpy()
    dates = pd.to_datetime(cb["date"]).to_numpy()
    out = {}
    for m in months:
        i = np.searchsorted(dates, np.datetime64(m), side="right") - 1
        out[m] = float(ratio[i]) if i >= 0 else np.nan
    return out


def _intensity(day: date, codes: list[str], months: list[pd.Timestamp]) -> np.ndarray:
    from .energy import intensity_lookup
    from .sources.bundled_observed import read_grid_intensity

    grid = read_grid_intensity(as_of=day)
    out = np.full((len(months), len(codes)), np.nan)
    for j, c in enumerate(codes):
        for i, m in enumerate(months):
            try:
                out[i, j] = intensity_lookup(grid, c, m.month)[0]
            except LookupError:
                pass
    return out


def _tabulate(day: date, country: pd.DataFrame, province: pd.DataFrame, last: pd.Timestamp,
              codes: list[str], samples: dict[pd.Timestamp, np.ndarray]) -> pd.DataFrame:
    from .units import MT_PER_TWH_G_KWH, TWH_YR_PER_GW

    months = list(country.index) + sorted(samples)
    net = _network(day, months)
    gw = _power_per_ehs(day, months)
    rows: list[dict[str, Any]] = []

    def add(month: pd.Timestamp, code: str, level: str, x: np.ndarray, observed: bool,
            intensity: float) -> None:
        pct = x * 100.0
        q = np.quantile(pct, Q) if x.size > 1 else np.repeat(pct, 3)
        rec: dict[str, Any] = {"month": month, "region_code": code, "level": level,
                               "observed": observed}
        for name, scale in (("share_pct", 1.0), ("hashrate_ehs", net[month] / 100.0),
                            ("power_gw", net[month] * gw[month] / 100.0),
                            ("emissions_mt_yr", net[month] * gw[month] / 100.0 * TWH_YR_PER_GW
                             * intensity * MT_PER_TWH_G_KWH)):
            rec[f"{name}_q05"], rec[f"{name}_q50"], rec[f"{name}_q95"] = (v * scale for v in q)
            rec[f"{name}_mean"] = float(pct.mean()) * scale
        rows.append(rec)

    country_codes = sorted(country.columns)
    inten_c = _intensity(day, country_codes, months)
    for i, m in enumerate(country.index):
        for j, c in enumerate(country_codes):
            add(m, c, "country", np.array([country.loc[m, c]]), True, inten_c[i, j])
        if m in province.index:
            for pc in province.columns:
                add(m, pc, "province", np.array([province.loc[m, pc]]), True,
                    _intensity(day, [pc], [m])[0, 0])
    nc_months = sorted(samples)
    if nc_months:
        parents = sorted({regions.parent_code(c) for c in codes})
        inten_p = _intensity(day, parents, nc_months)
        inten_s = _intensity(day, codes, nc_months)
        for i, m in enumerate(nc_months):
            x = samples[m].astype(float)
            for j, c in enumerate(parents):
                cols = [k for k, code in enumerate(codes) if regions.parent_code(code) == c]
                add(m, c, "country", x[:, cols].sum(axis=1), False, inten_p[i, j])
            for j, c in enumerate(codes):
                if "-" in c:
                    level = "province" if c.startswith("CN-") else "subdivision"
                    add(m, c, level, x[:, j], False, inten_s[i, j])
    out = pd.DataFrame(rows)
    out.attrs.update(as_of=str(day), last_published=f"{last:%Y-%m}")
    return out


# ---------------------------------------------------------------------------------------------
# validation: rolling origin over CCAF's releases
# ---------------------------------------------------------------------------------------------
def naive(as_of: Any, months: list[pd.Timestamp]) -> pd.DataFrame:
    """The naive answer: the last map published by ``as_of``, carried forward (country level,
    share [%] per month and country)."""
    country, _ = _known_map(as_of_day(as_of))  # type: ignore[arg-type]
    last = country.iloc[-1] * 100.0
    return pd.DataFrame([{"month": m, "region_code": c, "share_pct": float(v)}
                         for m in months for c, v in last.items()])


def score(nc: Nowcast, truth: pd.DataFrame) -> pd.DataFrame:
    """Per nowcast month × country published later: the truth, the nowcast's median and 90 %
    interval, its absolute error [pp], whether the interval holds the truth, its CRPS [pp], and
    the naive answer's error (= its CRPS, a point forecast) [pp]."""
    nv = naive(nc.as_of, sorted(nc.samples)).set_index(["month", "region_code"])["share_pct"]
    rows = []
    for m in sorted(nc.samples):
        t = truth[truth["month"] == m].set_index("region_code")["share_pct"]
        if t.empty:
            continue
        codes, x = nc.country_samples(m)
        for c in t.index:
            y = float(t[c])
            s = x[:, codes.index(c)] * 100.0 if c in codes else np.zeros(x.shape[0])
            q05, q50, q95 = np.quantile(s, Q)
            naive_v = float(nv.get((m, c), 0.0))
            rows.append({"month": m, "region_code": c, "published_pct": y, "q05": q05,
                         "q50": q50, "q95": q95, "abs_err_pp": abs(q50 - y),
                         "inside_90": bool(q05 <= y <= q95), "crps_pp": crps_samples(s, y),
                         "naive_pct": naive_v, "naive_abs_err_pp": abs(naive_v - y)})
    return pd.DataFrame(rows)


def validation(*, seed: int = 2022, settings: Settings | None = None) -> pd.DataFrame:
    """Rolling origin: for every CCAF release day D, nowcast as of D the months up to those the
    next release published, and score them against it (:func:`score`). One row per origin:
    months and countries scored, MAE [pp] and mean CRPS [pp] of the nowcast and of the naive
    answer, their ratios, and the 90 % interval's coverage [%]."""
    table, _ = validation_detail(seed=seed, settings=settings)
    return table


def validation_detail(*, seed: int = 2022, settings: Settings | None = None
                      ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`validation` and the scored rows behind it (column ``origin``)."""
    releases = sorted(pd.Timestamp(d).date() for d in
                      geography.mining_map()["published"].dropna().unique())
    full = geography.shares_over_time("country")
    truth = full[["date", "region_code", "share_pct"]].rename(columns={"date": "month"})
    rows, detail = [], []
    for origin, nxt in zip(releases[:-1], releases[1:], strict=True):
        new = geography.months("country", as_of=nxt)
        known = geography.months("country", as_of=origin)
        target = [m for m in new if m not in set(known)]
        nc = nowcast(origin, through=max(target), seed=seed, settings=settings)
        sc = score(nc, truth[truth["month"].isin(target)])
        sc.insert(0, "origin", str(origin))
        detail.append(sc)
        mae, nmae = sc["abs_err_pp"].mean(), sc["naive_abs_err_pp"].mean()
        crps = sc["crps_pp"].mean()
        rows.append({"origin": str(origin), "last_published": f"{nc.last_published:%Y-%m}",
                     "months": f"{min(target):%Y-%m} … {max(target):%Y-%m}",
                     "n": len(sc), "mae_pp": mae, "naive_mae_pp": nmae,
                     "mae_ratio": mae / nmae if nmae else np.nan, "crps_pp": crps,
                     "crps_ratio": crps / nmae if nmae else np.nan,
                     "coverage_pct": float(sc["inside_90"].mean() * 100.0)})
    return pd.DataFrame(rows), pd.concat(detail, ignore_index=True)
