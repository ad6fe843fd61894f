"""hashshift's block process against BlockSim (Alharby & van Moorsel 2019, github.com/maher243/
BlockSim), per simulated path-year, side by side on this machine (issue 16).

The job: a Bitcoin network at constant hashrate for one year (600 s mean block time), three
miners (BlockSim: 50 / 20 / 30 % of the hashpower, its Bitcoin model, no transactions, 0.42 s
block propagation: its fastest configuration). hashshift: :mod:`hashshift.sim.network` (every
block counted per day, exact retargets) at the equilibrium hashrate of mainnet bits 0x170ffa1e,
1 000 and 10 000 paths. BlockSim runs one path per run; one simulated year in a fresh process.

BlockSim is not part of hashshift and is not downloaded here: point ``HASHSHIFT_BLOCKSIM`` at a
checkout of it (``git clone https://github.com/maher243/BlockSim``). Its modules read their
settings from a module ``InputsConfig``; this benchmark supplies its own (the settings above)
and drives BlockSim's event loop as its ``Main.py`` does for one run.

Goal: hashshift ≥ 10⁴× BlockSim per path-year (at 10 000 paths).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
from _goals import goal, run_child, skip

GOAL = 1e4
YEAR_S = 365.25 * 86_400.0

BLOCKSIM = r"""
import json, sys, time, types
sys.path.insert(0, sys.argv[1])
cfg = types.ModuleType("InputsConfig")

class InputsConfig:  # BlockSim's Bitcoin model: 3 miners, no transactions, one run
    model = 1
    Binterval = 600
    Bsize = 1.0
    Bdelay = 0.42
    Breward = 12.5
    hasTrans = False
    Ttechnique = "Light"
    Tn = 10
    Tdelay = 5.1
    Tfee = 0.000062
    Tsize = 0.000546
    Nn = 3
    NODES = []
    simTime = float(sys.argv[2])
    Runs = 1

cfg.InputsConfig = InputsConfig
sys.modules["InputsConfig"] = cfg
import random
random.seed(1)
from Models.Bitcoin.Node import Node
InputsConfig.NODES = [Node(id=0, hashPower=50), Node(id=1, hashPower=20),
                      Node(id=2, hashPower=30)]
from Event import Queue
from Models.Bitcoin.BlockCommit import BlockCommit
from Models.Bitcoin.Consensus import Consensus
from Models.Incentives import Incentives
from Statistics import Statistics

t0 = time.perf_counter()
clock = 0
Node.generate_gensis_block()
BlockCommit.generate_initial_events()
while not Queue.isEmpty() and clock <= InputsConfig.simTime:
    event = Queue.get_next_event()
    clock = event.time
    BlockCommit.handle_event(event)
    Queue.remove_event(event)
Consensus.fork_resolution()
Incentives.distribute_rewards()
seconds = time.perf_counter() - t0
print(json.dumps({"s": seconds, "blocks": Statistics.totalBlocks,
                  "main_chain": len(Consensus.global_chain) - 1}))
"""

HASHSHIFT = r"""
import json, sys, time
import numpy as np
from hashshift.consensus import bits_to_difficulty
from hashshift.sim.network import advance_day, start_network

paths = int(sys.argv[1])
bits = 0x170FFA1E
h = bits_to_difficulty(bits) * 2.0**32 / 600 / 1e18  # EH/s: 600 s blocks
def year():
    rng = np.random.default_rng(1)
    state = start_network(paths, 2016 * 340 + 5, bits, -3000.0, rng)
    blocks = 0
    hashrate = np.full(paths, h)
    for day in range(365):
        blocks += int(advance_day(state, day * 86400.0, hashrate, rng).sum())
    return blocks
year()  # warm-up
best = float("inf")
for _ in range(3):
    t0 = time.perf_counter()
    blocks = year()
    best = min(best, time.perf_counter() - t0)
print(json.dumps({"s": best, "blocks": blocks, "days": 365}))
"""


def main() -> bool:
    where = os.environ.get("HASHSHIFT_BLOCKSIM")
    fast = {p: json.loads(run_child(HASHSHIFT, str(p))) for p in (1_000, 10_000)}
    for p, r in fast.items():
        years = p * r["days"] / 365.25
        print(f"  hashshift, {p:>6,} paths × 1 year: {r['s']:.2f} s, "
              f"{years / r['s']:,.0f} path-years/s, {r['blocks'] / r['s']:,.0f} blocks/s")
    name = "hashshift vs BlockSim per path-year, 10 000 paths"
    if not where or not (Path(where) / "Models" / "Bitcoin").is_dir():
        skip(name, "set HASHSHIFT_BLOCKSIM to a checkout of github.com/maher243/BlockSim")
        return True
    bs = json.loads(run_child(BLOCKSIM, where, str(YEAR_S)))
    bs_rate = (YEAR_S / (365.25 * 86_400.0)) / bs["s"]
    print(f"  BlockSim, 1 path × 1 year: {bs['s']:.2f} s, {bs_rate:.2f} path-years/s, "
          f"{bs['blocks'] / bs['s']:,.0f} blocks/s ({bs['blocks']:,} blocks, main chain "
          f"{bs['main_chain']:,})")
    rates = {p: p * r["days"] / 365.25 / r["s"] for p, r in fast.items()}
    print(f"  per path-year: {rates[1_000] / bs_rate:,.0f}× at 1 000 paths")
    ratio = rates[10_000] / bs_rate
    return goal(name, f"{rates[10_000]:,.0f} vs {bs_rate:.2f} path-years/s", ratio,
                f"≥ {GOAL:,.0f}", bool(np.isfinite(ratio) and ratio >= GOAL))


if __name__ == "__main__":
    raise SystemExit(0 if main() else 1)
