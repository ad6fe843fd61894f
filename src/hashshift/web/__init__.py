"""The web dashboard: ``hashshift serve`` (FastAPI + uvicorn, 127.0.0.1 by default).

Pages (server-rendered HTML, small scripts, the vendored plotly.js; nothing from a CDN): Map,
Network, Energy, Economics, Scenario lab. A JSON API lives under ``/api`` with its OpenAPI
schema at ``/openapi.json``. docs/dashboard.md describes pages, endpoints, limits and the
security defaults.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .settings import Settings

if TYPE_CHECKING:
    from .app import create_app

__all__ = ["Settings", "create_app"]


def __getattr__(name: str) -> Any:
    """``create_app`` on first use, so that reading :class:`Settings` needs no FastAPI."""
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
