"""Test functions with known optima for the optimizers' tests."""

from __future__ import annotations

import math

BRANIN_OPTIMUM = 0.397887


def branin(x: float, y: float) -> float:
    """The Branin function; its minimum is 0.397887 at three points of x∈[-5,10], y∈[0,15]."""
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (y - b * x * x + c * x - 6) ** 2 + 10 * (1 - t) * math.cos(x) + 10
