"""What every command shares: the consoles, the global flags, errors as one line, argument
parsing, number formatting and the output tails (JSON, CSV files, "written to" lines).

Imports no pandas, numpy or engine at module level: ``hashshift --help`` stays fast.
"""

from __future__ import annotations

import functools
import json
import math
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "PRICE_HELP", "JsonOption", "UserError", "check_price", "console", "emit_json",
    "err_console", "friendly", "help_text", "num", "parse_date", "parse_day", "records",
    "say_written", "state", "strict", "write_csv",
]

# Pipes and files get a width that fits the tables; terminals use their own.
console = Console(width=None if sys.stdout.isatty() else 110)
err_console = Console(stderr=True)


class _State:
    """The global flags (``hashshift --quiet/--debug COMMAND``)."""

    quiet = False
    debug = False


state = _State()

#: The ``--json`` option of most commands.
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
PRICE_HELP = "Electricity price [USD/kWh] (CBECI's default 0.05)."


class UserError(Exception):
    """An error caused by the user's input: shown as one line, without a traceback."""


F = TypeVar("F", bound=Callable[..., Any])


def friendly(func: F) -> F:
    """Turn errors into one clear line and a non-zero exit (``--debug`` shows the traceback):
    2 for bad input (UserError, ValueError, LookupError), 1 for anything else."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except Exception as exc:
            if state.debug:
                raise
            err_console.print(f"[red]error:[/] {exc}", highlight=False, soft_wrap=True)
            code = 2 if isinstance(exc, UserError | ValueError | LookupError) else 1
            raise typer.Exit(code) from None

    return wrapper  # type: ignore[return-value]


def help_text(text: str) -> str:
    """Help text with each paragraph on one line (typer's rich help keeps single newlines)."""
    import inspect

    return "\n\n".join(" ".join(p.split()) for p in inspect.cleandoc(text).split("\n\n"))


# ---------------------------------------------------------------------------------------------
# arguments
# ---------------------------------------------------------------------------------------------
def parse_date(value: str | None, name: str) -> datetime | None:
    """``--name YYYY-MM-DD`` as a UTC datetime (None stays None)."""
    if value is None:
        return None
    try:
        d = datetime.fromisoformat(value)
    except ValueError:
        raise UserError(
            f"{name}: {value!r} is not a date; use YYYY-MM-DD (e.g. 2021-05-31)"
        ) from None
    return d if d.tzinfo else d.replace(tzinfo=UTC)


def parse_day(value: str | None, name: str) -> pd.Timestamp | None:
    """``--name YYYY-MM-DD`` as a day (a naive Timestamp; None stays None)."""
    import pandas as pd

    d = parse_date(value, name)
    return None if d is None else pd.Timestamp(d.date())


def check_price(price: float) -> None:
    """An electricity price [USD/kWh] must be finite and > 0."""
    if not math.isfinite(price) or price <= 0:
        raise UserError(f"--price {price:g}: the electricity price must be > 0 USD/kWh "
                        "(e.g. --price 0.05)")


# ---------------------------------------------------------------------------------------------
# numbers
# ---------------------------------------------------------------------------------------------
def num(x: Any, spec: str = ",.2f") -> str:
    """A number formatted by ``spec``; NaN and infinities as "–", non-numbers as text."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    return "–" if not math.isfinite(v) else format(v, spec)


# ---------------------------------------------------------------------------------------------
# output tails
# ---------------------------------------------------------------------------------------------
def strict(obj: Any) -> Any:
    """``obj`` made strict-JSON ready: NaN, infinities, NaT and missing values become None,
    numpy scalars Python numbers, dates ISO text (nested dicts, lists and tuples too)."""
    if isinstance(obj, dict):
        return {str(k): strict(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [strict(v) for v in obj]
    if obj is None or isinstance(obj, bool | str | int):
        return obj
    if isinstance(obj, float):
        return float(obj) if math.isfinite(obj) else None
    if hasattr(obj, "item") and callable(obj.item) and getattr(obj, "ndim", 1) == 0:
        return strict(obj.item())  # numpy scalar
    text = str(obj)
    if text == "NaT":
        return None
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    return None if text in ("NaT", "nan", "<NA>") else text


def emit_json(obj: Any) -> None:
    """Print ``obj`` as indented strict JSON on stdout (no NaN: null; see :func:`strict`)."""
    sys.stdout.write(json.dumps(strict(obj), indent=2, allow_nan=False) + "\n")


def _dates_as_days(df: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    out = df.copy()
    for c in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[c]):
            out[c] = pd.DatetimeIndex(out[c]).strftime("%Y-%m-%d")
    return out


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts: dates as YYYY-MM-DD, NaN and infinities as None."""
    recs: list[dict[str, Any]] = _dates_as_days(df).to_dict("records")  # type: ignore[assignment]
    for r in recs:
        for k, v in r.items():
            if isinstance(v, float) and not math.isfinite(v):
                r[k] = None
    return recs


def write_csv(df: pd.DataFrame, path: Path, *, days: bool = True) -> None:
    """Write ``df`` to ``path`` (folders created), dates as YYYY-MM-DD unless ``days`` is
    False."""
    path.parent.mkdir(parents=True, exist_ok=True)
    (_dates_as_days(df) if days else df).to_csv(path, index=False)


def say_written(what: str, path: Path | str) -> None:
    """The closing line of a command that wrote a file: "WHAT written to PATH"."""
    console.print(f"{what} written to [bold]{path}[/]")
