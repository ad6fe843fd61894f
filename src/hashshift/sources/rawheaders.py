"""Raw 80-byte block headers from files.

Layouts: one serialized header per file (e.g. the ``NNNNNNN.bin`` files of
EthanYuan/ckb-bitcoin-spv-testdata, named by height), or headers concatenated back to back (the
layout of Electrum's ``blockchain_headers`` file). The header format is Bitcoin Core's
``CBlockHeader`` (``src/primitives/block.h``). Every header is checked against its own proof of
work as it is read (``CheckProofOfWork``, ``src/pow.cpp``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from ..consensus import HEADER_SIZE, MAINNET, Header, HeaderFormatError, Params

__all__ = [
    "HeaderPowError",
    "iter_headers_file",
    "parse_headers",
    "read_header",
    "read_header_dir",
    "read_headers_file",
]

_BIN_NAME = re.compile(r"(\d+)\.bin")


class HeaderPowError(ValueError):
    """A header whose hash is above the target of its own bits."""


def _check(header: Header, where: str, params: Params) -> Header:
    if not header.check_pow(params):
        raise HeaderPowError(
            f"{where}: hash {header.hash_hex} is above the target of bits 0x{header.bits:08x} "
            "(rule: proof of work)"
        )
    return header


def parse_headers(
    data: bytes, *, check_pow: bool = True, params: Params = MAINNET, name: str = "headers"
) -> list[Header]:
    """Parse concatenated 80-byte headers; ``name`` labels error messages.

    Raises ``HeaderFormatError`` naming the byte offset of a truncated last header, and
    ``HeaderPowError`` naming the offset of a header that fails its proof of work.
    """
    if len(data) % HEADER_SIZE:
        start = len(data) // HEADER_SIZE * HEADER_SIZE
        raise HeaderFormatError(
            f"{name}: truncated header at byte offset {start} ({len(data) - start} of "
            f"{HEADER_SIZE} bytes; file is {len(data)} bytes)"
        )
    out = []
    for off in range(0, len(data), HEADER_SIZE):
        h = Header.parse(data[off : off + HEADER_SIZE])
        out.append(_check(h, f"{name}: header at byte offset {off}", params) if check_pow else h)
    return out


def read_headers_file(
    path: str | Path, *, check_pow: bool = True, params: Params = MAINNET
) -> list[Header]:
    """Read a file of concatenated 80-byte headers (see :func:`parse_headers`)."""
    p = Path(path)
    return parse_headers(p.read_bytes(), check_pow=check_pow, params=params, name=str(p))


def read_header(path: str | Path, *, check_pow: bool = True, params: Params = MAINNET) -> Header:
    """Read a file holding exactly one 80-byte header."""
    p = Path(path)
    data = p.read_bytes()
    if len(data) != HEADER_SIZE:
        raise HeaderFormatError(f"{p}: a header file must be {HEADER_SIZE} bytes, got {len(data)}")
    h = Header.parse(data)
    return _check(h, str(p), params) if check_pow else h


def read_header_dir(
    path: str | Path, *, check_pow: bool = True, params: Params = MAINNET
) -> dict[int, Header]:
    """Read every ``<height>.bin`` single-header file of a folder, keyed by height [block]."""
    out: dict[int, Header] = {}
    for f in sorted(Path(path).iterdir()):
        m = _BIN_NAME.fullmatch(f.name)
        if m:
            out[int(m.group(1))] = read_header(f, check_pow=check_pow, params=params)
    if not out:
        raise FileNotFoundError(f"{path}: no <height>.bin header files")
    return out


def iter_headers_file(path: str | Path, chunk_headers: int = 5_000) -> Iterator[bytes]:
    """Stream a concatenated-headers file in chunks of whole 80-byte headers (memory stays flat).

    A file whose size is not a multiple of 80 raises :class:`HeaderFormatError` naming the
    offset of the incomplete header before anything is yielded.
    """
    path = Path(path)
    size = path.stat().st_size
    if size % HEADER_SIZE:
        raise HeaderFormatError(
            f"{path}: {size} bytes is not a whole number of 80-byte headers "
            f"(incomplete header at byte {size - size % HEADER_SIZE}, height offset "
            f"{size // HEADER_SIZE})"
        )
    with path.open("rb") as fh:
        while True:
            chunk = fh.read(HEADER_SIZE * chunk_headers)
            if not chunk:
                return
            yield chunk
