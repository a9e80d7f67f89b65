"""Arithmetic for the scale algorithm; imports its sibling relatively, as sub-packages may."""

import numpy as np

from .rounding import apply_mode


def scale(data: np.ndarray, factor: float, iterations: int, mode: str) -> np.ndarray:
    """Multiply `iterations` times by `factor`."""
    for _ in range(iterations):
        data = data * factor
    return apply_mode(data, mode)
