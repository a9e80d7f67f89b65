"""check_spec: an optimizer spec against its kind's shape and the algorithm's parameter schema."""

from __future__ import annotations

import math
import secrets
from typing import Any

from stratus.campaigns.optimizers import OPTIMIZERS, optimizer_options
from stratus.campaigns.space import (
    MAX_GRID_POINTS,
    ChoiceSpec,
    OptimizerSpec,
    ParameterSpec,
    RangeSpec,
    Scalar,
    ValuesSpec,
    grid_size,
    planned_trials,
)
from stratus.campaigns.tables import FIXED_COLUMNS, TRAILING_COLUMNS
from stratus.errors import InvalidInputError

# A seed the campaign fixes at creation when the client gives none, so every later round is reproducible.
SEED_RANGE = 2**31


def check_shape(spec: OptimizerSpec) -> None:
    """The kind's own rules, without the algorithm: which specs it takes, its optimizer and options.

    Raises InvalidInputError."""
    if spec.kind == "table":
        if not spec.rows:
            raise InvalidInputError("a table campaign needs `rows` (or a CSV table)")
        if spec.search_space:
            raise InvalidInputError("a table campaign takes `rows`, not `search_space`")
    else:
        _check_search_space_shape(spec)
    if spec.kind != "bayesian":
        # `optimizer` has a default a request model may pass on; options, though, would be ignored.
        if spec.optimizer_options:
            raise InvalidInputError(f"optimizer_options apply to kind 'bayesian' only, not {spec.kind!r}")
        return
    optimizer_options(spec.optimizer, spec.optimizer_options)
    if len(spec.objectives) > 1 and not OPTIMIZERS[spec.optimizer].multi_objective:
        raise InvalidInputError(f"optimizer {spec.optimizer!r} optimises a single objective only")


def _check_search_space_shape(spec: OptimizerSpec) -> None:
    if spec.rows:
        raise InvalidInputError(f"`rows` belong to kind 'table', not {spec.kind!r}")
    if not spec.search_space:
        raise InvalidInputError(f"a {spec.kind} campaign needs a `search_space`")
    wanted: tuple[type, ...] = (ValuesSpec,) if spec.kind == "grid" else (RangeSpec, ChoiceSpec)
    for name, parameter in spec.search_space.items():
        if not isinstance(parameter, wanted):
            needs = "{'values': [...]}" if spec.kind == "grid" else "{'low', 'high'} or {'choices': [...]}"
            raise InvalidInputError(f"search_space.{name}: a {spec.kind} campaign takes {needs}")
    if spec.kind == "grid" and grid_size(spec) > MAX_GRID_POINTS:
        raise InvalidInputError(f"the grid has {grid_size(spec)} points, more than {MAX_GRID_POINTS}")


def check_spec(spec: OptimizerSpec, parameter_schema: dict[str, Any]) -> OptimizerSpec:
    """Check ``spec`` against the algorithm's parameters (``parameter_schema``: the JSON schema an
    algorithm version stores) and return it normalised: ints where the schema says integer, floats where
    it says number, the budget capped to the grid or table, and a seed fixed when none was given.

    Raises InvalidInputError naming the parameter (and the row)."""
    check_shape(spec)
    properties: dict[str, Any] = parameter_schema.get("properties", {})
    _check_objective_names(spec)
    search_space = {
        name: _checked_parameter(name, parameter, _property(properties, name, f"search_space.{name}"))
        for name, parameter in spec.search_space.items()
    }
    rows = [_checked_row(index, row, properties) for index, row in enumerate(spec.rows)]
    checked = spec.model_copy(update={"search_space": search_space, "rows": rows})
    seed = spec.seed if spec.seed is not None else secrets.randbelow(SEED_RANGE)
    return checked.model_copy(update={"budget": planned_trials(checked), "seed": seed})


def _check_objective_names(spec: OptimizerSpec) -> None:
    # The history file has one column per parameter and per objective; a shared name is ambiguous.
    taken = {*spec.parameter_names, *FIXED_COLUMNS, *TRAILING_COLUMNS}
    for objective in spec.objectives:
        if objective.name in taken:
            raise InvalidInputError(
                f"objective {objective.name!r} has the name of a parameter or a history column "
                f"({sorted(taken)})"
            )


def _property(properties: dict[str, Any], name: str, where: str) -> dict[str, Any]:
    if name not in properties:
        known = sorted(properties)
        raise InvalidInputError(f"{where}: the algorithm has no parameter {name!r}; it has {known}")
    prop: dict[str, Any] = properties[name]
    return prop


def _checked_parameter(name: str, parameter: ParameterSpec, prop: dict[str, Any]) -> ParameterSpec:
    where = f"search_space.{name}"
    try:
        if isinstance(parameter, RangeSpec):
            return _checked_range(parameter, prop)
        if isinstance(parameter, ChoiceSpec):
            return ChoiceSpec(choices=_checked_items(parameter.choices, prop))
        return ValuesSpec(values=_checked_items(parameter.values, prop))
    except ValueError as exc:
        raise InvalidInputError(f"{where} ({_type_name(prop)}): {exc}") from exc


def _checked_range(parameter: RangeSpec, prop: dict[str, Any]) -> RangeSpec:
    if prop.get("type") not in ("integer", "number") or "enum" in prop:
        raise ValueError("a range needs a numeric parameter without options; use `choices`")
    low, high = conform(prop, parameter.low), conform(prop, parameter.high)
    step = parameter.step
    if prop["type"] == "integer" and step is not None:
        step = _integral(step, "step")
    integer = parameter.integer or prop["type"] == "integer"
    return parameter.model_copy(update={"low": low, "high": high, "step": step, "integer": integer})


def _checked_items(items: list[Scalar], prop: dict[str, Any]) -> list[Scalar]:
    checked = [conform(prop, item) for item in items]
    distinct = {repr(item) for item in checked}
    if len(distinct) != len(checked):
        raise ValueError(f"{items!r} name a value twice (as the parameter's type reads them)")
    return checked


def _checked_row(index: int, row: dict[str, Any], properties: dict[str, Any]) -> dict[str, Any]:
    # rows[0] is line 2 of a CSV table (line 1 is the header).
    where = f"rows[{index}] (CSV line {index + 2})"
    checked: dict[str, Any] = {}
    for name, value in row.items():
        prop = _property(properties, name, where)
        try:
            checked[name] = conform(prop, value)
        except ValueError as exc:
            raise InvalidInputError(f"{where}, parameter {name!r} ({_type_name(prop)}): {exc}") from exc
    return checked


def _type_name(prop: dict[str, Any]) -> str:
    return str(prop.get("x-compox-type", prop.get("type", "any")))


def _integral(value: float, label: str) -> int:
    if not (math.isfinite(value) and float(value).is_integer()):
        raise ValueError(f"{label} must be a whole number for an integer parameter, got {value!r}")
    return int(value)


def conform(prop: dict[str, Any], value: Any) -> Any:
    """One value checked against a JSON-schema property (type, enum, bounds) and normalised: ints for
    integer, floats for number. Raises ValueError."""
    kind = prop.get("type")
    if kind == "array":
        if not isinstance(value, list):
            raise ValueError(f"expected a list, got {value!r}")
        return [conform(prop.get("items", {}), item) for item in value]
    result = _typed(kind, value)
    if "enum" in prop and result not in prop["enum"]:
        raise ValueError(f"{value!r} is not one of the options {prop['enum']!r}")
    if kind in ("integer", "number"):
        _check_bounds(prop, result)
    return result


def _typed(kind: Any, value: Any) -> Any:
    if kind not in ("boolean", "string", "integer", "number"):
        return value  # a schema without a type takes any value
    # bool is an int in Python, but never a number for the algorithm (and no number is a bool).
    if kind == "boolean" or isinstance(value, bool):
        if kind != "boolean" or not isinstance(value, bool):
            raise ValueError(f"expected {kind}, got {value!r}")
        return value
    if kind == "string":
        if not isinstance(value, str):
            raise ValueError(f"expected a string, got {value!r}")
        return value
    if not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {value!r}")
    return _integral(value, "the value") if kind == "integer" else float(value)


def _check_bounds(prop: dict[str, Any], value: float) -> None:
    if "minimum" in prop and prop["minimum"] is not None and value < prop["minimum"]:
        raise ValueError(f"{value} is below the minimum {prop['minimum']}")
    if "maximum" in prop and prop["maximum"] is not None and value > prop["maximum"]:
        raise ValueError(f"{value} is above the maximum {prop['maximum']}")
    if "exclusiveMinimum" in prop and value <= prop["exclusiveMinimum"]:
        raise ValueError(f"{value} must be greater than {prop['exclusiveMinimum']}")
    if "exclusiveMaximum" in prop and value >= prop["exclusiveMaximum"]:
        raise ValueError(f"{value} must be less than {prop['exclusiveMaximum']}")
