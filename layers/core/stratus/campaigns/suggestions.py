"""suggest: the next parameter sets of a campaign, rebuilt from its observations on every call."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from typing import TYPE_CHECKING, Any

from stratus.campaigns.checks import check_shape
from stratus.campaigns.space import grid_points, planned_trials

if TYPE_CHECKING:
    from collections.abc import Iterable

    from stratus.campaigns.space import Observation, OptimizerSpec


def derived_seed(spec: OptimizerSpec, own_count: int) -> int:
    """The seed of one round: the campaign's seed and how many of its own trials exist, so a retried
    round suggests the same again and the next round something new."""
    digest = hashlib.sha256(f"{spec.seed or 0}:{own_count}".encode()).digest()
    return int.from_bytes(digest[:4], "big") >> 1


def point_key(parameters: dict[str, Any], names: Iterable[str]) -> str:
    """A parameter set's identity over ``names`` (1 and 1.0 alike, as a stored number may come back)."""
    return json.dumps({name: _plain(parameters.get(name)) for name in sorted(names)}, sort_keys=True)


def _plain(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def suggest(spec: OptimizerSpec, observations: list[Observation], n: int) -> list[dict[str, Any]]:
    """The next ``n`` parameter sets (fewer when the grid, table or budget runs out).

    Stateless and deterministic for the same arguments: grid points and table rows in their order after
    those already tried; random and Bayesian from an in-memory optuna study rebuilt from
    ``observations`` (warm-start ones inform it but count for neither the budget nor the grid/table).
    Raises InvalidInputError for a spec whose shape does not fit its kind."""
    check_shape(spec)
    own = [observation for observation in observations if not observation.warm_start]
    n = max(0, min(n, planned_trials(spec) - len(own)))
    if n == 0:
        return []
    if spec.kind == "table":
        # Row k is trial k: a table may repeat a row on purpose, and may leave parameters to defaults.
        return [dict(row) for row in spec.rows[len(own) : len(own) + n]]
    if spec.kind == "grid":
        return _untried(spec, own, n)
    from stratus.campaigns.studies import ask  # optuna: only the campaign function and dev have it

    return ask(spec, observations, n, derived_seed(spec, len(own)))


def _untried(spec: OptimizerSpec, own: list[Observation], n: int) -> list[dict[str, Any]]:
    """The first ``n`` grid points no trial has tried, whatever order the trials come in; keys cover the
    searched parameters only, as a stored trial may carry the algorithm's defaults beside them."""
    names = sorted(spec.search_space)
    tried = Counter(point_key(observation.parameters, names) for observation in own)
    result: list[dict[str, Any]] = []
    for values in grid_points(spec):
        point = dict(zip(names, values, strict=True))
        key = point_key(point, names)
        if tried[key] > 0:
            tried[key] -= 1
            continue
        result.append(point)
        if len(result) == n:
            break
    return result
