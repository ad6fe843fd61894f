"""The bundled epoch table as plain columns, without pandas: what ``hashshift history`` lists.

Importing pandas takes longer than reading, validating and listing the whole table, so the
plain listing reads the validated columns (:func:`hashshift.sources.bundled.
read_epoch_columns`) directly. The figures are the bundled table's own, made by
:func:`hashshift.history.build_epochs` when the file was built (``scripts/build_history.py``):
the same values :func:`hashshift.history.epochs` returns as a DataFrame.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from .sources.bundled import read_epoch_columns

__all__ = ["cut_order", "epoch_columns"]


@functools.cache
def _columns() -> dict[str, list[Any]]:
    return read_epoch_columns()[0]


def epoch_columns() -> dict[str, list[Any]]:
    """The bundled epoch table as one list per column (:data:`hashshift.sources.bundled.
    EPOCH_COLUMNS`); a fresh dict of fresh lists on every call."""
    return {c: list(v) for c, v in _columns().items()}


def cut_order(change_pct: Sequence[float], n: int, below_pct: float | None = None) -> list[int]:
    """Positions of the ``n`` most negative retargets in ``change_pct`` [%], most negative
    first (ties in table order; NaN, the first epoch's, skipped); with ``below_pct`` [%] only
    those at or below it."""
    if n < 0:
        raise ValueError(f"n = {n} is not allowed (allowed: an integer ≥ 0)")
    cuts = sorted((v, i) for i, v in enumerate(change_pct)
                  if v == v and (below_pct is None or v <= below_pct))
    return [i for _, i in cuts[:n]]
