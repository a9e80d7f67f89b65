"""check_spec: kind shapes, the algorithm's parameter schema (types, enums, bounds), normalisation."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError
from stratus.campaigns import ChoiceSpec, OptimizerSpec, RangeSpec, ValuesSpec, check_spec
from stratus.errors import InvalidInputError

OBJECTIVES = [{"name": "loss"}]


def spec(kind: str, **fields: Any) -> OptimizerSpec:
    return OptimizerSpec.model_validate({"kind": kind, "objectives": OBJECTIVES, "budget": 10, **fields})


def test_check_spec_marks_integer_ranges_and_the_mark_survives_storage(schema: dict[str, Any]) -> None:
    checked = check_spec(spec("random", search_space={"n": {"low": 2, "high": 50.0, "step": 2}}), schema)

    stored = OptimizerSpec.model_validate_json(checked.model_dump_json())
    parameter = stored.search_space["n"]
    assert isinstance(parameter, RangeSpec)
    assert (parameter.low, parameter.high, parameter.step, parameter.integer) == (2, 50, 2, True)
    floats = check_spec(spec("random", search_space={"x": {"low": 0, "high": 1}}), schema)
    assert floats.search_space["x"] == RangeSpec(low=0, high=1, integer=False)


def test_check_spec_makes_number_choices_floats_and_integer_values_ints(schema: dict[str, Any]) -> None:
    checked = check_spec(
        spec("grid", search_space={"scale": {"values": [1, 2.5]}, "n": {"values": [3.0]}}), schema
    )

    assert checked.search_space["scale"] == ValuesSpec(values=[1.0, 2.5])
    assert checked.search_space["n"].values == [3]  # type: ignore[union-attr]
    assert isinstance(checked.search_space["n"].values[0], int)  # type: ignore[union-attr]


def test_check_spec_caps_budget_to_the_grid(schema: dict[str, Any]) -> None:
    grid = spec(
        "grid", budget=1000, search_space={"mode": {"values": ["fast", "slow"]}, "n": {"values": [1, 2, 3]}}
    )

    assert check_spec(grid, schema).budget == 6


def test_check_spec_caps_budget_to_the_table(schema: dict[str, Any]) -> None:
    table = spec("table", budget=50, rows=[{"n": 1}, {"n": 2}])

    assert check_spec(table, schema).budget == 2


def test_check_spec_fixes_a_seed_when_none_is_given(schema: dict[str, Any]) -> None:
    checked = check_spec(spec("random", search_space={"x": {"low": 0, "high": 1}}), schema)

    assert checked.seed is not None
    assert check_spec(checked, schema).seed == checked.seed


def test_check_spec_keeps_the_schema_types_of_table_rows(schema: dict[str, Any]) -> None:
    table = spec("table", rows=[{"n": 2.0, "scale": 3, "mode": "007", "flag": True, "sizes": [1, 2.0]}])

    (row,) = check_spec(table, schema).rows

    assert row == {"n": 2, "scale": 3.0, "mode": "007", "flag": True, "sizes": [1, 2]}
    assert isinstance(row["n"], int) and isinstance(row["scale"], float) and isinstance(row["sizes"][1], int)


@pytest.mark.parametrize(
    ("name", "parameter", "fragment"),
    [
        ("zz", {"low": 0, "high": 1}, "no parameter 'zz'"),
        ("x", {"low": -6, "high": 1}, "below the minimum -5"),
        ("y", {"low": 1, "high": 16}, "above the maximum 15"),
        ("n", {"low": 1.5, "high": 9}, "whole number"),
        ("n", {"low": 1, "high": 9, "step": 0.5}, "step must be a whole number"),
        ("mode", {"low": 0, "high": 1}, "use `choices`"),
        ("label", {"low": 0, "high": 1}, "numeric"),
        ("mode", {"choices": ["fast", "quick"]}, "'quick' is not one of the options"),
        ("level", {"choices": [1, 3]}, "options [1, 2, 4]"),
        ("flag", {"choices": [True, 1]}, "expected boolean"),
        ("label", {"choices": ["a", 2]}, "expected a string"),
        ("n", {"choices": [1, 1.0]}, "twice"),
    ],
)
def test_check_spec_names_the_parameter_of_a_refusal(
    schema: dict[str, Any], name: str, parameter: dict[str, Any], fragment: str
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        check_spec(spec("random", search_space={name: parameter}), schema)

    assert caught.value.detail.startswith(f"search_space.{name}")
    assert fragment in caught.value.detail


def test_check_spec_names_the_parameter_of_a_refused_grid_value(schema: dict[str, Any]) -> None:
    with pytest.raises(InvalidInputError, match=r"^search_space.scale \(float\): expected a finite number"):
        check_spec(spec("grid", search_space={"scale": {"values": ["big"]}}), schema)


@pytest.mark.parametrize(
    ("rows", "fragments"),
    [
        ([{"n": 1}, {"n": 0}], ["rows[1]", "CSV line 3", "'n'", "below the minimum 1"]),
        ([{"n": 1, "what": 2}], ["rows[0]", "no parameter 'what'"]),
        ([{"sizes": [1, "a"]}], ["rows[0]", "'sizes'", "finite number"]),
    ],
)
def test_check_spec_names_the_row_and_parameter_of_a_refused_row(
    schema: dict[str, Any], rows: list[dict[str, Any]], fragments: list[str]
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        check_spec(spec("table", rows=rows), schema)

    for fragment in fragments:
        assert fragment in caught.value.detail


UNIT = {"x": {"low": 0, "high": 1}}


@pytest.mark.parametrize(
    ("kind", "fields", "fragment"),
    [
        ("grid", {"search_space": {"x": {"low": 0, "high": 1}}}, "search_space.x: a grid campaign takes"),
        ("random", {"search_space": {"x": {"values": [1.0]}}}, "search_space.x: a random campaign takes"),
        ("bayesian", {}, "needs a `search_space`"),
        ("bayesian", {"search_space": {"x": {"low": 0, "high": 1}}, "rows": [{"x": 1}]}, "`rows` belong"),
        ("table", {}, "needs `rows`"),
        ("table", {"rows": [{"x": 1}], "search_space": {"x": {"low": 0, "high": 1}}}, "not `search_space`"),
        (
            "bayesian",
            {"search_space": {"x": {"low": 0, "high": 1}}, "optimizer": "cma"},
            "unknown optimizer 'cma'",
        ),
        (
            "bayesian",
            {"search_space": {"x": {"low": 0, "high": 1}}, "optimizer_options": {"n_startup": 3}},
            "optimizer_options of 'gp': n_startup",
        ),
        (
            "bayesian",
            {
                "search_space": {"x": {"low": 0, "high": 1}},
                "optimizer": "tpe",
                "optimizer_options": {"multivariate": 3},
            },
            "optimizer_options of 'tpe': multivariate",
        ),
        ("grid", {"search_space": {"x": {"values": [1.0]}}, "optimizer_options": {"a": 1}}, "bayesian' only"),
        (
            "random",
            {"search_space": {"loss": {"low": 0, "high": 1}}},
            "objective 'loss' has the name of a parameter",
        ),
        ("random", {"search_space": UNIT, "objectives": [{"name": "status"}]}, "or a history column"),
    ],
)
def test_check_spec_refuses_a_shape_that_does_not_fit_the_kind(
    schema: dict[str, Any], kind: str, fields: dict[str, Any], fragment: str
) -> None:
    schema["properties"]["loss"] = {"type": "number"}

    with pytest.raises(InvalidInputError, match=fragment.replace("[", r"\[").replace("(", r"\(")):
        check_spec(spec(kind, **fields), schema)


def test_check_spec_refuses_a_grid_over_its_size_limit(schema: dict[str, Any]) -> None:
    many = {"values": list(range(1, 101))}
    grid = spec(
        "grid",
        search_space={"n": many, "level": {"values": [1, 2, 4]}, "sizes": {"values": list(range(400))}},
    )

    with pytest.raises(InvalidInputError, match="120000 points"):
        check_spec(grid, schema)


def test_check_spec_honours_exclusive_bounds() -> None:
    schema = {"properties": {"rate": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1}}}

    with pytest.raises(InvalidInputError, match=r"search_space.rate .*greater than 0"):
        check_spec(spec("random", search_space={"rate": {"low": 0, "high": 0.5}}), schema)


@pytest.mark.parametrize(
    ("parameter", "fragment"),
    [
        ({"low": 2, "high": 1}, "less than high"),
        ({"low": 0, "high": 1, "log": True}, "log-scaled range needs low > 0"),
        ({"low": 1, "high": 10, "log": True, "step": 1}, "not both"),
        ({"low": 0, "high": 1, "step": 0.3}, "not a multiple of step"),
        ({"choices": []}, "at least 1"),
        ({"choices": ["a", "a"]}, "twice"),
        ({"values": [1, 2], "low": 0}, "Extra inputs"),
        ({"low": 0.5, "high": 3, "integer": True}, "whole low, high and step"),
    ],
)
def test_parameter_specs_refuse_malformed_ranges_and_lists(parameter: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment):
        spec("random", search_space={"x": parameter})


def test_optimizer_spec_refuses_duplicate_objectives() -> None:
    with pytest.raises(ValidationError, match="unique"):
        OptimizerSpec(kind="random", objectives=[{"name": "a"}, {"name": "a"}], budget=1)  # type: ignore[list-item]


def test_parameter_spec_union_keeps_choice_types() -> None:
    parsed = spec("random", search_space={"x": {"choices": [True, 1, 1.5, "1"]}})

    assert parsed.search_space["x"] == ChoiceSpec(choices=[True, 1, 1.5, "1"])
    assert [type(c) for c in parsed.search_space["x"].choices] == [bool, int, float, str]  # type: ignore[union-attr]
