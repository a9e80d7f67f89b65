"""The optimizers a campaign can use, as data: descriptions, multi-objective support, option schemas.

No optuna here: the API answers GET /campaigns/optimizers and checks options without it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from stratus.algorithms.config import describe_validation_error
from stratus.campaigns.space import (
    DEFAULT_OPTIMIZER,
    MAX_OBJECTIVES,
    MAX_TRIALS,
    ChoiceSpec,
    Kind,
    RangeSpec,
    ValuesSpec,
)
from stratus.errors import InvalidInputError


class TpeOptions(BaseModel):
    """Options of optuna's TPESampler."""

    model_config = ConfigDict(extra="forbid")

    n_startup_trials: int = Field(
        default=10, ge=0, le=MAX_TRIALS, description="Random trials before the model takes over"
    )
    multivariate: bool = Field(
        default=True, description="Model the parameters jointly (optuna's default is false; joint is better)"
    )
    constant_liar: bool = Field(
        default=True,
        description="Treat running trials as bad results so a batch spreads out (needed with batch_size > 1)",
    )
    n_ei_candidates: int = Field(
        default=24, ge=1, le=1000, description="Candidates scored for expected improvement per suggestion"
    )


class GpOptions(BaseModel):
    """Options of optuna's GPSampler."""

    model_config = ConfigDict(extra="forbid")

    n_startup_trials: int = Field(
        default=10, ge=0, le=MAX_TRIALS, description="Random trials before the model takes over"
    )
    deterministic_objective: bool = Field(
        default=False, description="The objective has no noise: the model interpolates the results"
    )


@dataclass(frozen=True)
class OptimizerInfo:
    """One optimizer of kind `bayesian`."""

    description: str
    multi_objective: bool
    options: type[BaseModel]


OPTIMIZERS: dict[str, OptimizerInfo] = {
    "tpe": OptimizerInfo(
        "Tree-structured Parzen estimator (optuna TPESampler): cheap per suggestion, handles choices well, "
        "for any number of trials.",
        multi_objective=True,
        options=TpeOptions,
    ),
    "gp": OptimizerInfo(
        "Gaussian-process Bayesian optimisation (optuna GPSampler: log expected improvement, or expected "
        "hypervolume improvement for several objectives; batches by q-batch acquisition): the most "
        "sample-efficient on smooth numeric objectives, best for budgets up to a few hundred trials.",
        multi_objective=True,
        options=GpOptions,
    ),
}

KINDS: dict[Kind, str] = {
    "grid": "Every combination of the given `values` of each parameter, in a fixed order.",
    "random": "Independent random samples of `search_space` (ranges and choices).",
    "table": "The given `rows` of parameter values, in order (a configuration table, JSON or CSV).",
    "bayesian": "Model-based optimisation of `search_space` by the named `optimizer`, warm-startable.",
}
# Which parameter specs each kind takes (check_spec enforces it).
KIND_SPECS: dict[Kind, str] = {
    "grid": "values",
    "random": "range or choices",
    "table": "rows",
    "bayesian": "range or choices",
}


def optimizer_options(name: str, options: dict[str, Any]) -> BaseModel:
    """The options of optimizer ``name``, checked and with defaults. Raises InvalidInputError."""
    info = OPTIMIZERS.get(name)
    if info is None:
        raise InvalidInputError(f"unknown optimizer {name!r}; known: {sorted(OPTIMIZERS)}")
    try:
        return info.options.model_validate(options)
    except ValidationError as exc:
        raise InvalidInputError(f"optimizer_options of {name!r}: {describe_validation_error(exc)}") from exc


def optimizer_schemas() -> dict[str, Any]:
    """Each campaign kind and Bayesian optimizer with its description and options' JSON schema, and the
    JSON schemas of a search space's parameter specs."""
    return {
        "kinds": {
            kind: {"description": description, "parameters": KIND_SPECS[kind], "multi_objective": True}
            for kind, description in KINDS.items()
        },
        "optimizers": {
            name: {
                "description": info.description,
                "multi_objective": info.multi_objective,
                "options_schema": info.options.model_json_schema(),
            }
            for name, info in OPTIMIZERS.items()
        },
        "default_optimizer": DEFAULT_OPTIMIZER,
        "parameter_specs": {
            "range": RangeSpec.model_json_schema(),
            "choices": ChoiceSpec.model_json_schema(),
            "values": ValuesSpec.model_json_schema(),
        },
        "max_objectives": MAX_OBJECTIVES,
        "max_trials": MAX_TRIALS,
    }
