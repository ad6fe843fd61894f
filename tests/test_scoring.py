"""Proper scores: CRPS of a sample, interval score and weighted interval score, against the
closed forms and worked values of their sources."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.stats import norm

from hashshift.scoring import crps_samples, interval_score, weighted_interval_score


def _crps_normal(y: float) -> float:
    """CRPS of N(0, 1) for outcome y (Gneiting & Raftery 2007, eq. 5 with σ = 1)."""
    return y * (2 * norm.cdf(y) - 1) + 2 * norm.pdf(y) - 1 / np.sqrt(np.pi)


@pytest.mark.parametrize("y", [0.0, 0.5, 2.0])
def test_crps_of_a_normal_sample_matches_the_closed_form(y: float) -> None:
    sample = np.random.default_rng(1).standard_normal(200_000)
    assert_allclose(crps_samples(sample, y), _crps_normal(y), rtol=5e-3)


def test_crps_of_a_point_forecast_is_its_absolute_error() -> None:
    assert crps_samples(np.array([3.0]), 5.5) == pytest.approx(2.5)
    with pytest.raises(ValueError, match="at least one sample"):
        crps_samples(np.array([]), 1.0)


def test_interval_score_worked_values() -> None:
    """Bracher et al. 2021, eq. 1: width + 2/α × the distance outside."""
    assert interval_score(2.0, 6.0, 8.0, 0.2) == pytest.approx(4.0 + 2 / 0.2 * 2.0)  # 24
    assert interval_score(2.0, 6.0, 1.0, 0.5) == pytest.approx(4.0 + 2 / 0.5 * 1.0)  # 8
    assert interval_score(2.0, 6.0, 4.0, 0.1) == pytest.approx(4.0)  # inside: the width
    with pytest.raises(ValueError, match="alpha must be in"):
        interval_score(0.0, 1.0, 0.5, 1.0)
    with pytest.raises(ValueError, match="below its lower end"):
        interval_score(2.0, 1.0, 0.5, 0.1)


def test_weighted_interval_score_approaches_the_crps() -> None:
    """With the 23 quantiles of the COVID-19 Forecast Hub (11 central intervals and the median)
    the WIS is close to the CRPS (Bracher et al. 2021, section 2.2: the CRPS is the limit)."""
    alphas = [0.02, 0.05] + [round(0.1 * k, 1) for k in range(1, 10)]
    intervals = {a: (float(norm.ppf(a / 2)), float(norm.ppf(1 - a / 2))) for a in alphas}
    for y in (0.0, 0.5, 2.0):
        wis = weighted_interval_score(0.0, intervals, y)
        print(f"y = {y}: WIS {wis:.4f}, CRPS {_crps_normal(y):.4f}")
        assert_allclose(wis, _crps_normal(y), rtol=0.15)
        assert wis < _crps_normal(y)  # the quantile sum under-counts the tails


def test_weighted_interval_score_by_hand() -> None:
    # median 10, 50 %: [8, 12], 90 %: [5, 15], outcome 16:
    # (0.5·6 + 0.25·(4 + 4·4) + 0.05·(10 + 20·1)) / 2.5 = (3 + 5 + 1.5) / 2.5 = 3.8
    wis = weighted_interval_score(10.0, {0.5: (8.0, 12.0), 0.1: (5.0, 15.0)}, 16.0)
    assert wis == pytest.approx(3.8)
