"""The ``hashshift`` command line (typer + rich): the app, its global options and ``main``.

Each command (or command group) lives in its own module, named after it, and adds itself to the
app in ``register(app)``; what they share is in :mod:`._base`. Command modules import pandas,
numpy, the engine and the web stack inside their functions, so ``hashshift --help`` stays fast.
"""

from __future__ import annotations

from typing import Annotated

import typer

from . import (
    backtest,
    data,
    economics,
    energy,
    events,
    history,
    map,
    pools,
    report,
    run,
    scenario,
    serve,
    sweep,
    validate,
)
from ._base import console, state

__all__ = ["app", "main"]

def _bare_flags() -> None:
    """Show a flag as ``--json`` in ``--help``, not ``--json <bool>`` (typer's rich help prints a
    type for every option; a flag takes no value)."""
    from typer.core import TyperOption

    shown = getattr(TyperOption, "display_type_rich", None)
    if shown is None or getattr(shown, "_hashshift", False):
        return

    def display_type_rich(self: TyperOption, ctx: object) -> str | None:
        if self.is_flag and not self.count:
            return None
        return shown(self, ctx)

    display_type_rich._hashshift = True  # type: ignore[attr-defined]
    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


_bare_flags()

app = typer.Typer(
    name="hashshift",
    help="Where Bitcoin's hashrate lives, what it draws and earns, and what bans do to it.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        from .. import __version__

        console.print(f"hashshift {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only errors.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    state.quiet = quiet
    state.debug = debug


# In the order `hashshift --help` lists them (commands first, then groups, each as added).
for _module in (history, backtest, data, map, pools, events, energy, economics, validate, report,
                serve, scenario, run, sweep):
    _module.register(app)


def main() -> None:
    """Console-script entry point."""
    app()
