"""The best trial of one objective, or the Pareto front of several."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stratus.campaigns.space import Observation, OptimizerSpec


def scored(spec: OptimizerSpec, observations: list[Observation]) -> list[tuple[int, tuple[float, ...]]]:
    """(index, values turned to minimise) of the campaign's own completed observations with usable values."""
    signs = [1.0 if objective.direction == "minimize" else -1.0 for objective in spec.objectives]
    result = []
    for index, observation in enumerate(observations):
        values = observation.values
        if observation.warm_start or observation.status != "COMPLETED" or values is None:
            continue
        if len(values) == len(signs) and all(math.isfinite(value) for value in values):
            result.append((index, tuple(sign * value for sign, value in zip(signs, values, strict=True))))
    return result


def _dominates(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return all(x <= y for x, y in zip(a, b, strict=True)) and a != b


def pareto_front(points: list[tuple[int, tuple[float, ...]]]) -> list[int]:
    """The indices of the points no other point dominates (all minimised), in index order."""
    # In lexicographic order a point can only be dominated by one before it, and then by one on the front.
    front: list[tuple[int, tuple[float, ...]]] = []
    for index, values in sorted(points, key=lambda point: (point[1], point[0])):
        if not any(_dominates(kept, values) for _, kept in front):
            front.append((index, values))
    return sorted(index for index, _ in front)


def best(spec: OptimizerSpec, observations: list[Observation]) -> list[int]:
    """Indices into ``observations`` of the best one (one objective; the first on a tie) or of the Pareto
    front (several), among the campaign's own completed ones; empty before any."""
    points = scored(spec, observations)
    if not points:
        return []
    if len(spec.objectives) == 1:
        return [min(points, key=lambda point: (point[1], point[0]))[0]]
    return pareto_front(points)
