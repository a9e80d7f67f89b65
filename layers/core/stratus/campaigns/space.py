"""What a campaign's optimizer works on: objectives, search spaces, the optimizer spec and observations."""

from __future__ import annotations

import itertools
import json
import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# A campaign runs each trial as a real job; a thousand is more than any sweep we expect, and keeps the
# stored trials, the optimizer's rebuild and the history file bounded.
MAX_TRIALS = 1000
MAX_TABLE_ROWS = MAX_TRIALS
# A grid may be larger than the budget (the budget then takes its first points); this bounds its walk.
MAX_GRID_POINTS = 100_000
MAX_SEARCHED_PARAMETERS = 32
MAX_CHOICES = 1000
MAX_OBJECTIVES = 3
# How close to a whole number of steps (high - low) / step must be, for floats that are not exact.
STEP_TOLERANCE = 1e-9
# The GP reaches Branin's optimum within 1.5% in 40 trials (10 seeds) where TPE stays 10-150% off.
DEFAULT_OPTIMIZER = "gp"

Scalar = str | int | float | bool
Kind = Literal["grid", "random", "table", "bayesian"]
TrialStatus = Literal["PENDING", "RUNNING", "COMPLETED", "FAILED"]


class Objective(BaseModel):
    """A KPI to optimise, by name, with its direction."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=128, description="A KPI name the algorithm reports")
    direction: Literal["minimize", "maximize"] = "minimize"


class RangeSpec(BaseModel):
    """A numeric interval, of whole numbers when `integer` (check_spec sets it for an integer parameter:
    the decision travels with the stored spec, where 2 and 2.0 read alike)."""

    model_config = ConfigDict(extra="forbid")

    low: float
    high: float
    log: bool = False
    step: float | None = Field(default=None, gt=0)
    integer: bool = Field(default=False, description="Whole numbers only; set for integer parameters")

    @model_validator(mode="after")
    def _check_interval(self) -> RangeSpec:
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            raise ValueError("low and high must be finite numbers")
        bounds = (self.low, self.high, self.step or 1.0)
        if self.integer and not all(float(bound).is_integer() for bound in bounds):
            raise ValueError(f"an integer range needs whole low, high and step, got {bounds}")
        if self.low >= self.high:
            raise ValueError(f"low ({self.low}) must be less than high ({self.high})")
        if self.log and self.step is not None:
            raise ValueError("a range is either log-scaled or stepped, not both")
        if self.log and self.low <= 0:
            raise ValueError(f"a log-scaled range needs low > 0, got {self.low}")
        if self.step is not None:
            steps = (self.high - self.low) / self.step
            if abs(steps - round(steps)) > STEP_TOLERANCE * max(1.0, steps):
                width = self.high - self.low
                raise ValueError(f"high - low ({width}) is not a multiple of step ({self.step})")
        return self


def _unique(items: list[Scalar], label: str) -> list[Scalar]:
    # 1 == 1.0 == True in Python; the JSON text tells them apart as a client does.
    seen: set[str] = set()
    for item in items:
        key = json.dumps(item)
        if key in seen:
            raise ValueError(f"{label} lists {item!r} twice")
        seen.add(key)
    return items


class ChoiceSpec(BaseModel):
    """Categorical values a random or Bayesian search picks from."""

    model_config = ConfigDict(extra="forbid")

    choices: list[Scalar] = Field(min_length=1, max_length=MAX_CHOICES)

    @field_validator("choices")
    @classmethod
    def _check_unique(cls, choices: list[Scalar]) -> list[Scalar]:
        return _unique(choices, "choices")


class ValuesSpec(BaseModel):
    """The grid points of one parameter, in the order the grid walks them."""

    model_config = ConfigDict(extra="forbid")

    values: list[Scalar] = Field(min_length=1, max_length=MAX_CHOICES)

    @field_validator("values")
    @classmethod
    def _check_unique(cls, values: list[Scalar]) -> list[Scalar]:
        return _unique(values, "values")


ParameterSpec = RangeSpec | ChoiceSpec | ValuesSpec
ParameterName = Annotated[str, Field(min_length=1, max_length=128)]


class OptimizerSpec(BaseModel):
    """What the optimizer needs; a campaign request embeds these fields."""

    model_config = ConfigDict(extra="forbid")

    kind: Kind
    search_space: dict[ParameterName, ParameterSpec] = Field(
        default_factory=dict, max_length=MAX_SEARCHED_PARAMETERS
    )
    rows: list[dict[ParameterName, Any]] = Field(default_factory=list, max_length=MAX_TABLE_ROWS)
    objectives: list[Objective] = Field(min_length=1, max_length=MAX_OBJECTIVES)
    optimizer: str = Field(
        default=DEFAULT_OPTIMIZER, description="kind bayesian: a name from GET …/campaigns/optimizers"
    )
    optimizer_options: dict[str, Any] = Field(default_factory=dict)
    budget: int = Field(ge=1, le=MAX_TRIALS, description="Trials to run; grid/table: at most their size")
    seed: int | None = Field(default=None, ge=0, le=2**32 - 1)

    @field_validator("objectives")
    @classmethod
    def _check_unique_objectives(cls, objectives: list[Objective]) -> list[Objective]:
        names = [objective.name for objective in objectives]
        if len(set(names)) != len(names):
            raise ValueError(f"objective names must be unique, got {names}")
        return objectives

    @property
    def parameter_names(self) -> list[str]:
        """The parameters a trial sets: the search space's, or every key of the table's rows."""
        if self.kind == "table":
            return list(dict.fromkeys(name for row in self.rows for name in row))
        return list(self.search_space)


class Observation(BaseModel):
    """One trial as the optimizer sees it."""

    model_config = ConfigDict(extra="forbid")

    parameters: dict[str, Any]
    values: list[float] | None = Field(default=None, description="In `objectives` order; when COMPLETED")
    status: TrialStatus
    warm_start: bool = Field(default=False, description="From existing data: informs the optimizer only")


def grid_size(spec: OptimizerSpec) -> int:
    """How many points the grid has (the product of each parameter's number of values)."""
    return math.prod(len(p.values) for p in spec.search_space.values() if isinstance(p, ValuesSpec))


def grid_points(spec: OptimizerSpec) -> itertools.product[tuple[Scalar, ...]]:
    """The grid's points in their fixed order: parameters by name (a stored spec's key order is not kept
    by every store), each parameter's values in the order given."""
    names = sorted(spec.search_space)
    return itertools.product(*(_values_of(spec.search_space[name]) for name in names))


def _values_of(parameter: ParameterSpec) -> list[Scalar]:
    return parameter.values if isinstance(parameter, ValuesSpec) else []


def planned_trials(spec: OptimizerSpec) -> int:
    """How many trials the campaign runs in total."""
    if spec.kind == "grid":
        return min(spec.budget, grid_size(spec))
    if spec.kind == "table":
        return min(spec.budget, len(spec.rows))
    return spec.budget
