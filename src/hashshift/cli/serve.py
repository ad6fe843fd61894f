"""``hashshift serve``: the web dashboard (FastAPI + uvicorn) on this machine."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from ..web.settings import TOKEN_ENV, Settings
from ._base import UserError, err_console, friendly


def register(app: typer.Typer) -> None:
    """Add ``hashshift serve`` to ``app``."""
    app.command("serve")(serve)


@friendly
def serve(
    host: Annotated[str, typer.Option(
        help="Address to bind. The default serves this machine only; 0.0.0.0 serves every "
             "network this machine is on (a warning is printed).")]
    = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="TCP port (0: any free port).")]
    = 8000,
    max_paths: Annotated[int, typer.Option(min=1, help="Most Monte Carlo paths a run may ask.")]
    = Settings.max_paths,
    max_horizon_days: Annotated[int, typer.Option(min=1, help="Longest run, in days.")]
    = Settings.max_horizon_days,
    max_work: Annotated[int, typer.Option(
        min=1, help="Most path-days (paths × days, scenario and baseline together) one request "
                    "may ask for.")] = Settings.max_work,
    max_runs: Annotated[int, typer.Option(
        min=1, help="Scenario runs computed at once; more wait in the queue.")]
    = Settings.max_concurrent_runs,
    queue: Annotated[int, typer.Option(
        min=0, help="Run requests that may wait for a slot; more get HTTP 429.")]
    = Settings.max_queue,
    max_runs_per_client: Annotated[int, typer.Option(
        min=1, help="Run requests one client address may have computing or waiting; more get "
                    "HTTP 429.")] = Settings.max_runs_per_client,
    cache_size: Annotated[int, typer.Option(min=1, help="Finished runs kept in memory.")]
    = Settings.cache_size,
    token_env: Annotated[str | None, typer.Option(
        help=f"Environment variable holding an access token (default {TOKEN_ENV}). When it is "
             "set, scenario runs and every other request that runs work or writes need "
             "'Authorization: Bearer <token>'; reads stay open. (Never on the command line: "
             "other users can read it there.)")] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Serve the dashboard: map (observed and nowcast), evidence from the chain, network,
    energy, economics and the scenario lab, plus a JSON
    API (schema at /openapi.json). Every page and asset comes from this machine."""
    import uvicorn

    from ..web.app import create_app
    from ..web.settings import allowed_hosts_for, is_loopback

    if log_level not in ("critical", "error", "warning", "info", "debug", "trace"):
        raise UserError(f"--log-level {log_level!r}: use critical, error, warning, info, debug "
                        "or trace")
    env = token_env or TOKEN_ENV
    token = os.environ.get(env) or None
    if token_env and token is None:
        raise UserError(f"--token-env {token_env}: that environment variable is not set (or "
                        "empty)")
    loopback = is_loopback(host)
    if not loopback:
        guard = (f"scenario runs need the token from {env}" if token else
                 f"without authentication (set {TOKEN_ENV} to require a token for runs)")
        err_console.print(
            f"[yellow]warning:[/] --host {host} serves the dashboard beyond this machine, to "
            f"anyone who can reach it, over plain HTTP, {guard}; scenario runs use this "
            "machine's CPU. Use the default 127.0.0.1 unless you mean it.", highlight=False)
    try:
        settings = Settings(
            max_paths=max_paths, max_horizon_days=max_horizon_days,
            max_concurrent_runs=max_runs, cache_size=cache_size, max_work=max_work,
            max_queue=queue, max_runs_per_client=max_runs_per_client, token=token,
            allowed_hosts=allowed_hosts_for(host), warm_up=True,
        )
    except ValueError as exc:
        raise UserError(f"{env}: {exc}" if token and "token" in str(exc) else str(exc)) from None
    shown = f"[{host}]" if ":" in host else host
    err_console.print(f"hashshift dashboard on http://{shown}:{port}/ (Ctrl+C stops it)"
                      + (f"; runs need the token from {env}" if token else ""),
                      highlight=False)
    uvicorn.run(create_app(settings), host=host, port=port, log_level=log_level,
                server_header=False, proxy_headers=False)
