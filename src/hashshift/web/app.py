"""The dashboard's FastAPI application: pages, static assets, the JSON API and its guards.

``create_app(Settings(...))`` builds it; ``hashshift serve`` runs it with uvicorn on 127.0.0.1.
Static files are served from a fixed table (:func:`static_files`): the dashboard's own CSS/JS
in ``hashshift/web/static`` and the report's vendored plotly.js, world topojson and China
provinces in ``hashshift/report/vendor`` (read in place). No request path ever becomes a file
path.

Middleware, outermost first: the :class:`~.security.Guard` (Host, CORS refusal, token, size
limits, security headers), :class:`RunGate` (429 for run requests while the server is
saturated, before their bodies are read), the :class:`~.respcache.ResponseCache` (repeated reads
of data views and run files, see :func:`cacheable`), gzip, then FastAPI's routes.
"""

from __future__ import annotations

import functools
import hashlib
import re
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from .. import __version__
from . import data, pages
from .api import DOWNLOADS, busy_response, router, validation_problems
from .respcache import ResponseCache
from .runs import Busy, RunManager, Runner, TooMuchWork
from .security import Guard
from .settings import LOOPBACK_HOSTS, Settings

__all__ = ["LOOPBACK_HOSTS", "RunGate", "Settings", "cacheable", "create_app", "static_files"]

# ---------------------------------------------------------------------------------------------
# static assets: a fixed table, nothing else
# ---------------------------------------------------------------------------------------------
_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
          ".json": "application/json", ".geojson": "application/geo+json",
          ".svg": "image/svg+xml"}


@functools.cache
def static_files() -> dict[str, tuple[Traversable, str, bool]]:
    """URL path -> (file, media type, immutable?) of every static asset the server serves."""
    from ..report.assets import vendor_dir, vendored_files

    own = resources.files("hashshift.web").joinpath("static")
    vend = vendor_dir()
    names = vendored_files()
    table: dict[str, tuple[Traversable, str, bool]] = {
        "/static/vendor/plotly.min.js": (vend.joinpath(names["plotly.js"]), _TYPES[".js"], True),
        # plotly geo maps ask for {topojsonURL}{scope}_{resolution}.json
        "/static/topojson/world_110m.json": (vend.joinpath(names["world_110m"]),
                                             _TYPES[".json"], True),
        "/static/geo/china_provinces.geojson": (vend.joinpath(names["china_provinces"]),
                                                _TYPES[".geojson"], True),
    }
    for sub in ("css", "js", "img"):
        folder = own.joinpath(sub)
        if not folder.is_dir():
            continue
        for f in folder.iterdir():
            ext = "." + f.name.rsplit(".", 1)[-1]
            if f.is_file() and ext in _TYPES:
                table[f"/static/{sub}/{f.name}"] = (f, _TYPES[ext], False)
    return table


@functools.lru_cache(maxsize=64)
def _read_asset(path: str) -> tuple[bytes, str]:
    f, _, _ = static_files()[path]
    body = f.read_bytes()
    return body, '"' + hashlib.sha256(body).hexdigest()[:20] + '"'


def _asset_response(request: Request, path: str) -> Response:
    if path not in static_files():
        raise StarletteHTTPException(404)
    _, media, immutable = static_files()[path]
    body, etag = _read_asset(path)
    headers = {"etag": etag,
               "cache-control": "public, max-age=86400" if immutable else "no-cache"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media, headers=headers)


# ---------------------------------------------------------------------------------------------
# reads whose answer cannot change while the server runs
# ---------------------------------------------------------------------------------------------
#: Data views computed once per process from the bundled data (``/api/retarget`` is not one:
#: it reads the local store's tip).
_FIXED_VIEWS = frozenset({"/api/map", "/api/map/months", "/api/overview",
                          "/api/machines", "/api/examples", "/api/energy", "/api/economics",
                          "/api/energy/emissions",
                          "/api/nowcast", "/api/nowcast/months", "/api/nowcast/series",
                          "/api/events", "/api/hashprice", "/api/regions",
                          "/api/scenario/schema"})
_EXAMPLE = re.compile(r"/api/(examples/[A-Za-z0-9_.-]{1,100}|events/[a-z0-9_]{1,60})")
_RUN = re.compile(r"/api/runs/([0-9a-f]{16})(?:/([a-z.]{1,20}))?")


_HISTORY = "history|"


def _valid_history(tag: str) -> bool:
    """A cached ``/api/history`` is valid while the local store is as it was then."""
    return tag == _HISTORY + data.history_key()


def cacheable(path: str) -> str | None:
    """The response-cache tag of a GET of ``path``, or ``None`` when its answer may change:
    ``"data"`` for the fixed data views and examples, ``history|<store fingerprint>`` for
    ``/api/history`` (kept while the local store is unchanged), the run's hash for a run and its
    files (kept while the run is in the run cache)."""
    if path in _FIXED_VIEWS or _EXAMPLE.fullmatch(path):
        return "data"
    if path == "/api/history":  # its daily counts may come from the local store
        return _HISTORY + data.history_key()
    m = _RUN.fullmatch(path)
    if m and (m.group(2) is None or m.group(2) in DOWNLOADS):
        return m.group(1)
    return None


class RunGate:
    """Pure ASGI middleware: while every run slot is busy and the queue is full, a run request
    gets its 429 at once, before its body is read and validated (such a request could only
    join an identical run under way; its client retries after ``Retry-After``)."""

    PATH = "/api/scenario/run"

    def __init__(self, app: ASGIApp, *, manager: RunManager):
        self.app = app
        self.manager = manager

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] == "http" and scope.get("method") == "POST"
                and scope.get("path") == self.PATH):
            why = self.manager.saturated()
            if why is not None:
                self.manager.refused += 1
                response = busy_response(Busy(why))
                response.headers["connection"] = "close"  # the body was not read
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


# ---------------------------------------------------------------------------------------------
# the app
# ---------------------------------------------------------------------------------------------
def create_app(settings: Settings | None = None, *, runner: Runner | None = None) -> FastAPI:
    """The dashboard application. ``runner`` replaces the engine call (tests)."""
    settings = settings or Settings()
    manager = RunManager(settings.max_concurrent_runs, settings.cache_size, runner,
                         max_queue=settings.max_queue,
                         max_per_client=settings.max_runs_per_client,
                         max_work=settings.max_work, max_days=settings.max_horizon_days)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.warm_up:  # the nowcast takes seconds: compute it before anyone asks
            threading.Thread(target=data.nowcast_months, name="hashshift-warm-up",
                             daemon=True).start()
        try:
            yield
        finally:
            manager.close()

    app = FastAPI(
        title="hashshift dashboard API",
        version=__version__,
        description=(
            "Bitcoin's hashrate by region, its energy and economics, and scenario runs. Every "
            "endpoint answers JSON from the bundled data; scenario runs are bounded "
            f"(paths ≤ {settings.max_paths:,}, horizon ≤ {settings.max_horizon_days:,} days, "
            f"{settings.max_concurrent_runs} at once) and cached in memory by the SHA-256 of "
            "the canonical scenario JSON."),
        docs_url=None, redoc_url=None,  # their pages load scripts from a CDN
        # no automatic 307 to the URL without its trailing slash (`/api/runs/%2F` is a 404);
        # each page has its own 308 route for `/{slug}/` below
        redirect_slashes=False,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.runs = manager
    app.include_router(router)

    # -- errors ------------------------------------------------------------------------------
    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        detail = validation_problems(exc)
        return JSONResponse({"detail": detail,
                             "problems": [f"{d['field']}: {d['msg']}" for d in detail]},
                            status_code=422)

    @app.exception_handler(data.BadInput)
    async def _bad(request: Request, exc: data.BadInput) -> JSONResponse:
        loc = ["query", exc.field]
        return JSONResponse({"detail": [{"field": exc.field, "msg": str(exc),
                                         "type": "value_error", "loc": loc}],
                             "problems": [f"{exc.field}: {exc}"]}, status_code=422)

    @app.exception_handler(data.NotFound)
    async def _missing(request: Request, exc: data.NotFound) -> Response:
        return _error(request, 404, str(exc))

    @app.exception_handler(Busy)
    async def _busy(request: Request, exc: Busy) -> JSONResponse:
        return busy_response(exc)

    @app.exception_handler(TooMuchWork)
    async def _too_much(request: Request, exc: TooMuchWork) -> JSONResponse:
        return JSONResponse({"detail": [{"field": "scenario", "msg": str(exc),
                                         "type": "work_budget", "loc": ["body", "scenario"]}],
                             "problems": [f"scenario: {exc}"]}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        return _error(request, exc.status_code, str(exc.detail),
                      dict(exc.headers) if exc.headers else None)

    # -- static and pages --------------------------------------------------------------------
    @app.api_route("/static/{kind}/{name}", methods=["GET", "HEAD"], include_in_schema=False)
    def static(request: Request, kind: str, name: str) -> Response:
        return _asset_response(request, f"/static/{kind}/{name}")

    @app.api_route("/favicon.ico", methods=["GET", "HEAD"], include_in_schema=False)
    def favicon(request: Request) -> Response:
        return _asset_response(request, "/static/img/favicon.svg")

    @app.get("/", include_in_schema=False, response_class=HTMLResponse)
    def home() -> HTMLResponse:
        return HTMLResponse(pages.home(data.overview()))

    for slug in pages.PAGES:
        app.add_api_route(f"/{slug}", _page_route(slug), include_in_schema=False,
                          response_class=HTMLResponse, methods=["GET"])
        app.add_api_route(f"/{slug}/", _redirect(f"/{slug}"), include_in_schema=False,
                          methods=["GET"])

    # added innermost first; the guard (outermost) sees every request before anything reads
    # its body, and adds its headers to cached answers too
    app.add_middleware(GZipMiddleware, minimum_size=2048, compresslevel=5)
    app.state.response_cache = None
    if settings.response_cache_mb:
        budget = settings.response_cache_mb * 2**20

        def response_cache(inner: ASGIApp) -> ASGIApp:
            cache = ResponseCache(inner, rule=cacheable,
                                  valid=lambda tag: tag == "data"
                                  or (_valid_history(tag) if tag.startswith(_HISTORY)
                                      else manager.touch(tag)),
                                  max_bytes=budget, max_entry_bytes=min(8 * 2**20, budget))
            manager.on_evict(cache.purge)
            app.state.response_cache = cache
            return cache

        app.add_middleware(response_cache)
    app.add_middleware(RunGate, manager=manager)
    app.add_middleware(Guard, allowed_hosts=settings.allowed_hosts,
                       max_body_bytes=settings.max_body_bytes, token=settings.token)
    return app


def _page_route(slug: str) -> Any:
    def page(request: Request) -> HTMLResponse:
        if slug == "lab":  # someone may run a scenario soon: start and prepare the workers
            request.app.state.runs.warm_up()
        return HTMLResponse(pages.render(slug, request.app.state.settings))

    page.__name__ = f"page_{slug}"
    return page


def _redirect(target: str) -> Any:
    def redirect() -> RedirectResponse:
        return RedirectResponse(target, status_code=308)

    redirect.__name__ = f"redirect_{target.strip('/')}"
    return redirect


def _error(request: Request, status: int, detail: str,
           headers: dict[str, str] | None = None) -> Response:
    if request.url.path.startswith("/api") or "text/html" not in request.headers.get(
            "accept", ""):
        return JSONResponse({"detail": detail}, status_code=status, headers=headers)
    return HTMLResponse(pages.error_page(status, detail), status_code=status, headers=headers)


