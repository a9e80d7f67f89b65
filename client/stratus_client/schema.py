"""Parameters checked locally against an algorithm's `parameter_schema` before anything is sent: the
JSON-schema subset the API emits (type, enum, minimum/maximum, required, additionalProperties, items)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from stratus_client.errors import InvalidInputError

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def _is_type(value: Any, name: str) -> bool:
    # bool is an int in Python; JSON schema keeps them apart.
    if name == "boolean":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if name == "integer":
        return isinstance(value, int)  # the API refuses 1.0 for an integer parameter
    if name == "number":
        return isinstance(value, int | float) and math.isfinite(value)
    checks: dict[str, type | tuple[type, ...]] = {
        "string": str,
        "array": (list, tuple),
        "object": dict,
        "null": type(None),
    }
    return isinstance(value, checks.get(name, object))


def _problem(schema: Mapping[str, Any], value: Any) -> str | None:
    """What is wrong with ``value`` under ``schema`` (one property's), or None."""
    types = schema.get("type")
    names = [types] if isinstance(types, str) else list(types or [])
    if names and not any(_is_type(value, name) for name in names):
        return f"expected {' or '.join(names)}, got {type(value).__name__} {value!r}"
    if "enum" in schema and value not in schema["enum"]:
        return f"{value!r} is not one of {schema['enum']!r}"
    low, high = schema.get("minimum"), schema.get("maximum")
    if low is not None and _is_type(value, "number") and value < low:
        return f"must be at least {low}, got {value!r}"
    if high is not None and _is_type(value, "number") and value > high:
        return f"must be at most {high}, got {value!r}"
    items = schema.get("items")
    if isinstance(items, Mapping) and isinstance(value, list | tuple):
        for index, item in enumerate(value):
            problem = _problem(items, item)
            if problem:
                return f"item {index}: {problem}"
    return None


def check_parameters(schema: Mapping[str, Any], values: Mapping[str, Any]) -> None:
    """Raise InvalidInputError (naming the parameter) unless ``values`` satisfy ``schema``."""
    properties: Mapping[str, Any] = schema.get("properties") or {}
    if schema.get("additionalProperties") is False:
        unknown = sorted(set(values) - set(properties))
        if unknown:
            raise InvalidInputError(
                f"unknown parameter {unknown[0]!r}; known: {sorted(properties)}", parameter=unknown[0]
            )
    for name in schema.get("required") or []:
        if name not in values:
            raise InvalidInputError(f"parameter {name!r} is required", parameter=name)
    for name, value in values.items():
        problem = _problem(properties.get(name) or {}, value)
        if problem:
            raise InvalidInputError(f"parameter {name!r}: {problem}", parameter=name)


def _coerce(text: str, schema: Mapping[str, Any]) -> Any:
    types = schema.get("type")
    kind = types if isinstance(types, str) else None
    if kind == "string":
        return text
    if kind == "boolean" and text.lower() in _TRUE | _FALSE:
        return text.lower() in _TRUE
    try:
        value = json.loads(text)
    except ValueError:
        value = text
    if kind == "array" and not isinstance(value, list):
        item_schema = schema.get("items") or {}
        return [_coerce(part.strip(), item_schema) for part in text.split(",") if part.strip()]
    return value


def parse_assignments(assignments: list[str], schema: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """`-p k=v` pairs as values: typed by the parameter's schema where it has one (a string parameter
    keeps "007" as is), else read as JSON when they parse (0.5, true, [1, 2]), else kept as text."""
    properties: Mapping[str, Any] = (schema or {}).get("properties") or {}
    values: dict[str, Any] = {}
    for assignment in assignments:
        name, sep, text = assignment.partition("=")
        if not sep or not name.strip():
            raise InvalidInputError(f"expected NAME=VALUE, got {assignment!r}")
        values[name.strip()] = _coerce(text, properties.get(name.strip()) or {})
    return values
