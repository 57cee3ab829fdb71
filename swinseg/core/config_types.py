"""Typed, range-checked config fields, and reading a config mapping into its dataclass with one-line errors.

The config dataclasses annotate their fields with the aliases below (``lr: PositiveFloat``); the constraints
are ``annotated_types`` markers, which cost nothing at import. :func:`validated` reads a mapping (YAML, JSON,
``--set`` overrides) into the dataclass with pydantic (already a dependency, through albumentations): it checks
every field's type and range, converts lists to tuples, fills defaults and builds the nested dataclasses. The
first problem becomes one line with the dotted key, what was expected and the value given::

    optim.lr: expected a number > 0, got 'abc'
    data.crop_size.0: expected an integer > 0, got 0

Unknown keys are reported before that by :func:`~swinseg.core.config_keys.check_known_keys`, with its
"did you mean". pydantic is imported on first use only.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any

from annotated_types import Ge, Gt, Le, Lt

__all__ = [
    "NonNegativeFloat",
    "NonNegativeInt",
    "PositiveFloat",
    "PositiveInt",
    "Probability",
    "UnitInterval",
    "validated",
]

PositiveInt = Annotated[int, Gt(0)]
NonNegativeInt = Annotated[int, Ge(0)]
PositiveFloat = Annotated[float, Gt(0)]
NonNegativeFloat = Annotated[float, Ge(0)]
Probability = Annotated[float, Ge(0), Le(1)]
UnitInterval = Annotated[float, Ge(0), Lt(1)]  # e.g. Adam's betas, drop path: 1 itself makes no sense

_TYPE_WORDS = {"integer": "an integer", "number": "a number", "boolean": "true or false", "string": "a string",
               "array": "a list", "object": "a mapping", "null": "null"}  # fmt: skip


@cache
def _adapter(cls: type) -> Any:
    from pydantic import TypeAdapter

    return TypeAdapter(cls)


def validated(cls: type, data: dict, prefix: str = "") -> Any:
    """``data`` read into the dataclass ``cls`` (see the module docstring); ``prefix`` goes before the dotted
    key of an error (``"model."`` when ``cls`` is the model's section)."""
    from pydantic import ValidationError

    adapter = _adapter(cls)
    try:
        return adapter.validate_python(data)
    except ValidationError as e:
        error = e.errors(include_url=False)[0]
        loc = [str(part) for part in error["loc"]]
        expected = _describe(_field_schema(adapter.json_schema(), loc)) or error["msg"].lower()
        key = prefix + ".".join(loc)
        if error["type"] == "value_error":  # a check of the dataclass itself (__post_init__): its own words
            message = str(error["ctx"]["error"])
            raise ValueError(message if not key or message.startswith(key) else f"{key}: {message}") from None
        raise ValueError(f"{key}: expected {expected}, got {error['input']!r}") from None


def _field_schema(schema: dict, loc: list[str]) -> dict:
    """The JSON schema of the field at ``loc`` (dataclass keys, list indices) inside ``schema``."""
    defs = schema.get("$defs", {})
    node = schema
    for part in loc:
        node = _resolved(node, defs)
        if "properties" in node and part in node["properties"]:
            node = node["properties"][part]
        elif part.isdigit() and "prefixItems" in node:
            items = node["prefixItems"]
            node = items[int(part)] if int(part) < len(items) else node.get("items", {})
        elif part.isdigit() and "items" in node:
            node = node["items"]
        elif "additionalProperties" in node:
            node = node["additionalProperties"] if isinstance(node["additionalProperties"], dict) else {}
        else:
            return {}
    return _resolved(node, defs)


def _resolved(node: dict, defs: dict) -> dict:
    """``node`` with ``$ref`` followed and ``X | None`` reduced to ``X`` (the null choice is named separately)."""
    if "$ref" in node:
        node = defs.get(node["$ref"].rsplit("/", 1)[-1], {})
    choices = [c for c in node.get("anyOf", []) if c.get("type") != "null"]
    if len(choices) == 1:
        return {**_resolved(choices[0], defs), "nullable": True}
    return node


def _describe(field: dict) -> str:
    """``{"type": "number", "exclusiveMinimum": 0}`` -> ``"a number > 0"``; ``""`` when there is nothing to say."""
    if "enum" in field or "const" in field:
        return "one of " + ", ".join(map(repr, field.get("enum", [field.get("const")])))
    words = _TYPE_WORDS.get(field.get("type", ""), "")
    if field.get("type") == "array" and "prefixItems" in field and "items" not in field:
        items = field["prefixItems"]
        inner = _describe(items[0]) if items and all(i == items[0] for i in items) else ""
        plural = inner.replace("an integer", "integers", 1).replace("a number", "numbers", 1)
        words = f"a list of {len(items)} {plural if plural != inner else 'values'}"
    low = ("(", field["exclusiveMinimum"]) if "exclusiveMinimum" in field else ("[", field.get("minimum"))
    high = (")", field["exclusiveMaximum"]) if "exclusiveMaximum" in field else ("]", field.get("maximum"))
    if low[1] is not None and high[1] is not None:
        text = f"{words} in {low[0]}{low[1]:g}, {high[1]:g}{high[0]}"
    elif low[1] is not None:
        text = f"{words} {'>' if low[0] == '(' else '>='} {low[1]:g}"
    elif high[1] is not None:
        text = f"{words} {'<' if high[0] == ')' else '<='} {high[1]:g}"
    else:
        text = words
    if field.get("nullable") and text:
        text += " or null"
    return text
