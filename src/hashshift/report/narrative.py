"""Short narratives generated from the numbers: what changed, when, and by how much.

Each function returns plain-text sentences (the HTML builder escapes them) and a few headline
``facts`` (label, value, note) for the report's summary cards.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from ..sim.engine import Result

__all__ = ["Fact", "Narrative", "observed_narrative", "scenario_narrative",
           "track_record_text"]


@dataclass
class Fact:
    label: str
    value: str
    note: str = ""


@dataclass
class Narrative:
    paragraphs: list[str] = field(default_factory=list)
    facts: list[Fact] = field(default_factory=list)


def _d(t: Any) -> str:
    """``3 Jul 2021``."""
    ts = pd.Timestamp(t)
    return f"{ts.day} {ts:%b %Y}"


def _pct(x: float, digits: int = 1) -> str:
    return f"{x:+.{digits}f} %".replace("-", "−")


def _ehs(x: float) -> str:
    return f"{x:,.0f} EH/s" if x >= 100 else f"{x:,.1f} EH/s"


def _naive_utc(s: pd.Series) -> pd.Series:
    t = pd.to_datetime(s)
    if t.dt.tz is not None:
        t = t.dt.tz_convert("UTC").dt.tz_localize(None)
    return t


def _label(code: str) -> str:
    from ..regions import region_name

    try:
        return region_name(code)
    except LookupError:
        return code


# ---------------------------------------------------------------------------------------------
def observed_narrative(epochs: pd.DataFrame | None = None,
                       country_shares: pd.DataFrame | None = None,
                       cut_pct: float = -10.0) -> Narrative:
    """Headlines of the bundled history and the mining map."""
    from .. import geography, history

    ep = history.epochs() if epochs is None else epochs
    out = Narrative()
    hr = ep.dropna(subset=["hashrate_ehs"])
    last = hr.iloc[-1]
    cuts = history.largest_cuts(ep, len(ep), below_pct=cut_pct)
    worst: Any = history.largest_cuts(ep).iloc[0]
    out.facts.append(Fact("network hashrate (epoch mean)", _ehs(float(last["hashrate_ehs"])),
                          f"one value for epoch {int(last['epoch'])} (about two weeks from "
                          f"{_d(last['first_time'])}), from its difficulty and duration; 95 % "
                          f"interval {float(last['hashrate_lo_ehs']):,.0f}–"
                          f"{float(last['hashrate_hi_ehs']):,.0f} EH/s"))
    out.facts.append(Fact("largest difficulty cut (one retarget, exact)",
                          _pct(float(worst["change_pct"]), 2),
                          f"block {int(worst['first_height']):,}, {_d(worst['first_time'])}"))
    text = (
        f"The bundled chain history runs from {_d(ep['first_time'].iloc[0])} to "
        f"{_d(hr['last_time'].iloc[-1])} ({len(ep):,} difficulty epochs). The newest complete "
        f"epoch ({int(last['epoch'])}) implies {_ehs(float(last['hashrate_ehs']))} "
        f"(95 % interval {float(last['hashrate_lo_ehs']):,.0f}–"
        f"{float(last['hashrate_hi_ehs']):,.0f} EH/s). {len(cuts)} retargets cut the "
        f"difficulty by {abs(cut_pct):g} % or more; the deepest was "
        f"{_pct(float(worst['change_pct']), 2)} at block {int(worst['first_height']):,} on "
        f"{_d(worst['first_time'])}"
    )
    if pd.Timestamp(worst["first_time"]).year == 2021:
        text += ", after China's 2021 crackdown drove miners offline"
    out.paragraphs.append(text + ".")
    cs = geography.shares_over_time("country") if country_shares is None else country_shares
    if len(cs):
        months = sorted(pd.to_datetime(cs["date"]).unique())
        first, lastm = months[0], months[-1]
        a = cs[pd.to_datetime(cs["date"]) == first].set_index("region_code")["share_pct"]
        b = cs[pd.to_datetime(cs["date"]) == lastm].set_index("region_code")["share_pct"]
        delta = (b - a.reindex(b.index).fillna(0.0)).drop(labels=["OTHER"], errors="ignore")
        up = delta[delta > 0.5].sort_values(ascending=False).head(3)
        cn_a, cn_b = float(a.get("CN", np.nan)), float(b.get("CN", np.nan))
        text = (f"CCAF's mining map covers {pd.Timestamp(first):%B %Y} to "
                f"{pd.Timestamp(lastm):%B %Y}: China's share went from {cn_a:.1f} % to "
                f"{cn_b:.1f} %")
        if len(up):
            text += "; the largest gains were " + ", ".join(
                f"{_label(str(c))} (+{float(v):.1f} points)" for c, v in up.items())
        out.paragraphs.append(text + ".")
        out.facts.append(Fact("China's share (CCAF map, monthly value)", f"{cn_b:.1f} %",
                              f"{pd.Timestamp(lastm):%B %Y}, from {cn_a:.1f} % in "
                              f"{pd.Timestamp(first):%b %Y}"))
    _emissions_text(out)
    return out


def _emissions_text(out: Narrative) -> None:
    """The observed emissions: the peak observed month and CCAF's last, with CBECI's bounds
    (:func:`hashshift.emissions.monthly_emissions`)."""
    from .. import emissions as em

    f = em.monthly_emissions(nowcast=False)
    w = f[f["region_code"] == em.WORLD].reset_index(drop=True)
    if w.empty:
        return

    def say(r: Any) -> str:
        return (f"{float(r['emissions_guess_mt_yr']):.0f} MtCO2e/yr in "
                f"{pd.Timestamp(r['month']):%B %Y} (bounds "
                f"{float(r['emissions_lower_mt_yr']):.0f}–"
                f"{float(r['emissions_upper_mt_yr']):.0f})")

    peak = w.iloc[int(np.argmax(w["emissions_guess_mt_yr"].to_numpy(dtype=float)))]
    last = w.iloc[-1]
    price = f.attrs["price_usd_kwh"]
    out.paragraphs.append(
        f"Observed emissions (each country's share in CCAF's map × CBECI's power at {price:g} "
        f"USD/kWh × the country's grid intensity) peaked at {say(peak)} and were "
        f"{say(last)}, CCAF's last month; the bounds are CBECI's lower and upper power bounds "
        f"× the same intensities. {f.attrs['fallback']}")
    out.facts.append(Fact("network emissions (monthly value, CBECI best guess)",
                          f"{float(last['emissions_guess_mt_yr']):.0f} MtCO2e/yr",
                          f"{pd.Timestamp(last['month']):%B %Y}, CCAF's last month; bounds "
                          f"{float(last['emissions_lower_mt_yr']):.0f}–"
                          f"{float(last['emissions_upper_mt_yr']):.0f}"))


def track_record_text(result: Result) -> str:
    """The run against the real epochs, in plain words: how often the band held the truth, on
    which side it missed, when the recovery came, and the daily low beside the epoch mean."""
    from ..sim.backtest import track_record

    t = track_record(result)
    if t is None:
        return ""
    side = ("above" if t["above"] >= t["below"] else "below")
    txt = (f"How good was it? Over the {t['epochs']} epochs that started from "
           f"{_d(pd.Timestamp(t['first_epoch_start']))} to "
           f"{_d(pd.Timestamp(t['last_epoch_start']))}, the real epoch-mean hashrate lay "
           f"inside the simulated 90 % band in {t['inside']} ({t['coverage_pct']:.0f} %; a "
           f"well-calibrated band holds it about 90 % of the time): above it in "
           f"{t['above']}, below it in {t['below']}")
    txt += (f", so the model was mostly too {'pessimistic' if side == 'above' else 'optimistic'}"
            if t["above"] + t["below"] else "")
    txt += f" (mean weighted interval score {t['wis_ehs']:.1f} EH/s). "
    real_b, sim_b = t["real_back"], t["sim_back"]
    if real_b:
        txt += (f"The real hashrate was back at its pre-ban level ({_ehs(t['start_ehs'])}) in "
                f"the epoch from {_d(pd.Timestamp(real_b))}; the simulated median "
                + (f"only in the epoch from {_d(pd.Timestamp(sim_b))}. " if sim_b
                   else "not within the overlap with history. "))
    if t["daily_low_date"]:
        txt += (f"Counted day by day, the real low was {_ehs(t['daily_low_ehs'])} on "
                f"{_d(pd.Timestamp(t['daily_low_date']))} (one day's blocks, a noisy "
                f"estimate), far below the lowest epoch mean, {_ehs(t['epoch_low_ehs'])}: epoch "
                "means, which the simulation is compared with, smooth such days out.")
    return txt


# ---------------------------------------------------------------------------------------------
def scenario_narrative(result: Result) -> Narrative:
    """What a scenario run shows: the trough, the largest retarget, the real path where the
    history overlaps, which regions gained and lost share, power, emissions and hashprice."""
    from .. import history

    out = Narrative()
    cfg = result.config
    name = cfg.get("scenario", {}).get("scenario", {}).get("name", "the scenario")
    w = result.world("hashrate_ehs")
    dates = _naive_utc(w["date"])
    q50 = w["q50"].to_numpy(dtype=float)
    start, end = dates.iloc[0], dates.iloc[-1]
    h0 = q50[0]
    i = int(np.argmin(q50))
    trough, t_trough = q50[i], dates.iloc[i]
    paths = cfg.get("paths", "?")
    bans = [e for e in cfg.get("scenario", {}).get("event", []) or [] if e.get("kind") == "ban"]
    first = (f"“{name}” runs {len(dates)} days from {_d(start)} over {paths} Monte Carlo "
             f"paths with {len(bans)} ban event{'s' if len(bans) != 1 else ''}"
             + (f" ({', '.join(str(b.get('region')) for b in bans)})" if bans else "") + ". ")
    if i > 0 and trough < h0 * 0.995:
        first += (f"The median network hashrate falls from {_ehs(h0)} to a trough of "
                  f"{_ehs(trough)} on {_d(t_trough)} ({_pct((trough / h0 - 1) * 100)}; 90 % "
                  f"band {w['q05'].iloc[i]:,.0f}–{w['q95'].iloc[i]:,.0f} EH/s)")
        back = np.nonzero(q50[i:] >= h0)[0]
        if len(back):
            first += f" and is back at its starting level on {_d(dates.iloc[i + back[0]])}."
        else:
            first += (f" and ends at {_ehs(q50[-1])} on {_d(end)}, "
                      f"{_pct((q50[-1] / h0 - 1) * 100)} against the start.")
        out.facts.append(Fact(f"simulated trough (daily value, median of {paths} paths)",
                              _ehs(trough),
                              f"the lowest day of the median: {_d(t_trough)}, "
                              f"{_pct((trough / h0 - 1) * 100)} against day 1"))
    else:
        first += (f"The median network hashrate goes from {_ehs(h0)} to {_ehs(q50[-1])} by "
                  f"{_d(end)} ({_pct((q50[-1] / h0 - 1) * 100)}) without a marked trough.")
    out.paragraphs.append(first)

    # real path where the history overlaps
    real = history.epochs(since=start.tz_localize("UTC"), until=end.tz_localize("UTC"))
    real_h = real.dropna(subset=["hashrate_ehs"])
    if len(real_h) >= 2:
        j = int(np.argmin(real_h["hashrate_ehs"].to_numpy()))
        r = real_h.iloc[j]
        r0 = float(real_h["hashrate_ehs"].iloc[0])
        txt = (f"In reality the epoch-mean hashrate went from {_ehs(r0)} to a low of "
               f"{_ehs(float(r['hashrate_ehs']))} in the epoch from {_d(r['first_time'])} "
               f"({_pct((float(r['hashrate_ehs']) / r0 - 1) * 100)})")
        rt = _naive_utc(pd.Series([r["first_time"]])).iloc[0]
        if pd.notna(r["last_time"]):
            rt = rt + (_naive_utc(pd.Series([r["last_time"]])).iloc[0] - rt) / 2
        k = int(np.argmin(np.abs((dates - rt).dt.days.to_numpy())))
        lo, hi = float(w["q05"].iloc[k]), float(w["q95"].iloc[k])
        inside = lo <= float(r["hashrate_ehs"]) <= hi
        txt += (f"; the simulated 90 % band in the middle of that epoch is {lo:,.0f}–{hi:,.0f} "
                f"EH/s, {'which contains it' if inside else 'which misses it'}.")
        out.paragraphs.append(txt)
        out.facts.append(Fact("real low (epoch mean)", _ehs(float(r["hashrate_ehs"])),
                              f"epoch from {_d(r['first_time'])}, "
                              f"{_pct((float(r['hashrate_ehs']) / r0 - 1) * 100)}"))
        record = track_record_text(result)
        if record:
            out.paragraphs.append(record)

    # retargets
    from ..sim.outcomes import largest_cut

    cut = largest_cut(result)
    if cut is not None:
        k_ep, c = cut["epoch"], cut["change_pct"]
        when = start + pd.Timedelta(days=float(cut["day"] or 0.0))
        txt = (f"The largest simulated retarget is {_pct(c['q50'])} (median over paths, among "
               f"the epochs every path completed; 90 % range {_pct(c['q05'])} to "
               f"{_pct(c['q95'])}) at the end of epoch {k_ep}, block {cut['height']:,}, around "
               f"{_d(when)}")
        allep: Any = history.epochs().set_index("epoch")
        if k_ep + 1 in allep.index and pd.notna(allep.loc[k_ep + 1, "change_pct"]):
            rr = allep.loc[k_ep + 1]
            txt += (f"; the real retarget there was {_pct(float(rr['change_pct']), 2)} on "
                    f"{_d(rr['first_time'])}.")
        else:
            txt += "."
        out.paragraphs.append(txt)
        out.facts.append(Fact(f"largest simulated retarget (median of {paths} paths)",
                              _pct(c["q50"]),
                              f"block {cut['height']:,}, ≈ {_d(when)}"))

    # shares
    d = result.daily
    sh = d[(d["metric"] == "share_pct") & (d["region"] != "WORLD")]
    if len(sh):
        sh_dates = _naive_utc(sh["date"])
        s0 = sh[sh_dates == sh_dates.min()].set_index("region")["mean"]
        s1 = sh[sh_dates == sh_dates.max()].set_index("region")["mean"]
        delta = (s1 - s0).sort_values()
        gain = delta[delta > 0.5].sort_values(ascending=False).head(3)
        lose = delta[delta < -0.5].head(3)
        china0 = float(s0[[c for c in s0.index if str(c).startswith("CN")]].sum())
        china1 = float(s1[[c for c in s1.index if str(c).startswith("CN")]].sum())
        parts = [f"China's share of the hashrate goes from {china0:.1f} % to {china1:.1f} % "
                 f"(mean of paths) by {_d(end)}"]
        if len(gain):
            parts.append("the largest gains: " + ", ".join(
                f"{_label(str(c))} {s0[c]:.1f} → {s1[c]:.1f} %" for c in gain.index))
        if len(lose):
            parts.append("the largest losses: " + ", ".join(
                f"{_label(str(c))} {s0[c]:.1f} → {s1[c]:.1f} %" for c in lose.index))
        out.paragraphs.append("; ".join(parts) + ".")
        out.facts.append(Fact(f"China's share (daily value, mean of {paths} paths)",
                              f"{china0:.0f} → {china1:.0f} %",
                              f"first day {_d(start)} → last day {_d(end)}"))

    # power, emissions, hashprice, exits
    bits = []
    for metric, unit, fmt in (("power_gw", "GW", "{:.1f}"),
                              ("emissions_mt_yr", "MtCO2e/yr", "{:.0f}")):
        m = result.world(metric)
        if len(m):
            a, b = float(m["q50"].iloc[0]), float(m["q50"].iloc[-1])
            bits.append(f"{metric.split('_')[0]} {fmt.format(a)} → {fmt.format(b)} {unit}")
    hp = result.world("hashprice_usd_ph_day")
    if len(hp):
        hq = hp["q50"].to_numpy(dtype=float)
        bits.append(f"hashprice {hq[0]:.0f} → {hq[-1]:.0f} USD/(PH/s)/day (lowest "
                    f"{hq.min():.0f} on {_d(_naive_utc(hp['date']).iloc[int(hq.argmin())])})")
    ex = result.world("exited_ehs")
    if len(ex) and float(ex["q50"].iloc[-1]) > 0.05:
        bits.append(f"{float(ex['q50'].iloc[-1]):.1f} EH/s retired or exited by the end")
    tr = result.world("in_transit_ehs")
    if len(tr) and float(tr["q50"].max()) > 0:
        k = int(tr["q50"].to_numpy().argmax())
        bits.append(f"up to {float(tr['q50'].iloc[k]):.1f} EH/s in transit "
                    f"({_d(_naive_utc(tr['date']).iloc[k])})")
    if bits:
        out.paragraphs.append("Medians, start → end: " + "; ".join(bits) + ".")
    return out
