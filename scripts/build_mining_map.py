#!/usr/bin/env python3
"""Build the bundled mining map ``src/hashshift/data/mining_map_ccaf_<vintage>.csv``.

Inputs (CCAF's published exports, kept in ../shared/data/cambridge, never copied into the repo):

- ``mining_countries_monthly_2019-09_2022-01.csv`` — CCAF export ``mining_countries`` v1.1.1:
  monthly share of the global hashrate by country, every month CCAF published;
- ``mining_provinces_china_monthly_2019-09_2021-07.csv`` — CCAF export ``mining_provinces``:
  monthly share of China's hashrate by province (CCAF stopped them in July 2021);
- optionally ``mining_countries_v1.1.0_vintage-2021-08_2019-09_2021-04.csv`` — the older v1.1.0
  export, only compared (every value must equal the v1.1.1 export).

They are read with the project's parsers (:mod:`hashshift.sources.ccaf`: names mapped to ISO
3166 codes, shares checked to sum to 100 ± 0.1 per month) and written unchanged as one long table
(``date, level, region_code, share_pct, basis, source``). The output is deterministic: running
the script again on the same inputs rewrites the same bytes. It also writes (or replaces) its own
section of ``SOURCES.md`` next to the table.

Usage: ``python scripts/build_mining_map.py [--shared-dir ../shared/data]
[--out src/hashshift/data]``
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
try:
    import hashshift  # noqa: F401
except ImportError:  # running from a checkout without installation
    sys.path.insert(0, str(REPO / "src"))

from hashshift.geography import mining_map_from_ccaf  # noqa: E402
from hashshift.sources.bundled_files import write_sources_section  # noqa: E402
from hashshift.sources.bundled_geo import (  # noqa: E402
    bundled_mining_map_name,
    format_mining_map,
    parse_mining_map,
)
from hashshift.sources.ccaf import read_mining_countries, read_mining_provinces  # noqa: E402

COUNTRIES = Path("cambridge", "mining_countries_monthly_2019-09_2022-01.csv")
PROVINCES = Path("cambridge", "mining_provinces_china_monthly_2019-09_2021-07.csv")
COUNTRIES_V110 = Path("cambridge", "mining_countries_v1.1.0_vintage-2021-08_2019-09_2021-04.csv")
BEGIN = "<!-- BEGIN mining_map_ccaf (written by scripts/build_mining_map.py; do not edit) -->"
END = "<!-- END mining_map_ccaf -->"
#: Vintage of the CCAF export: the copy of the v1.1.1 country export holds CCAF's months through
#: January 2022 (its repository's README quotes the US share of that month, 37.84 %), the last
#: month CCAF published; the reference copy keeps the rows to 2021-05.
VINTAGE = "2022-01"
COUNTRIES_SOURCE = f"CCAF Bitcoin Mining Map export mining_countries v1.1.1 (vintage {VINTAGE})"
PROVINCES_SOURCE = "CCAF Bitcoin Mining Map export mining_provinces"


class Release(NamedTuple):
    """One release of CCAF's map: the day it became public, the last month it added at country
    and at province level, and the dated reports that show it."""

    published: str
    last_country_month: str
    last_province_month: str
    evidence: str


#: CCAF's releases of the mining map, oldest first (each month's rows are public from the first
#: release that carried it). Dates and coverage from dated reports; see SOURCES.md.
RELEASES: tuple[Release, ...] = (
    Release("2020-05-06", "2020-04", "2020-04",
            "launch of the map, months Sep 2019 - Apr 2020: Cambridge Judge Business School, "
            "'New interactive Bitcoin mining map launched' (\"today (6 May)\"); CoinDesk, 7 May "
            "2020 (\"China making up 65%\"); no update was found before July 2021 (CCAF's "
            "methodology text still read 'September 2019 to April 2020' on 16 Apr 2021)"),
    Release("2021-07-15", "2021-04", "2021-04",
            "months to Apr 2021: Reuters, 15 Jul 2021 (\"fell to 46% in April this year from "
            "75.5% in September 2019\"); CoinDesk, 15 Jul 2021 (\"Data after April is not "
            "available\")"),
    Release("2021-10-13", "2021-08", "2021-07",
            "months May - Aug 2021 (China's provinces to Jul 2021, all 0 in July): CoinDesk, 13 "
            "Oct 2021 (\"the U.S accounting for 35.4% ... as of the end of August\"); CCAF, 17 May "
            "2022 (\"mining map in October 2021 (covering data up to the end of August 2021)\")"),
    Release("2022-05-17", "2022-01", "2021-07",
            "months Sep 2021 - Jan 2022, the map's last: CCAF / Cambridge Judge Business School, "
            "'Bitcoin mining: new data reveal a surprising resurgence', 17 May 2022 (US 37.84 %, "
            "China 21.11 %)"),
)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sources_section(
    name: str, text: str, inputs: dict[str, bytes], stats: dict[str, str]
) -> str:
    """The SOURCES.md section describing ``name``."""
    c_bytes, p_bytes = inputs["countries"], inputs["provinces"]
    return f"""{BEGIN}
## {name}

CCAF's Bitcoin Mining Map as published, months {stats['span']}, one row per month × level × region
(each a monthly mean, dated on the first of the month):
by country, share of the global hashrate ({stats['country_rows']});
China by province, share of CHINA's hashrate ({stats['province_rows']}).
The date in the file name is the export's vintage. Column `published` is the day each month
first became public, from CCAF's releases (research notes with quotes: the project's issue 13):
{stats['releases']}
The values are those of the 2022 export: CCAF revised earlier months slightly at later releases
(China, April 2020: 65.08 % at launch, 64.81 % in the 2022 export; the shares of the other listed
countries unchanged), which a reader as of an earlier day does not see.
{stats['rows']} rows; sha256 {_sha256(text.encode())}.
Built by `scripts/build_mining_map.py` with the parsers of `hashshift.sources.ccaf` (World Bank
country names and CCAF province names mapped to ISO 3166 codes; every month checked to sum to
100 ± 0.1) from two public exports (kept outside the repo in `shared/data/cambridge/`, byte-for-byte
copies of the named commits; values unchanged):

- **Mining map by country** — Cambridge Centre for Alternative Finance (CCAF), Cambridge Bitcoin
  Electricity Consumption Index, Bitcoin Mining Map (https://ccaf.io/cbeci/mining_map), export
  `/cbeci/api/v1.1.1/download/mining_countries`, vintage {VINTAGE} (the copy's repository quotes
  the US share of January 2022, 37.84 %, CCAF's last published month); copy from GitHub
  `Mccalabrese/Bitcoin-Hashrate-simulations-MonteCarlo` `Resources/export.csv`, commit f33cb82.
  {len(c_bytes):,} bytes, sha256 {_sha256(c_bytes)}.
  Columns used: `date`, `country`, `monthly_hashrate_%` → `share_pct` with `basis` = `global`
  (`monthly_absolute_hashrate_EH/S` is not bundled: `hashshift.geography` recomputes EH/s from
  the bundled chain history).
  {stats['v110']}
- **China by province** — the same CCAF map, export `/download/mining_provinces`; copy from
  GitHub `sorianom23/Bitcoin-Mining` `data/china_regions.csv`, commit 8796b7e (to 2021-07, where
  every province is 0: CCAF put China's share at 0 in July and August 2021; CCAF published no
  province split after July 2021).
  {len(p_bytes):,} bytes, sha256 {_sha256(p_bytes)}.
  Columns used: `Date`, `Province` (`Nei Mongol` = Inner Mongolia,
  CN-NM; `Other` = CN-OTHER), `Share of Chinese hashrate` → `share_pct` with `basis` = `CN`.

Method and caveat (CCAF's methodology, https://ccaf.io/cbeci/mining_map/methodology): partner
pools (BTC.com, Poolin, ViaBTC; later Foundry) geolocate their hashers by IP address; the first
sample covered about 37 % of the network's hashrate. Hashers behind VPNs or proxies appear in the
wrong place: CCAF spread Zhejiang's VPN-inflated share over the other Chinese provinces. The
shares estimate where the sampled pools' hashers are, not a census of the network.

Columns: `date` (YYYY-MM-01); `level` (`country` | `province`); `region_code` (ISO 3166-1
alpha-2, `OTHER` = every country CCAF does not list; ISO 3166-2 `CN-XJ` …, `CN-OTHER` = the rest
of China); `share_pct` [%] of the whole named by `basis` (`global`: the network's hashrate;
`CN`: China's hashrate; global share of a province = `share_pct` × China's `share_pct` / 100);
`source` (the CCAF export). Reader: `hashshift.sources.bundled_geo.read_mining_map`.
{END}
"""


def update_sources(path: Path, section: str) -> None:
    """Replace this script's section of ``path`` (or append it; create the file if absent)."""
    write_sources_section(path, section, BEGIN, END)


def published_dates(df: pd.DataFrame) -> pd.Series:
    """Per row, the day of the first release that carried its month at its level."""
    out = pd.Series(pd.NaT, index=df.index, dtype="datetime64[ns]")
    for r in reversed(RELEASES):  # the oldest release that covers a month wins
        for level, last in (("country", r.last_country_month),
                            ("province", r.last_province_month)):
            sel = (df["level"] == level) & (df["date"] <= pd.Timestamp(f"{last}-01"))
            out[sel.to_numpy()] = pd.Timestamp(r.published)
    if out.isna().any():
        row = df[out.isna()].iloc[0]
        raise SystemExit(f"no release covers {row['date']:%Y-%m} at level {row['level']}")
    return out


def _compare_v110(shared: Path, countries_v111: pd.DataFrame) -> str:
    """Sentence about the v1.1.0 export: compared value by value when the file is at hand."""
    path = shared / COUNTRIES_V110
    if not path.exists():
        return ""
    old = read_mining_countries(path)
    merged = old.merge(countries_v111, on=["date", "region_code"], suffixes=("_old", "_new"))
    if len(merged) != len(old):
        raise SystemExit(f"{path}: {len(old) - len(merged)} rows have no v1.1.1 counterpart")
    diff = np.abs(merged["share_pct_old"] - merged["share_pct_new"]).max()
    if diff > 1e-9:
        raise SystemExit(f"{path}: v1.1.0 and v1.1.1 shares differ by up to {diff:g} points")
    return (f"The older v1.1.0 export (vintage 2021-08, months to 2021-04; copy from\n  "
            f"`JoBisch/R_Twitter-Bot`, commit c624c92) equals it in all {len(old)} shared rows.")


def main(argv: list[str] | None = None) -> Path:
    """Build the table; return the path written."""
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--shared-dir", type=Path, default=REPO.parent / "shared" / "data",
                    help="folder holding cambridge/ (default: ../shared/data next to the repo)")
    ap.add_argument("--out", type=Path, default=REPO / "src" / "hashshift" / "data",
                    help="output folder (default: src/hashshift/data)")
    ap.add_argument("--vintage", default=VINTAGE,
                    help=f"YYYY-MM in the file name: the export's vintage (default {VINTAGE})")
    args = ap.parse_args(argv)
    c_path = args.shared_dir / COUNTRIES
    p_path = args.shared_dir / PROVINCES
    for p in (c_path, p_path):
        if not p.exists():
            ap.error(f"missing input {p} (set --shared-dir)")

    countries = read_mining_countries(c_path)
    provinces = read_mining_provinces(p_path)
    df = mining_map_from_ccaf(countries, provinces, countries_source=COUNTRIES_SOURCE,
                              provinces_source=PROVINCES_SOURCE)
    df["published"] = published_dates(df)
    name = bundled_mining_map_name(args.vintage)
    text = format_mining_map(df)
    back = parse_mining_map(text, name=name)  # the written bytes must read back the same
    if not np.array_equal(back["share_pct"].to_numpy(), df["share_pct"].to_numpy()):
        raise SystemExit("formatted shares do not read back unchanged")
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / name
    out.write_text(text, encoding="utf-8", newline="\n")

    c_rows = df[df["level"] == "country"]
    p_rows = df[df["level"] == "province"]
    def rows_text(part: pd.DataFrame) -> str:
        return (f"{len(part)} rows: {part['date'].nunique()} months × "
                f"{part['region_code'].nunique()} entities")

    stats = {
        "rows": str(len(df)),
        "country_rows": rows_text(c_rows),
        "province_rows": rows_text(p_rows),
        "span": f"{df['date'].min():%Y-%m} … {df['date'].max():%Y-%m}",
        "v110": _compare_v110(args.shared_dir, countries),
        "releases": "\n".join(f"- {r.published}: countries to {r.last_country_month}, provinces "
                              f"to {r.last_province_month}; {r.evidence}." for r in RELEASES),
    }
    inputs = {"countries": c_path.read_bytes(), "provinces": p_path.read_bytes()}
    update_sources(args.out / "SOURCES.md", sources_section(name, text, inputs, stats))
    print(f"wrote {out} ({len(c_rows)} country rows, {len(p_rows)} province rows, "
          f"{stats['span']})")
    return out


if __name__ == "__main__":
    main()
