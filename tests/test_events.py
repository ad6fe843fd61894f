"""Natural experiments: the catalogue, exact intervals from the block process, event studies, and
daily hashrate from block counts (hashshift.events, hashshift.history.hashrate_daily)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from scipy.stats import binomtest

from hashshift import events, history
from hashshift.sources.bundled_events import parse_events
from hashshift.sources.pit import record_access


def test_rate_ratio_interval_is_the_exact_conditional_interval() -> None:
    """Reference: the Clopper-Pearson interval of n2 / (n1 + n2) (scipy's exact binomial CI),
    mapped to the ratio of rates p / (1 − p) · t1 / t2."""
    n1, t1, n2, t2 = 1900.0, 14 * 86400.0, 420.0, 4 * 86400.0
    r, lo, hi = events.rate_ratio_interval(n1, t1, n2, t2, level=0.90)
    ci = binomtest(int(n2), int(n1 + n2)).proportion_ci(confidence_level=0.90, method="exact")
    ref = [p / (1 - p) * t1 / t2 for p in (ci.low, ci.high)]
    assert_allclose([lo, hi], ref, rtol=1e-9)
    assert_allclose(r, (n2 / t2) / (n1 / t1))
    assert lo < r < hi


def test_catalogue_is_point_in_time() -> None:
    every = events.catalogue()
    assert {"xinjiang_2021", "china_2021", "kazakhstan_2022", "elliott_2022", "fern_2026"} \
        <= set(every["event"])
    assert set(events.catalogue(as_of="2021-05-31")["event"]) == {"xinjiang_2021"}
    assert events.catalogue(as_of="2021-04-16").empty  # reported on the 16th, window not over
    with pytest.raises(LookupError, match="as known on 2021-05-31"):
        events.event_study("kazakhstan_2022", as_of="2021-05-31")


def test_catalogue_errors_name_the_event() -> None:
    from hashshift.sources.bundled_events import EVENT_COLUMNS, format_events

    row = dict(zip(EVENT_COLUMNS, ["x", "n", "US-TX", "outage", "2022-01-01",
                                   "2022-01-05T00:00Z", "2022-01-04T00:00Z",
                                   "2022-01-06T00:00Z", "2022-01-07T00:00Z", "0.5", "1.0", "b",
                                   "", "yes", "s"], strict=True))
    with pytest.raises(ValueError, match="event 'x'.*before_start < before_end"):
        parse_events(format_events([row]))
    row.update(before_end="2022-01-05T12:00Z", stopped_lo="0.9", stopped_hi="0.5")
    with pytest.raises(ValueError, match="stopped_lo 0.9 and stopped_hi 0.5"):
        parse_events(format_events([row]))


@pytest.mark.parametrize(("name", "lo", "hi"), [
    ("xinjiang_2021", 15.0, 40.0),   # measured 27.0 % (18.8-34.5): pools reported -16 … -33 %
    ("china_2021", 33.0, 50.0),      # measured 42.1 % (36.2-47.5)
    ("elliott_2022", 15.0, 42.0),    # measured 28.7 % (17.6-38.4); press: about -40 % at the low
    ("fern_2026", 12.0, 35.0),       # measured 23.3 % (14.4-31.3)
])
def test_event_studies_measure_the_drop(name: str, lo: float, hi: float) -> None:
    es = events.event_study(name)
    d = es.drop_pct
    print(f"\n{name}: drop {d['drop_pct']:.1f} % (Poisson {d['poisson_lo_pct']:.1f} to "
          f"{d['poisson_hi_pct']:.1f}, with background {d['lo_pct']:.1f} to {d['hi_pct']:.1f}); "
          f"implied share {es.share_pct['low_pct']:.1f} to {es.share_pct['high_pct']:.1f} %")
    assert lo < d["drop_pct"] < hi
    assert d["lo_pct"] <= d["poisson_lo_pct"] < d["drop_pct"] < d["poisson_hi_pct"] <= d["hi_pct"]
    # the before window's hashrate is the chain's: near the epoch estimate of that time
    before = es.table.set_index("window").loc["before"]
    ep = history.epochs(since=before["start"], until=before["end"])
    assert_allclose(before["hashrate_ehs"], ep["hashrate_ehs"].mean(), rtol=0.08)
    # the share bound is the drop over the stated fraction bounds
    ev = es.event
    assert_allclose(es.share_pct["point_low_pct"], d["drop_pct"] / ev["stopped_hi"])
    assert_allclose(es.share_pct["point_high_pct"], min(d["drop_pct"] / ev["stopped_lo"], 100))


def test_an_event_without_a_drop_says_so() -> None:
    """ERCOT's August 2023 peaks: Riot curtailed > 95 % at peak hours, yet the block rate over the
    days shows no drop beyond luck; the study reports it, the nowcast does not use it."""
    es = events.event_study("ercot_2023_08")
    assert es.drop_pct["lo_pct"] < 0  # no significant drop
    assert not es.event["nowcast"]
    assert es.share_pct["low_pct"] == 0


def test_event_study_reads_only_what_was_public() -> None:
    with record_access() as log:
        events.event_study("xinjiang_2021", as_of="2021-05-31")
    assert log and all(a.newest_public is None or str(a.newest_public) <= "2021-05-31"
                       for a in log)


def test_daily_hashrate_from_block_counts() -> None:
    """Daily estimates average to the epoch's own estimate, and their 90 % intervals (exact Gamma)
    hold the 7-day mean on most days."""
    d = history.hashrate_daily()
    ep = history.epochs(since="2024-01-01", until="2024-12-31")
    row = ep.iloc[5]
    days = d[(pd.to_datetime(d["date"]) >= row["first_time"].tz_localize(None).ceil("D"))
             & (pd.to_datetime(d["date"]) < row["last_time"].tz_localize(None).floor("D"))]
    assert_allclose(days["hashrate_ehs"].mean(), row["hashrate_ehs"], rtol=0.03)
    w = history.hashrate_daily(window_days=7)
    last = w.iloc[-1]
    assert last["hashrate_lo_ehs"] < last["hashrate_ehs"] < last["hashrate_hi_ehs"]
    width_1 = (days["hashrate_hi_ehs"] / days["hashrate_lo_ehs"]).median()
    width_7 = (w["hashrate_hi_ehs"] / w["hashrate_lo_ehs"]).iloc[-200:].median()
    assert width_7 < width_1  # a week narrows the interval (≈ 1/√7 in log width)
    assert np.isfinite(d["hashrate_ehs"]).all()
    assert history.hashrate_daily(as_of="2021-05-31")["date"].max() == pd.Timestamp("2021-05-30")
