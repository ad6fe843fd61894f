"""Charts of a sweep (plotly), alone or as self-contained pages: tornado charts of the
sensitivity table for numeric axes, and ranked dot-and-interval charts of the paired effects
for categorical ones (one dot per level: which ban costs the network most).

The tables come from :func:`hashshift.sweep.sensitivity` and
:func:`hashshift.sweep.results.effects_table` (docs/sweeps.md, Results); the offline report
puts the same charts in its sweep section (:mod:`.html`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..sim.outcomes import EFFECTS, HEADLINE_METRICS, metric_label

__all__ = ["CHART_EFFECTS", "effects_figure", "effects_html", "tornado_figure", "tornado_html"]

#: The effects charted by :func:`effects_html` (and the report), in order.
CHART_EFFECTS = ("low_point_pct", "mean_hashrate_pct", "retarget_cut_pp",
                 "emissions_change_mt_yr")


def tornado_figure(sensitivity_df: pd.DataFrame, metric: str | None = None, *, top: int = 12,
                   title: str | None = None) -> go.Figure:
    """A tornado chart of one metric (default: the first in the table): for each axis two bars
    from the overall mean, one to the metric's mean at the axis's low end and one to its mean at
    the high end (labelled with the axis values), widest swing on top."""
    df = sensitivity_df
    if metric is None:
        if df.empty:
            raise ValueError("the sensitivity table is empty")
        metric = str(df["metric"].iloc[0])
    d = df[df["metric"] == metric]
    if d.empty:
        raise ValueError(f"no sensitivity rows for metric {metric!r}; metrics: "
                         f"{', '.join(pd.unique(df['metric']).astype(str))}")
    d = d.sort_values("swing", ascending=False).head(top).iloc[::-1]
    base = float(d["base"].iloc[0])
    axes = d["axis"].astype(str).tolist()

    def hover(r: Any, end: str) -> str:
        extra = ""
        if np.isfinite(r.src):
            extra += (f"<br>SRC {r.src:+.2f} (standardized regression coefficient: the change "
                      "of the metric, in its standard deviations, per standard deviation of "
                      "the axis)")
        if np.isfinite(r.s1):
            extra += (f"<br>Sobol' S1 {r.s1:.2f}, ST {r.st:.2f} (share of the metric's "
                      "variance due to the axis alone, and with its interactions)")
        lab = r.low_label if end == "low" else r.high_label
        val = r.low if end == "low" else r.high
        return f"{r.axis} = {lab}<br>{metric_label(metric)}: {val:.4g}{extra}"

    fig = go.Figure()
    for end, color, name in (("low", "#4c78a8", "axis low end"),
                             ("high", "#e45756", "axis high end")):
        vals = d[end].to_numpy(dtype=float)
        fig.add_trace(go.Bar(
            y=axes, x=vals - base, base=base, orientation="h", name=name, marker_color=color,
            text=[str(x) for x in d[f"{end}_label"]], textposition="auto",
            hovertext=[hover(r, end) for r in d.itertuples()], hoverinfo="text"))
    fig.add_vline(x=base, line_width=1, line_color="#444")
    fig.update_layout(
        title=title or f"What moves the {metric_label(metric)}", barmode="group", bargap=0.25,
        xaxis_title=f"{metric_label(metric)}: mean over tasks {base:.4g}", yaxis_title=None,
        height=max(260, 56 * len(axes) + 140), margin={"l": 10, "r": 10, "t": 50, "b": 40},
        legend={"orientation": "h", "y": -0.2}, template="plotly_white")
    return fig


def tornado_html(sensitivity_df: pd.DataFrame, metrics: Sequence[str] | None = None, *,
                 title: str = "Sweep sensitivity") -> str:
    """A self-contained HTML page (plotly.js inlined, works offline) with one tornado per
    metric (default: the headline metrics in the table); empty when there is nothing to show."""
    if sensitivity_df.empty:
        return ""
    wanted = metrics or [m for m in HEADLINE_METRICS if m in set(sensitivity_df["metric"])]
    parts: list[str] = []
    for i, m in enumerate(wanted):
        fig = tornado_figure(sensitivity_df, m)
        parts.append(fig.to_html(full_html=False, include_plotlyjs=(i == 0)))
    return ("<!doctype html><html><head><meta charset='utf-8'><title>" + title +
            "</title></head><body><h1 style='font-family:sans-serif'>" + title + "</h1>" +
            "\n".join(parts) + "</body></html>")


def effects_figure(effects_df: pd.DataFrame, effect: str = "low_point_pct", *,
                   against: str = "the counterfactual", title: str | None = None) -> go.Figure:
    """A ranked dot-and-interval chart of one effect: one row per task (its ``label``), the dot
    at the median of the paired per-path differences and the bar over their 90 % interval,
    largest loss on top; the line at 0 is "no effect"."""
    if effect not in EFFECTS:
        raise ValueError(f"unknown effect {effect!r}; effects: {', '.join(EFFECTS)}")
    d = effects_df[effects_df["effect"] == effect]
    if d.empty:
        raise ValueError(f"no rows for effect {effect!r} in the effects table")
    d = d.sort_values(["q50", "mean"], kind="stable")  # most negative (largest loss) on top
    name, unit = EFFECTS[effect]
    q50 = d["q50"].to_numpy(dtype=float)
    hover = [f"{r.label}<br>median {r.q50:.3g} {unit}<br>90 % interval {r.q05:.3g} to "
             f"{r.q95:.3g}<br>mean {r.mean:.3g} ± {r.mc_se:.2g} (Monte Carlo s.e.)"
             f"<br>{n_} paired paths"
             for r, n_ in zip(d.itertuples(), d["n"].astype(int), strict=True)]
    fig = go.Figure(go.Scatter(
        x=q50, y=d["label"].astype(str), mode="markers", marker={"size": 9, "color": "#e45756"},
        error_x={"type": "data", "symmetric": False,
                 "array": d["q95"].to_numpy(dtype=float) - q50,
                 "arrayminus": q50 - d["q05"].to_numpy(dtype=float),
                 "color": "#888", "thickness": 2, "width": 0},
        hovertext=hover, hoverinfo="text", name="median, 90 % interval"))
    fig.add_vline(x=0, line_width=1, line_color="#444")
    n = int(d["n"].to_numpy(dtype=float).max())
    fig.update_layout(
        title=title or f"{name[0].upper()}{name[1:]} [{unit}]",
        xaxis_title=f"{name} [{unit}] against {against}: median and 90 % interval of {n} "
                    "paired paths",
        yaxis={"title": None, "autorange": "reversed"},
        height=max(260, 26 * len(d) + 150), margin={"l": 10, "r": 10, "t": 50, "b": 50},
        showlegend=False, template="plotly_white")
    return fig


def effects_html(effects_df: pd.DataFrame, effects: Sequence[str] = CHART_EFFECTS, *,
                 against: str = "the counterfactual", title: str = "Sweep effects") -> str:
    """A self-contained HTML page (plotly.js inlined) with one ranked effect chart per effect;
    empty when the table is empty."""
    if effects_df.empty:
        return ""
    have = set(effects_df["effect"])
    parts: list[str] = []
    for e in (e for e in effects if e in have):
        fig = effects_figure(effects_df, e, against=against)
        parts.append(fig.to_html(full_html=False, include_plotlyjs=not parts))
    return ("<!doctype html><html><head><meta charset='utf-8'><title>" + title +
            "</title></head><body><h1 style='font-family:sans-serif'>" + title + "</h1>" +
            "<p style='font-family:sans-serif'>Each task against the same scenario without "
            "its policy, path by path: both run from the same seed, so every path shares its "
            "random draws (common random numbers) and the difference is the policy's.</p>" +
            "\n".join(parts) + "</body></html>")
