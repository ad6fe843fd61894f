#!/usr/bin/env python3
"""Build the bundled epoch table ``src/hashshift/data/epochs_mainnet_<date>.csv``.

Inputs (public facts, kept in ../shared/data, never copied into the repo):

- ``chain/electrum_checkpoints_mainnet.json`` — per-epoch targets and last-block hashes;
- ``chain/ckb_epoch_boundary_headers/<height>.bin`` — first and last header of every epoch.

Every header is checked by proof of work as it is read, against Electrum's hash (last block of an
epoch), Electrum's target (bits) and Bitcoin Core's retarget. The output is deterministic: running
the script again on the same inputs rewrites the same bytes. It also writes (or replaces) its own
section of ``SOURCES.md`` next to the table.

Usage: ``python scripts/build_history.py [--shared-dir ../shared/data] [--out src/hashshift/data]``
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
try:
    import hashshift  # noqa: F401
except ImportError:  # running from a checkout without installation
    sys.path.insert(0, str(REPO / "src"))

from hashshift.history import build_epochs  # noqa: E402
from hashshift.sources.bundled import bundled_epochs_name, format_epochs  # noqa: E402
from hashshift.sources.bundled_files import write_sources_section  # noqa: E402
from hashshift.sources.electrum import read_checkpoints  # noqa: E402
from hashshift.sources.rawheaders import read_header_dir  # noqa: E402

CHECKPOINTS = Path("chain", "electrum_checkpoints_mainnet.json")
HEADERS = Path("chain", "ckb_epoch_boundary_headers")
BEGIN = "<!-- BEGIN epochs_mainnet (written by scripts/build_history.py; do not edit) -->"
END = "<!-- END epochs_mainnet -->"
#: Date the newest input last changed (Electrum's checkpoints.json, commit 9ebabef3): the table
#: is complete as of that day. Update it together with the commits named in sources_section().
VINTAGE = "2026-07-01"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _headers_digest(folder: Path) -> tuple[int, str]:
    """Count and sha256 of the header files, concatenated in file-name order."""
    files = sorted(folder.glob("*.bin"))
    return len(files), _sha256(b"".join(f.read_bytes() for f in files))


def sources_section(
    name: str, text: str, cp_bytes: bytes, n_headers: int, headers_sha: str, stats: dict[str, str]
) -> str:
    """The SOURCES.md section describing ``name``."""
    return f"""{BEGIN}
## {name}

One row per 2016-block difficulty epoch of Bitcoin mainnet, epochs {stats['epochs']}
(blocks {stats['heights']}), first block times {stats['times']}; the date in the file name is the
inputs' vintage (Electrum's checkpoints last changed {VINTAGE}).
{stats['rows']} rows; sha256 {_sha256(text.encode())}.
Built by `scripts/build_history.py` from the two public files below (kept outside the repo in
`shared/data/chain/`, byte-for-byte copies of the named commits; nothing edited):

- **Electrum checkpoints** — repo `spesmilo/electrum`, path
  `electrum/chains/mainnet/checkpoints.json`, HEAD commit
  `923578010e56243ee85b3965604d6ad6974d8f33` (file last changed in
  `9ebabef3839e37af2fce13dc016bc9491da781ad`, 2026-07-01). Licence MIT. {len(cp_bytes):,} bytes,
  sha256 {_sha256(cp_bytes)}. Entry i = [hash of block 2016·(i+1)−1, target of epoch i+1]; epoch 0
  has the genesis bits 0x1d00ffff. Gives `bits`, `target`, `difficulty`, `change_pct` and
  `last_hash` of every epoch.
- **Epoch-boundary headers** — repo `EthanYuan/ckb-bitcoin-spv-testdata`, folder
  `main-chain/headers/diff-change/`, HEAD commit `df333093dae580ff94388bc33040375a5cb630dd` (folder
  last changed in `e44b5b91bd0df139552223be38548604f1f1cfcc`). Licence WTFPL. {n_headers} files
  `<height>.bin` (80-byte headers of the first and last block of every epoch to block 832,608);
  sha256 of the files concatenated in name order {headers_sha}. Gives `first_time`, `last_time`
  and `duration_s` where `duration_source` = `headers`.

Checks made while building (any failure stops the build): every header meets the proof of work of
its bits; its bits equal Electrum's target for its epoch; the last header of an epoch hashes to
Electrum's checkpoint hash and the first header of the next epoch links to it; the first header of
epoch 0 is the genesis block; for every header-timed epoch, Bitcoin Core's retarget
(`CalculateNextWorkRequired`, `src/pow.cpp`) of its bits and times gives the next epoch's bits;
every retarget is within Core's factor-4 bounds.

Columns: `epoch`, `first_height`, `last_height` [block]; `bits` (8 hex digits, compact nBits);
`target` (64 hex digits); `difficulty` = 0xffff·2^208/target; `change_pct` [%] vs the previous
epoch; `first_time`, `last_time` (ISO-8601 UTC, block header times); `duration_s` [s] =
last_time − first_time (2015 intervals); `hashrate_ehs`, `hashrate_lo_ehs`, `hashrate_hi_ehs`
[EH/s] = the unbiased estimate (n−1)·D·2^32/T and the exact 95 % interval
D·2^32·Gamma(n,1).ppf(0.025, 0.975)/T with n = 2015 intervals (Bowden, Keeler, Krzesinski & Taylor
2018, arXiv:1801.07447; work per block from Core's `GetBlockProof`); `duration_source`:
`headers` ({stats['n_headers']} epochs: both boundary headers at hand), `retarget`
({stats['n_retarget']} epochs: the midpoint of the integer timespans for which Core's retarget
gives the next epoch's target; for epochs 150–412 that range is at most 30 s wide and its
midpoint within 8 s of the header duration), `none` ({stats['n_none']}: the
newest epoch, not yet retargeted); `time_source`: `headers`, `header+retarget` (real first time,
last = first + duration) or `retarget` (first = previous last + one mean block interval of the
epoch, last = first + duration: estimates; rebuilding epochs 351–412 this way from retargets
alone puts their first times within 1.2 h of the real header times); `last_hash` (Electrum).
{END}
"""


def update_sources(path: Path, section: str) -> None:
    """Replace this script's section of ``path`` (or append it; create the file if absent)."""
    write_sources_section(path, section, BEGIN, END)


def main(argv: list[str] | None = None) -> Path:
    """Build the table; return the path written."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared-dir", type=Path, default=REPO.parent / "shared" / "data",
                    help="folder holding chain/ (default: ../shared/data next to the repo)")
    ap.add_argument("--out", type=Path, default=REPO / "src" / "hashshift" / "data",
                    help="output folder (default: src/hashshift/data)")
    ap.add_argument("--vintage", default=VINTAGE,
                    help=f"YYYY-MM-DD in the file name: the inputs' vintage (default {VINTAGE})")
    args = ap.parse_args(argv)
    cp_path = args.shared_dir / CHECKPOINTS
    hd_path = args.shared_dir / HEADERS
    for p in (cp_path, hd_path):
        if not p.exists():
            ap.error(f"missing input {p} (set --shared-dir)")

    checkpoints = read_checkpoints(cp_path)
    headers = read_header_dir(hd_path)  # proof of work checked per header as it is read
    df = build_epochs(checkpoints, headers)

    name = bundled_epochs_name(args.vintage)
    text = format_epochs(df)
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / name
    out.write_text(text, encoding="utf-8", newline="\n")

    src = df["duration_source"]
    stats = {
        "rows": str(len(df)),
        "epochs": f"0..{int(df['epoch'].iloc[-1])}",
        "heights": f"0..{int(df['last_height'].iloc[-1]):,}",
        "times": f"{df['first_time'].iloc[0]:%Y-%m-%d} .. {df['first_time'].iloc[-1]:%Y-%m-%d}",
        "n_headers": str(int((src == "headers").sum())),
        "n_retarget": str(int((src == "retarget").sum())),
        "n_none": str(int((src == "none").sum())),
    }
    n_hdr, hd_sha = _headers_digest(hd_path)
    section = sources_section(name, text, cp_path.read_bytes(), n_hdr, hd_sha, stats)
    update_sources(args.out / "SOURCES.md", section)
    print(f"wrote {out} ({len(df)} epochs; durations: {stats['n_headers']} from headers, "
          f"{stats['n_retarget']} from retargets, {stats['n_none']} unknown)")
    return out


if __name__ == "__main__":
    main()
