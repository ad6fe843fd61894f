"""Static charts (matplotlib, no network, no display needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402


def history_chart(epochs: pd.DataFrame, path: Path | str, *, mark_cuts_pct: float = -10.0) -> Path:
    """Write the epoch-mean hashrate [EH/s] with its 95 % interval and the difficulty, marking
    retargets of ``mark_cuts_pct`` [%] or deeper, to ``path`` (format from the suffix)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    df = epochs.dropna(subset=["hashrate_ehs"])
    fig, ax = plt.subplots(figsize=(11, 5.5), dpi=120)
    t = df["first_time"] + (df["last_time"] - df["first_time"]) / 2
    ax.fill_between(t, df["hashrate_lo_ehs"], df["hashrate_hi_ehs"], color="tab:orange",
                    alpha=0.35, label="95 % interval", step="mid")
    ax.plot(t, df["hashrate_ehs"], color="tab:orange", lw=1.2, label="epoch-mean hashrate [EH/s]")
    ax.set_yscale("log")
    ax.set_ylabel("hashrate [EH/s]")
    ax2 = ax.twinx()
    ax2.step(epochs["first_time"], epochs["difficulty"], where="post", color="tab:blue", lw=0.9,
             label="difficulty")
    ax2.set_yscale("log")
    ax2.set_ylabel("difficulty")
    from ..history import largest_cuts

    cuts = largest_cuts(epochs, len(epochs), below_pct=mark_cuts_pct).sort_index()
    for when in cuts["first_time"]:
        ax.axvline(when, color="tab:red", lw=0.6, alpha=0.6)
    if len(cuts):
        worst = largest_cuts(cuts).iloc[0]
        ax.annotate(f"{worst['change_pct']:+.2f} % at block {int(worst['first_height']):,}\n"
                    f"{worst['first_time']:%Y-%m-%d}", xy=(worst["first_time"], 1),
                    xycoords=("data", "axes fraction"), xytext=(-140, -30),
                    textcoords="offset points", fontsize=8, color="tab:red",
                    arrowprops={"arrowstyle": "->", "color": "tab:red"})
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], loc="upper left", fontsize=8)
    first, last = epochs["first_time"].iloc[0], epochs["first_time"].iloc[-1]
    ax.set_title(f"Bitcoin network: difficulty and hashrate per 2016-block epoch, "
                 f"{first:%Y-%m-%d} to {last:%Y-%m-%d} (hashshift)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def event_study_chart(study: Any, path: Path | str) -> Path:
    """Write a natural experiment's chart to ``path``: the network's hashrate [EH/s] per hour
    or day (:attr:`hashshift.events.EventStudy.series`), the ``before`` and ``during`` windows
    shaded with their mean hashrate, and the drop with its 90 % interval in the title."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    s = study.series
    t = s["start"].dt.tz_convert("UTC").dt.tz_localize(None)
    fig, ax = plt.subplots(figsize=(11, 5), dpi=120)
    ax.plot(t, s["hashrate_ehs"], ".", ms=3, color="#6b7280",
            label=f"hashrate per {study.resolution} [EH/s] (blocks × difficulty)")
    colors = {"before": "#2563eb", "during": "#dc2626"}
    for r in study.table.to_dict("records"):
        a = pd.Timestamp(r["start"]).tz_convert("UTC").tz_localize(None).to_pydatetime()
        b = pd.Timestamp(r["end"]).tz_convert("UTC").tz_localize(None).to_pydatetime()
        c = colors.get(str(r["window"]), "#9ca3af")
        ax.axvspan(a, b, color=c, alpha=0.12)  # type: ignore[arg-type]
        ax.hlines(r["hashrate_ehs"], a, b, color=c, lw=2.5,  # type: ignore[arg-type]
                  label=f"{r['window']}: mean {r['hashrate_ehs']:,.1f} EH/s")
    d = study.drop_pct
    ax.set_ylabel("hashrate [EH/s]")
    ax.set_ylim(bottom=0)
    ev = study.event
    ax.set_title(f"{ev['name']} ({ev['region']}): drop {d['drop_pct']:.1f} % "
                 f"(90 %: {d['lo_pct']:.1f} to {d['hi_pct']:.1f} % with the background spread)",
                 fontsize=10)
    ax.legend(loc="lower left", fontsize=8)
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
