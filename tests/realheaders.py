"""A store filled with real mainnet headers, for tests of what is counted from stored headers.

``../shared/data/chain/dfinity_headers_586657_589289.csv`` (dfinity/bitcoin-canister, Apache-2.0:
2,633 consecutive headers, 2019-07-23 … 2019-08-09) after the header of block 586,656 (the first
of its epoch, from ``ckb_epoch_boundary_headers``) as the trusted anchor: 2,634 headers, validated
by the store as any import. Tests that use it skip when the shared data are absent.
"""

from __future__ import annotations

import csv
import functools
import struct
from pathlib import Path

from conftest import shared_file
from hashshift.store import DB_NAME, Store

FIRST = 586_656  # = 291 × 2016


@functools.cache
def _rows() -> tuple[tuple[bytes, int], ...]:
    path = shared_file("chain", "dfinity_headers_586657_589289.csv")
    out = []
    with path.open(newline="") as f:
        for r in csv.DictReader(f):
            raw = struct.pack("<I32s32sIII", int(r["version"], 16),
                              bytes.fromhex(r["prev_block"])[::-1],
                              bytes.fromhex(r["merkle_root"])[::-1], int(r["timestamp"], 16),
                              int(r["bits"], 16), int(r["nonce"], 16))
            out.append((raw, int(r["timestamp"], 16)))
    return tuple(out)


def headers() -> bytes:
    """The 2,634 raw headers from block 586,656 on, concatenated."""
    anchor = shared_file("chain", "ckb_epoch_boundary_headers", f"{FIRST:07d}.bin").read_bytes()
    return anchor + b"".join(raw for raw, _ in _rows())


def times() -> list[int]:
    """[unix s] each header's timestamp, as the CSV gives it (anchor first)."""
    anchor = headers()[:80]
    return [struct.unpack_from("<I", anchor, 68)[0], *(t for _, t in _rows())]


def fill(home: Path) -> Store:
    """The store in ``home`` with the real headers imported."""
    store = Store(home / DB_NAME)
    store.import_headers([headers()], start_height=FIRST, location="dfinity+ckb headers")
    return store
