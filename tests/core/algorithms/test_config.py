"""pyproject parsing and parameter validation: Compox's config types, field-naming errors, defaults."""

from __future__ import annotations

from typing import Any

import pytest
from stratus.algorithms import AdditionalParameter, parameter_schema, parse_pyproject, validate_parameters
from stratus.errors import InvalidInputError

HEAD = '[project]\nname = "algo"\nversion = "1.2.3"\n[tool.compox]\n'


def parameters(*configs: str) -> list[AdditionalParameter]:
    body = ",\n".join(
        f'{{ name = "p{i}", description = "d", config = {{ {c} }} }}' for i, c in enumerate(configs)
    )
    pyproject = parse_pyproject(f"{HEAD}additional_parameters = [\n{body}\n]".encode())
    return pyproject.tool.compox.additional_parameters


def test_parse_pyproject_reads_project_and_compox_tables() -> None:
    pyproject = parse_pyproject((HEAD + 'algorithm_type = "Image2Image"\ntags = ["a"]\n').encode())

    assert (pyproject.project.name, pyproject.project.major_version, pyproject.project.minor_version) == (
        "algo",
        1,
        2,
    )
    assert pyproject.tool.compox.algorithm_type == "Image2Image"
    assert pyproject.tool.compox.supported_devices == ["cpu"]
    assert pyproject.tool.compox.exportable is True
    assert pyproject.tool.compox.removable is False


def test_parse_pyproject_defaults_compox_table_when_missing() -> None:
    pyproject = parse_pyproject(b'[project]\nname = "algo"\nversion = "0.1"\n')

    assert pyproject.tool.compox.algorithm_type == "Undefined"


def test_parse_pyproject_derives_displayed_name() -> None:
    (parameter,) = parameters('type = "bool", default = true')

    assert parameter.displayed_name == "P0"


def test_parse_pyproject_enum_without_default_takes_first_option() -> None:
    (parameter,) = parameters('type = "int_enum", options = [3, 5]')

    assert parameter.config.default == 3


@pytest.mark.parametrize(
    ("toml", "fragment"),
    [
        ('[project]\nname = "algo"\nversion = "1"\n', "project.version"),
        ('[project]\nname = "a/b"\nversion = "1.0"\n', "project.name"),
        ('[project]\nversion = "1.0"\n', "project.name"),
        (HEAD + 'suported_devices = ["cpu"]\n', "tool.compox.suported_devices"),
        (HEAD + 'default_device = "gpu"\n', "tool.compox.default_device"),
        (HEAD + 'algorithm_type = "Magic"\n', "tool.compox.algorithm_type"),
        (HEAD + 'removable = "yes"\n', "tool.compox.removable"),
        ("[project\n", "not valid TOML"),
    ],
)
def test_parse_pyproject_names_the_bad_field(toml: str, fragment: str) -> None:
    with pytest.raises(InvalidInputError, match=fragment.replace(".", r"\.").replace("[", r"\[")):
        parse_pyproject(toml.encode())


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ('type = "float_range", default = 5.0, min = 1.0, max = 0.5, step = 0.1', "config.max"),
        ('type = "float_range", default = 5.0, min = 0.0, max = 1.0, step = 0.1', "config.default"),
        ('type = "int_range", default = 1, min = 0, max = 4', "config.step"),
        ('type = "int_range", default = 1, min = 0.5, max = 4, step = 1', "config.min"),
        ('type = "string_enum", default = "c", options = ["a", "b"]', "config.default"),
        ('type = "string_enum", options = []', "config.options"),
        ('type = "bool", default = 1', "config.default"),
        ('type = "int", default = 1, decimal_precision = 2', "config.decimal_precision"),
        ('type = "matrix"', "config.type"),
        ('type = "string", colour = "red"', "config.colour"),
    ],
)
def test_parse_pyproject_names_the_bad_parameter_field(config: str, field: str) -> None:
    body = f'{{ name = "ok", config = {{ type = "bool" }} }}, {{ name = "bad", config = {{ {config} }} }}'

    with pytest.raises(InvalidInputError, match=rf"tool\.compox\.additional_parameters\[1\]\.{field}"):
        parse_pyproject(f"{HEAD}additional_parameters = [{body}]".encode())


def test_parse_pyproject_rejects_duplicate_parameter_names() -> None:
    body = '{ name = "x", config = { type = "bool" } }, { name = "x", config = { type = "bool" } }'

    with pytest.raises(InvalidInputError, match="'x' is used twice"):
        parse_pyproject(f"{HEAD}additional_parameters = [{body}]".encode())


@pytest.mark.parametrize(
    ("config", "value", "expected"),
    [
        ('type = "string", default = "a"', "b", "b"),
        ('type = "int", default = 1', 7, 7),
        ('type = "float", default = 1.0', 2, 2.0),
        ('type = "bool", default = false', True, True),
        ('type = "int_range", default = 1, min = 0, max = 4, step = 1', 4, 4),
        ('type = "float_range", default = 0.5, min = 0, max = 1, step = 0.1', 0.25, 0.25),
        ('type = "string_enum", options = ["a", "b"]', "b", "b"),
        ('type = "int_enum", options = [1, 2]', 2, 2),
        ('type = "float_enum", options = [0.5, 1.5]', 1.5, 1.5),
        ('type = "string_list", default = ["a"]', ["x", "y"], ["x", "y"]),
        ('type = "int_list", default = [1], options = [1, 2, 3]', [3, 1], [3, 1]),
        ('type = "float_list", default = []', [1, 2.5], [1.0, 2.5]),
        ('type = "bool_list", default = [true]', [False], [False]),
    ],
)
def test_validate_parameters_accepts_each_config_type(config: str, value: Any, expected: Any) -> None:
    schema = parameters(config)

    assert validate_parameters(schema, {"p0": value}) == {"p0": expected}


@pytest.mark.parametrize(
    ("config", "value", "fragment"),
    [
        ('type = "string", default = "a"', 3, "expected string"),
        ('type = "int", default = 1', 1.5, "expected integer"),
        ('type = "int", default = 1', True, "expected integer"),
        ('type = "float", default = 1.0', "1.0", "expected number"),
        ('type = "bool", default = false', 0, "expected boolean"),
        ('type = "int_range", default = 1, min = 0, max = 4, step = 1', 5, "at most 4"),
        ('type = "float_range", default = 0.5, min = 0, max = 1, step = 0.1', -0.1, "at least 0"),
        ('type = "string_enum", options = ["a", "b"]', "c", "not one of the options"),
        ('type = "int_list", default = [1], options = [1, 2, 3]', [4], "not among the options"),
        ('type = "string_list", default = ["a"]', "a", "expected a list"),
    ],
)
def test_validate_parameters_rejects_bad_values_naming_the_parameter(
    config: str, value: Any, fragment: str
) -> None:
    schema = parameters(config)

    with pytest.raises(InvalidInputError, match=rf"'p0'.*{fragment}"):
        validate_parameters(schema, {"p0": value})


def test_validate_parameters_rejects_unknown_names() -> None:
    schema = parameters('type = "bool", default = true')

    with pytest.raises(InvalidInputError, match="unknown additional parameter 'sigma'"):
        validate_parameters(schema, {"sigma": 1.0})


def test_validate_parameters_fills_missing_with_defaults() -> None:
    schema = parameters(
        'type = "float", default = 1.5', 'type = "string_enum", options = ["a", "b"]', 'type = "int"'
    )

    assert validate_parameters(schema, {}) == {"p0": 1.5, "p1": "a"}


def test_parameter_schema_describes_types_bounds_and_defaults() -> None:
    schema = parameters(
        'type = "float_range", default = 0.5, min = 0, max = 1, step = 0.1',
        'type = "string_enum", options = ["a"]',
    )

    document = parameter_schema(schema)

    assert document["additionalProperties"] is False
    assert document["properties"]["p0"] == {
        "title": "P0",
        "description": "d",
        "type": "number",
        "minimum": 0.0,
        "maximum": 1.0,
        "x-step": 0.1,
        "default": 0.5,
        "x-compox-type": "float_range",
        "x-adjustable": False,
    }
    assert document["properties"]["p1"]["enum"] == ["a"]
