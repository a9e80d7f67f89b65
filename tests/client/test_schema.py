"""The local parameter check and `-p NAME=VALUE` parsing (stratus_client.schema)."""

from __future__ import annotations

import pytest
from stratus_client.errors import InvalidInputError
from stratus_client.schema import check_parameters, parse_assignments

# The shape the API emits for threshold-like parameters (stratus.algorithms.config.parameter_schema).
SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "operation": {"type": "string", "enum": ["threshold", "normalize"], "default": "threshold"},
        "threshold": {"type": "number", "default": 0.5},
        "iterations": {"type": "integer", "minimum": 1, "maximum": 10},
        "sizes": {"type": "array", "items": {"type": "integer"}},
        "invert": {"type": "boolean"},
        "label": {"type": "string"},
    },
}


def test_check_parameters_accepts_valid_values() -> None:
    values = {"operation": "normalize", "threshold": 1, "iterations": 10, "sizes": [1, 2], "invert": False}

    check_parameters(SCHEMA, values)


@pytest.mark.parametrize(
    ("values", "parameter", "fragment"),
    [
        ({"threshold": "high"}, "threshold", "expected number"),
        ({"threshold": True}, "threshold", "expected number"),
        ({"iterations": 2.0}, "iterations", "expected integer"),
        ({"iterations": 0}, "iterations", "at least 1"),
        ({"iterations": 11}, "iterations", "at most 10"),
        ({"operation": "blur"}, "operation", "not one of"),
        ({"sizes": [1, "2"]}, "sizes", "item 1"),
        ({"invert": "yes"}, "invert", "expected boolean"),
        ({"bogus": 1}, "bogus", "unknown parameter"),
    ],
)
def test_check_parameters_names_the_bad_parameter(values: dict, parameter: str, fragment: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        check_parameters(SCHEMA, values)

    assert raised.value.parameter == parameter
    assert fragment in raised.value.detail
    assert raised.value.status is None  # refused here, never sent


def test_check_parameters_requires_required_ones() -> None:
    schema = {**SCHEMA, "required": ["label"]}

    with pytest.raises(InvalidInputError, match="'label' is required"):
        check_parameters(schema, {})


def test_check_parameters_allows_unknown_names_when_the_schema_does() -> None:
    check_parameters({"properties": {}}, {"anything": 1})


def test_parse_assignments_types_values_by_the_schema() -> None:
    raw = ["operation=normalize", "threshold=0.25", "iterations=3", "sizes=1,2", "invert=yes", "label=007"]

    values = parse_assignments(raw, SCHEMA)

    assert values == {
        "operation": "normalize",
        "threshold": 0.25,
        "iterations": 3,
        "sizes": [1, 2],
        "invert": True,
        "label": "007",
    }


def test_parse_assignments_reads_json_without_a_schema() -> None:
    values = parse_assignments(["a=0.5", "b=[1, 2]", "c=text", "d=true"])

    assert values == {"a": 0.5, "b": [1, 2], "c": "text", "d": True}


def test_parse_assignments_refuses_a_pair_without_equals() -> None:
    with pytest.raises(InvalidInputError, match="NAME=VALUE"):
        parse_assignments(["threshold"])
