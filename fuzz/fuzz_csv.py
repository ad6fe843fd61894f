"""Atheris harness: the CSV file parsers (CCAF mining map and CBECI, Coin Metrics and plain
prices, the grid table) and ``data import``'s layout detection.

The first input byte picks the parser; the rest is the file's bytes, parsed as bytes (UTF-8
decoding included) under the name ``fuzz.csv``.

Invariant: only the documented exceptions (``TableFormatError`` / ``SourceFormatError``,
``UnknownRegionError``), their message naming the file; a parsed frame has ISO days (no NaT)
and no negative values where the parsers refuse them. Anything else is a crash, saved by
libFuzzer under ``-artifact_prefix``.

Run (time-boxed)::

    python fuzz/fuzz_csv.py CORPUS_DIR -max_total_time=60

``python scripts/run_fuzz.py`` seeds the corpus with tests/data/*.csv; see docs/reliability.md.
"""

from __future__ import annotations

import sys
import warnings

import atheris

with atheris.instrument_imports(include=["hashshift"]):
    from hashshift.regions import UnknownRegionError
    from hashshift.sources import ccaf, gridtable, prices
    from hashshift.sources._tabular import ParsedTable
    from hashshift.sources.errors import SourceFormatError

PARSERS = (
    ccaf.parse_ccaf, ccaf.parse_mining_countries, ccaf.parse_mining_provinces, ccaf.parse_cbeci,
    ccaf.parse_cbeci_by_price, prices.parse_coinmetrics, prices.parse_price_close,
    prices.parse_price_csv, gridtable.parse_grid_table,
)
NAME = "fuzz.csv"
warnings.simplefilter("ignore")  # pandas' warnings about odd input are not crashes


def TestOneInput(data: bytes) -> None:  # noqa: N802 - atheris' name
    if not data:
        return
    parser = PARSERS[data[0] % len(PARSERS)]
    try:
        out = parser(data[1:], name=NAME)
    except SourceFormatError as exc:
        assert str(exc).startswith(NAME), exc
        return
    except UnknownRegionError as exc:
        assert NAME in str(exc), exc
        return
    frame = out.frame if isinstance(out, ParsedTable) else out
    if "date" in frame.columns:
        assert not frame["date"].isna().any()
        assert (frame["date"] == frame["date"].dt.normalize()).all()
    for col in frame.columns:
        if col.endswith(("_pct", "_gw", "_twh_yr", "_usd_kwh", "_g_kwh")):
            assert not (frame[col].astype(float) < 0).any(), col


def main() -> None:
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
