"""An algorithm's parameter schema as the API stores it, built from a real pyproject."""

from __future__ import annotations

from typing import Any

import pytest
from stratus.algorithms import parameter_schema, parse_pyproject

PYPROJECT = """
[project]
name = "algo"
version = "1.0"
[tool.compox]
additional_parameters = [
  { name = "x", config = { type = "float_range", min = -5.0, max = 10.0, step = 0.1 } },
  { name = "y", config = { type = "float_range", min = 0.0, max = 15.0, step = 0.1 } },
  { name = "n", config = { type = "int_range", min = 1, max = 100, step = 1 } },
  { name = "mode", config = { type = "string_enum", options = ["fast", "slow", "007"] } },
  { name = "level", config = { type = "int_enum", options = [1, 2, 4] } },
  { name = "flag", config = { type = "bool", default = false } },
  { name = "label", config = { type = "string" } },
  { name = "scale", config = { type = "float" } },
  { name = "sizes", config = { type = "int_list" } },
]
"""


@pytest.fixture
def schema() -> dict[str, Any]:
    config = parse_pyproject(PYPROJECT.encode()).tool.compox
    return parameter_schema(config.additional_parameters)
