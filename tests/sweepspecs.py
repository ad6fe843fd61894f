"""Small sweep specs shared by the tests: a migration-delay axis (and optionally a price
volatility axis) sampled by Latin hypercube, times a ban on the US or none."""

from __future__ import annotations


def small_sweep(name: str, *, n: int, paths: int, seed: int, horizon_days: int,
                gbm: bool = True, volatility_axis: bool = False) -> str:
    """The TOML text of a sweep of ``2 × n`` short tasks based on china_2021."""
    price = '\nprice.kind = "gbm"' if gbm else ""
    vol = ('\n[[axis]]\nname = "vol"\npath = "price.volatility_pct_yr"\n'
           'distribution = "loguniform"\nlow = 30\nhigh = 120\n') if volatility_axis else ""
    return f"""
[sweep]
name = "{name}"
base = "china_2021"
paths = {paths}
seed = {seed}

[set]
scenario.horizon_days = {horizon_days}{price}

[sampling]
method = "lhs"
n = {n}

[[axis]]
name = "delay"
path = "migration.delay_median_days"
distribution = "uniform"
low = 30
high = 180
{vol}
[[axis]]
path = "ban_region"
values = ["none", "US"]
"""
