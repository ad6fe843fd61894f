"""Mining economics: hashvalue, hashprice, break-even electricity price, CCAF's profitability
threshold and payback (pure functions, no I/O).

Units (hashrate is per PH/s in the hash-price family, per TH/s in efficiencies):

- hashvalue [BTC/(PH/s)/day] and hashprice [USD/(PH/s)/day]: what one PH/s of hashing earns per
  day at the network's current hashrate (Luxor's Hashrate Index definition of hashprice:
  "how much a miner can expect to earn from a specific quantity of hashrate", quoted per TH/s or
  PH/s per day; https://hashrateindex.com/blog/what-is-hashprice/).
- a machine of efficiency ``e`` [J/TH] draws ``e`` W per TH/s, i.e. ``e`` kW per PH/s, so it uses
  ``e · 24`` kWh per (PH/s)·day (``e · 0.024`` kWh per (TH/s)·day) — docs/economics.md, CCAF.
- profitability threshold θ [J/TH]: the efficiency at which a machine's electricity cost equals
  the revenue per hash (Cambridge Bitcoin Electricity Consumption Index methodology,
  https://ccaf.io/cbeci/index/methodology: θ = revenue per hash ÷ electricity price per joule).

Every function takes floats or numpy arrays (broadcast together) and returns a float for scalar
inputs, else an array. Negative or non-finite inputs raise ``ValueError`` naming the field, the
value and what is allowed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from .consensus import MAINNET, Params, block_subsidy
from .units import (
    BLOCKS_PER_DAY,
    COIN,
    J_PER_KWH,
    KWH_PER_PHS_DAY_PER_J_TH,
    SECONDS_PER_DAY,
)

__all__ = [
    "break_even_price_usd_kwh",
    "hashprice_from_revenue_usd_ph_day",
    "hashprice_usd_ph_day",
    "hashvalue_btc_ph_day",
    "hashvalue_from_reward_btc_ph_day",
    "machine_table",
    "market_figures",
    "machine_cost_usd_day",
    "machine_profit_usd_day",
    "machine_revenue_usd_day",
    "payback_days",
    "profitability_threshold_j_th",
    "profitable_mask",
    "revenue_per_block_btc",
]

Num = float | npt.NDArray[np.float64]

_TH_PER_PH = 1000.0
_PH_PER_EH = 1000.0


def _arr(name: str, value: Any, *, positive: bool = False) -> npt.NDArray[np.float64]:
    """``value`` as a float array, checked finite and >= 0 (> 0 when ``positive``)."""
    a = np.asarray(value, dtype=float)
    bad = ~np.isfinite(a) | ((a <= 0) if positive else (a < 0))
    if bad.any():
        v = float(a.flat[int(np.argmax(bad))])
        allowed = "a finite number > 0" if positive else "a finite number >= 0"
        raise ValueError(f"{name} = {v!r} is not allowed (allowed: {allowed})")
    return a


def _out(a: npt.NDArray[np.float64]) -> Num:
    return float(a) if a.ndim == 0 else a


def revenue_per_block_btc(height: int, fees_btc: float = 0.0, params: Params = MAINNET) -> float:
    """Miner revenue of one block [BTC] = subsidy at ``height`` (consensus) + ``fees_btc``.

    Parameters
    ----------
    height : int — [block]
    fees_btc : float — fees paid in the block [BTC]
    """
    if height < 0:
        raise ValueError(f"height = {height} is not allowed (allowed: an integer >= 0)")
    fees = float(_arr("fees_btc", fees_btc))
    return block_subsidy(int(height), params) / COIN + fees


def hashvalue_btc_ph_day(
    hashrate_ehs: Any, subsidy_btc: Any, fees_btc: Any = 0.0,
    blocks_per_day: Any = BLOCKS_PER_DAY,
) -> Num:
    """Hashvalue [BTC/(PH/s)/day] = blocks/day × (subsidy + fees) / network hashrate.

    Parameters
    ----------
    hashrate_ehs : float — network hashrate [EH/s]
    subsidy_btc : float — subsidy per block [BTC/block]
    fees_btc : float — fees per block [BTC/block]
    blocks_per_day : float — [blocks/day] (144 expected)
    """
    h = _arr("hashrate_ehs", hashrate_ehs, positive=True)
    reward = _arr("subsidy_btc", subsidy_btc) + _arr("fees_btc", fees_btc)
    n = _arr("blocks_per_day", blocks_per_day)
    return _out(n * reward / (h * _PH_PER_EH))


def hashprice_usd_ph_day(
    hashrate_ehs: Any, price_usd: Any, subsidy_btc: Any, fees_btc: Any = 0.0,
    blocks_per_day: Any = BLOCKS_PER_DAY,
) -> Num:
    """Hashprice [USD/(PH/s)/day] = blocks/day × (subsidy + fees) × price / network hashrate.

    Parameters
    ----------
    hashrate_ehs : float — network hashrate [EH/s]
    price_usd : float — bitcoin price [USD/BTC]
    subsidy_btc : float — subsidy per block [BTC/block]
    fees_btc : float — fees per block [BTC/block]
    blocks_per_day : float — [blocks/day]
    """
    price = _arr("price_usd", price_usd)
    hv = np.asarray(hashvalue_btc_ph_day(hashrate_ehs, subsidy_btc, fees_btc, blocks_per_day))
    return _out(hv * price)


def hashprice_from_revenue_usd_ph_day(revenue_usd_day: Any, hashrate_ehs: Any) -> Num:
    """Hashprice [USD/(PH/s)/day] from total daily miner revenue.

    Parameters
    ----------
    revenue_usd_day : float — miners' revenue, subsidy + fees [USD/day]
    hashrate_ehs : float — network hashrate [EH/s]
    """
    rev = _arr("revenue_usd_day", revenue_usd_day)
    h = _arr("hashrate_ehs", hashrate_ehs, positive=True)
    return _out(rev / (h * _PH_PER_EH))


def break_even_price_usd_kwh(hashprice_usd_ph_day: Any, efficiency_j_th: Any) -> Num:
    """Electricity price [USD/kWh] at which a machine's power cost equals its revenue.

    = hashprice / (e · 24): a machine of ``e`` J/TH uses ``e · 0.024 · 1000`` kWh per
    (PH/s)·day (docs/economics.md; CCAF methodology).

    Parameters
    ----------
    hashprice_usd_ph_day : float — [USD/(PH/s)/day]
    efficiency_j_th : float — machine efficiency [J/TH]
    """
    hp = _arr("hashprice_usd_ph_day", hashprice_usd_ph_day)
    e = _arr("efficiency_j_th", efficiency_j_th, positive=True)
    return _out(hp / (e * KWH_PER_PHS_DAY_PER_J_TH))


def profitability_threshold_j_th(
    revenue_usd_day: Any, hashrate_ehs: Any, price_usd_kwh: Any
) -> Num:
    """CCAF's profitability threshold θ [J/TH]: revenue per hash ÷ electricity price per joule.

    θ = (revenue / (H · 86 400 s)) [USD/TH] / (price / 3.6e6) [USD/J] (CBECI methodology,
    https://ccaf.io/cbeci/index/methodology). A machine is profitable when its efficiency is
    below θ; θ is the break-even efficiency, so ``break_even_price_usd_kwh(hashprice, θ)``
    returns ``price_usd_kwh``.

    Parameters
    ----------
    revenue_usd_day : float — miners' revenue, subsidy + fees [USD/day]
    hashrate_ehs : float — network hashrate [EH/s]
    price_usd_kwh : float — electricity price [USD/kWh]
    """
    rev = _arr("revenue_usd_day", revenue_usd_day)
    h_ths = _arr("hashrate_ehs", hashrate_ehs, positive=True) * 1e6
    p = _arr("price_usd_kwh", price_usd_kwh, positive=True)
    usd_per_th = rev / (h_ths * SECONDS_PER_DAY)
    usd_per_j = p / J_PER_KWH
    return _out(usd_per_th / usd_per_j)


def machine_revenue_usd_day(hashrate_ths: Any, hashprice_usd_ph_day: Any) -> Num:
    """A machine's revenue [USD/day].

    Parameters
    ----------
    hashrate_ths : float — machine hashrate [TH/s]
    hashprice_usd_ph_day : float — [USD/(PH/s)/day]
    """
    h = _arr("hashrate_ths", hashrate_ths)
    hp = _arr("hashprice_usd_ph_day", hashprice_usd_ph_day)
    return _out(h / _TH_PER_PH * hp)


def machine_cost_usd_day(hashrate_ths: Any, efficiency_j_th: Any, price_usd_kwh: Any) -> Num:
    """A machine's electricity cost [USD/day] = e × H [W] × 24 h / 1000 × price.

    Parameters
    ----------
    hashrate_ths : float — machine hashrate [TH/s]
    efficiency_j_th : float — [J/TH]
    price_usd_kwh : float — electricity price [USD/kWh]
    """
    h = _arr("hashrate_ths", hashrate_ths)
    e = _arr("efficiency_j_th", efficiency_j_th, positive=True)
    p = _arr("price_usd_kwh", price_usd_kwh)
    return _out(e * h / 1000.0 * 24.0 * p)


def machine_profit_usd_day(
    hashrate_ths: Any, efficiency_j_th: Any, hashprice_usd_ph_day: Any, price_usd_kwh: Any
) -> Num:
    """A machine's daily margin [USD/day] = revenue − electricity cost (may be negative).

    Parameters
    ----------
    hashrate_ths : float — [TH/s]
    efficiency_j_th : float — [J/TH]
    hashprice_usd_ph_day : float — [USD/(PH/s)/day]
    price_usd_kwh : float — [USD/kWh]
    """
    rev = np.asarray(machine_revenue_usd_day(hashrate_ths, hashprice_usd_ph_day))
    cost = np.asarray(machine_cost_usd_day(hashrate_ths, efficiency_j_th, price_usd_kwh))
    return _out(rev - cost)


def payback_days(
    capex_usd: Any, hashrate_ths: Any, efficiency_j_th: Any, hashprice_usd_ph_day: Any,
    price_usd_kwh: Any,
) -> Num:
    """Days [d] for a machine's margin to repay its price, at constant hashprice and power price.

    = capex / (revenue − electricity cost) per day; ``inf`` when the margin is <= 0 (never).

    Parameters
    ----------
    capex_usd : float — machine price [USD]
    hashrate_ths : float — [TH/s]
    efficiency_j_th : float — [J/TH]
    hashprice_usd_ph_day : float — [USD/(PH/s)/day]
    price_usd_kwh : float — [USD/kWh]
    """
    capex = _arr("capex_usd", capex_usd)
    margin = np.asarray(
        machine_profit_usd_day(hashrate_ths, efficiency_j_th, hashprice_usd_ph_day,
                               price_usd_kwh)
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        days = np.where(margin > 0, capex / np.where(margin > 0, margin, 1.0), np.inf)
    return _out(np.asarray(days, dtype=float))


def profitable_mask(
    dates: Any, threshold_j_th: Any, release_dates: Any, efficiency_j_th: Any,
    *, max_age_days: float | None = None,
) -> npt.NDArray[np.bool_]:
    """Which machines count on which day: released on or before the day, efficiency strictly
    below the day's threshold θ, and (optionally) released less than ``max_age_days`` ago.

    Parameters
    ----------
    dates : array of datetime64 — days (n)
    threshold_j_th : array — θ per day [J/TH] (n; NaN = no machine counts)
    release_dates : array of datetime64 — per machine (m)
    efficiency_j_th : array — per machine [J/TH] (m)
    max_age_days : float or None — lifetime cap [days] (CBECI v1.2.0 uses 5 years)

    Returns a boolean array (n × m).
    """
    d = pd.DatetimeIndex(np.asarray(dates)).to_numpy(dtype="datetime64[ns]")
    rel = pd.DatetimeIndex(np.asarray(release_dates)).to_numpy(dtype="datetime64[ns]")
    th = np.asarray(threshold_j_th, dtype=float)
    eff = np.asarray(efficiency_j_th, dtype=float)
    if d.shape != th.shape:
        raise ValueError(f"dates ({d.shape[0]}) and threshold_j_th ({th.shape[0]}) differ "
                         "in length")
    if rel.shape != eff.shape:
        raise ValueError(f"release_dates ({rel.shape[0]}) and efficiency_j_th "
                         f"({eff.shape[0]}) differ in length")
    with np.errstate(invalid="ignore"):
        mask = (rel[None, :] <= d[:, None]) & (eff[None, :] < th[:, None])
    if max_age_days is not None:
        age = (d[:, None] - rel[None, :]) / np.timedelta64(1, "D")
        mask &= age < float(max_age_days)
    return mask


def hashvalue_from_reward_btc_ph_day(reward_btc_day: Any, hashrate_ehs: Any) -> Num:
    """Hashvalue [BTC/(PH/s)/day] from the total daily miner reward.

    Parameters
    ----------
    reward_btc_day : float — miners' reward, subsidy + fees [BTC/day]
    hashrate_ehs : float — network hashrate [EH/s]
    """
    reward = _arr("reward_btc_day", reward_btc_day)
    h = _arr("hashrate_ehs", hashrate_ehs, positive=True)
    return _out(reward / (h * _PH_PER_EH))


def market_figures(revenue_usd_day: float, reward_btc_day: float, hashrate_ehs: float,
                   price_usd_kwh: float) -> dict[str, float]:
    """What a unit of hashing earned and where profitability lay on one day or month.

    Parameters
    ----------
    revenue_usd_day : float — miners' revenue [USD/day]
    reward_btc_day : float — miners' reward, subsidy + fees [BTC/day]
    hashrate_ehs : float — network hashrate [EH/s]
    price_usd_kwh : float — electricity price [USD/kWh]

    Returns ``hashprice_usd_ph_day``, ``hashvalue_btc_ph_day`` and ``threshold_j_th`` (CCAF).
    """
    return {
        "hashprice_usd_ph_day": float(hashprice_from_revenue_usd_ph_day(revenue_usd_day,
                                                                         hashrate_ehs)),
        "hashvalue_btc_ph_day": float(hashvalue_from_reward_btc_ph_day(reward_btc_day,
                                                                       hashrate_ehs)),
        "threshold_j_th": float(profitability_threshold_j_th(revenue_usd_day, hashrate_ehs,
                                                              price_usd_kwh)),
    }


def machine_table(machines: pd.DataFrame, hashprice_usd_ph_day: float, price_usd_kwh: float,
                  threshold_j_th: float, capex_usd: float | None = None) -> pd.DataFrame:
    """Each machine's economics at one hashprice and electricity price (nameplate, no PUE).

    Parameters
    ----------
    machines : DataFrame — ``model, maker, release_date, hashrate_ths`` [TH/s],
        ``efficiency_j_th`` [J/TH] (as :func:`hashshift.hardware.catalogue`)
    hashprice_usd_ph_day : float — [USD/(PH/s)/day]
    price_usd_kwh : float — [USD/kWh]
    threshold_j_th : float — CCAF's profitability threshold θ [J/TH]
    capex_usd : float or None — machine price [USD]; adds ``payback_days``

    Returns the machine columns plus ``break_even_usd_kwh``, ``revenue_usd_day``,
    ``power_cost_usd_day``, ``margin_usd_day`` and ``profitable`` (efficiency below θ).
    """
    e = machines["efficiency_j_th"].to_numpy(dtype=float)
    h = machines["hashrate_ths"].to_numpy(dtype=float)
    out = pd.DataFrame({
        "model": machines["model"].to_numpy(), "maker": machines["maker"].to_numpy(),
        "release_date": pd.DatetimeIndex(machines["release_date"]),
        "hashrate_ths": h, "efficiency_j_th": e,
        "break_even_usd_kwh": break_even_price_usd_kwh(hashprice_usd_ph_day, e),
        "revenue_usd_day": machine_revenue_usd_day(h, hashprice_usd_ph_day),
        "power_cost_usd_day": machine_cost_usd_day(h, e, price_usd_kwh),
        "margin_usd_day": machine_profit_usd_day(h, e, hashprice_usd_ph_day, price_usd_kwh),
        "profitable": e < threshold_j_th,
    })
    if capex_usd is not None:
        out["payback_days"] = payback_days(capex_usd, h, e, hashprice_usd_ph_day, price_usd_kwh)
    return out
