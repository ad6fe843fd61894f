"""Atheris harness: block headers and header batches.

Input: one byte choosing the target, one choosing the chain parameters (regtest-strict, regtest,
mainnet), then the payload. Targets: ``Header.parse`` (80 bytes and hex text),
``validate_headers`` on a batch that follows a chain's genesis header (regtest difficulty, so
about half of all mutated nonces still meet their target and the fuzzer gets past proof of
work to the link, bits and time rules), ``validate_headers`` from a checkpoint at any height,
``rawheaders.parse_headers`` and ``mempool.parse_header_hex``.

Invariant: only the project's documented exceptions (``HeaderFormatError``,
``HeaderValidationError`` and subclasses, ``HeaderPowError``, ``SourceFormatError``); a refused
batch names the height, and the headers before it validate on their own. Anything else is a
crash, saved by libFuzzer under ``-artifact_prefix``.

Run (time-boxed)::

    python fuzz/fuzz_headers.py CORPUS_DIR -max_total_time=60

``python scripts/run_fuzz.py`` writes a seed corpus (valid chains) and runs it; see
docs/reliability.md.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports(include=["hashshift"]):
    from hashshift.consensus import (
        HEADER_SIZE,
        MAINNET,
        REGTEST,
        ChainState,
        Header,
        HeaderFormatError,
        HeaderValidationError,
        Params,
        validate_headers,
    )
    from hashshift.sources import mempool, rawheaders
    from hashshift.sources.errors import SourceFormatError
    from hashshift.testing import REGTEST_STRICT

PARAMS = (REGTEST_STRICT, REGTEST, MAINNET)


def check_batch(buf: bytes, prev: ChainState | None, params: Params) -> None:
    base = 0 if prev is None else prev.height + 1
    try:
        tip = validate_headers(buf, prev, params)
    except HeaderFormatError:
        return
    except HeaderValidationError as exc:
        assert exc.height == base + exc.accepted, (exc.height, base, exc.accepted)
        assert f"height {exc.height}" in str(exc)
        if exc.accepted:  # the headers before the refused one validate on their own
            ok = validate_headers(buf[: exc.accepted * HEADER_SIZE], prev, params)
            assert ok.height == exc.height - 1
        return
    n = len(buf) // HEADER_SIZE
    assert tip.height == (n - 1 if prev is None else prev.height + n)


def TestOneInput(data: bytes) -> None:  # noqa: N802 - atheris' name
    if len(data) < 2:
        return
    target, params, payload = data[0] % 6, PARAMS[data[1] % len(PARAMS)], data[2:]
    if target == 0:
        try:
            h = Header.parse(payload)
        except HeaderFormatError:
            return
        assert h.serialize() == payload
    elif target == 1:
        try:
            Header.parse(payload.decode("utf-8", "replace"))
        except HeaderFormatError:
            pass
    elif target in (2, 3):  # a batch after the genesis header of params
        check_batch(params.genesis_header + payload, None, params)
        if target == 3:  # the same batch in two parts gives the same outcome
            k = (len(payload) // 2) // HEADER_SIZE * HEADER_SIZE
            try:
                mid = validate_headers(params.genesis_header + payload[:k], None, params)
            except (HeaderFormatError, HeaderValidationError):
                return
            check_batch(payload[k:], mid, params)
    elif target == 4:  # from a checkpoint at any height: header, 4-byte height, batch
        if len(payload) < HEADER_SIZE + 4:
            return
        height = int.from_bytes(payload[HEADER_SIZE : HEADER_SIZE + 4], "little") % 2**31
        prev = ChainState.checkpoint(payload[:HEADER_SIZE], height, params)
        check_batch(payload[HEADER_SIZE + 4 :], prev, params)
    else:
        try:
            rawheaders.parse_headers(payload, params=params, name="fuzz.bin")
        except (HeaderFormatError, rawheaders.HeaderPowError) as exc:
            assert "fuzz.bin" in str(exc)
        try:
            mempool.parse_header_hex(payload.decode("latin-1"), None)
        except SourceFormatError:
            pass


def main() -> None:
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
