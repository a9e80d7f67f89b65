"""optimizer_schemas: what GET /campaigns/optimizers shows; option schemas that check_spec enforces."""

from __future__ import annotations

import json

from stratus.campaigns import DEFAULT_OPTIMIZER, optimizer_schemas


def test_optimizer_schemas_lists_every_kind_and_optimizer_as_json() -> None:
    schemas = optimizer_schemas()

    assert set(schemas["kinds"]) == {"grid", "random", "table", "bayesian"}
    assert set(schemas["optimizers"]) == {"tpe", "gp"}
    assert schemas["default_optimizer"] == DEFAULT_OPTIMIZER
    assert set(schemas["parameter_specs"]["range"]["properties"]) == {"low", "high", "log", "step", "integer"}
    assert json.loads(json.dumps(schemas)) == schemas


def test_optimizer_schemas_describe_each_optimizers_options() -> None:
    optimizers = optimizer_schemas()["optimizers"]

    tpe, gp = optimizers["tpe"], optimizers["gp"]
    assert tpe["multi_objective"] and gp["multi_objective"]
    assert set(tpe["options_schema"]["properties"]) == {
        "n_startup_trials",
        "multivariate",
        "constant_liar",
        "n_ei_candidates",
    }
    assert set(gp["options_schema"]["properties"]) == {"n_startup_trials", "deterministic_objective"}
    assert gp["options_schema"]["additionalProperties"] is False
