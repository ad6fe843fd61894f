"""Reference data that hashshift's validations compare against; not bundled, read from a shared
data folder (``$HASHSHIFT_SHARED_DATA``, else ``../shared/data`` from the working directory).

The CBECI reproduction (:func:`hashshift.cbeci.cbeci_validation_table`) reads CCAF's hardware
list, Coin Metrics' daily market data and two vintages of CCAF's published CBECI series
(:data:`CBECI_FILES`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .errors import MissingFilesError

__all__ = ["CBECI_FILES", "CbeciReferences", "default_data_dir", "read_cbeci_references"]

#: Files of the CBECI validation, relative to the shared data folder.
CBECI_FILES = {
    "miners": Path("cambridge", "ccaf_cbeci_miners_2021-02.json"),
    "market": Path("market", "coinmetrics_btc_2026-03.csv"),
    "api_1": Path("cambridge", "ccaf_api_cbeci_daily_2010-07_2019-08.csv"),
    "api_2": Path("cambridge", "ccaf_api_cbeci_daily_2019-09_2020-12.csv"),
    "download_2022": Path("cambridge",
                          "cbeci_daily_annualised_TWh_vintage-2022-01_2014-07_2020-12.csv"),
}


def default_data_dir() -> Path:
    """``$HASHSHIFT_SHARED_DATA``, else ``../shared/data`` from the working directory."""
    env = os.environ.get("HASHSHIFT_SHARED_DATA")
    return Path(env) if env else Path.cwd().parent / "shared" / "data"


@dataclass(frozen=True)
class CbeciReferences:
    """The inputs and published series of the CBECI validation."""

    miners: pd.DataFrame  # CCAF's hardware list (read_ccaf_miners)
    market: pd.DataFrame  # Coin Metrics daily market data (read_coinmetrics)
    api: pd.DataFrame  # CCAF's API vintage (August 2022), both files (read_cbeci)
    download: pd.DataFrame  # CCAF's download vintage of January 2022 (read_cbeci)


def read_cbeci_references(data_dir: Path) -> CbeciReferences:
    """Read :data:`CBECI_FILES` under ``data_dir``; raises
    :class:`~hashshift.sources.errors.MissingFilesError` listing every file not there."""
    from .bundled_observed import read_ccaf_miners
    from .ccaf import read_cbeci
    from .prices import read_coinmetrics

    paths = {k: data_dir / p for k, p in CBECI_FILES.items()}
    missing = [p for p in paths.values() if not p.exists()]
    if missing:
        raise MissingFilesError(missing)
    return CbeciReferences(
        miners=read_ccaf_miners(paths["miners"]),
        market=read_coinmetrics(paths["market"]),
        api=pd.concat([read_cbeci(paths["api_1"]), read_cbeci(paths["api_2"])],
                      ignore_index=True),
        download=read_cbeci(paths["download_2022"]),
    )
