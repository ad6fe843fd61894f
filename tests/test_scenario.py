"""The scenario format (hashshift.sim.scenario): examples, round trips, every rule's message, the
JSON Schema, and that arbitrary input fails only with ScenarioError."""

from __future__ import annotations

import json
import math
import re
import tomllib
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hashshift.sim.scenario import (
    LIMITS,
    Scenario,
    ScenarioError,
    load_scenario,
    parse_scenario,
    scenario_schema,
)

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = resources.files("hashshift").joinpath("examples")
EXAMPLE_NAMES = sorted(p.name for p in EXAMPLES.iterdir() if p.name.endswith(".toml"))

HEAD = """\
[scenario]
name = "test"
as_of = 2021-05-31
horizon_days = 365
paths = 10
seed = 1
"""

#: Every section and every event kind, all fields set (a round trip must keep them all).
FULL = HEAD + """\
description = "every section and event kind"

[initial]
hashrate_ehs = 150.0
shares_month = "2021-04"
shares_pct = { "CN-XJ" = 30.0, US = 20.0, KZ = 10.0, OTHER = 40.0 }

[[machine_class]]
name = "old"
efficiency_j_th = 90.0
share_pct = 40.0
release = 2016-06-01

[[machine_class]]
name = "new"
efficiency_j_th = 34.0
share_pct = 60.0
release = 2020-05-01

[[region]]
code = "US-TX"
price_usd_kwh = 0.035
seasonal_price = [1.0, 1.0, 1.0, 1.0, 1.0, 1.2, 1.4, 1.4, 1.2, 1.0, 1.0, 1.0]
capacity_mw = 2500.0
growth_mw_month = 60.0
intensity_g_kwh = 400.0
policy_risk = 0.1

[supply]
deliveries_ehs_month = 3.5
mix_pct = { old = 10.0, new = 90.0 }

[price]
kind = "gbm"
usd = 35000.0
drift_pct_yr = 5.0
volatility_pct_yr = 60.0

[fees]
kind = "fixed"
btc_per_block = 0.2

[miners]
pue = 1.2

[migration]
delay_median_days = 60.0

[[event]]
kind = "ban"
region = "CN-XJ"
announced = 2021-06-09
effective = 2021-06-12
enforcement = 0.95
underground = 0.05
ramp_down_days = 10
enforcement_uncertainty = 0.05
source = "Reuters, 10 June 2021"

[[event]]
kind = "curtailment"
region = "US-TX"
start = 2021-08-01
end = 2021-08-31
share = 0.2
recurring = "yearly"

[[event]]
kind = "seasonal"
region = "CN-SC"
months = [11, 12, 1]
price_multiplier = 1.5
capacity_multiplier = 0.6

[[event]]
kind = "price_shock"
target = "btc"
start = 2021-07-01
end = 2021-07-31
multiplier = 0.5

[[event]]
kind = "tax"
region = "KZ"
start = 2022-01-01
usd_kwh = 0.01
usd_th_day = 0.001
"""


def _example(name: str) -> str:
    return EXAMPLES.joinpath(name).read_text(encoding="utf-8")


def _problems(text: str) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text)
    assert info.value.problems, "a ScenarioError lists its problems"
    return info.value.problems


def _one(text: str, *fragments: str) -> str:
    """The problem naming all fragments (field, value, rule); fails with the list otherwise."""
    problems = _problems(text)
    hits = [p for p in problems if all(f in p for f in fragments)]
    assert hits, f"no problem mentions {fragments}: {problems}"
    return hits[0]


# -------------------------------------------------------------------------------------------
# examples and round trips
# -------------------------------------------------------------------------------------------
def test_examples_are_shipped() -> None:
    assert "china_2021.toml" in EXAMPLE_NAMES


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_every_example_parses_and_round_trips(name: str) -> None:
    sc = parse_scenario(_example(name), name)
    assert sc.scenario.name
    assert 1 <= sc.scenario.paths <= LIMITS["paths"]
    assert 1 <= sc.scenario.horizon_days <= LIMITS["horizon_days"]
    again = parse_scenario(sc.to_toml(), f"{name} (round trip)")
    assert again == sc
    for ev in sc.event:  # examples cite where their events come from
        assert getattr(ev, "source", "x"), f"{name}: event {ev.kind} without a source"


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_every_example_resolves_against_the_bundled_data(name: str) -> None:
    from hashshift.sim.engine import resolve

    inp = resolve(parse_scenario(_example(name), name))
    assert inp.start == parse_scenario(_example(name)).scenario.as_of
    assert inp.hashrate_ehs > 0
    assert math.isclose(float(inp.shares.sum()), 1.0, rel_tol=1e-9)


def test_load_scenario_reads_a_file(tmp_path: Path) -> None:
    f = tmp_path / "s.toml"
    f.write_text(FULL, encoding="utf-8")
    assert load_scenario(f) == parse_scenario(FULL)


def test_full_scenario_round_trips() -> None:
    sc = parse_scenario(FULL)
    assert [e.kind for e in sc.event] == ["ban", "curtailment", "seasonal", "price_shock", "tax"]
    text = sc.to_toml()
    assert parse_scenario(text) == sc
    assert parse_scenario(parse_scenario(text).to_toml()).to_toml() == text  # a fixed point


def test_defaults_fill_every_optional_section() -> None:
    sc = parse_scenario(HEAD)
    assert sc.event == [] and sc.region == []
    assert sc.price.kind == "historical" and sc.fees.kind == "historical"
    assert sc.machine_class is None
    assert parse_scenario(sc.to_toml()) == sc


_SAFE_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), max_size=40)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=_SAFE_TEXT.filter(lambda s: s.strip() != "" and not re.fullmatch(r"\d{4}-\d\d-\d\d", s)),
    description=_SAFE_TEXT,
    enforcement=st.floats(0.0, 1.0),
    ramp=st.integers(0, 365),
    price=st.floats(1e-3, 1e7, allow_nan=False),
    horizon=st.integers(365, LIMITS["horizon_days"]),  # the events fall within a year
    paths=st.integers(1, LIMITS["paths"]),
)
def test_round_trip_property(name: str, description: str, enforcement: float, ramp: int,
                             price: float, horizon: int, paths: int) -> None:
    base = parse_scenario(FULL)
    data = base.model_dump()
    data["scenario"].update(name=name, description=description, horizon_days=horizon,
                            paths=paths)
    data["event"][0].update(enforcement=enforcement, ramp_down_days=ramp, source=description)
    data["price"].update(usd=price)
    sc = Scenario.model_validate(data)
    assert parse_scenario(sc.to_toml()) == sc


def test_round_trip_multiline_text() -> None:
    data = parse_scenario(HEAD).model_dump()
    data["scenario"]["description"] = "first line\nsecond line"
    sc = Scenario.model_validate(data)
    assert parse_scenario(sc.to_toml()) == sc


def test_round_trip_date_like_text() -> None:
    data = parse_scenario(HEAD).model_dump()
    data["scenario"]["name"] = "2021-05-31"
    sc = Scenario.model_validate(data)
    assert parse_scenario(sc.to_toml()) == sc


# -------------------------------------------------------------------------------------------
# each rule: a clear problem naming the field and the value
# -------------------------------------------------------------------------------------------
BAN = """
[[event]]
kind = "ban"
region = "CN-XJ"
announced = {announced}
effective = {effective}
enforcement = {enforcement}
underground = {underground}
"""


def _ban(announced: str = "2021-06-09", effective: str = "2021-06-12", enforcement: str = "0.9",
         underground: str = "0.05") -> str:
    return HEAD + BAN.format(announced=announced, effective=effective, enforcement=enforcement,
                             underground=underground)


def test_unknown_field_is_forbidden() -> None:
    p = _one(HEAD + "pathz = 10\n", "scenario.pathz", "unknown field")
    assert "(got 10)" in p
    _one(HEAD + "[pricing]\nkind = 'fixed'\n", "pricing", "unknown field")
    _one(_ban() + "enforcment = 0.5\n", "event[0].enforcment", "unknown field")


def test_ban_effective_before_announced() -> None:
    p = _one(_ban(announced="2021-06-10", effective="2021-06-01"), "event[0]")
    assert "2021-06-01" in p and "2021-06-10" in p and "before announced" in p


@pytest.mark.parametrize(("text", "field", "value", "rule"), [
    (_ban(enforcement="1.5"), "event[0].enforcement", "1.5", "less than or equal to 1"),
    (_ban(enforcement="-0.1"), "event[0].enforcement", "-0.1", "greater than or equal to 0"),
    (_ban(underground="2.0"), "event[0].underground", "2.0", "less than or equal to 1"),
    (HEAD + "[[event]]\nkind = 'curtailment'\nregion = 'US-TX'\nstart = 2021-08-01\n"
            "end = 2021-08-31\nshare = 1.01\n", "event[0].share", "1.01",
     "less than or equal to 1"),
    (HEAD + "[[region]]\ncode = 'US'\npolicy_risk = 1.2\n", "region[0].policy_risk", "1.2",
     "less than or equal to 1"),
    (HEAD + "[miners]\nuptime = -0.5\n", "miners.uptime", "-0.5", "greater than or equal to 0"),
])
def test_shares_and_probabilities_outside_0_1(text: str, field: str, value: str,
                                               rule: str) -> None:
    _one(text, field, f"(got {value})", rule)


@pytest.mark.parametrize("key", ["paths", "horizon_days"])
def test_run_size_beyond_limits(key: str) -> None:
    over = LIMITS[key] + 1
    text = re.sub(rf"^{key} = .*$", f"{key} = {over}", HEAD, flags=re.M)
    _one(text, f"scenario.{key}", f"(got {over})", str(LIMITS[key]))
    text = re.sub(rf"^{key} = .*$", f"{key} = 0", HEAD, flags=re.M)
    _one(text, f"scenario.{key}", "(got 0)", "greater than or equal to 1")


@pytest.mark.parametrize("n", [11, 13])
def test_seasonal_price_needs_twelve_months(n: int) -> None:
    values = ", ".join(["1.0"] * n)
    _one(HEAD + f"[[region]]\ncode = 'CN-SC'\nseasonal_price = [{values}]\n",
         "region[0].seasonal_price", "12")


def test_initial_shares_must_sum_to_100() -> None:
    p = _one(HEAD + "[initial]\nshares_pct = { US = 50.0, KZ = 40.0 }\n", "initial.shares_pct")
    assert "90.00" in p and "100" in p


def test_duplicate_region() -> None:
    _one(HEAD + "[[region]]\ncode = 'CN-SC'\n[[region]]\ncode = 'CN-SC'\n", "region",
         "'CN-SC'", "twice")


def test_fixed_price_needs_usd() -> None:
    _one(HEAD + "[price]\nkind = 'fixed'\n", "price.usd", "fixed")


def test_fixed_fees_need_btc_per_block() -> None:
    _one(HEAD + "[fees]\nkind = 'fixed'\n", "fees.btc_per_block", "fixed")


def test_machine_classes_must_sum_to_100_and_be_unique() -> None:
    mc = "[[machine_class]]\nname = 'a'\nefficiency_j_th = 30.0\nshare_pct = {}\n"
    _one(HEAD + mc.format(60.0) + mc.format(30.0), "machine_class", "90.00")
    _one(HEAD + mc.format(50.0) + mc.format(50.0), "machine_class", "unique")


def test_other_rules_name_the_field() -> None:
    _one(HEAD.replace('name = "test"\n', ""), "scenario.name", "required")
    _one(HEAD.replace("2021-05-31", '"31/05/2021"'), "scenario.as_of", "31/05/2021")
    _one(HEAD + "[[event]]\nkind = 'meteor'\nregion = 'US'\n", "event[0]", "meteor")
    _one(HEAD + "[price]\nkind = 'random'\n", "price.kind", "random")
    _one(HEAD + "[[event]]\nkind = 'curtailment'\nregion = 'US'\nstart = 2021-09-01\n"
                "end = 2021-08-01\nshare = 0.5\n", "event[0]", "2021-08-01", "before")
    _one(HEAD + "[initial]\nshares_month = '2021-4'\n", "initial.shares_month", "2021-4")
    _one("[scenario\nname = 1", "not valid TOML")


def test_load_scenario_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError) as info:
        load_scenario(tmp_path / "nope.toml")
    assert "nope.toml" in str(info.value) and "cannot read" in str(info.value)


@pytest.mark.parametrize(("where", "code"), [("event", "XX-ZZ"), ("event", "Atlantis"),
                                             ("region", "QQ")])
def test_unknown_region_code_is_named_by_resolve(where: str, code: str) -> None:
    from hashshift.sim.engine import resolve

    if where == "event":
        text = _ban().replace('region = "CN-XJ"', f'region = "{code}"')
    else:
        text = HEAD + f"[[region]]\ncode = '{code}'\n"
    sc = parse_scenario(text)  # the format accepts any code; the data decide
    with pytest.raises((LookupError, ValueError)) as info:
        resolve(sc)
    assert code in str(info.value)


# -------------------------------------------------------------------------------------------
# JSON Schema
# -------------------------------------------------------------------------------------------
def test_json_schema_is_json_with_the_top_level_properties() -> None:
    schema = json.loads(json.dumps(scenario_schema()))
    assert schema["type"] == "object"
    assert set(schema["properties"]) == set(Scenario.model_fields)
    assert {"scenario", "initial", "region", "price", "fees", "event"} <= set(schema["properties"])
    assert schema["required"] == ["scenario"]
    assert schema["additionalProperties"] is False
    defs = schema["$defs"]
    refs = re.findall(r'"\$ref": "#/\$defs/([^"]+)"', json.dumps(schema))
    assert refs and all(r in defs for r in refs)
    meta = defs["Meta"]["properties"]
    assert meta["paths"]["maximum"] == LIMITS["paths"]
    assert meta["horizon_days"]["maximum"] == LIMITS["horizon_days"]


def test_every_field_is_described_in_the_schema() -> None:
    """docs/scenarios.md takes each field's unit and text from its description alone."""
    undescribed = []
    for model, spec in scenario_schema()["$defs"].items():
        for name, prop in spec.get("properties", {}).items():
            text = re.sub(r"^\[[^\]]*\]", "", prop.get("description", "")).strip()
            if not text:
                undescribed.append(f"{model}.{name}")
    assert not undescribed, undescribed
    ban = scenario_schema()["$defs"]["Ban"]["properties"]
    assert ban["region"]["description"].startswith("ISO 3166-1/-2 region code")
    assert scenario_schema()["$defs"]["Meta"]["properties"]["horizon_days"]["description"] \
        .startswith("[days] ")


# -------------------------------------------------------------------------------------------
# arbitrary input fails only with ScenarioError
# -------------------------------------------------------------------------------------------
def _toml_scalar(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        return ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, str):
        return json.dumps(v)  # a JSON string is a valid TOML basic string
    if isinstance(v, list):
        return "[" + ", ".join(_toml_scalar(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {_toml_scalar(x)}" for k, x in v.items()) + " }"
    raise TypeError(type(v))


_scalars = st.one_of(
    st.booleans(), st.integers(-(2**70), 2**70), st.floats(),
    st.text(max_size=12), st.dates(date(1, 1, 1), date(9999, 12, 31)),
)
_values = st.recursive(_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=14), st.dictionaries(st.text(max_size=6), inner, max_size=4)),
    max_leaves=15)
_FIELDS = {
    "scenario": ["name", "as_of", "horizon_days", "paths", "seed", "description", "extra"],
    "initial": ["hashrate_ehs", "shares_month", "shares_pct"],
    "price": ["kind", "usd", "drift_pct_yr", "volatility_pct_yr"],
    "fees": ["kind", "btc_per_block"],
    "miners": ["pue", "uptime", "hysteresis_pct"],
    "region": ["code", "seasonal_price", "price_usd_kwh", "policy_risk"],
    "event": ["kind", "region", "announced", "effective", "enforcement", "start", "end",
              "share", "months", "multiplier", "target"],
}


def _mutated(section: str, key: str, value: Any) -> str:
    """The full scenario with one field replaced (or added) with an arbitrary value."""
    data = tomllib.loads(FULL)
    target = data[section][0] if isinstance(data[section], list) else data[section]
    if value is None:
        target.pop(key, None)
    else:
        target[key] = value
    lines = []
    for name, sec in data.items():
        blocks = sec if isinstance(sec, list) else [sec]
        for block in blocks:
            lines.append(f"[[{name}]]" if isinstance(sec, list) else f"[{name}]")
            lines += [f"{k} = {_toml_scalar(v)}" for k, v in block.items() if v is not None]
    return "\n".join(lines) + "\n"


def _parse_only_scenario_error(text: str) -> None:
    try:
        sc = parse_scenario(text)
    except ScenarioError as exc:
        assert exc.problems and all(isinstance(p, str) and p for p in exc.problems)
        return
    assert isinstance(sc, Scenario)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_arbitrary_field_values_fail_only_with_scenario_error(data: st.DataObject) -> None:
    section = data.draw(st.sampled_from(sorted(_FIELDS)))
    key = data.draw(st.sampled_from(_FIELDS[section]))
    value = data.draw(st.none() | _values)  # None: the field left out
    _parse_only_scenario_error(_mutated(section, key, value))


@settings(max_examples=200, deadline=None)
@given(doc=st.dictionaries(st.sampled_from([*_FIELDS, "x"]), _values, max_size=5))
def test_arbitrary_documents_fail_only_with_scenario_error(doc: dict[str, Any]) -> None:
    lines = [f"{json.dumps(k)} = {_toml_scalar(v)}" for k, v in doc.items()]
    _parse_only_scenario_error("\n".join(lines))


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=200))
def test_arbitrary_text_fails_only_with_scenario_error(text: str) -> None:
    _parse_only_scenario_error(text)


def test_deeply_nested_toml_is_a_scenario_error() -> None:
    _parse_only_scenario_error("x = " + "[" * 5000 + "]" * 5000)


# -------------------------------------------------------------------------------------------
# the documentation's examples
# -------------------------------------------------------------------------------------------
def _doc_blocks() -> list[str]:
    text = (REPO / "docs" / "scenarios.md").read_text("utf-8")
    return re.findall(r"```toml\n(.*?)```", text, re.S)


def test_docs_have_toml_examples() -> None:
    assert len(_doc_blocks()) >= 6


@pytest.mark.parametrize("i", range(len(_doc_blocks())))
def test_every_toml_example_in_the_docs_is_valid(i: int) -> None:
    block = _doc_blocks()[i]
    text = block if "[scenario]" in block else HEAD + block
    parse_scenario(text, f"docs/scenarios.md block {i}")


@pytest.mark.parametrize("field", ["beta_price", "beta_risk", "beta_presence",
                                   "beta_distance"])
def test_migration_weights_are_bounded(field: str) -> None:
    """Found by `make fuzz` through the web API: beta_presence = 1e308 made the logit utility
    infinite, the shares NaN and the engine fail with a bare ValueError (an HTTP 500)."""
    text = _example("china_2021.toml").replace("[migration]", f"[migration]\n{field} = 1e308")
    if "[migration]" not in text:
        text += f"\n[migration]\n{field} = 1e308\n"
    msg = _one(text, f"migration.{field}", "1000")
    assert "1e+308" in msg or "1e308" in msg
    ok = text.replace(f"{field} = 1e308", f"{field} = -1000")
    assert getattr(parse_scenario(ok).migration, field) == -1000


def test_initial_hashrate_is_bounded() -> None:
    """Found by `make fuzz` through the web API: 1e308 EH/s overflowed in the engine."""
    text = _example("china_2021.toml").replace(
        "[price]", "[initial]\nhashrate_ehs = {}\n\n[price]", 1)
    _one(text.format("1e308"), "initial.hashrate_ehs", "1000000")
    assert parse_scenario(text.format("150.0")).initial.hashrate_ehs == 150.0


@pytest.mark.parametrize(("section", "value", "where"), [
    ("[[region]]\ncode = 'CN-SC'\nseasonal_price = [{v}, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]",
     "inf", "region[0].seasonal_price[0]"),
    ("[miners]\nsite_price_sigma = {v}", "nan", "miners.site_price_sigma"),
    ("[initial]\nhashrate_ehs = {v}", "inf", "initial.hashrate_ehs"),
])
def test_infinite_or_nan_numbers_are_refused(section: str, value: str, where: str) -> None:
    """Found by the web fuzz test: `seasonal_price = [inf, …]` ran and came back as null in
    strict JSON. Every number of a scenario must be finite."""
    text = ("[scenario]\nname = 'x'\nas_of = 2021-05-31\nhorizon_days = 5\npaths = 2\n"
            "seed = 1\n" + section.format(v=value))
    with pytest.raises(ScenarioError, match=re.escape(where) + r": Input should be a finite"):
        parse_scenario(text)
