#!/usr/bin/env python3
"""Build the bundled block counts: ``blocks_daily_<date>.csv`` (blocks mined per UTC day, every
day) and ``blocks_hourly_<date>.csv`` (blocks per UTC hour in the windows around natural
experiments), the chain's own evidence for daily hashrate and for event studies.

Inputs (public data, kept in ../shared/data, never copied into the repo):

- ``market/coinmetrics_btc_2026-03.csv``: Coin Metrics community ``btc.csv`` (CC BY-NC 4.0,
  attribute "Coin Metrics"), column ``BlkCnt`` (blocks whose header time falls in the UTC day);
- ``chain/block_header_times_event_windows_2021-2026.csv``: header times of every block in five
  windows (bitcoin-data/block-arrival-times, CC0 1.0), counted per UTC hour of header time;
- ``chain/block_arrivals_2023-08_two_nodes.csv``: when two Bitcoin Core nodes first saw each block
  in August 2023 (CC0 1.0), counted per UTC hour of the earlier arrival.

Output columns: daily ``date, blocks``; hourly ``window, hour, blocks, basis`` (``basis``:
``header_time`` or ``arrival_time``). A day's count is public the day after; deterministic bytes.

Usage: ``python scripts/build_chain_blocks.py [--shared-dir ../shared/data] [--out
src/hashshift/data]``
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

from hashshift.sources.bundled_chain import (  # noqa: E402
    format_blocks_daily,
    format_blocks_hourly,
    parse_blocks_daily,
    parse_blocks_hourly,
)
from hashshift.sources.bundled_files import write_sources_section  # noqa: E402
from hashshift.sources.prices import read_coinmetrics  # noqa: E402

MARKET = Path("market", "coinmetrics_btc_2026-03.csv")
HEADERS = Path("chain", "block_header_times_event_windows_2021-2026.csv")
ARRIVALS = Path("chain", "block_arrivals_2023-08_two_nodes.csv")
BEGIN = "<!-- BEGIN blocks (written by scripts/build_chain_blocks.py; do not edit) -->"
END = "<!-- END blocks -->"
#: Windows of the header-time file: (name, first height, last height).
WINDOWS = (("xinjiang_2021", 677_000, 680_551), ("kazakhstan_2022", 716_500, 719_163),
           ("elliott_2022", 767_000, 770_551), ("heather_2024", 824_000, 827_551),
           ("fern_2026", 931_500, 935_051))


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def daily_counts(market: pd.DataFrame) -> pd.DataFrame:
    d = market.dropna(subset=["blocks"])
    d = d[d["blocks"] > 0]
    return pd.DataFrame({"date": d["date"], "blocks": d["blocks"].astype(int)})


def _hourly(times: pd.Series, window: str, basis: str) -> pd.DataFrame:
    hours = times.dt.floor("h")
    full = pd.date_range(hours.min(), hours.max(), freq="h")
    counts = hours.value_counts().reindex(full, fill_value=0).sort_index()
    # first and last hours are partial (the window starts and ends mid-hour): drop them
    counts = counts.iloc[1:-1]
    return pd.DataFrame({"window": window, "hour": counts.index, "blocks": counts.to_numpy(),
                         "basis": basis})


def hourly_counts(headers: pd.DataFrame, arrivals: pd.DataFrame) -> pd.DataFrame:
    parts = []
    t = pd.to_datetime(headers["timestamp_unix"], unit="s", utc=True)
    for name, lo, hi in WINDOWS:
        sel = (headers["height"] >= lo) & (headers["height"] <= hi)
        parts.append(_hourly(t[sel], name, "header_time"))
    first = arrivals[["arrival_ms_darosior", "arrival_ms_vostrnad"]].min(axis=1)
    at = pd.to_datetime(first, unit="ms", utc=True)
    parts.append(_hourly(at, "ercot_2023", "arrival_time"))
    return pd.concat(parts, ignore_index=True)


def main(argv: list[str] | None = None) -> list[Path]:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--shared-dir", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--out", type=Path, default=REPO / "src" / "hashshift" / "data")
    args = ap.parse_args(argv)
    paths = {k: args.shared_dir / p for k, p in
             (("market", MARKET), ("headers", HEADERS), ("arrivals", ARRIVALS))}
    for p in paths.values():
        if not p.exists():
            ap.error(f"missing input {p} (set --shared-dir)")
    daily = daily_counts(read_coinmetrics(paths["market"]))
    hourly = hourly_counts(pd.read_csv(paths["headers"]), pd.read_csv(paths["arrivals"]))
    vintage = f"{daily['date'].max():%Y-%m-%d}"
    d_text, h_text = format_blocks_daily(daily), format_blocks_hourly(hourly)
    parse_blocks_daily(d_text), parse_blocks_hourly(h_text)  # they read back
    args.out.mkdir(parents=True, exist_ok=True)
    out = [args.out / f"blocks_daily_{vintage}.csv", args.out / f"blocks_hourly_{vintage}.csv"]
    out[0].write_text(d_text, encoding="utf-8", newline="\n")
    out[1].write_text(h_text, encoding="utf-8", newline="\n")
    spans = hourly.groupby("window")["hour"].agg(["min", "max", "size"])
    windows = "\n".join(f"  - `{w}`: {r['min']:%Y-%m-%d %H:00} … {r['max']:%Y-%m-%d %H:00} UTC "
                        f"({r['size']} hours)" for w, r in spans.iterrows())
    section = f"""{BEGIN}
## blocks_daily_{vintage}.csv, blocks_hourly_{vintage}.csv

Blocks mined per UTC day ({len(daily):,} days, {daily['date'].min():%Y-%m-%d} …
{vintage}; sha256 {_sha(d_text.encode())}) and per UTC hour in the windows around natural
experiments ({len(hourly):,} hours; sha256 {_sha(h_text.encode())}). Built by
`scripts/build_chain_blocks.py` from:

- Coin Metrics community data `btc.csv` (CC BY-NC 4.0, attribute "Coin Metrics"), column
  `BlkCnt`: blocks by UTC day of header time ({paths['market'].stat().st_size:,} bytes, sha256
  {_sha(paths['market'].read_bytes())}).
- bitcoin-data/block-arrival-times (CC0 1.0), `qa/block-timestamps/block-timestamps.csv`,
  commit 572fce2: header time of every block in five windows, counted per hour of header time
  (sha256 {_sha(paths['headers'].read_bytes())}); and `data/darosior_node0.csv`,
  `data/vostrnad_node1.csv`, commit 707477a: when two Bitcoin Core nodes first saw each block,
  August 2023, counted per hour of the earlier arrival (sha256
  {_sha(paths['arrivals'].read_bytes())}). The first and last hour of each window (partial) are
  left out; hours without a block count 0.
{windows}

A day's count is public the day after (`hashshift.sources.pit`). Readers:
`hashshift.sources.bundled_chain.read_blocks_daily`, `read_blocks_hourly`.
{END}
"""
    write_sources_section(args.out / "SOURCES.md", section, BEGIN, END)
    for p in out:
        print(f"wrote {p}")
    return out


if __name__ == "__main__":
    main()
