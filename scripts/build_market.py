#!/usr/bin/env python3
"""Build the bundled monthly market table ``src/hashshift/data/market_monthly_<date>.csv``.

Input (public data, kept in ../shared/data, never copied into the repo):
``market/coinmetrics_btc_2026-03.csv`` — Coin Metrics' community ``btc.csv`` (CC BY-NC 4.0,
attribute "Coin Metrics"), read with :func:`hashshift.sources.prices.read_coinmetrics`.

Output: one row per complete calendar month (every day of the month has price, hashrate, block
count, issuance and fees) with the monthly MEANS of the daily values: ``price_usd`` [USD/BTC],
``hashrate_ehs`` [EH/s], ``blocks_day`` [blocks/day], ``subsidy_btc_day`` [BTC/day],
``fees_btc_day`` [BTC/day], ``revenue_usd_day`` [USD/day] = mean of (subsidy + fees) × price, and
``days`` (days in the month). The bytes are deterministic; the script also writes (or replaces)
its own section of ``SOURCES.md`` next to the table.

Usage: ``python scripts/build_market.py [--shared-dir ../shared/data] [--out src/hashshift/data]``
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
try:
    import hashshift  # noqa: F401
except ImportError:  # running from a checkout without installation
    sys.path.insert(0, str(REPO / "src"))

import pandas as pd  # noqa: E402

from hashshift.sources.bundled_files import write_sources_section  # noqa: E402
from hashshift.sources.bundled_observed import (  # noqa: E402
    MARKET_COLUMNS,
    format_market_monthly,
    parse_market_monthly,
)
from hashshift.sources.prices import read_coinmetrics  # noqa: E402

INPUT = Path("market", "coinmetrics_btc_2026-03.csv")
BEGIN = "<!-- BEGIN market_monthly (written by scripts/build_market.py; do not edit) -->"
END = "<!-- END market_monthly -->"
_DAILY = ["price_usd", "hashrate_ehs", "blocks", "subsidy_btc", "fees_btc", "revenue_usd"]


def monthly(daily: pd.DataFrame) -> pd.DataFrame:
    """Monthly means of the complete calendar months of a parsed Coin Metrics frame."""
    df = daily.dropna(subset=_DAILY).copy()
    df["month"] = df["date"].dt.to_period("M")
    g = df.groupby("month")
    out = g[_DAILY].mean()
    out["days"] = g.size()
    full = out.index.to_timestamp().days_in_month
    out = out[out["days"].to_numpy() == full]
    out = out.rename(columns={
        "blocks": "blocks_day", "subsidy_btc": "subsidy_btc_day", "fees_btc": "fees_btc_day",
        "revenue_usd": "revenue_usd_day",
    })
    out.insert(0, "date", out.index.to_timestamp())
    return out.reset_index(drop=True)[MARKET_COLUMNS]


def sources_section(name: str, text: str, src: bytes, frame: pd.DataFrame) -> str:
    """The SOURCES.md section describing ``name``."""
    first, last = frame["date"].iloc[0], frame["date"].iloc[-1]
    return f"""{BEGIN}
## {name}

Monthly means of Bitcoin's daily market and network series, {first:%Y-%m} .. {last:%Y-%m}
({len(frame)} complete calendar months). {len(text.encode()):,} bytes,
sha256 {hashlib.sha256(text.encode()).hexdigest()}.
Built by `scripts/build_market.py` from:

- **Coin Metrics community data** — `btc.csv` of `coinmetrics/data` as cached in repo
  `chrisshao0/APS1052`, path `data/raw/coinmetrics_btc.csv`, commit
  `0ec8bf24d754bc27475f226d86bb346fd45be84d` (kept outside the repo as
  `shared/data/market/coinmetrics_btc_2026-03.csv`, {len(src):,} bytes,
  sha256 {hashlib.sha256(src).hexdigest()}).
  **Source: Coin Metrics** (https://coinmetrics.io/community-network-data/). Licence
  **CC BY-NC 4.0** (attribution, non-commercial); this derived table carries the same licence.

Columns: `date` (first day of the month; the row is that month's mean), `price_usd` [USD/BTC]
(mean of `PriceUSD`, the close at 00:00 UTC of the next day), `hashrate_ehs` [EH/s] (mean of
`HashRate` [TH/s] × 1e-6), `blocks_day` [blocks/day] (`BlkCnt`), `subsidy_btc_day` [BTC/day]
(`IssTotNtv`), `fees_btc_day` [BTC/day] (`FeeTotNtv`), `revenue_usd_day` [USD/day] (mean of the
daily (IssTotNtv + FeeTotNtv) × PriceUSD; not the product of the monthly means), `days` (days
averaged = days in the month: only complete months are kept).
{END}
"""


def update_sources(path: Path, section: str) -> None:
    """Replace this script's section of ``path`` (or append it; create the file if absent)."""
    write_sources_section(path, section, BEGIN, END)


def main(argv: list[str] | None = None) -> Path:
    """Build the table; return the path written."""
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--shared-dir", type=Path, default=REPO.parent / "shared" / "data",
                    help="folder holding market/ (default: ../shared/data next to the repo)")
    ap.add_argument("--out", type=Path, default=REPO / "src" / "hashshift" / "data",
                    help="output folder (default: src/hashshift/data)")
    args = ap.parse_args(argv)
    src = args.shared_dir / INPUT
    if not src.exists():
        ap.error(f"missing input {src} (set --shared-dir)")
    frame = monthly(read_coinmetrics(src))
    text = format_market_monthly(frame)
    parse_market_monthly(text, name="(built table)")  # the reader accepts what we write
    last_day = read_coinmetrics(src).dropna(subset=_DAILY)["date"].iloc[-1]
    name = f"market_monthly_{last_day:%Y-%m-%d}.csv"
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / name
    out.write_text(text, encoding="utf-8", newline="\n")
    update_sources(args.out / "SOURCES.md", sources_section(name, text, src.read_bytes(), frame))
    print(f"wrote {out} ({len(frame)} months, {frame['date'].iloc[0]:%Y-%m} .. "
          f"{frame['date'].iloc[-1]:%Y-%m})")
    return out


if __name__ == "__main__":
    main()
