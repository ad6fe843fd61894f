"""Static figures (PNG, PDF) for slides, with kaleido and a local Chromium, offline.

kaleido (PyPI ``kaleido`` ≥ 1) drives a Chrome/Chromium it finds itself or at ``BROWSER_PATH``;
it never downloads one here (``kaleido_get_chrome`` would need the internet). What it renders is
a page of its own: by default that page loads MathJax from a CDN and plotly geo maps fetch their
base map from plotly's CDN. :func:`export_figures` therefore hands kaleido

- ``mathjax=False`` (no MathJax: the report's texts have no ``$``),
- its own plotly.js file: ``window.PlotlyGeoAssets`` (the vendored world_110m topojson)
  followed by the vendored plotly.js, so maps draw without fetching anything,
- the browser at ``BROWSER_PATH`` or the first of :data:`BROWSER_CANDIDATES` that exists.

Interactive parts (sliders, play buttons, range selectors) are dropped from the static copies;
a map with a month slider is drawn at its newest month.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import plotly.graph_objects as go

from . import assets

if TYPE_CHECKING:
    from .html import FigureSpec

__all__ = ["BROWSER_CANDIDATES", "ExportError", "export_figures", "find_browser", "static_copy"]

Format = Literal["png", "pdf", "svg"]

#: Where a Chromium is looked for when ``BROWSER_PATH`` is not set (Debian's package first; its
#: /usr/bin/chromium is a shell wrapper around /usr/lib/chromium/chromium).
BROWSER_CANDIDATES = ("/usr/lib/chromium/chromium", "/usr/bin/chromium", "chromium",
                      "chromium-browser", "google-chrome", "google-chrome-stable")

ALTERNATIVE = ("Alternative without kaleido: open the HTML report (`hashshift report`) in a "
               "browser and use the camera icon above each figure (PNG at twice the screen "
               "resolution).")


class ExportError(RuntimeError):
    """Static export is not possible here (kaleido or a browser missing, or rendering failed)."""


def find_browser() -> str | None:
    """``BROWSER_PATH`` if set (and present), else the first of :data:`BROWSER_CANDIDATES`."""
    env = os.environ.get("BROWSER_PATH")
    if env:
        return env if Path(env).exists() or shutil.which(env) else None
    for cand in BROWSER_CANDIDATES:
        path = cand if os.path.isabs(cand) else shutil.which(cand)
        if path and Path(path).exists():
            return str(path)
    return None


def static_copy(fig: go.Figure) -> go.Figure:
    """A copy without frames, sliders, play buttons and range selectors."""
    out = go.Figure(fig)
    out.frames = []
    out.layout.sliders = ()
    out.layout.updatemenus = ()
    out.update_xaxes(rangeselector=None)
    if out.layout.margin is not None and out.layout.margin.b is not None:
        out.update_layout(margin={"b": min(int(out.layout.margin.b), 60)})
    return out


def _page_script(folder: Path) -> Path:
    """A JS file: PlotlyGeoAssets first, then plotly.js (kaleido loads it as its plotly.js)."""
    path = folder / f"plotly-{assets.plotly_version()}-with-geo-assets.js"
    world = assets.vendor_dir().joinpath(assets.vendored_files()["world_110m"]).read_text(
        encoding="utf-8")
    path.write_text('window.PlotlyGeoAssets={topojson:{"world_110m":' + world.strip()
                    + "}};\n" + assets.plotly_js(), encoding="utf-8")
    return path


def export_figures(specs: Sequence[FigureSpec], folder: str | Path, fmt: Format = "png", *,
                   width: int = 1400, scale: float = 2.0,
                   progress: Callable[[str], None] | None = None) -> list[Path]:
    """Write each figure to ``folder/<nn>-<key>.<fmt>`` and return the paths.

    ``width`` [px] of the image (the height is the figure's own); ``scale`` multiplies the
    pixels of PNGs (2 = sharp on slides). Raises :class:`ExportError` with what to do when
    kaleido or a browser is missing or the rendering fails.
    """
    if fmt not in ("png", "pdf", "svg"):
        raise ValueError(f"format must be png, pdf or svg, not {fmt!r}")
    try:
        import kaleido  # noqa: F401
        from kaleido import PageGenerator, write_fig_from_object_sync
    except ImportError:
        raise ExportError("static export needs the kaleido package (pip install kaleido), "
                          f"which uses a local Chrome/Chromium. {ALTERNATIVE}") from None
    browser = find_browser()
    if browser is None:
        raise ExportError("static export needs Chrome or Chromium: install it (Debian: "
                          "apt-get install chromium) or point BROWSER_PATH at it. "
                          f"{ALTERNATIVE}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    say = progress or (lambda _m: None)
    with tempfile.TemporaryDirectory(prefix="hashshift-kaleido-") as td:
        js = _page_script(Path(td))
        page = PageGenerator(plotly=str(js), mathjax=False)
        jobs = []
        paths = []
        for i, spec in enumerate(specs, start=1):
            fig = static_copy(spec.figure)
            path = folder / f"{i:02d}-{spec.key}.{fmt}"
            height = int(fig.layout.height or 500)
            jobs.append({"fig": fig, "path": path,
                         "opts": {"format": fmt, "width": width, "height": height,
                                  "scale": scale if fmt == "png" else 1}})
            paths.append(path)
        say(f"rendering {len(jobs)} figures with {browser}")
        old = os.environ.get("BROWSER_PATH")
        os.environ["BROWSER_PATH"] = browser
        try:
            write_fig_from_object_sync(jobs, kopts={"page_generator": page})
        except Exception as exc:
            raise ExportError(f"static export with kaleido and {browser} failed: {exc}. "
                              f"{ALTERNATIVE}") from exc
        finally:
            if old is None:
                os.environ.pop("BROWSER_PATH", None)
            else:
                os.environ["BROWSER_PATH"] = old
    missing = [p for p in paths if not p.exists() or p.stat().st_size == 0]
    if missing:
        raise ExportError(f"kaleido wrote no file for {', '.join(p.name for p in missing)}. "
                          f"{ALTERNATIVE}")
    return paths
