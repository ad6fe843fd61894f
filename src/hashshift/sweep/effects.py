"""What drives a sweep's outcomes: main-effect ranges, standardized regression coefficients
(SRC) and, for saltelli designs, Sobol' first-order and total indices."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..sim.outcomes import HEADLINE_METRICS

if TYPE_CHECKING:
    from .plan import Sweep

__all__ = ["SENSITIVITY_COLUMNS", "sensitivity"]

SENSITIVITY_COLUMNS = ["metric", "axis", "kind", "n", "base", "low", "high", "low_label",
                       "high_label", "swing", "src", "r2", "s1", "st"]


def sensitivity(sweep: Sweep, wide: pd.DataFrame, metrics: Sequence[str] | None = None
                ) -> pd.DataFrame:
    """Per metric × numeric axis: main-effect range (``low``/``high``: the metric's mean at the
    axis's low and high end — the lowest and highest value, or the lowest and highest fifth of
    the samples), ``swing`` = |high − low|, standardized regression coefficients ``src`` (with
    the fit's ``r2``), and Sobol' first-order ``s1`` and total ``st`` indices for saltelli
    designs. Categorical axes (regions, policies) are not ranges: their levels are compared
    with the paired effects of :func:`hashshift.sweep.results.effects_table`."""
    metrics = [m for m in (metrics or HEADLINE_METRICS) if m in wide.columns]
    rows: list[dict[str, Any]] = []
    axes = [a for a in sweep.axes if sweep.axis_kinds.get(a.label) == "numeric"]
    numeric = [a.label for a in axes]
    for metric in metrics:
        y_all = wide[metric].to_numpy(dtype=float)
        ok = np.isfinite(y_all)
        if ok.sum() < 2:
            continue
        sub = wide[ok]
        y = y_all[ok]
        base = float(y.mean())
        src, r2 = _src(sub, numeric, y)
        s1, st = _sobol(sweep, wide, metric)
        for a in axes:
            lo, hi, lo_lab, hi_lab = _main_effect(sub[a.label], y)
            rows.append({"metric": metric, "axis": a.label,
                         "kind": "numeric", "n": int(ok.sum()),
                         "base": base, "low": lo, "high": hi, "low_label": lo_lab,
                         "high_label": hi_lab, "swing": abs(hi - lo),
                         "src": src.get(a.label, float("nan")), "r2": r2,
                         "s1": s1.get(a.label, float("nan")), "st": st.get(a.label, float("nan"))})
    out = pd.DataFrame(rows, columns=SENSITIVITY_COLUMNS)
    if len(out):
        rank = {m: i for i, m in enumerate(metrics)}
        out = out.assign(_r=out["metric"].map(rank)).sort_values(
            ["_r", "swing"], ascending=[True, False], kind="stable").drop(columns="_r")
    return out.reset_index(drop=True)


def _label(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _main_effect(x: pd.Series, y: np.ndarray) -> tuple[float, float, str, str]:
    xs = x.to_numpy()
    levels = pd.unique(x)
    if len(levels) < 2:
        m = float(y.mean())
        lab = _label(levels[0]) if len(levels) else ""
        return m, m, lab, lab
    if len(levels) > 12:
        xf = xs.astype(float)
        q20, q80 = np.quantile(xf, [0.2, 0.8])
        lo, hi = y[xf <= q20].mean(), y[xf >= q80].mean()
        return float(lo), float(hi), f"≤ {q20:.4g}", f"≥ {q80:.4g}"
    means = pd.Series(y).groupby(pd.Series(xs, dtype=object).astype(str).to_numpy()).mean()
    order = sorted(levels, key=float)
    lo_v, hi_v = order[0], order[-1]
    return float(means[str(lo_v)]), float(means[str(hi_v)]), _label(lo_v), _label(hi_v)


def _src(sub: pd.DataFrame, numeric: list[str], y: np.ndarray) -> tuple[dict[str, float], float]:
    cols = [c for c in numeric if sub[c].astype(float).std() > 0]
    if not cols or len(y) < len(cols) + 2 or y.std() == 0:
        return {}, float("nan")
    x = sub[cols].to_numpy(dtype=float)
    xz = (x - x.mean(axis=0)) / x.std(axis=0)
    yz = (y - y.mean()) / y.std()
    coef, *_ = np.linalg.lstsq(xz, yz, rcond=None)
    resid = yz - xz @ coef
    r2 = float(1.0 - (resid @ resid) / (yz @ yz))
    return dict(zip(cols, (float(c) for c in coef), strict=True)), r2


def _sobol(sweep: Sweep, wide: pd.DataFrame, metric: str) -> tuple[dict[str, float],
                                                                   dict[str, float]]:
    if sweep.spec.sampling.method != "saltelli":
        return {}, {}
    n = sweep.spec.sampling.n
    assert n is not None
    dist_axes = [a.label for a in sweep.axes]
    k = len(dist_axes)
    y = pd.Series(wide[metric].to_numpy(dtype=float), index=wide["task"].to_numpy())
    y = y.reindex(range(n * (k + 2)))
    if not np.isfinite(y.to_numpy()).all():
        return {}, {}  # a failed task or an undefined value: no indices
    from scipy.stats import sobol_indices

    v = y.to_numpy()
    f_a, f_b = v[:n][None, :], v[n:2 * n][None, :]
    f_ab = v[2 * n:].reshape(k, n)[:, None, :]
    if np.var(np.concatenate([f_a, f_b], axis=1)) == 0:
        return {}, {}
    with np.errstate(all="ignore"):
        res = sobol_indices(func={"f_A": f_a, "f_B": f_b, "f_AB": f_ab}, n=n)
    s1 = np.asarray(res.first_order).reshape(-1)
    st = np.asarray(res.total_order).reshape(-1)
    return (dict(zip(dist_axes, (float(x) for x in s1), strict=True)),
            dict(zip(dist_axes, (float(x) for x in st), strict=True)))
