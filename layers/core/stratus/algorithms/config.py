"""The pyproject.toml of a Compox package: `[project]` and `[tool.compox]`, and its typed parameters."""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from stratus.errors import InvalidInputError

# Compox splits `version` on dots and takes the first two parts; anything shorter crashes its deployer.
VERSION_PATTERN = r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(\..*)?$"
# The name goes into `/algorithm/{name}/{major}` paths and S3 keys, so no slashes or spaces.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
# How many pydantic errors one InvalidInputError message spells out.
MAX_REPORTED_ERRORS = 5

ParameterType = Literal[
    "string",
    "int",
    "float",
    "bool",
    "int_range",
    "float_range",
    "string_enum",
    "int_enum",
    "float_enum",
    "string_list",
    "int_list",
    "float_list",
    "bool_list",
]
Kind = Literal["string", "int", "float", "bool"]
Shape = Literal["scalar", "range", "enum", "list"]
AlgorithmType = Literal[
    "Image2Alignment",
    "Image2Image",
    "Image2Segmentation",
    "Image2MultiRegionSegmentation",
    "Image2Embedding",
    "Segmentation2Segmentation",
    "Generic",
    "Undefined",
]
Device = Literal["cpu", "gpu", "mps"]

_JSON_TYPES: dict[Kind, str] = {"string": "string", "int": "integer", "float": "number", "bool": "boolean"}


def split_type(parameter_type: str) -> tuple[Kind, Shape]:
    """`float_range` → ("float", "range"); a bare kind is a scalar."""
    kind, _, shape = parameter_type.partition("_")
    return kind, (shape or "scalar")  # type: ignore[return-value]


def _is_kind(value: Any, kind: Kind) -> bool:
    # bool is an int in Python; a parameter typed int or float never takes true/false.
    if kind == "bool":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if kind == "string":
        return isinstance(value, str)
    if kind == "int":
        return isinstance(value, int)
    return isinstance(value, int | float) and math.isfinite(value)


def _scalar(value: Any, kind: Kind) -> Any:
    if not _is_kind(value, kind):
        raise ValueError(f"expected {_JSON_TYPES[kind]}, got {type(value).__name__} {value!r}")
    return float(value) if kind == "float" else value


def _conform_list(config: ParameterConfig, kind: Kind, value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError(f"expected a list of {_JSON_TYPES[kind]}, got {type(value).__name__}")
    items = [_scalar(item, kind) for item in value]
    if config.options and all(isinstance(option, list) for option in config.options):
        if items not in config.options:
            raise ValueError(f"{items!r} is not one of the options {config.options!r}")
    elif config.options:
        strays = [item for item in items if item not in config.options]
        if strays:
            raise ValueError(f"{strays!r} not among the options {config.options!r}")
    return items


def conform_value(config: ParameterConfig, value: Any) -> Any:
    """Check one value against a parameter's config and return it normalised. Raises ValueError."""
    kind, shape = split_type(config.type)
    if shape == "list":
        return _conform_list(config, kind, value)
    result = _scalar(value, kind)
    if shape == "range" and config.min is not None and config.max is not None:
        if result < config.min:
            raise ValueError(f"must be at least {config.min}, got {result}")
        if result > config.max:
            raise ValueError(f"must be at most {config.max}, got {result}")
    if shape == "enum" and result not in config.options:
        raise ValueError(f"{result!r} is not one of the options {config.options!r}")
    return result


class ParameterConfig(BaseModel):
    """The typed `config` of one parameter; field order matters: each check sees the fields above it."""

    model_config = ConfigDict(extra="forbid")

    type: ParameterType
    adjustable: bool = False
    options: list[Any] = Field(default_factory=list)
    # validate_default: the checks below must also run when a field is left out (a range without step).
    min: Any = Field(default=None, validate_default=True)
    max: Any = Field(default=None, validate_default=True)
    step: Any = Field(default=None, validate_default=True)
    decimal_precision: int | None = Field(default=None, ge=0)
    default: Any = Field(default=None, validate_default=True)

    @field_validator("options")
    @classmethod
    def _check_options(cls, options: list[Any], info: ValidationInfo) -> list[Any]:
        if "type" not in info.data:
            return options
        kind, shape = split_type(info.data["type"])
        if shape == "enum":
            if not options:
                raise ValueError(f"an {info.data['type']} parameter needs at least one option")
            return [_scalar(option, kind) for option in options]
        if shape == "list":
            # Compox's own check wants each option to be a list (preset values); plain items also make sense.
            return [
                [_scalar(item, kind) for item in option]
                if isinstance(option, list)
                else _scalar(option, kind)
                for option in options
            ]
        return options

    @field_validator("min", "max", "step")
    @classmethod
    def _check_bounds(cls, bound: Any, info: ValidationInfo) -> Any:
        if "type" not in info.data:
            return bound
        kind, shape = split_type(info.data["type"])
        if shape != "range":
            return bound
        if bound is None:
            raise ValueError(f"a {info.data['type']} parameter needs min, max and step")
        bound = _scalar(bound, kind)
        if info.field_name == "max" and info.data.get("min") is not None and bound <= info.data["min"]:
            raise ValueError(f"max ({bound}) must be greater than min ({info.data['min']})")
        if info.field_name == "step" and bound <= 0:
            raise ValueError(f"step must be positive, got {bound}")
        return bound

    @field_validator("decimal_precision")
    @classmethod
    def _check_precision(cls, precision: int | None, info: ValidationInfo) -> int | None:
        if precision is not None and "type" in info.data and split_type(info.data["type"])[0] != "float":
            raise ValueError("decimal_precision applies to float parameters only")
        return precision

    @field_validator("default")
    @classmethod
    def _check_default(cls, default: Any, info: ValidationInfo) -> Any:
        needed = ("type", "options", "min", "max", "step")
        if not all(name in info.data for name in needed):
            return default  # an earlier field failed; its error is the one to report
        config = cls.model_construct(**{name: info.data[name] for name in needed})
        if default is None:
            # As Compox: an enum without a default takes its first option.
            return config.options[0] if split_type(config.type)[1] == "enum" else None
        return conform_value(config, default)


class AdditionalParameter(BaseModel):
    """One entry of `additional_parameters` (also `training_parameters`, `benchmark_outputs`)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    displayed_name: str = ""
    description: str = ""
    config: ParameterConfig

    @model_validator(mode="after")
    def _derive_displayed_name(self) -> AdditionalParameter:
        if not self.displayed_name:
            # Compox's rule: underscores and dashes become spaces, first letter upper-cased.
            words = re.sub(r"\s+", " ", self.name.replace("_", " ").replace("-", " ")).strip()
            self.displayed_name = (words[:1].upper() + words[1:]) if words else self.name
        return self


def _cpu_only() -> list[Device]:
    return ["cpu"]


class AlgorithmConfig(BaseModel):
    """`[tool.compox]`; unknown keys are rejected so a typo is not silently a default."""

    model_config = ConfigDict(extra="forbid", strict=True)

    algorithm_type: AlgorithmType = "Undefined"
    tags: list[str] = Field(default_factory=list)
    description: str = ""
    supported_devices: list[Device] = Field(default_factory=_cpu_only)
    default_device: Literal["cpu", "gpu", "mps", ""] = "cpu"
    additional_parameters: list[AdditionalParameter] = Field(default_factory=list)
    training_parameters: list[AdditionalParameter] = Field(default_factory=list)
    benchmark_outputs: list[AdditionalParameter] = Field(default_factory=list)
    removable: bool = False
    exportable: bool = True
    # Compox deploy-time switches; accepted so unmodified packages parse, without effect here.
    check_importable: bool = False
    obfuscate: bool = True
    pyc_only: bool = True
    hash_module: bool | None = None
    hash_assets: bool | None = None

    @field_validator("default_device")
    @classmethod
    def _check_default_device(cls, device: str, info: ValidationInfo) -> str:
        supported = info.data.get("supported_devices")
        if supported is not None and device not in supported:
            raise ValueError(f"default device {device!r} is not in supported_devices {supported}")
        return device

    @field_validator("additional_parameters", "training_parameters", "benchmark_outputs")
    @classmethod
    def _check_unique_names(cls, parameters: list[AdditionalParameter]) -> list[AdditionalParameter]:
        seen: set[str] = set()
        for parameter in parameters:
            if parameter.name in seen:
                raise ValueError(f"parameter name {parameter.name!r} is used twice")
            seen.add(parameter.name)
        return parameters


class ProjectMetadata(BaseModel):
    """`[project]`; other PEP 621 keys (dependencies, authors, …) are allowed and kept."""

    model_config = ConfigDict(extra="allow", strict=True)

    name: str = Field(pattern=NAME_PATTERN)
    version: str = Field(pattern=VERSION_PATTERN)

    @property
    def major_version(self) -> int:
        return int(self.version.split(".")[0])

    @property
    def minor_version(self) -> int:
        return int(self.version.split(".")[1])


class ToolTable(BaseModel):
    """`[tool]`: only `compox` is ours; other tools' tables pass through."""

    model_config = ConfigDict(extra="allow")

    compox: AlgorithmConfig = Field(default_factory=AlgorithmConfig)


class PyProject(BaseModel):
    """A package's pyproject.toml; tables other than `project` and `tool` (build-system, …) pass through."""

    model_config = ConfigDict(extra="allow")

    project: ProjectMetadata
    tool: ToolTable = Field(default_factory=ToolTable)


def format_location(location: Sequence[int | str]) -> str:
    """('tool', 'compox', 'additional_parameters', 1, 'name') → `tool.compox.additional_parameters[1].name`"""
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def describe_validation_error(exc: ValidationError) -> str:
    """One human line per pydantic error, each naming the field it is about."""
    lines = []
    for error in exc.errors()[:MAX_REPORTED_ERRORS]:
        message = error["msg"].removeprefix("Value error, ")
        lines.append(f"{format_location(error['loc'])}: {message}")
    extra = len(exc.errors()) - MAX_REPORTED_ERRORS
    return "; ".join(lines) + (f"; and {extra} more" if extra > 0 else "")


def parse_pyproject(data: bytes) -> PyProject:
    """Parse and validate pyproject.toml bytes. Raises InvalidInputError naming the bad field."""
    try:
        document = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InvalidInputError(f"pyproject.toml is not valid TOML: {exc}") from exc
    try:
        return PyProject.model_validate(document)
    except ValidationError as exc:
        raise InvalidInputError(f"pyproject.toml: {describe_validation_error(exc)}") from exc


def validate_parameters(
    parameters: Sequence[AdditionalParameter], values: Mapping[str, Any], label: str = "additional parameter"
) -> dict[str, Any]:
    """Check client-supplied values against the schema (``label`` names them in errors); fill defaults.

    Raises InvalidInputError.
    """
    by_name = {parameter.name: parameter for parameter in parameters}
    unknown = sorted(set(values) - set(by_name))
    if unknown:
        raise InvalidInputError(f"unknown {label} {', '.join(map(repr, unknown))}; known: {sorted(by_name)}")
    result: dict[str, Any] = {}
    for name, parameter in by_name.items():
        if name not in values:
            if parameter.config.default is not None:
                result[name] = parameter.config.default
            continue
        try:
            result[name] = conform_value(parameter.config, values[name])
        except ValueError as exc:
            raise InvalidInputError(f"{label} {name!r} ({parameter.config.type}): {exc}") from exc
    return result


def _property_schema(parameter: AdditionalParameter) -> dict[str, Any]:
    config = parameter.config
    kind, shape = split_type(config.type)
    schema: dict[str, Any] = {"title": parameter.displayed_name, "description": parameter.description}
    if shape == "list":
        schema |= {"type": "array", "items": {"type": _JSON_TYPES[kind]}}
    else:
        schema["type"] = _JSON_TYPES[kind]
    if shape == "range":
        schema |= {"minimum": config.min, "maximum": config.max, "x-step": config.step}
    if shape == "enum":
        schema["enum"] = config.options
    if shape == "list" and config.options:
        schema["x-options"] = config.options
    if config.default is not None:
        schema["default"] = config.default
    if config.decimal_precision is not None:
        schema["x-decimal-precision"] = config.decimal_precision
    return schema | {"x-compox-type": config.type, "x-adjustable": config.adjustable}


def parameter_schema(parameters: Sequence[AdditionalParameter]) -> dict[str, Any]:
    """A JSON-Schema object describing the parameters, with Compox's extras under `x-` keys."""
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {parameter.name: _property_schema(parameter) for parameter in parameters},
    }
