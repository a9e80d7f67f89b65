"""Campaign engine: search spaces, optimizers (grid, random, table, Bayesian via optuna), CSV tables, plots.

A pure library: no AWS, no stores. optuna is imported only by suggest() for the random and Bayesian
kinds and matplotlib only by render_plot(), so the API imports everything else without them."""

from __future__ import annotations

from stratus.campaigns.checks import check_spec
from stratus.campaigns.optimizers import optimizer_schemas
from stratus.campaigns.plots import render_plot
from stratus.campaigns.ranking import best
from stratus.campaigns.space import (
    DEFAULT_OPTIMIZER,
    MAX_TRIALS,
    ChoiceSpec,
    Objective,
    Observation,
    OptimizerSpec,
    ParameterSpec,
    RangeSpec,
    ValuesSpec,
    planned_trials,
)
from stratus.campaigns.suggestions import suggest
from stratus.campaigns.tables import history_csv, read_history_csv, read_rows_csv

__all__ = [
    "DEFAULT_OPTIMIZER",
    "MAX_TRIALS",
    "ChoiceSpec",
    "Objective",
    "Observation",
    "OptimizerSpec",
    "ParameterSpec",
    "RangeSpec",
    "ValuesSpec",
    "best",
    "check_spec",
    "history_csv",
    "optimizer_schemas",
    "planned_trials",
    "read_history_csv",
    "read_rows_csv",
    "render_plot",
    "suggest",
]
