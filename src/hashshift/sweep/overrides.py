"""Dotted paths into a scenario: check them against the base scenario, then set them.

``table.field``, list items by index (``event[0]``), all items (``event[*]``), by code or name
(``region[CN-SC]``; a region the base lacks is added) and dict keys
(``initial.shares_pct.US``). :func:`resolve_path` checks a path once against the base scenario
and says how to set it; :func:`assign` then sets it in each task's scenario data (a dict).
The ``ban_region`` axis adds a ban instead (:func:`apply_ban`).
"""

from __future__ import annotations

import copy
import difflib
import re
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel

from ..sim.scenario import RegionSpec, Scenario
from .spec import Axis, BanTemplate, SweepError

__all__ = ["Leaf", "apply_ban", "assign", "check_ban_values", "flatten_set", "resolve_path"]

#: One step of a path: a field name and its index (None, an int, "*" or a code).
Step = tuple[str, int | str | None]


@dataclass(frozen=True)
class Leaf:
    """A checked path: its steps and the kind of value it holds."""

    path: str
    steps: tuple[Step, ...]
    kind: str  # int | float | date | str | bool | other


_STEP = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?:\[([^\]]*)\])?$")


def _split_path(path: str) -> list[Step]:
    parts: list[str] = []
    depth, cur = 0, ""
    for ch in path:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        if ch == "." and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    steps: list[Step] = []
    for p in parts:
        m = _STEP.match(p.strip())
        if not m:
            raise ValueError(f"{p!r} is not a field name (write fields as a.b, list items as "
                             "a[0], a[*] or a[CODE])")
        name, idx = m.group(1), m.group(2)
        if idx is None:
            steps.append((name, None))
        elif idx.strip().isdigit():
            steps.append((name, int(idx)))
        elif idx.strip():
            steps.append((name, idx.strip()))
        else:
            raise ValueError(f"{p!r}: empty [] (use an index, * or a code)")
    return steps


def _annotation_kind(ann: Any) -> str:
    if ann is None:
        return "other"
    args = {a for a in _flatten_args(ann) if a is not type(None)}
    if bool in args:
        return "bool"
    if float in args:
        return "float"
    if int in args:
        return "int"
    if date in args:
        return "date"
    if str in args:
        return "str"
    return "other"


def _flatten_args(ann: Any) -> list[Any]:
    origin = typing.get_origin(ann)
    if origin is Literal:
        return [type(a) for a in typing.get_args(ann)]
    if origin in (typing.Union, types.UnionType, Annotated):
        out: list[Any] = []
        for a in typing.get_args(ann)[: 1 if origin is Annotated else None]:
            out += _flatten_args(a)
        return out
    return [ann]


def _dict_value_annotation(ann: Any) -> Any:
    if ann is None:
        return None
    for a in _flatten_args(ann):
        if typing.get_origin(a) is dict:
            return typing.get_args(a)[1]
    return None


def _find_item(items: list[Any], key: str) -> int | None:
    for i, x in enumerate(items):
        for attr in ("code", "name"):
            v = x.get(attr) if isinstance(x, dict) else getattr(x, attr, None)
            if v == key:
                return i
    return None


def resolve_path(base: Scenario, path: str, what: str) -> Leaf:
    """Check that ``path`` names a field of the base scenario; returns how to set it."""
    try:
        steps = _split_path(path)
    except ValueError as exc:
        raise SweepError(f"{what}: {exc}") from None
    if len(steps) == 2 and steps[0] == ("scenario", None) and steps[1][0] in ("seed", "paths"):
        raise SweepError(f"{what}: scenario.{steps[1][0]} is set by the sweep ([sweep] "
                         f"{steps[1][0]}), not here")
    cur: list[tuple[Any, Any]] = [(base, Scenario)]
    where = ""
    for pos, (name, idx) in enumerate(steps):
        last = pos == len(steps) - 1
        here = f"{where}.{name}" if where else name
        nxt: list[tuple[Any, Any]] = []
        for obj, obj_ann in cur:
            if isinstance(obj, BaseModel):
                fields = type(obj).model_fields
                if name not in fields:
                    close = difflib.get_close_matches(name, list(fields), n=3)
                    hint = (f"did you mean {' or '.join(close)}?" if close else
                            f"its fields: {', '.join(fields)}")
                    raise SweepError(f"{what}: unknown field {here!r} ({where or 'a scenario'} "
                                     f"has no {name!r}; {hint})")
                ann = fields[name].annotation
                val = getattr(obj, name)
            elif isinstance(obj, dict):
                ann = _dict_value_annotation(obj_ann)
                val = obj.get(name)
            else:
                raise SweepError(f"{what}: {where} is a value, not a table, so {here!r} does "
                                 "not exist")
            if idx is not None:
                if not isinstance(val, list):
                    raise SweepError(f"{what}: {here} is not a list in the base scenario (it is "
                                     f"{val!r}), so [{idx}] does not apply")
                if idx == "*":
                    if not val:
                        raise SweepError(f"{what}: the base scenario has no {name} entries")
                    items = list(val)
                elif isinstance(idx, int):
                    if idx >= len(val):
                        raise SweepError(f"{what}: {name}[{idx}] does not exist (the base "
                                         f"scenario has {len(val)} {name} entr"
                                         f"{'y' if len(val) == 1 else 'ies'})")
                    items = [val[idx]]
                else:
                    i = _find_item(val, idx)
                    if i is not None:
                        items = [val[i]]
                    elif name == "region":
                        items = [RegionSpec(code=idx)]  # added to the scenario when set
                    else:
                        raise SweepError(f"{what}: no {name} entry named {idx!r} in the base "
                                         "scenario")
                nxt += [(x, type(x)) for x in items]
                continue
            if not last and val is None:
                if _dict_value_annotation(ann) is None:
                    raise SweepError(f"{what}: {here} is not set in the base scenario, so "
                                     f"{path!r} cannot be addressed; set {here} in [set]")
                val = {}
            nxt.append((val, ann))
        cur = nxt
        where = here + (f"[{idx}]" if idx is not None else "")
    kind = "other" if steps[-1][1] is not None else _annotation_kind(cur[0][1])
    return Leaf(path, tuple(steps), kind)


def assign(data: dict[str, Any], steps: Sequence[Step], value: Any) -> None:
    """Set ``value`` at ``steps`` in a scenario's data (a regions entry the data lacks is
    added)."""
    targets: list[Any] = [data]
    for pos, (name, idx) in enumerate(steps):
        last = pos == len(steps) - 1
        nxt: list[Any] = []
        for obj in targets:
            if idx is None:
                if last:
                    obj[name] = copy.deepcopy(value)
                    continue
                if obj.get(name) is None:
                    obj[name] = {}
                nxt.append(obj[name])
                continue
            items = obj[name]
            if idx == "*":
                positions = list(range(len(items)))
            elif isinstance(idx, int):
                positions = [idx]
            else:
                i = _find_item(items, idx)
                if i is None:
                    items.append({"code": idx})
                    i = len(items) - 1
                positions = [i]
            for i in positions:
                if last:
                    items[i] = copy.deepcopy(value)
                else:
                    nxt.append(items[i])
        targets = nxt


def flatten_set(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``[set]`` as dotted path -> value (TOML nests ``a.b = 1`` as tables)."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}.{k}" if prefix else k
        if isinstance(v, dict):
            out.update(flatten_set(v, key))
        else:
            out[key] = v
    return out


def check_ban_values(axis: Axis, values: list[Any], source: str) -> None:
    """Refuse ``ban_region`` values that are not known region codes (or ``none``)."""
    from ..regions import check_region_code

    for v in values:
        if not isinstance(v, str):
            raise SweepError(f"{source}: axis {axis.label!r}: ban_region values are region "
                             f"codes (or 'none'), got {v!r}")
        if v == "none":
            continue
        try:
            check_region_code(v)
        except LookupError as exc:
            raise SweepError(f"{source}: axis {axis.label!r}: value {v!r}: {exc}") from None


def apply_ban(data: dict[str, Any], code: str, tpl: BanTemplate) -> None:
    """Add the ``[ban]`` ban on ``code`` (none: no ban), replacing the data's ban on that
    region (all its bans with ``others = "drop"``)."""
    as_of = data["scenario"]["as_of"]
    if isinstance(as_of, str):
        as_of = date.fromisoformat(as_of)
    events = [e for e in data.get("event", []) if not (
        e.get("kind") == "ban" and (tpl.others == "drop" or e.get("region") == code))]
    if code != "none":
        events.append({
            "kind": "ban", "region": code,
            "announced": as_of + timedelta(days=tpl.announced_day),
            "effective": as_of + timedelta(days=tpl.effective_day),
            "enforcement": tpl.enforcement, "underground": tpl.underground,
            "ramp_down_days": tpl.ramp_down_days,
            "enforcement_uncertainty": tpl.enforcement_uncertainty,
            "source": "sweep [ban] template",
        })
    data["event"] = events
