"""Plotly figures of the report: the observed layer (mining map, network history) and a scenario
:class:`~hashshift.sim.engine.Result` (simulated vs real, shares, power and emissions, hashprice
and break-even).

Every builder returns a :class:`plotly.graph_objects.Figure` that needs no network: maps use the
vendored geometry (:mod:`hashshift.report.assets`) and plotly.js finds its base map through
``window.PlotlyGeoAssets`` (the HTML page) or the page kaleido renders (:mod:`.export`).
Text avoids ``$`` so that plotly.js never asks for MathJax.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pycountry
from plotly.subplots import make_subplots

from . import assets
from .style import PROVINCE_SCALE, SHARE_SCALE

if TYPE_CHECKING:
    from ..sim.engine import Result

__all__ = [
    "FONT",
    "break_even_figure",
    "china_province_map",
    "event_study_figure",
    "hashprice_daily_figure",
    "network_daily_figure",
    "network_history",
    "shares_vs_published_figure",
    "power_emissions_figure",
    "region_color",
    "region_label",
    "retarget_figure",
    "share_area_figure",
    "shares_over_time_figure",
    "sim_vs_real_figure",
    "world_share_map",
]

FONT = "Inter, system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"
INK = "#1f2937"
MUTED = "#6b7280"
GRID = "#e5e7eb"
SIM = "#2563eb"  # simulated median and bands
REAL = "#111827"  # observed values
CUT = "#dc2626"  # difficulty cuts

_REGION_COLORS = {
    # China: warm colours
    "CN": "#dc2626", "CN-XJ": "#991b1b", "CN-SC": "#ef4444", "CN-YN": "#f97316",
    "CN-NM": "#f59e0b", "CN-QH": "#fb7185", "CN-GS": "#be123c", "CN-SX": "#fdba74",
    "CN-BJ": "#9f1239", "CN-OTHER": "#fca5a5",
    # elsewhere: cool colours
    "US": "#1d4ed8", "KZ": "#0891b2", "RU": "#7c3aed", "IR": "#059669", "MY": "#65a30d",
    "CA": "#60a5fa", "DE": "#475569", "IE": "#14b8a6", "OTHER": "#9ca3af",
}
_FALLBACK = ["#0ea5e9", "#a855f7", "#84cc16", "#e11d48", "#eab308", "#6366f1", "#10b981"]


def region_color(code: str) -> str:
    """A fixed colour per region (China's provinces warm, other countries cool)."""
    if code in _REGION_COLORS:
        return _REGION_COLORS[code]
    return _FALLBACK[sum(map(ord, code)) % len(_FALLBACK)]


def region_label(code: str) -> str:
    """``Xinjiang (CN-XJ)``: the short English name and the code."""
    from ..regions import region_name

    try:
        name = region_name(code)
    except LookupError:
        return code
    return name if name == code else f"{name} ({code})"


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def _style(fig: go.Figure, title: str, *, height: int = 480, legend_below: bool = True,
           hovermode: str | bool = "x unified") -> go.Figure:
    meta = fig.layout.meta if isinstance(fig.layout.meta, dict) else {}
    ban_rows = int(meta.get("ban_label_rows", 0))  # labels above the plot (_mark_events)
    fig.update_layout(
        template="plotly_white",
        title={"text": title, "x": 0.01, "xanchor": "left", "font": {"size": 17},
               "yref": "container", "y": 1.0, "yanchor": "top", "pad": {"t": 16}},
        font={"family": FONT, "size": 12.5, "color": INK},
        height=height + 14 * ban_rows,
        margin={"l": 70, "r": 30, "t": 64 + 14 * ban_rows + (22 if ban_rows else 0), "b": 40},
        hovermode=hovermode,
        hoverlabel={"font": {"family": FONT, "size": 12}},
        paper_bgcolor="white",
        plot_bgcolor="white",
    )
    if legend_below:
        fig.update_layout(legend={"orientation": "h", "yanchor": "top", "y": -0.12, "x": 0,
                                  "font": {"size": 11.5}})
    fig.update_xaxes(showline=True, linecolor="#9ca3af", gridcolor=GRID, zeroline=False)
    fig.update_yaxes(showline=True, linecolor="#9ca3af", gridcolor=GRID, zeroline=False)
    return fig


def _naive(s: Any) -> pd.Series:
    """Datetimes as naive UTC (plotly draws them as given)."""
    t = pd.to_datetime(pd.Series(s))
    if t.dt.tz is not None:
        t = t.dt.tz_convert("UTC").dt.tz_localize(None)
    return t


def _band(fig: go.Figure, x: Any, lo: Sequence[float | None], hi: Sequence[float | None], *,
          color: str, alpha: float, name: str, row: int | None = None, col: int | None = None,
          legendgroup: str | None = None, showlegend: bool = True, shape: str = "linear",
          secondary_y: bool | None = None) -> None:
    """A filled band between ``lo`` and ``hi`` (two traces; the second fills to the first)."""
    kw: dict[str, Any] = {}
    if row is not None:
        kw = {"row": row, "col": col or 1}
        if secondary_y is not None:
            kw["secondary_y"] = secondary_y
    fig.add_trace(go.Scatter(x=list(x), y=list(lo), mode="lines", line={"width": 0,
                             "shape": shape}, hoverinfo="skip", showlegend=False,
                             legendgroup=legendgroup or name), **kw)
    fig.add_trace(go.Scatter(x=list(x), y=list(hi), mode="lines", line={"width": 0,
                             "shape": shape}, fill="tonexty", fillcolor=_rgba(color, alpha),
                             name=name, hoverinfo="skip", showlegend=showlegend,
                             legendgroup=legendgroup or name), **kw)


def _round(values: Any, digits: int = 4) -> list[float | None]:
    """Floats rounded to ``digits`` significant digits (smaller HTML); NaN -> None."""
    a = np.asarray(values, dtype=float)
    out: list[float | None] = []
    for v in a.tolist():
        if v != v:
            out.append(None)
        elif v == 0:
            out.append(0.0)
        else:
            out.append(float(f"{v:.{digits}g}"))
    return out


# ---------------------------------------------------------------------------------------------
# The observed layer
# ---------------------------------------------------------------------------------------------
def _iso3(code: str) -> str | None:
    c = pycountry.countries.get(alpha_2=code)
    return None if c is None else str(c.alpha_3)


#: Share colour scale [% of global hashrate]: stops packed towards small values so that a 5 %
#: country is visibly coloured next to China's 70 %.
_SHARE_SCALE = SHARE_SCALE
_PROVINCE_SCALE = PROVINCE_SCALE

_SLIDER_STYLE: dict[str, Any] = {
    "x": 0.07, "len": 0.9, "y": 0.0, "yanchor": "top", "pad": {"t": 6, "b": 4},
    "currentvalue": {"prefix": "Month: ", "font": {"size": 13}}, "font": {"size": 10},
    "transition": {"duration": 0},
}


def _play_buttons() -> list[dict[str, Any]]:
    return [{
        "type": "buttons", "direction": "left", "x": 0.0, "y": 0.0, "xanchor": "left",
        "yanchor": "top", "pad": {"t": 26, "r": 6}, "showactive": False,
        "buttons": [
            {"label": "▶", "method": "animate",
             "args": [None, {"frame": {"duration": 600, "redraw": True},
                             "transition": {"duration": 0}, "fromcurrent": True,
                             "mode": "immediate"}]},
            {"label": "❚❚", "method": "animate",
             "args": [[None], {"frame": {"duration": 0, "redraw": True},
                               "transition": {"duration": 0}, "mode": "immediate"}]},
        ],
    }]


def _slider(names: list[str], labels: list[str], active: int) -> dict[str, Any]:
    return {
        **_SLIDER_STYLE, "active": active,
        "steps": [{"method": "animate", "label": lab,
                   "args": [[n], {"mode": "immediate", "frame": {"duration": 0, "redraw": True},
                                  "transition": {"duration": 0}}]}
                  for n, lab in zip(names, labels, strict=True)],
    }


#: Outline of nowcast months on the maps (observed months: white).
NOWCAST_EDGE = "#c2410c"


def world_share_map(shares: pd.DataFrame | None = None,
                    nowcast: pd.DataFrame | None = None) -> go.Figure:
    """World choropleth of each country's share of the hashrate [%], one animation frame per
    month with a slider: CCAF's published months (exact), then the nowcast's months (median
    share, 90 % interval in the hover, outlined in orange and labelled "nowcast"), all on one
    colour scale; opens on the newest month.

    ``shares``: :func:`hashshift.geography.shares_over_time` ``("country")`` (default);
    ``nowcast``: :func:`hashshift.atlas.shares_over_time` ``("country")`` (default; its
    observed months are not used), or an empty frame for CCAF's months only."""
    from .. import atlas, geography

    df = geography.shares_over_time("country") if shares is None else shares
    df = df.copy()
    df["date"] = pd.to_datetime(df["date"])
    nc = atlas.shares_over_time("country") if nowcast is None else nowcast
    as_of = nc.attrs.get("as_of", "")
    nc = nc[~nc["observed"].astype(bool)].copy() if len(nc) else nc
    if len(nc):
        nc["month"] = pd.to_datetime(nc["month"])
    observed = sorted(df["date"].unique())
    later = sorted(m for m in (nc["month"].unique() if len(nc) else []) if m > observed[-1])
    named = df[df["region_code"] != "OTHER"].copy()
    named["iso3"] = [_iso3(str(c)) for c in named["region_code"]]
    named = named[named["iso3"].notna()]
    zmax = geography.share_scale_max_pct("country", rows=df)
    observed_hover = ("<b>%{text}</b> (%{customdata[1]}) — observed<br>%{z:.2f} % of the "
                      "hashrate<br>%{customdata[0]:.1f} EH/s<extra></extra>")
    nowcast_hover = ("<b>%{text}</b> (%{customdata[1]}) — nowcast<br>%{z:.1f} % of the hashrate "
                     "(median)<br>90 % interval: %{customdata[2]:.1f}–%{customdata[3]:.1f} %<br>"
                     "%{customdata[0]:.0f} EH/s (median)<extra></extra>")

    def trace(month: Any, full: bool) -> go.Choropleth:
        if month in set(later):
            sel = nc[(nc["month"] == month) & (nc["region_code"] != "OTHER")].copy()
            sel["iso3"] = [_iso3(str(c)) for c in sel["region_code"]]
            sel = sel[sel["iso3"].notna()]
            custom = [[h, c, lo, hi] for h, c, lo, hi in zip(
                _round(sel["hashrate_ehs_q50"]), sel["region_code"].astype(str),
                _round(sel["share_pct_q05"]), _round(sel["share_pct_q95"]), strict=True)]
            z, edge, hover = sel["share_pct_q50"], {"color": NOWCAST_EDGE, "width": 1.3}, \
                nowcast_hover
        else:
            sel = named[named["date"] == month]
            custom = np.column_stack([sel["hashrate_ehs"].to_numpy(dtype=float),
                                      sel["region_code"].to_numpy(dtype=str)]).tolist()
            z, edge, hover = sel["share_pct"], {"color": "#ffffff", "width": 0.6}, \
                observed_hover
        kw: dict[str, Any] = {
            "locations": sel["iso3"].tolist(), "z": _round(z, 4),
            "text": [str(x) for x in sel["region_name"]], "customdata": custom,
            "marker": {"line": edge}, "hovertemplate": hover,
        }
        if full:
            kw.update(
                locationmode="ISO-3", zmin=0, zmax=zmax, colorscale=_SHARE_SCALE,
                colorbar={"title": {"text": "% of global<br>hashrate"}, "ticksuffix": " %",
                          "thickness": 14, "len": 0.75, "x": 1.0},
                name="share",
            )
        return go.Choropleth(**kw)

    def note(month: Any) -> dict[str, Any]:
        if month in set(later):
            m = nc[nc["month"] == month]
            net = float(m["network_hashrate_ehs"].iloc[0])
            text = (f"<b>NOWCAST, not observed</b> — {pd.Timestamp(month):%B %Y} · as known on "
                    f"{as_of} · median shares (hover: 90 % interval) · network {net:.0f} EH/s")
            color, bg = NOWCAST_EDGE, "#fff7ed"
        else:
            other = df[(df["date"] == month) & (df["region_code"] == "OTHER")]["share_pct"].sum()
            net = df[df["date"] == month]["network_hashrate_ehs"].iloc[0]
            text = (f"<b>Observed</b> (CCAF) — {pd.Timestamp(month):%B %Y} · network {net:.0f} "
                    f"EH/s · countries CCAF does not list (grey): {other:.1f} %")
            color, bg = MUTED, "rgba(255,255,255,0)"
        return {"text": text, "x": 0.01, "y": 1.0, "xref": "paper", "yref": "paper",
                "xanchor": "left", "yanchor": "bottom", "showarrow": False,
                "font": {"size": 12, "color": color}, "bgcolor": bg}

    months = observed + later
    last = months[-1]
    fig = go.Figure(data=[trace(last, True)])
    names = [f"{pd.Timestamp(m):%Y-%m}" for m in months]
    labels = [f"{pd.Timestamp(m):%b %Y}" + (" · nowcast" if m in set(later) else "")
              for m in months]
    fig.frames = [go.Frame(name=n, data=[trace(m, False)], layout={"annotations": [note(m)]})
                  for n, m in zip(names, months, strict=True)]
    slider = _slider(names, labels, len(months) - 1)
    if len(months) > 36:  # too many ticks to label: the current month is shown above
        slider["font"] = {"size": 1, "color": "rgba(0,0,0,0)"}
    fig.update_layout(annotations=[note(last)], sliders=[slider], updatemenus=_play_buttons())
    fig.update_geos(
        projection_type="natural earth", showframe=False, showcoastlines=False,
        showcountries=True, countrycolor="#d1d5db", countrywidth=0.5, showland=True,
        landcolor="#eceff3", showocean=True, oceancolor="#f5f9fc", showlakes=False,
        lataxis_range=[-57, 84], bgcolor="white",
    )
    title = "Where the hashrate was: share by country (CCAF Bitcoin Mining Map)"
    if later:
        title = ("Where the hashrate was, and is: share by country (CCAF to "
                 f"{pd.Timestamp(observed[-1]):%b %Y}, then nowcast)")
    _style(fig, title, height=560, legend_below=False, hovermode="closest")
    fig.update_layout(margin={"l": 10, "r": 10, "t": 64, "b": 90})
    return fig


def shares_over_time_figure(frame: pd.DataFrame | None = None, top: int = 8,
                            bands: int = 4) -> go.Figure:
    """Each country's share of the world's hashrate [%] month by month: CCAF's months exact,
    then the nowcast's median with its 90 % band (for the ``bands`` largest), the boundary
    marked. ``frame``: :func:`hashshift.atlas.shares_over_time` ``("country")`` (default)."""
    from .. import atlas

    d = atlas.shares_over_time("country") if frame is None else frame
    d = d.copy()
    d["month"] = pd.to_datetime(d["month"])
    months = sorted(d["month"].unique())
    newest = d[d["month"] == months[-1]].set_index("region_code")["share_pct_q50"]
    peak = d.groupby("region_code")["share_pct_q50"].max()
    codes = sorted(peak.index, key=lambda c: (str(c) == "OTHER", -float(newest.get(c, 0.0)),
                                              -float(peak[c])))[:top]
    obs = d.groupby("month")["observed"].all()
    edge = max((m for m in months if obs[m]), default=None)
    fig = go.Figure()
    for i, code in enumerate(codes):
        g = d[d["region_code"] == code].sort_values("month")
        color = region_color(str(code))
        if i < bands and edge is not None:
            b = g[g["month"] >= edge]
            _band(fig, b["month"], _round(b["share_pct_q05"]), _round(b["share_pct_q95"]),
                  color=color, alpha=0.13, name=f"{region_label(str(code))}: 90 % band",
                  legendgroup=str(code), showlegend=False)
        fig.add_trace(go.Scatter(
            x=g["month"], y=_round(g["share_pct_q50"]), mode="lines", name=region_label(str(code)),
            legendgroup=str(code), line={"color": color, "width": 2},
            hovertemplate=f"{region_label(str(code))} %{{y:.1f}} %<extra></extra>"))
    if edge is not None and edge < months[-1]:
        fig.add_vrect(x0=edge, x1=months[-1], fillcolor="rgba(251,146,60,0.08)", line_width=0)
        fig.add_vline(x=edge, line={"color": NOWCAST_EDGE, "width": 1.5, "dash": "dash"})
        fig.add_annotation(x=edge, y=1.0, yref="paper", xanchor="left", yanchor="bottom",
                           text=f"nowcast → (as known on {d.attrs.get('as_of', '')})",
                           showarrow=False, font={"size": 11, "color": NOWCAST_EDGE})
        fig.add_annotation(x=edge, y=1.0, yref="paper", xanchor="right", yanchor="bottom",
                           text="← observed (CCAF)", showarrow=False,
                           font={"size": 11, "color": "#14532d"})
    fig.update_yaxes(title_text="share of world hashrate [%]", ticksuffix=" %",
                     rangemode="tozero")
    _style(fig, "Share of the world's hashrate over time: observed, then nowcast (median, "
                "90 % band)", height=480)
    return fig


def event_study_figure(study: Any) -> go.Figure:
    """One natural experiment (:func:`hashshift.events.event_study`): the network's hashrate
    [EH/s] per hour or day, the ``before`` and ``during`` windows shaded with their means."""
    s = study.series
    t = _naive(s["start"])
    fig = go.Figure()
    fig.add_trace(go.Scatter(
        x=t, y=_round(s["hashrate_ehs"]), mode="markers", customdata=s["blocks"].astype(int),
        name=f"hashrate per {study.resolution} (blocks × difficulty)",
        marker={"color": MUTED, "size": 4},
        hovertemplate="%{y:,.0f} EH/s (%{customdata} blocks)<extra></extra>"))
    colors = {"before": SIM, "during": CUT}
    for r in study.table.to_dict("records"):
        a, b = _naive([r["start"]]).iloc[0], _naive([r["end"]]).iloc[0]
        c = colors.get(str(r["window"]), MUTED)
        fig.add_vrect(x0=a, x1=b, fillcolor=_rgba(c, 0.12), line_width=0)
        fig.add_trace(go.Scatter(
            x=[a, b], y=_round([r["hashrate_ehs"]] * 2), mode="lines",
            name=f"{r['window']}: mean {r['hashrate_ehs']:,.1f} EH/s",
            line={"color": c, "width": 3}, hoverinfo="skip"))
    d = study.drop_pct
    ev = study.event
    fig.update_yaxes(title_text="hashrate [EH/s]", rangemode="tozero")
    _style(fig, f"{ev['name']} ({ev['region']}): drop {d['drop_pct']:.1f} % "
                f"(90 %: {d['lo_pct']:.1f} to {d['hi_pct']:.1f} %)", height=400,
           hovermode="closest")
    return fig


def china_province_map(shares: pd.DataFrame | None = None) -> go.Figure:
    """China by province: each province's share of China's hashrate [%] (CCAF), one frame per
    month with a slider; provinces CCAF does not list separately are grey.

    ``shares``: :func:`hashshift.geography.shares_over_time` ``("province")`` (default)."""
    from .. import geography

    df = geography.shares_over_time("province") if shares is None else shares
    df = df.copy()
    df["date"] = pd.to_datetime(df["date"])
    months = sorted(df["date"].unique())
    geo = assets.china_provinces()
    ids = [str(f["id"]) for f in geo["features"]]
    names = [str(f["properties"]["name"]) for f in geo["features"]]
    named = df[df["region_code"].isin(ids)]
    zmax = geography.share_scale_max_pct("province", rows=df)

    base = go.Choropleth(
        geojson=geo, locations=ids, z=[0] * len(ids), text=names, showscale=False,
        colorscale=[[0, "#e5e7eb"], [1, "#e5e7eb"]], zmin=0, zmax=1,
        marker={"line": {"color": "#ffffff", "width": 0.7}}, name="not listed",
        hovertemplate="<b>%{text}</b><br>not listed separately by CCAF<br>(part of “other "
                      "provinces”)<extra></extra>",
    )

    def trace(month: Any, full: bool) -> go.Choropleth:
        sel = named[named["date"] == month]
        custom = np.column_stack([
            sel["share_pct"].to_numpy(dtype=float), sel["hashrate_ehs"].to_numpy(dtype=float),
            sel["region_code"].to_numpy(dtype=str)]).tolist()
        kw: dict[str, Any] = {
            "locations": sel["region_code"].tolist(), "z": _round(sel["share_of_china_pct"], 4),
            "text": sel["region_name"].tolist(), "customdata": custom,
        }
        if full:
            kw.update(
                geojson=geo, zmin=0, zmax=zmax, colorscale=_PROVINCE_SCALE,
                name="share of China",
                marker={"line": {"color": "#ffffff", "width": 0.7}},
                colorbar={"title": {"text": "% of China's<br>hashrate"}, "ticksuffix": " %",
                          "thickness": 14, "len": 0.75},
                hovertemplate=("<b>%{text}</b> (%{customdata[2]})<br>%{z:.1f} % of China's "
                               "hashrate<br>%{customdata[0]:.2f} % of the world's<br>"
                               "%{customdata[1]:.1f} EH/s<extra></extra>"),
            )
        return go.Choropleth(**kw)

    def note(month: Any) -> dict[str, Any]:
        m = df[df["date"] == month]
        other = m[m["region_code"] == "CN-OTHER"]["share_of_china_pct"].sum()
        rows = m[m["share_of_china_pct"] > 0]
        china = float((rows["share_pct"] / rows["share_of_china_pct"] * 100.0).median()) \
            if len(rows) else float("nan")
        return {"text": (f"{pd.Timestamp(month):%B %Y} · China: {china:.1f} % of the world's "
                         f"hashrate · other provinces together: {other:.1f} % of China's"),
                "x": 0.01, "y": 1.0, "xref": "paper", "yref": "paper", "xanchor": "left",
                "yanchor": "bottom", "showarrow": False, "font": {"size": 12, "color": MUTED}}

    last = months[-1]
    fig = go.Figure(data=[base, trace(last, True)])
    fnames = [f"{pd.Timestamp(m):%Y-%m}" for m in months]
    fig.frames = [go.Frame(name=n, data=[trace(m, False)], traces=[1],
                           layout={"annotations": [note(m)]})
                  for n, m in zip(fnames, months, strict=True)]
    fig.update_layout(
        annotations=[note(last)],
        sliders=[_slider(fnames, [f"{pd.Timestamp(m):%b %Y}" for m in months],
                         len(months) - 1)],
        updatemenus=_play_buttons(),
    )
    fig.update_geos(
        fitbounds="locations", projection_type="mercator", showframe=False,
        showcoastlines=False, showcountries=True, countrycolor="#d1d5db", showland=True,
        landcolor="#f3f4f6", showocean=True, oceancolor="#f5f9fc", showlakes=False,
        bgcolor="white",
    )
    _style(fig, "China by province: share of China's hashrate (CCAF Bitcoin Mining Map)",
           height=560, legend_below=False, hovermode="closest")
    fig.update_layout(margin={"l": 10, "r": 10, "t": 64, "b": 90})
    return fig


def network_history(epochs: pd.DataFrame | None = None, *, cut_pct: float = -10.0
                    ) -> go.Figure:
    """The network per 2016-block epoch: hashrate [EH/s] with its 95 % interval, difficulty,
    and every retarget [%], cuts of ``cut_pct`` or deeper marked; halvings as dotted lines.

    ``epochs``: :func:`hashshift.history.epochs` (default: the whole bundled history)."""
    from .. import history

    ep = history.epochs() if epochs is None else epochs
    ep = ep.copy()
    ep["t"] = _naive(ep["first_time"]).to_numpy()
    hr = ep.dropna(subset=["hashrate_ehs"])
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.035,
                        row_heights=[0.44, 0.3, 0.26])
    _band(fig, hr["t"], _round(hr["hashrate_lo_ehs"]), _round(hr["hashrate_hi_ehs"]),
          color="#f59e0b", alpha=0.3, name="hashrate 95 % interval", row=1, shape="hv")
    fig.add_trace(go.Scatter(
        x=hr["t"], y=_round(hr["hashrate_ehs"]), mode="lines", name="hashrate [EH/s]",
        line={"color": "#d97706", "width": 1.6, "shape": "hv"},
        customdata=hr["epoch"], hovertemplate="%{y:.4g} EH/s (epoch %{customdata})"),
        row=1, col=1)
    fig.add_trace(go.Scatter(
        x=ep["t"], y=_round(ep["difficulty"], 5), mode="lines", name="difficulty",
        line={"color": "#2563eb", "width": 1.4, "shape": "hv"},
        hovertemplate="%{y:.4s}"), row=2, col=1)
    cuts = ep[ep["change_pct"] <= cut_pct]
    text = [f"{c:+.2f}".replace("-", "−") + f" % at block {int(h):,}" for c, h in
            zip(cuts["change_pct"], cuts["first_height"], strict=True)]
    fig.add_trace(go.Scatter(
        x=cuts["t"], y=_round(cuts["difficulty"], 5), mode="markers",
        name=f"retarget ≤ {cut_pct:g} %".replace("-", "−"), text=text, hovertemplate="%{text}",
        marker={"symbol": "triangle-down", "size": 9, "color": CUT,
                "line": {"color": "white", "width": 0.5}}), row=2, col=1)
    ch = ep.dropna(subset=["change_pct"])
    colors = [CUT if c <= cut_pct else ("#93c5fd" if c >= 0 else "#fca5a5")
              for c in ch["change_pct"]]
    fig.add_trace(go.Bar(
        x=ch["t"], y=_round(ch["change_pct"]), marker={"color": colors, "line": {"width": 0}},
        name="retarget [%]", showlegend=False, customdata=ch["first_height"],
        hovertemplate="retarget %{y:+.2f} % (block %{customdata:,})"), row=3, col=1)
    fig.add_hline(y=cut_pct, line={"color": CUT, "width": 0.8, "dash": "dot"}, row=3, col=1)
    halvings: list[dict[str, Any]] = history.halvings().to_dict("records")  # type: ignore[assignment]
    for h in halvings:
        t = _naive([h["time"]]).iloc[0]
        fig.add_vline(x=t, line={"color": "#9ca3af", "width": 1, "dash": "dot"})
        fig.add_annotation(x=t, y=1.0, yref="paper", text=f"halving {int(h['halving'])}",
                           showarrow=False, yanchor="bottom", font={"size": 10, "color": MUTED})
    if len(cuts):
        worst: Any = history.largest_cuts(cuts).iloc[0]
        fig.add_annotation(
            x=worst["t"], y=float(worst["change_pct"]), row=3, col=1,
            text=(f"{worst['change_pct']:+.2f}".replace("-", "−")
                  + f" % at block {int(worst['first_height']):,}, "
                  f"{pd.Timestamp(worst['t']).day} {pd.Timestamp(worst['t']):%b %Y}"),
            showarrow=True, arrowhead=2, arrowcolor=CUT, ax=-150, ay=2, xanchor="right",
            font={"size": 11, "color": CUT}, bgcolor="rgba(255,255,255,0.85)")
    fig.update_yaxes(type="log", title_text="hashrate [EH/s]", exponentformat="power",
                     dtick=3, row=1, col=1)
    fig.update_yaxes(type="log", title_text="difficulty", exponentformat="power", dtick=3,
                     row=2, col=1)
    lo = float(min(-30.0, np.nanmin(ch["change_pct"]) - 9)) if len(ch) else -30.0
    fig.update_yaxes(title_text="retarget %", range=[lo, 45], ticksuffix=" %", row=3, col=1)
    first, last = ep["t"].iloc[0], ep["t"].iloc[-1]
    _style(fig, f"The network, epoch by epoch: hashrate, difficulty and retargets "
                f"({pd.Timestamp(first):%Y} – {pd.Timestamp(last):%Y})", height=720)
    fig.update_layout(bargap=0, margin={"t": 80})
    fig.update_xaxes(rangeselector={
        "buttons": [{"count": 1, "label": "1 y", "step": "year", "stepmode": "backward"},
                    {"count": 3, "label": "3 y", "step": "year", "stepmode": "backward"},
                    {"count": 6, "label": "6 y", "step": "year", "stepmode": "backward"},
                    {"step": "all", "label": "all"}],
        "x": 1.0, "xanchor": "right", "y": 1.02, "font": {"size": 11}}, row=1, col=1)
    return fig


#: Range buttons of the daily charts (as on the dashboard): 1 m, 6 m, 1 y, 3 y, all.
RANGE_BUTTONS: dict[str, Any] = {
    "buttons": [{"count": 1, "label": "1 m", "step": "month", "stepmode": "backward"},
                {"count": 6, "label": "6 m", "step": "month", "stepmode": "backward"},
                {"count": 1, "label": "1 y", "step": "year", "stepmode": "backward"},
                {"count": 3, "label": "3 y", "step": "year", "stepmode": "backward"},
                {"step": "all", "label": "all"}],
    "x": 0.0, "xanchor": "left", "y": 1.02, "yanchor": "bottom", "font": {"size": 11},
}


def _last_year(days: pd.Series) -> list[str]:
    end = pd.Timestamp(days.iloc[-1])
    return [f"{end - pd.DateOffset(years=1):%Y-%m-%d}", f"{end:%Y-%m-%d}"]


def _days(s: Any) -> list[str]:
    """Dates as ``YYYY-MM-DD`` text (a third of the size of timestamps in the page)."""
    return [f"{t:%Y-%m-%d}" for t in _naive(s)]


def network_daily_figure(one: pd.DataFrame | None = None, week: pd.DataFrame | None = None,
                         epochs: pd.DataFrame | None = None) -> go.Figure:
    """The network's hashrate [EH/s] per UTC day: from the blocks mined that day (points) and
    over the trailing 7 days (line, 90 % interval of the block process), beside the per-epoch
    estimate; range buttons (1 m … all), opening on the last year, linear axis.

    ``one``, ``week``: :func:`hashshift.history.hashrate_daily` with ``window_days`` 1 and 7;
    ``epochs``: :func:`hashshift.history.hashrate` (per epoch; defaults: the bundled data)."""
    from .. import history

    one = history.hashrate_daily(window_days=1) if one is None else one
    week = history.hashrate_daily(window_days=7) if week is None else week
    ep = history.hashrate("epoch") if epochs is None else epochs
    x1, x7 = _days(one["date"]), _days(week["date"])
    fig = go.Figure()
    _band(fig, x7, _round(week["hashrate_lo_ehs"], 3), _round(week["hashrate_hi_ehs"], 3),
          color="#f59e0b", alpha=0.3, name="7 days: 90 % interval")
    fig.add_trace(go.Scatter(
        x=x1, y=_round(one["hashrate_ehs"], 3), mode="markers",
        name="1 day (blocks that day)", marker={"color": "#9ca3af", "size": 3},
        customdata=np.column_stack([np.asarray(_round(one["hashrate_lo_ehs"], 3), dtype=float),
                                    np.asarray(_round(one["hashrate_hi_ehs"], 3), dtype=float),
                                    one["blocks"].to_numpy(dtype=float)]).tolist(),
        hovertemplate=("1 day: %{y:,.0f} EH/s (90 %: %{customdata[0]:,.0f}–"
                       "%{customdata[1]:,.0f}; %{customdata[2]} blocks)<extra></extra>")))
    fig.add_trace(go.Scatter(
        x=x7, y=_round(week["hashrate_ehs"], 3), mode="lines", name="7 days",
        line={"color": "#d97706", "width": 1.8},
        hovertemplate="7 days: %{y:,.0f} EH/s<extra></extra>"))
    fig.add_trace(go.Scatter(
        x=_naive(ep["first_time"]), y=_round(ep["hashrate_ehs"]), mode="lines",
        name="per epoch (difficulty and epoch time)",
        line={"color": SIM, "width": 1.2, "dash": "dot", "shape": "hv"},
        hovertemplate="epoch mean: %{y:,.0f} EH/s<extra></extra>"))
    fig.update_yaxes(title_text="hashrate [EH/s]", rangemode="tozero")
    fig.update_xaxes(rangeselector=RANGE_BUTTONS, range=_last_year(pd.Series(one["date"])))
    fig.update_layout(meta={"fit_y": True})  # the page fits y to the range shown
    _style(fig, f"Hashrate per day, to {pd.Timestamp(one['date'].iloc[-1]):%d %B %Y} (1 and 7 "
                "days, 90 % intervals)", height=460)
    return fig


def observed_emissions_figure(frame: pd.DataFrame | None = None) -> go.Figure:
    """The network's emissions [MtCO2e/yr] by month: CCAF's map × CBECI power × each country's
    grid intensity (:func:`hashshift.emissions.monthly_emissions`), best guess with the band of
    CBECI's lower and upper power bounds; CCAF's months solid, the nowcast after them dotted."""
    from .. import emissions as em

    f = em.monthly_emissions() if frame is None else frame
    w = f[f["region_code"] == em.WORLD]
    x = [f"{m:%Y-%m}" for m in w["month"]]
    fig = go.Figure()
    _band(fig, x, _round(w["emissions_lower_mt_yr"]), _round(w["emissions_upper_mt_yr"]),
          color="#6b7280", alpha=0.25, name="lower–upper: CBECI's power bounds × grid intensity")
    for kind, name, dash in (("observed", "best guess, CCAF's map", "solid"),
                             ("nowcast", "best guess, nowcast (not observed)", "dot")):
        y = np.where(w["kind"] == kind, w["emissions_guess_mt_yr"].to_numpy(dtype=float), np.nan)
        fig.add_trace(go.Scatter(x=x, y=_round(y), mode="lines", name=name,
                                 line={"color": INK, "width": 1.8, "dash": dash},
                                 hovertemplate="%{y:,.1f} MtCO2e/yr<extra>" + kind + "</extra>"))
    fig.update_yaxes(title_text="emissions [MtCO2e/yr]", rangemode="tozero")
    _style(fig, f"Network emissions by month at {f.attrs['price_usd_kwh']:g} USD/kWh "
                "(CCAF map × CBECI power × grid intensity)", height=420)
    return fig


def hashprice_daily_figure(daily: pd.DataFrame | None = None,
                           market: pd.DataFrame | None = None) -> go.Figure:
    """Hashprice [USD/(PH/s)/day] per UTC day at the difficulty in force
    (:func:`hashshift.history.hashprice_daily`) beside the monthly means from miners' revenue;
    range buttons (1 m … all), opening on the last year, linear axis."""
    from .. import economics, history
    from ..sources.bundled_observed import read_market_monthly

    d = history.hashprice_daily() if daily is None else daily
    m = read_market_monthly() if market is None else market
    x = _naive(d["date"])
    fig = go.Figure()
    fig.add_trace(go.Scatter(
        x=_days(d["date"]), y=_round(d["hashprice_usd_ph_day"]), mode="lines",
        name="per day (the difficulty that day; price and fees: the month's means)",
        line={"color": "#16a34a", "width": 1.6},
        hovertemplate="%{y:,.2f} USD/(PH/s)/day<extra></extra>"))
    hp = economics.hashprice_from_revenue_usd_ph_day(m["revenue_usd_day"].to_numpy(float),
                                                     m["hashrate_ehs"].to_numpy(float))
    mid = pd.to_datetime(m["date"]) + pd.to_timedelta(m["days"] / 2.0, unit="D")
    fig.add_trace(go.Scatter(
        x=mid, y=_round(hp), mode="markers", name="monthly mean (miners' revenue / hashrate)",
        marker={"color": REAL, "size": 5}, hovertemplate="month: %{y:,.2f}<extra></extra>"))
    recent = d[x >= pd.Timestamp(_last_year(x)[0])]["hashprice_usd_ph_day"]
    top = float(recent.max()) * 1.08 if len(recent) else None
    fig.update_yaxes(title_text="USD/(PH/s)/day", range=[0, top] if top else None)
    fig.update_xaxes(rangeselector=RANGE_BUTTONS, range=_last_year(x))
    _style(fig, f"Hashprice per day, to {pd.Timestamp(x.iloc[-1]):%d %B %Y}", height=420)
    fig.update_layout(meta={"fit_y": True})  # the page fits y to the range shown
    return fig


# ---------------------------------------------------------------------------------------------
# A scenario result
# ---------------------------------------------------------------------------------------------
def _start(result: Result) -> pd.Timestamp:
    d = result.daily
    return pd.Timestamp(d["date"].min())


def _end(result: Result) -> pd.Timestamp:
    return pd.Timestamp(result.daily["date"].max())


def _regional(result: Result, metric: str) -> pd.DataFrame:
    d = result.daily
    out = d[(d["region"] != "WORLD") & (d["metric"] == metric)].copy()
    out["date"] = _naive(out["date"]).to_numpy()
    return out


def region_order(result: Result) -> list[str]:
    """Regions of a result: China's provinces first, then countries, each by initial share,
    aggregates (``CN-OTHER``, ``OTHER``) last in their group."""
    init = result.config.get("initial", {}).get("shares_pct", {}) or {}
    regs = [r for r in result.config.get("regions", []) if r != "WORLD"]
    if not regs:
        regs = sorted(set(result.daily["region"]) - {"WORLD"})

    def key(code: str) -> tuple[int, int, float, str]:
        china = 0 if code == "CN" or code.startswith("CN-") else 1
        agg = 1 if code in ("OTHER", "CN-OTHER") else 0
        return (china, agg, -float(init.get(code, 0.0)), code)

    return sorted(regs, key=key)


def _events(result: Result) -> list[dict[str, Any]]:
    sc = result.config.get("scenario", {}) or {}
    return list(sc.get("event", []) or [])


def _mark_events(fig: go.Figure, result: Result) -> None:
    """Dotted vertical lines at each ban's effective date, labelled above the plotting area (a
    label never covers a line, nor a subplot's title); labels of bans close in time are
    stacked upwards."""
    start, end = _start(result), _end(result)
    bans = sorted((pd.Timestamp(str(ev.get("effective"))), str(ev.get("region")))
                  for ev in _events(result) if ev.get("kind") == "ban")
    span_days = max((end - start).days, 1)
    last_t: pd.Timestamp | None = None
    k = 0
    top = 0
    for t, region in bans:
        if not start <= t <= end:
            continue
        close = last_t is not None and (t - last_t).days < span_days * 0.09
        k = k + 1 if close else 0
        if not close:
            last_t = t
        top = max(top, k)
        fig.add_vline(x=t, line={"color": "#9ca3af", "width": 1, "dash": "dot"})
        fig.add_annotation(x=t, y=1.0, yref="paper", xanchor="center", yanchor="bottom",
                           yshift=19 + 13 * k, text=f"{region} ban", showarrow=False,
                           font={"size": 10, "color": MUTED}, bgcolor="rgba(255,255,255,0.9)")
    if bans:
        # room above the plotting area for the stacked labels, under the title
        fig.update_layout(meta={"ban_label_rows": top + 1})


def sim_vs_real_figure(result: Result) -> go.Figure:
    """Simulated network hashrate [EH/s] and difficulty (median, 50 % and 90 % bands) against
    the real epochs of the bundled history where they overlap."""
    from .. import history

    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.06,
                        row_heights=[0.58, 0.42])
    start, end = _start(result), _end(result)
    for row, metric, unit in ((1, "hashrate_ehs", "EH/s"), (2, "difficulty", "")):
        w = result.world(metric)
        x = _naive(w["date"])
        show = row == 1
        _band(fig, x, _round(w["q05"]), _round(w["q95"]), color=SIM, alpha=0.13,
              name="simulated 90 % band", row=row, legendgroup="b90", showlegend=show)
        _band(fig, x, _round(w["q25"]), _round(w["q75"]), color=SIM, alpha=0.28,
              name="simulated 50 % band", row=row, legendgroup="b50", showlegend=show)
        fig.add_trace(go.Scatter(
            x=x, y=_round(w["q50"]), mode="lines", name="simulated median",
            line={"color": SIM, "width": 2}, legendgroup="med", showlegend=show,
            hovertemplate=("sim. median %{y:.4s}" + (f" {unit}" if unit else ""))),
            row=row, col=1)
    ep = history.epochs(since=start.tz_localize("UTC"), until=end.tz_localize("UTC"))
    ep = ep.dropna(subset=["hashrate_ehs"]).copy()
    if len(ep):
        t0 = _naive(ep["first_time"])
        t1 = _naive(ep["last_time"])
        fig.add_trace(go.Scatter(
            x=list(t0) + [t1.iloc[-1]],
            y=_round(list(ep["hashrate_ehs"]) + [ep["hashrate_ehs"].iloc[-1]]),
            mode="lines", name="real: epoch-mean hashrate", legendgroup="real",
            line={"color": REAL, "width": 2.2, "shape": "hv"},
            hovertemplate="real %{y:.4s} EH/s"), row=1, col=1)
        err = go.Scatter(
            x=[a + (b - a) / 2 for a, b in zip(t0, t1, strict=True)],
            y=_round(ep["hashrate_ehs"]), mode="markers", marker={"size": 0.1, "color": REAL},
            error_y={"type": "data", "symmetric": False,
                     "array": _round(ep["hashrate_hi_ehs"] - ep["hashrate_ehs"]),
                     "arrayminus": _round(ep["hashrate_ehs"] - ep["hashrate_lo_ehs"]),
                     "color": "#6b7280", "thickness": 1, "width": 3},
            name="real: 95 % interval", hoverinfo="skip", legendgroup="real")
        fig.add_trace(err, row=1, col=1)
        dx = _naive(ep["first_time"])
        fig.add_trace(go.Scatter(
            x=list(dx) + [t1.iloc[-1]], y=_round(list(ep["difficulty"]) +
                                                 [ep["difficulty"].iloc[-1]], 5),
            mode="lines", line={"color": REAL, "width": 2, "shape": "hv"},
            name="real difficulty", legendgroup="real", showlegend=False,
            hovertemplate="real %{y:.4s}"), row=2, col=1)
    _mark_events(fig, result)
    fig.update_yaxes(title_text="hashrate [EH/s]", row=1, col=1)
    fig.update_yaxes(title_text="difficulty", row=2, col=1)
    fig.update_xaxes(range=[start, end + pd.Timedelta(days=1)])
    name = result.config.get("scenario", {}).get("scenario", {}).get("name", "scenario")
    _style(fig, f"{name}: simulated vs real hashrate and difficulty", height=640)
    return fig


def retarget_figure(result: Result) -> go.Figure:
    """Each simulated retarget [%] (median, 50 % and 90 % ranges over paths) at the median date
    it happens, against the real retarget that ended the same epoch."""
    from .. import history

    e = result.epochs
    start = _start(result)
    fig = go.Figure()
    if len(e):
        piv = {m: e[e["metric"] == m].set_index("epoch") for m in
               ("change_pct", "start_days", "duration_days")}
        ch = piv["change_pct"]
        when = start + pd.to_timedelta(
            piv["start_days"]["q50"] + piv["duration_days"]["q50"], unit="D")
        x = [when.loc[i] for i in ch.index]
        label = [f"epoch {int(i)} → block {(int(i) + 1) * 2016:,}" for i in ch.index]
        fig.add_trace(go.Scatter(
            x=x, y=_round(ch["q50"]), mode="markers", name="simulated (90 % range)",
            marker={"color": SIM, "size": 1}, showlegend=True, hoverinfo="skip",
            error_y={"type": "data", "symmetric": False, "array": _round(ch["q95"] - ch["q50"]),
                     "arrayminus": _round(ch["q50"] - ch["q05"]), "color": _rgba(SIM, 0.45),
                     "thickness": 2, "width": 0}))
        fig.add_trace(go.Scatter(
            x=x, y=_round(ch["q50"]), mode="markers", name="simulated median (50 % range)",
            text=label, marker={"color": SIM, "size": 8, "symbol": "circle"},
            hovertemplate="%{text}<br>simulated %{y:+.1f} %",
            error_y={"type": "data", "symmetric": False, "array": _round(ch["q75"] - ch["q50"]),
                     "arrayminus": _round(ch["q50"] - ch["q25"]), "color": SIM,
                     "thickness": 6, "width": 0}))
        real: Any = history.epochs().set_index("epoch")
        rx, ry, rt = [], [], []
        for i in ch.index:
            if int(i) + 1 in real.index and pd.notna(real.loc[int(i) + 1, "change_pct"]):
                nxt = real.loc[int(i) + 1]
                rx.append(_naive([nxt["first_time"]]).iloc[0])
                ry.append(float(nxt["change_pct"]))
                rt.append(f"epoch {int(i)} → block {int(nxt['first_height']):,}")
        if rx:
            fig.add_trace(go.Scatter(
                x=rx, y=_round(ry), mode="markers", name="real retarget", text=rt,
                marker={"symbol": "diamond", "size": 10, "color": REAL,
                        "line": {"color": "white", "width": 1}},
                hovertemplate="%{text}<br>real %{y:+.2f} %"))
    fig.add_hline(y=0, line={"color": "#9ca3af", "width": 1})
    fig.add_hline(y=-10, line={"color": CUT, "width": 0.8, "dash": "dot"})
    _mark_events(fig, result)
    fig.update_yaxes(title_text="retarget [%]", ticksuffix=" %")
    _style(fig, "Retargets: simulated vs real, epoch by epoch", height=430, hovermode="closest")
    return fig


def share_area_figure(result: Result) -> go.Figure:
    """Stacked area of each region's median share of the world hashrate [%] (the medians of
    the paths need not sum to exactly 100)."""
    sh = _regional(result, "share_pct")
    fig = go.Figure()
    for code in region_order(result):
        s = sh[sh["region"] == code]
        if s.empty:
            continue
        fig.add_trace(go.Scatter(
            x=s["date"], y=_round(s["q50"]), mode="lines", stackgroup="share",
            name=region_label(code), line={"width": 0.6, "color": region_color(code)},
            fillcolor=_rgba(region_color(code), 0.85),
            hovertemplate="%{y:.1f} %"))
    _mark_events(fig, result)
    fig.update_yaxes(title_text="median share of world hashrate [%]", ticksuffix=" %",
                     range=[0, 100.5])
    _style(fig, "Who mines: share of the world's hashrate by region (median of paths)",
           height=560)
    fig.update_layout(legend={"orientation": "v", "y": 1, "yanchor": "top", "x": 1.02,
                              "traceorder": "normal"}, margin={"r": 190})
    return fig


def shares_vs_published_figure(result: Result, top: int = 6) -> go.Figure:
    """Simulated monthly country shares [%] (mean over paths; China's provinces summed) beside
    the shares CCAF later published for the same months (:func:`hashshift.sim.backtest.
    monthly_shares`), for the ``top`` countries by published share; a miss is shown, not
    hidden."""
    from ..sim.backtest import monthly_shares

    m = monthly_shares(result)
    pub = m.dropna(subset=["share_pct_published"])
    order = (pub.groupby("region_code")["share_pct_published"].max()
             .sort_values(ascending=False).index.tolist())
    codes = [c for c in order if c != "OTHER"][:top]
    fig = go.Figure()
    for code in codes:
        s = m[m["region_code"] == code]
        color = region_color(code)
        fig.add_trace(go.Scatter(
            x=s["month"], y=_round(s["share_pct_sim"]), mode="lines", name=region_label(code),
            legendgroup=code, line={"color": color, "width": 2},
            hovertemplate=f"{region_label(code)} simulated %{{y:.1f}} %<extra></extra>"))
        p = s.dropna(subset=["share_pct_published"])
        fig.add_trace(go.Scatter(
            x=p["month"], y=_round(p["share_pct_published"]), mode="markers",
            name=f"{region_label(code)} (CCAF)", legendgroup=code, showlegend=False,
            marker={"color": color, "size": 8, "symbol": "circle-open", "line": {"width": 2}},
            hovertemplate=f"{region_label(code)} published %{{y:.2f}} %<extra></extra>"))
    fig.update_yaxes(title_text="share of world hashrate [%]", ticksuffix=" %", rangemode="tozero")
    _style(fig, "Shares by country: simulated (lines) vs published by CCAF (circles)",
           height=460)
    return fig


def power_emissions_figure(result: Result) -> go.Figure:
    """Power [GW] and emissions [MtCO2e/yr] by region (stacked medians) with the world's
    median and 90 % band."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.07,
                        subplot_titles=("power drawn [GW]", "emissions [MtCO2e/yr, annualised]"))
    for row, metric in ((1, "power_gw"), (2, "emissions_mt_yr")):
        reg = _regional(result, metric)
        for code in region_order(result):
            s = reg[reg["region"] == code]
            if s.empty:
                continue
            fig.add_trace(go.Scatter(
                x=s["date"], y=_round(s["q50"]), mode="lines", stackgroup=f"s{row}",
                name=region_label(code), legendgroup=code, showlegend=row == 1,
                line={"width": 0.5, "color": region_color(code)},
                fillcolor=_rgba(region_color(code), 0.8), hovertemplate="%{y:.2f}"),
                row=row, col=1)
        w = result.world(metric)
        x = _naive(w["date"])
        for q, dash in (("q05", "dot"), ("q95", "dot")):
            fig.add_trace(go.Scatter(
                x=x, y=_round(w[q]), mode="lines", line={"color": REAL, "width": 1,
                                                         "dash": dash},
                name="world 90 % band", legendgroup="world-band",
                showlegend=row == 1 and q == "q05", hovertemplate=f"world {q}: %{{y:.2f}}"),
                row=row, col=1)
        fig.add_trace(go.Scatter(
            x=x, y=_round(w["q50"]), mode="lines", line={"color": REAL, "width": 2},
            name="world median", legendgroup="world", showlegend=row == 1,
            hovertemplate="world median %{y:.2f}"), row=row, col=1)
    fig.update_yaxes(title_text="GW", row=1, col=1)
    fig.update_yaxes(title_text="MtCO2e/yr", row=2, col=1)
    _mark_events(fig, result)
    _style(fig, "Power and emissions by region (stacked medians; black: world)", height=760)
    fig.update_layout(legend={"orientation": "v", "y": 1, "yanchor": "top", "x": 1.02,
                              "font": {"size": 11}, "tracegroupgap": 0},
                      margin={"r": 190})
    for a in fig.layout.annotations:
        if a.text in ("power drawn [GW]", "emissions [MtCO2e/yr, annualised]"):
            a.update(x=0, xanchor="left", font={"size": 12, "color": MUTED})
    return fig


def machines_for_break_even(start: date | pd.Timestamp, n: int = 7,
                            max_j_th: float = 100.0) -> pd.DataFrame:
    """Catalogue machines released by ``start`` to show break-even prices for: those of at most
    ``max_j_th`` J/TH, the most efficient first, then spread over the efficiency range (one per
    efficiency, at most ``n``)."""
    from .. import hardware

    rel = hardware.released(pd.Timestamp(start))
    rel = rel[rel["efficiency_j_th"] <= max_j_th].sort_values(["efficiency_j_th",
                                                               "release_date"])
    rel = rel.drop_duplicates("efficiency_j_th").reset_index(drop=True)
    if len(rel) <= n:
        return rel
    logs = np.log(rel["efficiency_j_th"].to_numpy(dtype=float))
    targets = np.linspace(logs[0], logs[-1], n)
    idx: list[int] = []
    for t in targets:
        order = np.argsort(np.abs(logs - t))
        for i in order:
            if int(i) not in idx:
                idx.append(int(i))
                break
    return rel.iloc[sorted(idx)].reset_index(drop=True)


def break_even_figure(result: Result) -> go.Figure:
    """Hashprice [USD/(PH/s)/day] (median and bands, real monthly means where they overlap) and
    the break-even electricity price [USD/kWh] of catalogue machines released by the start date
    along the median hashprice path, against the tariffs of the largest regions."""
    from .. import economics
    from ..sources.bundled_observed import read_market_monthly

    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.07,
                        row_heights=[0.42, 0.58],
                        subplot_titles=("hashprice [USD per PH/s per day]",
                                        "break-even electricity price [USD/kWh] by machine"))
    w = result.world("hashprice_usd_ph_day")
    x = _naive(w["date"])
    start, end = _start(result), _end(result)
    _band(fig, x, _round(w["q05"]), _round(w["q95"]), color=SIM, alpha=0.13,
          name="simulated 90 % band", row=1)
    _band(fig, x, _round(w["q25"]), _round(w["q75"]), color=SIM, alpha=0.28,
          name="simulated 50 % band", row=1)
    fig.add_trace(go.Scatter(x=x, y=_round(w["q50"]), mode="lines", name="simulated median",
                             line={"color": SIM, "width": 2},
                             hovertemplate="sim. median %{y:.1f}"), row=1, col=1)
    m = read_market_monthly()
    m = m[(pd.to_datetime(m["date"]) >= start - pd.Timedelta(days=31))
          & (pd.to_datetime(m["date"]) <= end)]
    if len(m):
        hp = economics.hashprice_from_revenue_usd_ph_day(m["revenue_usd_day"].to_numpy(),
                                                         m["hashrate_ehs"].to_numpy())
        mid = pd.to_datetime(m["date"]) + pd.to_timedelta(m["days"] / 2.0, unit="D")
        fig.add_trace(go.Scatter(
            x=mid, y=_round(hp), mode="lines+markers", name="real: monthly mean",
            line={"color": REAL, "width": 1.6}, marker={"size": 5},
            hovertemplate="real %{y:.1f}"), row=1, col=1)
    machines = machines_for_break_even(start)
    palette = ["#065f46", "#047857", "#0d9488", "#0891b2", "#6366f1", "#a855f7", "#db2777",
               "#9ca3af"]
    rows: list[dict[str, Any]] = machines.to_dict("records")  # type: ignore[assignment]
    for i, r in enumerate(rows):
        e = float(r["efficiency_j_th"])
        be = economics.break_even_price_usd_kwh(w["q50"].to_numpy(), e)
        color = palette[i % len(palette)]
        if i == 0:
            _band(fig, x, _round(economics.break_even_price_usd_kwh(w["q05"].to_numpy(), e)),
                  _round(economics.break_even_price_usd_kwh(w["q95"].to_numpy(), e)),
                  color=color, alpha=0.12, name=f"{r['model']}: 90 % band", row=2)
        fig.add_trace(go.Scatter(
            x=x, y=_round(be), mode="lines", line={"color": color, "width": 1.8},
            name=(f"{r['maker']} {r['model']} ({e:g} J/TH, "
                  f"{pd.Timestamp(r['release_date']):%b %Y})"),
            hovertemplate=f"{r['model']}: %{{y:.3f}} USD/kWh"), row=2, col=1)
    init = result.config.get("initial", {}).get("shares_pct", {}) or {}
    tariffs = result.config.get("region_inputs", {}) or {}
    top = [c for c in sorted(init, key=lambda c: -float(init[c])) if c in tariffs
           and c not in ("OTHER", "CN-OTHER")][:6]
    if top:
        prices = [float(tariffs[c]["price_usd_kwh"]) for c in top]
        lo_p, hi_p = min(prices), max(prices)
        fig.add_hrect(y0=lo_p, y1=max(hi_p, lo_p + 0.002), fillcolor="rgba(107,114,128,0.18)",
                      line={"width": 0}, row=2, col=1)
        fig.add_annotation(
            x=0.995, xref="x2 domain", y=hi_p, yref="y2", xanchor="right", yanchor="bottom",
            text=("typical tariffs of the largest regions ("
                  + ", ".join(top) + f"): {lo_p:.3f}–{hi_p:.3f} USD/kWh"),
            showarrow=False, font={"size": 10.5, "color": "#374151"},
            bgcolor="rgba(255,255,255,0.8)")
    _mark_events(fig, result)
    fig.update_yaxes(title_text="USD/(PH/s)/day", rangemode="tozero", row=1, col=1)
    fig.update_yaxes(title_text="USD/kWh", rangemode="tozero", row=2, col=1)
    fig.update_xaxes(range=[start, end + pd.Timedelta(days=1)])
    _style(fig, "Hashprice and the break-even electricity price of machines on sale at the "
                "start (grey: typical tariffs)", height=720)
    fig.update_layout(legend={"orientation": "v", "y": 1, "yanchor": "top", "x": 1.06},
                      margin={"r": 250})
    for a in fig.layout.annotations:
        if a.text and ("hashprice [" in a.text or "break-even electricity" in a.text):
            a.update(x=0, xanchor="left", font={"size": 12, "color": MUTED})
    return fig
