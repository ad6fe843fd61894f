"""Tornado charts of a sweep's sensitivity table (plotly), alone or as a self-contained page.

The table comes from :func:`hashshift.sweep.sensitivity` (docs/sweeps.md, Results); the offline
report puts the same charts in its sensitivity section (:mod:`.html`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..sim.outcomes import HEADLINE_METRICS

__all__ = ["tornado_figure", "tornado_html"]


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
        return f"{r.axis} = {lab}<br>{metric}: {val:.4g}{extra}"

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
        title=title or f"Sensitivity of {metric}", barmode="group", bargap=0.25,
        xaxis_title=f"{metric} (mean over tasks {base:.4g})", yaxis_title=None,
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
    parts = []
    for i, m in enumerate(wanted):
        fig = tornado_figure(sensitivity_df, m)
        parts.append(fig.to_html(full_html=False, include_plotlyjs=(i == 0)))
    return ("<!doctype html><html><head><meta charset='utf-8'><title>" + title +
            "</title></head><body><h1 style='font-family:sans-serif'>" + title + "</h1>" +
            "\n".join(parts) + "</body></html>")
