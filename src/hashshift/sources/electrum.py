"""Electrum's ``checkpoints.json``: one block hash and one target per retarget period.

Source: spesmilo/electrum, ``electrum/chains/mainnet/checkpoints.json`` (MIT). Entry ``i`` is
``[hash of block 2016·(i+1) − 1, target of epoch i+1]``; hashes are in display (byte-reversed)
hex, targets are the full 256-bit integers decoded from each epoch's compact bits.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Checkpoint", "parse_checkpoints", "read_checkpoints"]

_HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Checkpoint:
    """One checkpoint entry.

    Attributes
    ----------
    index : int — position in the list (entry ``i`` closes epoch ``i``)
    last_height : int — [block height] of the hashed block, 2016·(index+1) − 1
    hash_hex : str — block hash, display (byte-reversed) hex, 64 digits
    next_target : int — [integer] target of epoch ``index + 1``
    """

    index: int
    hash_hex: str
    next_target: int

    @property
    def last_height(self) -> int:
        return 2016 * (self.index + 1) - 1


def parse_checkpoints(text: str) -> list[Checkpoint]:
    """Parse the JSON text of an Electrum ``checkpoints.json`` (a list of ``[hash, target]``).

    Raises ``ValueError`` naming the entry index and the rule an entry breaks.
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"checkpoints: not valid JSON ({exc})") from None
    if not isinstance(data, list):
        raise ValueError(f"checkpoints: expected a JSON list, got {type(data).__name__}")
    out: list[Checkpoint] = []
    for i, entry in enumerate(data):
        if not isinstance(entry, list) or len(entry) != 2:
            raise ValueError(f"checkpoints entry {i}: expected [hash, target], got {entry!r:.80}")
        h, t = entry
        if not isinstance(h, str) or not _HEX64.fullmatch(h):
            raise ValueError(f"checkpoints entry {i}: hash must be 64 lowercase hex digits, "
                             f"got {h!r:.80}")
        if isinstance(t, bool) or not isinstance(t, int):
            raise ValueError(f"checkpoints entry {i}: target must be an integer, got {t!r:.80}")
        if not 0 < t < 1 << 256:
            raise ValueError(f"checkpoints entry {i}: target must be in (0, 2**256), got {t}")
        out.append(Checkpoint(i, h, t))
    return out


def read_checkpoints(path: str | Path) -> list[Checkpoint]:
    """Read and validate an Electrum ``checkpoints.json`` file (see :func:`parse_checkpoints`)."""
    return parse_checkpoints(Path(path).read_text(encoding="utf-8"))
