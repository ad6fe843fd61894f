"""The web dashboard: ``hashshift serve`` (FastAPI + uvicorn, 127.0.0.1 by default).

Pages (server-rendered HTML, small scripts, the vendored plotly.js; nothing from a CDN): Map,
Network, Energy, Economics, Scenario lab. A JSON API lives under ``/api`` with its OpenAPI
schema at ``/openapi.json``. docs/dashboard.md describes pages, endpoints, limits and the
security defaults.
"""

from __future__ import annotations

from .app import Settings, create_app

__all__ = ["Settings", "create_app"]
