#!/usr/bin/env python3
"""Build ``src/hashshift/data/subdivision_shares_<date>.csv``: published shares of a country's
hashrate held by one of its subdivisions (US states), each with its source and the day it became
public.

The engine uses them to split a subdivision a scenario names (``US-TX``) off its country when
the mining map lists only the country (``hashshift.sim.regiontree``): the newest figure public
on the run's as-of day. Every figure below was read in dated press copies found with the
project's search tool (quotes in the SOURCES.md section this script writes). They are pool
samples: where a pool's customers connect from, not a census of a state's mining.

Usage: ``python scripts/build_subdivision_shares.py [--out src/hashshift/data]``
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import NamedTuple

REPO = Path(__file__).resolve().parents[1]
try:
    import hashshift  # noqa: F401
except ImportError:  # running from a checkout without installation
    sys.path.insert(0, str(REPO / "src"))

from hashshift.sources.bundled_files import write_sources_section  # noqa: E402
from hashshift.sources.bundled_geo import (  # noqa: E402
    SUBDIVISION_COLUMNS,
    parse_subdivision_shares,
)

BEGIN = ("<!-- BEGIN subdivision_shares (written by scripts/build_subdivision_shares.py; "
         "do not edit) -->")
END = "<!-- END subdivision_shares -->"
BUILT = "2026-12-03"


class Figure(NamedTuple):
    region_code: str
    parent: str
    share_of_parent_pct: float
    period: str
    source: str
    published: str


_FOUNDRY_2021 = ("Foundry USA pool's US customers (Nic Carter; Texas Blockchain Summit; CNBC "
                 "copy newsio.com 2021-10-09)")
_CCAF_2022 = ("CCAF Bitcoin Mining Map US states; released 2022-05-17 (U.Today; Compass "
              "Mining)")
_FOUNDRY_2023 = ("Foundry USA pool hashrate map; data 21-27 Jul 2023 during Texas curtailment "
                 "(Cointelegraph copy 2023-09-28; Decrypt 198889)")

FIGURES: tuple[Figure, ...] = (
    Figure("US-NY", "US", 19.9, "2021-10", _FOUNDRY_2021, "2021-10-09"),
    Figure("US-KY", "US", 18.7, "2021-10", _FOUNDRY_2021, "2021-10-09"),
    Figure("US-GA", "US", 17.3, "2021-10", _FOUNDRY_2021, "2021-10-09"),
    Figure("US-TX", "US", 14.4, "2021-10", _FOUNDRY_2021, "2021-10-09"),
    Figure("US-GA", "US", 31.0, "2021-12", _CCAF_2022 + "; '31%' (Compass)", "2022-05-17"),
    Figure("US-TX", "US", 11.22, "2021-12", _CCAF_2022, "2022-05-17"),
    Figure("US-KY", "US", 10.93, "2021-12", _CCAF_2022, "2022-05-17"),
    Figure("US-NY", "US", 9.77, "2021-12", _CCAF_2022, "2022-05-17"),
    Figure("US-CA", "US", 7.9, "2021-12", _CCAF_2022, "2022-05-17"),
    Figure("US-TX", "US", 28.5, "2023-07", _FOUNDRY_2023, "2023-09-28"),
    Figure("US-GA", "US", 9.64, "2023-07", _FOUNDRY_2023, "2023-09-28"),
    Figure("US-NY", "US", 8.75, "2023-07", _FOUNDRY_2023, "2023-09-28"),
    Figure("US-NH", "US", 5.33, "2023-07", _FOUNDRY_2023, "2023-09-28"),
)

SECTION = f"""{BEGIN}
## subdivision_shares_{BUILT}.csv

Published shares [%] of the United States' hashrate by state, with the day each became public:
the engine splits a state a scenario names off the US with the newest figure public on the run's
as-of day (or the scenario's own `[initial] split_pct`). All three sources are pool samples
(where a pool's customers connect from), not a census; they disagree with each other (Texas
14.4 % in Foundry's October 2021 sample, 11.22 % in CCAF's December 2021 map, 28.5 % in
Foundry's July 2023 map, the last taken during Texas curtailments, so likely low for Texas).

- Foundry USA, October 2021: CNBC (copy newsio.com, 2021-10-09): "Within the U.S., 19.9% of
  bitcoin's hashrate ... is in New York, 18.7% in Kentucky, 17.3% is in Georgia, and 14% in
  Texas, according to Foundry USA"; 14.4 % for Texas (latoken.com). Riot, large in Texas, was not
  a Foundry customer.
- CCAF, December 2021 (released 17 May 2022, the map's only US-state month): U.Today: "more than
  30% of the country's hashrate. It is followed by Texas (11.22%) and Kentucky (10.93%)"; "New
  York and California ... (9.77% and 7.9%)"; Compass Mining: "Georgia ... at 31%".
- Foundry USA, 21-27 July 2023 (Cointelegraph, 2023-09-28): "Texas with 28.5% of all the
  country's Bitcoin hash rate, followed by Georgia claiming 9.64% ..., New York with 8.75%";
  "New Hampshire accounting for 5.33%"; "pulled between July 21-27, 2023, when Texas faced
  power curtailment".

Columns: {", ".join(f"`{c}`" for c in SUBDIVISION_COLUMNS)}. Built by
`scripts/build_subdivision_shares.py`; reader `hashshift.sources.bundled_geo.
read_subdivision_shares`.
{END}
"""


def render() -> str:
    lines = [",".join(SUBDIVISION_COLUMNS)]
    for f in FIGURES:
        if "," in f.source or '"' in f.source:
            raise SystemExit(f"source of {f.region_code} must not contain commas or quotes")
        lines.append(",".join([f.region_code, f.parent, f"{f.share_of_parent_pct:g}", f.period,
                               f.source, f.published]))
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> Path:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=REPO / "src" / "hashshift" / "data")
    args = ap.parse_args(argv)
    text = render()
    parse_subdivision_shares(text, name="built")  # the written table must read back
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"subdivision_shares_{BUILT}.csv"
    out.write_text(text, encoding="utf-8", newline="\n")
    write_sources_section(args.out / "SOURCES.md", SECTION, BEGIN, END)
    print(f"wrote {out} ({len(FIGURES)} figures)")
    return out


if __name__ == "__main__":
    main()
