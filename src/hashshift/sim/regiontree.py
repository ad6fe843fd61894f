"""The regions of a run: the mining map's regions, split where the scenario names a place the
map does not list on its own.

The map's regions are the *leaves* of the tree world → country → subdivision
(:mod:`hashshift.regions`): countries, China's provinces, ``OTHER`` (countries the map lumps
together) and ``CN-OTHER``. A scenario may name any node: an event, an override or a split on
``CN`` acts on every Chinese province; on ``US-TX``, while the map lists only ``US``, the engine
first splits Texas off the United States — with the share the scenario gives in
``[initial] split_pct`` or, failing that, the newest published figure known on ``as_of``
(``hashshift/data/subdivision_shares_*.csv``) — leaving ``US-OTHER`` (the rest). A name that no
leaf holds and no split can supply is an error naming the code, the run's regions and the
nearest valid codes; nothing is ignored silently.
"""

from __future__ import annotations

import difflib
from datetime import date
from typing import Any

import pandas as pd

from .. import regions as rg
from .scenario import RegionSpec, Scenario

__all__ = ["RegionError", "leaf_specs", "referenced_regions", "split_regions"]

#: Fields of a region override that describe a rate or a price: a node's value holds for every
#: leaf under it. The other numeric fields (capacity, growth) are totals, shared out by share.
_INTENSIVE = ("price_usd_kwh", "seasonal_price", "intensity_g_kwh", "policy_risk")
_EXTENSIVE = ("capacity_mw", "growth_mw_month")


class RegionError(ValueError):
    """A region of a scenario that the run cannot resolve (the message says what to do)."""


def referenced_regions(sc: Scenario) -> list[tuple[str, str]]:
    """``(field, code)`` of every region the scenario names outside ``initial.shares_pct``."""
    out = [(f"region[{i}].code", r.code) for i, r in enumerate(sc.region)]
    out += [(f"event[{i}].region", str(ev.region)) for i, ev in enumerate(sc.event)
            if getattr(ev, "region", None)]
    out += [(f"initial.split_pct.{c}", c) for c in (sc.initial.split_pct or {})]
    return out


def _nearest(code: str, leaves: list[str]) -> list[str]:
    pool = sorted(set(leaves) | {rg.parent_code(c) for c in leaves} | set(rg.REGIONS))
    return difflib.get_close_matches(code, pool, n=3, cutoff=0.4)


def split_regions(share_map: dict[str, float], sc: Scenario, as_of: date,
                  defaults: pd.DataFrame | None = None) -> tuple[dict[str, float],
                                                                  dict[str, str],
                                                                  dict[str, str]]:
    """Split every region the scenario names but the map does not list off the leaf that holds
    it. Returns the new ``{leaf: share}``, one note per split (``"US-TX": "30.0 % of US
    (source)"``) and, for every new leaf, the map region it was split off (``{"US-TX": "US",
    "US-OTHER": "US"}``).

    ``defaults``: published subdivision shares (``region_code``, ``parent``,
    ``share_of_parent_pct``, ``source``, ``published``), already restricted to those public on
    ``as_of``; the newest per region is used.
    """
    shares = dict(share_map)
    notes: dict[str, str] = {}
    given = sc.initial.split_pct or {}
    by_code: dict[str, Any] = {}
    if defaults is not None and len(defaults):
        newest = defaults.sort_values("published", kind="stable").groupby("region_code").tail(1)
        by_code = {str(r["region_code"]): r for r in newest.to_dict("records")}
    totals = dict(shares)  # each map region's share before any split
    origin = {c: c for c in shares}
    # subdivisions after their country, so that "RU" is split off OTHER before "RU-IRK" off RU
    wanted = sorted({c for _, c in referenced_regions(sc)}, key=lambda c: (c.count("-"), c))
    where = {c: f for f, c in referenced_regions(sc)}
    for code in wanted:
        if code == rg.WORLD:
            continue
        if not rg.is_known_code(code):
            raise RegionError(f"{where[code]}: unknown region code {code!r}; the run's regions "
                              f"are {', '.join(sorted(shares))}; nearest valid codes: "
                              f"{', '.join(_nearest(code, list(shares))) or 'none'}")
        hold = rg.holder(code, shares)
        if hold is None:
            if code in shares or any(rg.covers(code, leaf) for leaf in shares):
                continue
            raise RegionError(f"{where[code]}: region {code!r} is not on the run's map and no "
                              f"region holds it; the run's regions are "
                              f"{', '.join(sorted(shares))}")
        base = rg.parent_code(code) if "-" in code else "OTHER"
        base_total = totals.get(base, totals.get(hold, shares[hold]))
        if code in given:
            frac, source = given[code] / 100.0, "initial.split_pct in the scenario"
        elif code in by_code:
            row = by_code[code]
            frac = float(row["share_of_parent_pct"]) / 100.0
            source = (f"{row['source']} (published {pd.Timestamp(row['published']):%Y-%m-%d})")
        else:
            raise RegionError(
                f"{where[code]}: the mining map does not list {code} ({rg.region_name(code)}) "
                f"on its own and no figure for its share of {base} was published by {as_of}; "
                f"give it as [initial] split_pct.{code} = <percent of {base}> (cite where it "
                f"comes from), or name one of the run's regions: {', '.join(sorted(shares))}")
        part = base_total * frac
        if part > shares[hold] + 1e-12:
            raise RegionError(f"{where[code]}: {code} at {frac * 100:g} % of {base} "
                              f"({part * 100:.2f} % of the world) is more than {hold} still "
                              f"holds ({shares[hold] * 100:.2f} %)")
        rest = shares.pop(hold) - part
        new_hold = f"{hold}-OTHER" if hold != "OTHER" and "-" not in hold else hold
        shares[new_hold] = rest
        shares[code] = part
        origin[new_hold] = origin[code] = origin[hold]
        if new_hold != hold:
            totals.setdefault(hold, base_total)
        notes[code] = (f"{frac * 100:.1f} % of {base} ({part * 100:.2f} % of the world) split "
                       f"off {hold}; source: {source}")
    return shares, notes, {c: origin[c] for c in shares}


def leaf_specs(specs: list[RegionSpec], leaves: list[str], shares: dict[str, float]
               ) -> dict[str, RegionSpec]:
    """The override that applies to each leaf: its own fields first, then its nearest ancestors'
    (prices, seasonal profiles, intensities, risk); a node's capacity and growth are shared out
    over the leaves under it in proportion to their starting shares."""
    by_code = {s.code: s for s in specs}
    out: dict[str, RegionSpec] = {}
    for leaf in leaves:
        fields: dict[str, Any] = {}
        for node in rg.ancestors(leaf):
            s = by_code.get(node)
            if s is None:
                continue
            for name in _INTENSIVE:
                if fields.get(name) is None and getattr(s, name) is not None:
                    fields[name] = getattr(s, name)
            for name in _EXTENSIVE:
                value = getattr(s, name)
                if fields.get(name) is None and value is not None:
                    under = [x for x in leaves if rg.covers(node, x)]
                    total = sum(shares[x] for x in under)
                    fields[name] = value * (shares[leaf] / total if total > 0
                                            else 1.0 / len(under))
        if fields:
            out[leaf] = RegionSpec(code=leaf, **fields)
    return out
