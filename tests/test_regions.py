"""Regions: ISO codes of the mining subdivisions, region groups, representative points."""

from __future__ import annotations

import math
import re

import pycountry
import pytest
from numpy.testing import assert_allclose

from conftest import shared_file
from hashshift.regions import (
    CENTROIDS,
    EARTH_RADIUS_KM,
    GROUPS,
    OTHER_GROUP,
    REGIONS,
    UnknownRegionError,
    centroid,
    check_region_code,
    distance_km,
    great_circle_km,
    parent_code,
    region_code,
    region_group,
    region_name,
)

MINING_SUBDIVISIONS = [
    "CN-XJ", "CN-SC", "CN-NM", "CN-YN", "CN-QH", "CN-GS", "CN-BJ", "CN-SX",
    "US-TX", "US-GA", "US-NY", "US-KY", "CA-QC", "CA-AB", "RU-IRK",
]


@pytest.mark.parametrize("code", MINING_SUBDIVISIONS)
def test_mining_subdivisions_are_iso_3166_2(code: str) -> None:
    assert code in REGIONS
    r = REGIONS[code]
    assert r.level == "province" and r.parent == code.split("-")[0]
    assert pycountry.subdivisions.get(code=code) is not None
    assert check_region_code(code) == code
    assert parent_code(code) == r.parent


@pytest.mark.parametrize(
    ("code", "name"),
    [("US-TX", "Texas"), ("US-GA", "Georgia"), ("US-NY", "New York"), ("US-KY", "Kentucky"),
     ("CA-QC", "Quebec"), ("CA-AB", "Alberta"), ("RU-IRK", "Irkutsk Oblast"),
     ("KZ-55", "Pavlodar Region"), ("CN-NM", "Inner Mongolia"), ("CN-QH", "Qinghai")],
)
def test_short_english_names(code: str, name: str) -> None:
    assert region_name(code) == name


@pytest.mark.parametrize(
    ("name", "code"),
    [("Mainland China", "CN"), ("Iran, Islamic Rep.", "IR"), ("Germany *", "DE"),
     ("Russian Federation", "RU"), ("Other", "OTHER"), ("Norway", "NO")],
)
def test_source_spellings_still_map(name: str, code: str) -> None:
    assert region_code(name) == code


def test_unknown_source_name_is_an_error() -> None:
    with pytest.raises(UnknownRegionError, match=r"'Kazakstan'.*did you mean 'Kazakhstan'"):
        region_code("Kazakstan")
    with pytest.raises(UnknownRegionError, match=r"'Nei Mongolia'.*'Nei Mongol'"):
        region_code("Nei Mongolia", level="province")


# ---------------------------------------------------------------------------------------------
# groups
# ---------------------------------------------------------------------------------------------


def test_groups_partition_the_iso_countries() -> None:
    seen: dict[str, str] = {}
    for group, codes in GROUPS.items():
        for c in codes:
            assert c not in seen, f"{c} in {seen.get(c)} and {group}"
            seen[c] = group
            if c != "OTHER":
                assert pycountry.countries.get(alpha_2=c) is not None, c
    unlisted = {c.alpha_2 for c in pycountry.countries} - set(seen)
    assert unlisted == {"AQ"}  # Antarctica: no M49 region
    assert region_group("AQ") == OTHER_GROUP


@pytest.mark.parametrize(
    ("code", "group"),
    [("US", "North America"), ("CA-QC", "North America"), ("US-TX", "North America"),
     ("DE", "Europe"), ("IE", "Europe"), ("NO", "Europe"), ("RU", "Europe"),
     ("RU-IRK", "Europe"), ("GE", "Europe"),
     ("KZ", "Central Asia"), ("KZ-55", "Central Asia"), ("UZ", "Central Asia"),
     ("IR", "Middle East"), ("AE", "Middle East"), ("EG", "Middle East"),
     ("CN", "East Asia"), ("CN-XJ", "East Asia"), ("CN-OTHER", "East Asia"),
     ("MY", "Southeast Asia"), ("PY", "Latin America"), ("MX", "Latin America"),
     ("ET", "Africa"), ("AU", "Oceania"), ("OTHER", OTHER_GROUP)],
)
def test_region_group(code: str, group: str) -> None:
    assert region_group(code) == group


def test_every_region_has_a_group() -> None:
    for code in REGIONS:
        g = region_group(code)
        assert g in GROUPS
        assert (g == OTHER_GROUP) == (code == "OTHER"), code


def test_region_group_unknown_code() -> None:
    with pytest.raises(UnknownRegionError, match=r"'ZZ'"):
        region_group("ZZ")
    with pytest.raises(UnknownRegionError, match=r"did you mean 'US-TX'"):
        region_group("us-tx")


def test_groups_named_in_the_june_2021_news_item() -> None:
    text = shared_file("events", "news_2021-06_china_mining_ban.txt").read_text(encoding="utf-8")
    for name in ("North America", "Europe", "Central Asia", "Middle East"):
        assert re.search(name, text), name
        assert name in GROUPS
    # the regions the news item names sit in the groups it implies
    assert region_group("CN-QH") == region_group("CN-XJ") == region_group("CN-NM") == "East Asia"


# ---------------------------------------------------------------------------------------------
# representative points and distances
# ---------------------------------------------------------------------------------------------


def test_every_region_but_the_aggregates_has_a_point() -> None:
    for code in REGIONS:
        if code.endswith("OTHER"):
            assert code not in CENTROIDS
            with pytest.raises(LookupError, match="aggregate"):
                centroid(code)
            continue
        p = centroid(code)
        assert -90 <= p.lat_deg <= 90 and -180 <= p.lon_deg <= 180
        assert p.source and p.kind in ("geographic centre", "capital city")
        if "-" in code:  # a capital near its country: same hemispheres, < 25° of latitude away
            q = centroid(parent_code(code))
            assert math.copysign(1, p.lon_deg) == math.copysign(1, q.lon_deg), code
            assert abs(p.lat_deg - q.lat_deg) < 25, code
            assert p.kind == "capital city" and "geonames.org" in p.source
        else:
            assert p.kind == "geographic centre" and "countries_csv" in p.source


def test_centroid_errors() -> None:
    with pytest.raises(UnknownRegionError):
        centroid("ZZ")
    with pytest.raises(LookupError, match="no representative point for 'FR'"):
        centroid("FR")


def test_reference_points() -> None:
    # Google DSPL countries.csv and GeoNames, as cited in the table
    assert (centroid("CN").lat_deg, centroid("CN").lon_deg) == (35.86166, 104.195397)
    assert (centroid("CN-XJ").lat_deg, centroid("CN-XJ").lon_deg) == (43.80096, 87.60046)
    assert "1529102" in centroid("CN-XJ").source  # GeoNames id of Urumqi


def test_great_circle_reference_values() -> None:
    quarter = math.pi / 2 * EARTH_RADIUS_KM  # equator to pole along a meridian
    assert_allclose(great_circle_km(0, 0, 90, 0), quarter, rtol=1e-12)
    assert_allclose(great_circle_km(0, 0, 0, 180), 2 * quarter, rtol=1e-12)  # antipodes
    assert_allclose(great_circle_km(10, 20, 11, 20), quarter / 90, rtol=1e-9)  # one degree
    assert great_circle_km(43.8, 87.6, 43.8, 87.6) == 0.0


def test_distance_km_matches_the_law_of_cosines() -> None:
    def cosines(a: str, b: str) -> float:
        p, q = centroid(a), centroid(b)
        f1, f2 = math.radians(p.lat_deg), math.radians(q.lat_deg)
        dl = math.radians(q.lon_deg - p.lon_deg)
        c = math.sin(f1) * math.sin(f2) + math.cos(f1) * math.cos(f2) * math.cos(dl)
        return EARTH_RADIUS_KM * math.acos(max(-1.0, min(1.0, c)))

    for a, b in [("CN-XJ", "US-TX"), ("CN-SC", "KZ-55"), ("CN-BJ", "CN-XJ"), ("IR", "CA-QC")]:
        assert_allclose(distance_km(a, b), cosines(a, b), rtol=1e-9)
        assert_allclose(distance_km(a, b), distance_km(b, a), rtol=1e-15)
    # Beijing to Urumqi, about 2,400 km in a straight line
    assert 2300 < distance_km("CN-BJ", "CN-XJ") < 2500
