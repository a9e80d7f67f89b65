"""`-p name=value` on the command line: each value read as its parameter's declared type, then checked by
the server's own rule (stratus.algorithms.validate_parameters)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from stratus.algorithms import validate_parameters
from stratus.algorithms.config import split_type
from stratus.errors import InvalidInputError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from stratus.algorithms import AdditionalParameter

# The label the API's execute route gives these parameters in its errors (services.jobs.plan_job).
LABEL = "additional parameter"
_BOOLEANS = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}


def parse_assignments(
    parameters: Sequence[AdditionalParameter], assignments: Sequence[str]
) -> dict[str, Any]:
    """`name=value` texts as the parameters' values, defaults filled in, as the server would accept them.

    Raises InvalidInputError (no `=`, a value that is not of the declared type, an unknown name, a value
    out of range or not among the options).
    """
    by_name = {parameter.name: parameter for parameter in parameters}
    values: dict[str, Any] = {}
    for assignment in assignments:
        name, equals, text = assignment.partition("=")
        if not equals or not name:
            raise InvalidInputError(f"parameter {assignment!r} is not name=value")
        parameter = by_name.get(name)
        # An unknown name keeps its text: validate_parameters refuses it as the API does, listing the known.
        values[name] = text if parameter is None else _read(parameter, text)
    return validate_parameters(parameters, values, LABEL)


def _read(parameter: AdditionalParameter, text: str) -> Any:
    kind, shape = split_type(parameter.config.type)
    try:
        if shape == "list":
            items = json.loads(text) if text.lstrip().startswith("[") else [i for i in text.split(",") if i]
            return [_scalar(kind, item) if isinstance(item, str) else item for item in items]
        return _scalar(kind, text)
    except ValueError as exc:
        raise InvalidInputError(f"{LABEL} {parameter.name!r} ({parameter.config.type}): {exc}") from exc


def _scalar(kind: str, text: str) -> Any:
    text = text.strip() if kind != "string" else text
    if kind == "int":
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"{text!r} is not an integer") from None
    if kind == "float":
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a number") from None
    if kind == "bool":
        if text.lower() not in _BOOLEANS:
            raise ValueError(f"{text!r} is not true or false")
        return _BOOLEANS[text.lower()]
    return text
