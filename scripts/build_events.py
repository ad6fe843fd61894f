#!/usr/bin/env python3
"""Build ``src/hashshift/data/natural_experiments_<date>.csv``: the catalogue of natural
experiments — days when one region's miners stopped for reasons known from outside the chain —
with the windows an event study compares and the fraction of the region's hashrate that stopped.

Every date and figure below was read in dated press copies found with the project's search tool
(quotes in the SOURCES.md section this script writes). ``stopped_lo``/``stopped_hi`` bound the
fraction of the region's hashrate that stopped during the event window: a value where a source
states it (e.g. "nearly all industrial scale Bitcoin mining load in Texas"), else a stated
judgement; the event study turns a measured drop into a bound on the region's share with them.

Windows (UTC, half-open ``[start, end)``): ``before`` is a quiet reference period just before;
``during`` is when the stop was (nearly) complete. ``public`` is the day the stop was publicly
reported (with the chain's next-day rule, the earliest day a forecast may use the event).

Usage: ``python scripts/build_events.py [--out src/hashshift/data]``
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

from hashshift.sources.bundled_events import EVENT_COLUMNS, format_events, parse_events  # noqa: E402
from hashshift.sources.bundled_files import write_sources_section  # noqa: E402

BUILT = "2026-12-03"
BEGIN = "<!-- BEGIN natural_experiments (written by scripts/build_events.py; do not edit) -->"
END = "<!-- END natural_experiments -->"


class Event(NamedTuple):
    event: str
    name: str
    region: str
    kind: str  # "outage" (temporary stop) or "ban" (lasting)
    public: str
    before_start: str
    before_end: str
    during_start: str
    during_end: str
    stopped_lo: float
    stopped_hi: float
    stopped_basis: str
    window: str  # hourly counts window in blocks_hourly, or "" (daily counts only)
    nowcast: str  # "yes": the nowcast uses it; "no": the study only (see stopped_basis)
    sources: str


EVENTS: tuple[Event, ...] = (
    Event("xinjiang_2021", "Xinjiang blackout (coal-mine accident, safety inspections)", "CN-XJ",
          "outage", "2021-04-16", "2021-04-01T00:00Z", "2021-04-14T00:00Z",
          "2021-04-16T00:00Z", "2021-04-20T00:00Z", 0.5, 1.0,
          "judgement: 'Northwest China is undergoing a complete blackout for safety "
          "inspections' (Wu Blockchain 16 Apr 2021); miners restored from 22 Apr; at least half "
          "of Xinjiang's mining assumed off",
          "xinjiang_2021", "yes",
          "CoinDesk 16 Apr 2021 ('the top 7 Bitcoin mining pools lost; on average; 16.5% of "
          "their hash rate'); Cointelegraph quoting Wu Blockchain 16 Apr 2021; The Block 22 Apr "
          "2021 (restoration)"),
    Event("china_2021", "China's provincial orders to shut mining", "CN", "ban", "2021-06-18",
          "2021-05-10T00:00Z", "2021-05-24T00:00Z", "2021-06-21T00:00Z", "2021-07-03T00:00Z",
          0.5, 1.0,
          "judgement: orders in Xinjiang (9 Jun); Qinghai (9 Jun); Yunnan (12 Jun); Sichuan "
          "(deadline 20 Jun) and Inner Mongolia; at least half of China's mining assumed "
          "stopped by late June",
          "", "yes",
          "CoinDesk 9 Jun 2021 (Zhundong: 'end all mining activities ... by 06:00 UTC June 9'); "
          "CoinDesk 9 Jun 2021 (Qinghai); CoinDesk 11 Jun 2021 (Yunnan); CoinDesk 18 Jun 2021 "
          "and Reuters 19 Jun 2021 (Sichuan: 26 projects by 20 June)"),
    Event("kazakhstan_2022", "Kazakhstan internet shutdown (unrest)", "KZ", "outage",
          "2022-01-05", "2021-12-28T00:00Z", "2022-01-04T00:00Z", "2022-01-05T14:00Z",
          "2022-01-07T00:00Z", 0.5, 1.0,
          "judgement: a nationwide internet cut stops miners without other links; partial "
          "restoration from 7 Jan",
          "kazakhstan_2022", "yes",
          "CoinDesk 6 Jan 2022 ('Connectivity was initially lost at around noon UTC "
          "Wednesday'); CoinGeek (five-day outage); startupcentraleurasia 19 Jan 2022 (partial "
          "restoration 7 Jan)"),
    Event("ercot_2022_07", "Texas heat: ERCOT conservation calls", "US-TX", "outage",
          "2022-07-10", "2022-06-27T00:00Z", "2022-07-08T00:00Z", "2022-07-11T00:00Z",
          "2022-07-14T00:00Z", 0.25, 1.0,
          "stated for the peak hours: 'nearly all industrial scale Bitcoin mining load in "
          "Texas' curtailed (Texas Blockchain Council; Benzinga/Bloomberg 12 Jul 2022); over "
          "whole days a judgement: at least a quarter",
          "", "yes",
          "Vision Times 13 Jul 2022 (ERCOT appeal of 10 Jul); Benzinga 12 Jul 2022; "
          "Core Scientific 11 Jul 2022 (Texas ASICs powered down)"),
    Event("elliott_2022", "Winter Storm Elliott", "US", "outage", "2022-12-23",
          "2022-12-12T00:00Z", "2022-12-20T00:00Z", "2022-12-23T12:00Z", "2022-12-25T00:00Z",
          0.3, 1.0,
          "judgement for the United States: Texas turned off '99% of industrial-scale bitcoin "
          "mining load' on 24 Dec (CoinDesk 26 Dec 2022); other states partly",
          "elliott_2022", "yes",
          "CoinDesk 26 Dec 2022 ('dropped about 100 exahash per second (EH/s); or 40%; to 156 "
          "EH/s; between Dec. 21 and Dec. 24'; Foundry USA 'lost more than half of its "
          "hashrate on Dec. 23')"),
    Event("ercot_2023_08", "ERCOT four-coincident-peak curtailments (evening peaks)", "US-TX",
          "outage", "2023-08-15", "2023-08-01T00:00Z", "2023-08-11T00:00Z",
          "2023-08-14T00:00Z", "2023-08-18T00:00Z", 0.3, 1.0,
          "judgement: Riot curtailed 'by over 95% during peak demand' (The Block; Sep 2023) and "
          "ran 4.5 of 10.3 EH/s on average in August; the block rate shows no drop beyond luck "
          "(the peaks are a few evening hours on some days): in the study; not in the nowcast",
          "ercot_2023", "no",
          "The Block Sep 2023 (Riot: '$31.7 million in power and demand response credits in "
          "August'); Riot August 2024 update (August 2023 column)"),
    Event("heather_2024", "Winter Storm Heather", "US", "outage", "2024-01-14",
          "2024-01-03T00:00Z", "2024-01-12T00:00Z", "2024-01-15T00:00Z", "2024-01-17T00:00Z",
          0.3, 1.0,
          "judgement for the United States: ERCOT conservation appeals 15-16 Jan; Foundry USA "
          "about 155 -> 80 EH/s (TheMinerMag 16 Jan 2024)",
          "heather_2024", "yes",
          "TheMinerMag 16 Jan 2024 ('dropped from 570 EH/s on Sunday to as low as 425 EH/s on "
          "Tuesday morning')"),
    Event("fern_2026", "Winter Storm Fern", "US", "outage", "2026-01-23",
          "2026-01-10T00:00Z", "2026-01-21T00:00Z", "2026-01-24T00:00Z", "2026-01-27T00:00Z",
          0.3, 1.0,
          "judgement for the United States: Foundry USA down about 60 % from Friday 23 Jan "
          "(TheMinerMag)",
          "fern_2026", "yes",
          "bitbo.io quoting TheMinerMag ('down by nearly 200 exahashes per second (EH/s); or "
          "60%; since Friday'); maxbit.cc (NewsBTC) network 1118 -> 668 EH/s"),
)

SECTION = f"""{BEGIN}
## natural_experiments_{BUILT}.csv

The catalogue of natural experiments: days when one region's miners stopped for a reason known
from outside the chain (`hashshift events` lists it; `hashshift event-study NAME` measures it).
Columns {", ".join(f"`{c}`" for c in EVENT_COLUMNS)}. Windows are UTC, half-open. `stopped_lo`,
`stopped_hi`: bounds on the fraction of the region's hashrate that stopped during the window,
with `stopped_basis` saying whether a source states it or it is a judgement. Sources (dated
press, read in stored copies; semicolons stand for commas in the CSV) are in the `sources` column;
fuller notes with quotes were gathered for issue 14. Not in the catalogue: Russia's regional
bans from 1 Jan 2025 (no visible drop reported), Iran's summer suspensions (dates after 2022 not
found), Xinjiang December 2025 (attribution disputed: 'an overstatement', TheMinerMag).
Built by `scripts/build_events.py`; reader `hashshift.events.catalogue`.
{END}
"""


def main(argv: list[str] | None = None) -> Path:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=REPO / "src" / "hashshift" / "data")
    args = ap.parse_args(argv)
    text = format_events([e._asdict() for e in EVENTS])
    parse_events(text, name="built")
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"natural_experiments_{BUILT}.csv"
    out.write_text(text, encoding="utf-8", newline="\n")
    write_sources_section(args.out / "SOURCES.md", SECTION, BEGIN, END)
    print(f"wrote {out} ({len(EVENTS)} events)")
    return out


if __name__ == "__main__":
    main()
