"""One home for the constants that turn one unit into another (no I/O, no imports).

Every module that needs one of these imports it from here; docs/glossary.md names the units.

Sources: Bitcoin Core ``src/consensus/amount.h`` (``COIN``), ``src/chain.cpp``
``GetBlockProof`` (work of a block = 2**256 / (target + 1) ≈ difficulty × 2**32 hashes),
``src/kernel/chainparams.cpp`` (``nPowTargetSpacing`` = 600 s); CCAF CBECI methodology
(https://ccaf.io/cbeci/index/methodology: annualised energy = power × 8 766 h).
"""

from __future__ import annotations

#: Satoshi per BTC (Bitcoin Core ``COIN``).
COIN = 100_000_000
#: Expected hashes per block at difficulty 1 [hashes] (``GetBlockProof``: D · 2**32).
HASHES_PER_DIFFICULTY = 2**32
#: Seconds per day [s/day].
SECONDS_PER_DAY = 86_400.0
#: Target spacing between blocks [s] (``nPowTargetSpacing``).
TARGET_SPACING_S = 600.0
#: Expected blocks per day at the target spacing [blocks/day].
BLOCKS_PER_DAY = SECONDS_PER_DAY / TARGET_SPACING_S
#: Hours in a year of 365.25 days [h/yr] (CCAF's annualisation).
HOURS_PER_YEAR = 8_766.0
#: Annualised energy per unit of power [TWh/yr per GW] = 8 766 h / 1 000.
TWH_YR_PER_GW = HOURS_PER_YEAR / 1_000.0
#: Joules per kilowatt-hour [J/kWh].
J_PER_KWH = 3.6e6
#: kWh per (TH/s)·day drawn by a machine of 1 J/TH: 1 W per TH/s × 24 h = 0.024 kWh.
KWH_PER_THS_DAY_PER_J_TH = 24.0 / 1_000.0
#: kWh per (PH/s)·day drawn by a machine of 1 J/TH: 1 kW per PH/s × 24 h = 24 kWh.
KWH_PER_PHS_DAY_PER_J_TH = 24.0
#: Emissions [MtCO2e] of 1 TWh at 1 gCO2/kWh: 1e9 kWh × 1 g = 1e9 g = 1e-3 Mt.
MT_PER_TWH_G_KWH = 1e-3
#: Hashrate prefixes [H/s].
TH = 1e12
PH = 1e15
EH = 1e18
