"""What people see: charts and the offline HTML report.

- :func:`build_report` writes ONE self-contained HTML file that opens without a network
  (:mod:`.html`); its figures come from :mod:`.figures`, its text from :mod:`.narrative`, the
  vendored plotly.js and map geometry from :mod:`.assets`.
- :func:`export_figures` writes the same figures as PNG or PDF for slides (:mod:`.export`;
  needs kaleido and a local Chromium).
- :mod:`.charts`: static matplotlib charts (``hashshift history --chart``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["build_report", "export_figures", "report_figures"]

if TYPE_CHECKING:
    from .export import export_figures
    from .html import build_report, report_figures


def __getattr__(name: str) -> Any:  # lazy: plotly is imported only when a report is made
    if name in ("build_report", "report_figures"):
        from . import html

        return getattr(html, name)
    if name == "export_figures":
        from . import export

        return export.export_figures
    raise AttributeError(name)
