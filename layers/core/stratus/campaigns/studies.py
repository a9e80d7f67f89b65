"""Random and Bayesian suggestions from an in-memory optuna study rebuilt from the observations.

Imported only by suggest() for those kinds: optuna (and torch for the GP) live in the campaign
function's image and the dev environment, not in the API's layer."""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING, Any

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState, create_trial

from stratus.campaigns.optimizers import GpOptions, TpeOptions, optimizer_options
from stratus.campaigns.space import RangeSpec, ValuesSpec
from stratus.campaigns.suggestions import point_key

if TYPE_CHECKING:
    from stratus.campaigns.space import Observation, OptimizerSpec, ParameterSpec

# A batch asks again (the repeat stays RUNNING, so the sampler moves on) when a suggestion repeats one of
# the same batch, as it can in a small discrete space; bounded, after which the repeat is kept.
MAX_ASKS_PER_SUGGESTION = 10
_STATES = {"PENDING": TrialState.RUNNING, "RUNNING": TrialState.RUNNING, "FAILED": TrialState.FAIL}


def distribution(parameter: ParameterSpec) -> BaseDistribution:
    """The optuna distribution of one search-space parameter."""
    if isinstance(parameter, RangeSpec):
        low, high, step, log = parameter.low, parameter.high, parameter.step, parameter.log
        if parameter.integer:
            return IntDistribution(int(low), int(high), log=log, step=int(step or 1))
        return FloatDistribution(low, high, log=log, step=step)
    choices = parameter.values if isinstance(parameter, ValuesSpec) else parameter.choices
    return CategoricalDistribution(choices)


def _sampler(spec: OptimizerSpec, seed: int) -> optuna.samplers.BaseSampler:
    if spec.kind == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    options = optimizer_options(spec.optimizer, spec.optimizer_options)
    if isinstance(options, GpOptions):
        return optuna.samplers.GPSampler(
            seed=seed,
            n_startup_trials=options.n_startup_trials,
            deterministic_objective=options.deterministic_objective,
            warn_independent_sampling=False,
        )
    assert isinstance(options, TpeOptions)  # the registry has two optimizers
    return optuna.samplers.TPESampler(
        seed=seed,
        n_startup_trials=options.n_startup_trials,
        multivariate=options.multivariate,
        constant_liar=options.constant_liar,
        n_ei_candidates=options.n_ei_candidates,
    )


def _add(study: optuna.Study, observation: Observation, distributions: dict[str, BaseDistribution]) -> None:
    if not set(distributions) <= set(observation.parameters):
        return  # a warm-start row without every searched parameter says nothing about this space
    params = {name: observation.parameters[name] for name in distributions}
    values = observation.values
    state = _STATES.get(observation.status, TrialState.COMPLETE)
    if state is TrialState.COMPLETE and (
        values is None or len(values) != len(study.directions) or not all(map(math.isfinite, values))
    ):
        state = TrialState.FAIL  # completed without usable objective values: a failure to the model
    try:
        trial = create_trial(
            state=state,
            params=params,
            distributions=distributions,
            values=values if state is TrialState.COMPLETE else None,
        )
    except ValueError:
        return  # outside this search space (an earlier campaign's wider range): not this study's data
    study.add_trial(trial)


def ask(spec: OptimizerSpec, observations: list[Observation], n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` distinct suggestions (as far as the space allows) from a study holding ``observations``."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    distributions = {name: distribution(spec.search_space[name]) for name in sorted(spec.search_space)}
    with warnings.catch_warnings():
        # multivariate, constant_liar and deterministic_objective are "experimental" to optuna.
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study = optuna.create_study(
            directions=[objective.direction for objective in spec.objectives], sampler=_sampler(spec, seed)
        )
        for observation in observations:
            _add(study, observation, distributions)
        result: list[dict[str, Any]] = []
        seen: set[str] = set()
        while len(result) < n:
            params = _ask_new(study, distributions, seen)
            seen.add(point_key(params, distributions))
            result.append(params)
    return result


def _ask_new(
    study: optuna.Study, distributions: dict[str, BaseDistribution], seen: set[str]
) -> dict[str, Any]:
    for _ in range(MAX_ASKS_PER_SUGGESTION):
        # The asked trial stays RUNNING, so the next ask of this batch accounts for it.
        params = {name: _plain(value) for name, value in study.ask(distributions).params.items()}
        if point_key(params, distributions) not in seen:
            break
    return params


def _plain(value: Any) -> Any:
    # numpy scalars (a GP's suggestion) are not JSON; their .item() is the Python number.
    return value.item() if hasattr(value, "item") else value
