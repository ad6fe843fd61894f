"""The floor of the engine benchmark: a minimal numpy kernel of the engine's per-day work.

Same inputs as the engine (a resolved scenario: its regions, machine classes, tariffs with their
seasonal profiles, starting hashrate and map), the same work every day and nothing else:

- each path's revenue per TH/s from its difficulty, the block subsidy at its height, fees and a
  geometric Brownian motion price;
- each region-class's running share: the profit test over log-logistic site tariffs, the
  hysteresis band and the start-up lag (the engine's ``_decide_running``, same arithmetic);
- running hashrate and power per region, the world hashrate;
- the block process of :mod:`hashshift.sim.network` (the work clock with per-epoch Gamma draws,
  binomial blocks per day, Bitcoin Core's retarget vectorised in int64);
- the same outputs: per day, the mean and quantiles over paths of the ten world metrics (the
  two the kernel has no mechanism for, machines exited and in transit, are recorded as zeros)
  and regional quantiles of hashrate, share, power and emissions from the first 500 paths;
  per epoch, the quantiles of the retarget, duration, hashrate and start. As plain arrays: the
  kernel builds no DataFrame.

Not done here, and asked of the engine at almost no cost: bans, exits and relocation with their
logit choice and delays, deliveries and their queue, capacity, curtailment, levies.
Arrays are regions × classes × paths (paths last), as in the engine.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from hashshift.consensus import COIN, block_subsidy, issued_btc
from hashshift.sim.network import advance_day, bits_to_difficulty, start_network
from hashshift.sim.policy import build_timeline
from hashshift.units import (
    HASHES_PER_DIFFICULTY,
    KWH_PER_THS_DAY_PER_J_TH,
    MT_PER_TWH_G_KWH,
    SECONDS_PER_DAY,
    TH,
    TWH_YR_PER_GW,
)

Q = np.array([0.05, 0.25, 0.5, 0.75, 0.95])
CHUNK = 32  # days of per-path values kept before they are reduced
REGIONAL_PATHS = 500


def _quantiles(x: np.ndarray) -> np.ndarray:
    """Linear-interpolation quantiles Q along the last axis (quantiles first)."""
    s = np.sort(x, axis=-1)
    v = (s.shape[-1] - 1) * Q
    lo = np.floor(v).astype(int)
    hi = np.minimum(lo + 1, s.shape[-1] - 1)
    g = (v - lo).reshape((-1,) + (1,) * (s.ndim - 1))
    a, b = np.moveaxis(s[..., lo], -1, 0), np.moveaxis(s[..., hi], -1, 0)
    return a + (b - a) * g


def run_kernel(inp: Any, paths: int, seed: int) -> dict[str, np.ndarray]:
    """The kernel on resolved engine inputs (:class:`hashshift.sim.engine.Inputs`); returns
    the world and regional quantiles, means and the epoch quantiles."""
    sc = inp.scenario
    m = sc.miners
    rng_net, rng, rng_price = (np.random.default_rng(s)
                               for s in np.random.SeedSequence(seed).spawn(3))
    T, R, P = inp.horizon, len(inp.regions), paths
    eff = inp.classes.efficiency_j_th.astype(np.float32)
    f32 = np.float32
    # start: hashrate from its interval, shares from a Dirichlet around the map (as the engine)
    n = inp.hashrate_intervals
    h0 = inp.hashrate_ehs * rng.gamma(n, 1.0, P) / (n - 1) if n else np.full(P, inp.hashrate_ehs)
    shares = rng.dirichlet(np.maximum(inp.shares * sc.initial.share_concentration, 1e-3), P)
    M = (shares.T[:, None, :] * inp.classes.initial_share[None, :, None]
         * (h0 / m.uptime)[None, None, :]).astype(f32)
    price_mult = build_timeline(sc.model_copy(update={"event": []}), inp.regions, inp.specs,
                                inp.start, T, P, seed).price_mult  # no events: no draws
    scale = m.site_price_sigma * math.sqrt(3.0) / math.pi
    band = math.log1p(m.hysteresis_pct / 100.0)
    kwh = inp.classes.efficiency_j_th * KWH_PER_THS_DAY_PER_J_TH
    lag_step = f32(1.0 / m.startup_lag_days)
    gbm = sc.price.kind == "gbm"
    mu = sc.price.drift_pct_yr / 100.0 if gbm else 0.0
    sig = sc.price.volatility_pct_yr / 100.0 if gbm else 0.0
    dt = 1.0 / 365.25
    log_price = np.zeros(P)
    net = start_network(P, inp.height, inp.bits, inp.epoch_first_time_s, rng_net)

    def revenue(t: int) -> tuple[np.ndarray, np.ndarray]:
        price = inp.btc_usd[t] * np.exp(log_price)
        reward = block_subsidy(net.height) / COIN + inp.fee_btc_block[t]
        rev = SECONDS_PER_DAY * TH / (net.difficulty * HASHES_PER_DIFFICULTY) * reward * price
        return rev, price

    def odds_factor(t: int) -> np.ndarray:  # regions × classes
        return (inp.price_usd_kwh * price_mult[t])[:, None] * kwh[None, :]

    rev, _ = revenue(0)
    s0 = 1.0 / (1.0 + (odds_factor(0) ** (1 / scale))[:, :, None] * rev[None, None, :]
                ** (-1 / scale))
    S = s0.astype(f32)
    M = (M / np.clip(s0, 0.1, 1.0)).astype(f32)
    hi, lo = np.empty_like(S), np.empty_like(S)
    ps = min(P, REGIONAL_PATHS)
    world = np.zeros((10, CHUNK, P), dtype=f32)
    reg = np.zeros((2, CHUNK, R, ps), dtype=f32)
    out = {"q_world": np.empty((10, 5, T)), "mean_world": np.empty((10, T)),
           "q_regional": np.empty((4, 5, T, R)), "mean_regional": np.empty((4, T, R))}
    intensity = inp.intensity_g_kwh.astype(f32)
    done = 0
    for t in range(T):
        z = rng_price.standard_normal(P)
        if t:
            log_price += (mu - 0.5 * sig**2) * dt + sig * math.sqrt(dt) * z
        rev, price = revenue(t)
        a = (rev ** (-1 / scale)).astype(f32)
        b = odds_factor(t) ** (1 / scale)
        np.multiply((b * math.exp(-band / scale)).astype(f32)[:, :, None], a, out=hi)
        hi += f32(1.0)
        np.reciprocal(hi, out=hi)
        np.add(S, lag_step, out=lo)
        np.minimum(hi, lo, out=hi)
        np.multiply((b * math.exp(band / scale)).astype(f32)[:, :, None], a, out=lo)
        lo += f32(1.0)
        np.reciprocal(lo, out=lo)
        np.maximum(S, lo, out=S)
        np.minimum(S, hi, out=S)
        ms = np.multiply(M, S, out=hi)
        running = np.einsum("rcp->rp", ms) * m.uptime  # EH/s, regions × paths
        power = np.einsum("rcp,c->rp", ms, eff) * (m.pue / 1000.0)  # GW
        h = np.maximum(running.sum(axis=0), 1e-6)
        height = net.height.copy()
        blocks = advance_day(net, t * 86400.0, h, rng_net)
        k = t - done
        reward = inp.fee_btc_block[t] * blocks + issued_btc(height, blocks)
        for i, v in enumerate((h, net.difficulty, price, rev * 1000.0, reward * price, blocks,
                               power.sum(axis=0),
                               np.einsum("r,rp->p", inp.intensity_g_kwh[t], power)
                               * (TWH_YR_PER_GW * MT_PER_TWH_G_KWH))):
            world[i, k] = v
        reg[0, k], reg[1, k] = running[:, :ps], power[:, :ps]
        if k + 1 == CHUNK or t + 1 == T:  # reduce the chunk to quantiles over paths
            end, nd = t + 1, k + 1
            for i in range(10):
                out["q_world"][i, :, done:end] = _quantiles(world[i, :nd])
                out["mean_world"][i, done:end] = world[i, :nd].mean(axis=-1)
            hr, pw = reg[0, :nd], reg[1, :nd]
            tot = hr.sum(axis=1, keepdims=True)
            share = np.divide(hr, tot, out=np.zeros_like(hr), where=tot > 0) * 100.0
            em = pw * intensity[done:end, :, None] * (TWH_YR_PER_GW * MT_PER_TWH_G_KWH)
            for j, v in enumerate((hr, share, pw, em)):
                out["q_regional"][j, :, done:end] = _quantiles(v)
                out["mean_regional"][j, done:end] = v.mean(axis=-1)
            done = end
    log = net.log.frame(release=True)
    order = np.argsort(log["epoch"], kind="stable")
    epochs, first = np.unique(log["epoch"][order], return_index=True)
    bounds = np.r_[first, order.size]
    q_epochs = np.empty((epochs.size, 4, 5))
    for e in range(epochs.size):
        i = order[bounds[e]:bounds[e + 1]]
        d_old = bits_to_difficulty(log["bits"][i])
        dur = log["duration_s"][i]
        v = np.stack([(bits_to_difficulty(log["next_bits"][i]) / d_old - 1.0) * 100.0,
                      dur / 86400.0, 2014 * d_old * HASHES_PER_DIFFICULTY / dur / 1e18,
                      log["first_time_s"][i] / 86400.0])
        q_epochs[e] = _quantiles(v).T
    out["epochs"], out["q_epochs"] = epochs, q_epochs
    return out
