"""The scenario field reference as Markdown (docs/scenarios.md, ``hashshift scenario schema
--markdown``), generated from the pydantic models of :mod:`hashshift.sim.scenario`: each field's
type, bounds, default, unit and description. A description that starts with ``[unit]`` gives the
field's unit.
"""

from __future__ import annotations

import json
import typing
from typing import Any

from pydantic import BaseModel

__all__ = ["scenario_reference_markdown"]

HEADER = ("<!-- generated from the pydantic models by `hashshift scenario schema --markdown` "
          "(scripts/gen_cli_reference.py); do not edit by hand -->")


def _split_unit(desc: str) -> tuple[str, str]:
    """``"[unit] text"`` as ``(unit, text)``; ``("", desc)`` without a unit."""
    if desc.startswith("["):
        end = desc.find("]")
        if end > 0:
            return desc[1:end], desc[end + 1:].strip().lstrip(";:,").strip()
    return "", desc


def _rst(text: str) -> str:
    """reStructuredText literals (``x``) as Markdown code (`x`)."""
    return text.replace("``", "`")


def _fmt_num(x: Any) -> str:
    if isinstance(x, bool):
        return str(x).lower()
    if isinstance(x, int | float):
        return f"{x:g}" if isinstance(x, float) else str(x)
    return str(x)


def _type_of(p: dict[str, Any]) -> str:
    """A JSON-Schema property as a short human type with its constraints."""
    if "anyOf" in p:
        parts = [x for x in p["anyOf"] if x.get("type") != "null"]
        return " or ".join(_type_of(x) for x in parts)
    if "const" in p:
        return f'`"{p["const"]}"`'
    if "enum" in p:
        return " or ".join(f'`"{v}"`' for v in p["enum"])
    t = p.get("type", "any")
    if t == "array":
        items = _type_of(p.get("items", {}))
        lo, hi = p.get("minItems"), p.get("maxItems")
        n = (f"{lo} " if lo is not None and lo == hi else
             f"{lo}–{hi} " if lo is not None and hi is not None else
             f"≥ {lo} " if lo else f"≤ {hi} " if hi is not None else "")
        return f"list of {n}({items})"
    if t == "object":
        return f"table of code → ({_type_of(p.get('additionalProperties', {}))})"
    base = {"string": "date" if p.get("format") == "date" else "string",
            "number": "number", "integer": "integer", "boolean": "boolean"}.get(t, str(t))
    cons = []
    for key, sym in (("minimum", "≥"), ("exclusiveMinimum", ">"), ("maximum", "≤"),
                     ("exclusiveMaximum", "<")):
        if key in p:
            cons.append(f"{sym} {_fmt_num(p[key])}")
    if "minLength" in p or "maxLength" in p:
        cons.append(f"length {p.get('minLength', 0)}–{p['maxLength']}" if "maxLength" in p
                    else f"length ≥ {p['minLength']}")
    if "pattern" in p:
        cons.append(f"pattern `{p['pattern']}`")
    return base + (" " + ", ".join(cons) if cons else "")


def _default(p: dict[str, Any], required: bool) -> str:
    if required:
        return "**required**"
    if "default" not in p:
        return ""
    d = p["default"]
    return ("none" if d is None else
            f'`"{d}"`' if isinstance(d, str) else
            f"`{json.dumps(d)}`" if isinstance(d, list | dict) else
            f"`{_fmt_num(d)}`")


def _models_in(annotation: Any) -> tuple[list[type[BaseModel]], bool]:
    """Pydantic models inside a field's annotation and whether it is a list."""
    found: list[type[BaseModel]] = []
    is_list = False

    def walk(a: Any) -> None:
        nonlocal is_list
        if isinstance(a, type) and issubclass(a, BaseModel):
            found.append(a)
            return
        if typing.get_origin(a) is list:
            is_list = True
        for arg in typing.get_args(a):
            walk(arg)

    walk(annotation)
    return found, is_list


def _cell(text: str) -> str:
    return " ".join(text.replace("|", "\\|").split())


def _model_doc(model: type[BaseModel]) -> str:
    """The first paragraph of a model's own docstring ("" when it has none)."""
    doc = model.__doc__ or ""
    if doc.startswith("A base class for creating Pydantic models") or doc.startswith("!!!"):
        return ""  # pydantic's own docstring, inherited
    first = " ".join(doc.split("\n\n")[0].split())
    if first.startswith("``[") and "``: " in first:  # "``[price]``: the bitcoin price path"
        first = first.split("``: ", 1)[1]
        first = first[:1].upper() + first[1:]
    return _rst(first)


def scenario_reference_markdown() -> str:
    """Every section and field of the scenario format as Markdown tables, generated from the
    pydantic models (types, bounds, defaults, units and descriptions)."""
    from .scenario import Scenario

    out = [HEADER, ""]
    for section, field in Scenario.model_fields.items():
        models, is_list = _models_in(field.annotation)
        for model in models:
            schema = model.model_json_schema()
            props: dict[str, Any] = schema.get("properties", {})
            required = set(schema.get("required", []))
            kind = props.get("kind", {}).get("const")
            head = f"[[{section}]]" if is_list else f"[{section}]"
            out += [f"### `{head}`" + (f' kind = "{kind}"' if kind else ""), ""]
            doc = _model_doc(model)
            if doc:
                out += [doc, ""]
            if section == "scenario" or field.is_required():
                note = "Required section."
            elif is_list:
                note = "Optional; repeat the block for each entry."
            else:
                note = "Optional section; every field has a default."
            if field.description:
                note += f" {_rst(field.description[0].upper() + field.description[1:])}."
            out += [note, ""]
            out += ["| field | type | default | unit | description |",
                    "|---|---|---|---|---|"]
            for name, p in props.items():
                unit, text = _split_unit(p.get("description") or "")
                out.append(f"| `{name}` | {_cell(_type_of(p))} | {_default(p, name in required)} "
                           f"| {_cell(unit)} | {_cell(_rst(text))} |")
            out.append("")
    return "\n".join(out).rstrip("\n") + "\n"
