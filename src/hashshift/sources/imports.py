"""Files a user imports into the store (``hashshift data import``): which layout a file has, and
the store table its rows go to.

Raw headers (80-byte records) go through :meth:`hashshift.store.Store.import_headers`; a CSV is
recognised by its header line: a grid table (:mod:`~.gridtable`), prices (:mod:`~.prices`: Coin
Metrics or ``date,close``) or a CCAF export (:mod:`~.ccaf`: mining map or CBECI series).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal, NamedTuple

from .errors import SourceError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["LAYOUTS", "StoreRows", "UnknownLayoutError", "expected_layouts", "file_kind",
           "read_store_rows"]

#: The CSV layouts ``hashshift data import`` reads: name -> the header columns that identify it
#: (docs/data.md gives an example of each and where to download it).
LAYOUTS: dict[str, str] = {
    "Coin Metrics btc.csv (daily)": "time, PriceUSD, HashRate, BlkCnt, FeeTotNtv, IssTotNtv",
    "daily prices": "date, close (or Date, Close, …)",
    "grid table": "region_code, month, price_usd_kwh, intensity_g_kwh, source",
    "CCAF mining map by country": "date, country, monthly_hashrate_% (or Country, "
                                  "Share.of.global.hashrate)",
    "CCAF mining map by Chinese province": "date, province, Share of Chinese hashrate",
    "CBECI power and energy": "power GUESS, GW … (historical), Date and Time, GUESS … or "
                              "timestamp, guess … (daily)",
}


def expected_layouts() -> str:
    """The layouts :data:`LAYOUTS` in one line, for error messages."""
    return "; ".join(f"{k} ({v})" for k, v in LAYOUTS.items())


class UnknownLayoutError(SourceError, ValueError):
    """A file in none of the layouts hashshift imports."""


class StoreRows(NamedTuple):
    """Rows of an imported CSV: the store ``table``, the ``frame`` to write and the ``kind``
    of source recorded with them."""

    table: str
    frame: pd.DataFrame
    kind: str


def file_kind(path: Path) -> Literal["headers", "csv"]:
    """``csv`` when the first 4 KiB are UTF-8 text with a comma or a line break, else
    ``headers`` (raw 80-byte block headers)."""
    with path.open("rb") as fh:
        head = fh.read(4096)
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return "headers"
    return "csv" if "," in text or "\n" in text else "headers"


def _unit_of(name: str) -> str:
    """The unit a column name's suffix gives (``power_gw`` -> ``GW``; "" when none)."""
    for suffix, unit in (("_gw", "GW"), ("_twh_yr", "TWh/yr"), ("_mtco2e_yr", "MtCO2e/yr"),
                         ("_g_kwh", "gCO2/kWh"), ("_pct", "%"), ("_usd_kwh", "USD/kWh")):
        if name.endswith(suffix):
            return unit
    return ""


def read_store_rows(path: Path) -> StoreRows:
    """Parse a CSV whose layout is recognised into the store table it fills; raises
    :class:`UnknownLayoutError` for any other file."""
    import pandas as pd

    from .ccaf import parse_ccaf
    from .errors import SourceFormatError
    from .gridtable import parse_grid_table
    from .prices import parse_price_csv

    raw = path.read_bytes()
    lines = raw.decode("utf-8", "replace").splitlines()
    header = next((ln for ln in lines if ln.strip() and not ln.startswith("#")), "")
    low = header.lower()
    if "region_code" in low and "intensity_g_kwh" in low:
        g = parse_grid_table(raw, name=str(path))
        frame = pd.DataFrame({
            "region_code": g["region_code"], "month": g["month"].fillna(0).astype(int),
            "price_usd_kwh": g["price_usd_kwh"], "intensity_g_kwh": g["intensity_g_kwh"],
            "source": g["source"]})
        return StoreRows("grid", frame, "grid-table")
    if "priceusd" in low or "close" in low or "price" in low:
        parsed = parse_price_csv(raw, name=str(path))
        return StoreRows("prices", parsed.frame, f"prices-{parsed.kind}")
    try:
        parsed = parse_ccaf(raw, name=str(path))
    except SourceFormatError:
        shown = header.strip()[:80] or "(no header line)"
        raise UnknownLayoutError(
            f"{path}: not a CSV this command reads (expected one of: {expected_layouts()}; "
            f"its first line is {shown!r})") from None
    df = parsed.frame
    if parsed.kind == "mining_countries":
        return StoreRows("mining_map", df.assign(level="country", basis="global"),
                         "ccaf-mining-countries")
    if parsed.kind == "mining_provinces":
        frame = df.rename(columns={"share_of_china_pct": "share_pct"}).assign(
            level="province", basis="CN", hashrate_ehs=float("nan"))
        return StoreRows("mining_map", frame, "ccaf-mining-provinces")
    value_cols = [c for c in df.columns if c != "date"]
    long = df.melt(id_vars="date", value_vars=value_cols, var_name="series", value_name="value")
    long["unit"] = long["series"].map(_unit_of)
    return StoreRows("energy", long, f"ccaf-{parsed.kind}")
