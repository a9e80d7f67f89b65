"""The time source every store takes, so tests can move time instead of sleeping."""

from __future__ import annotations

import time
from collections.abc import Callable

Clock = Callable[[], float]


def system_clock() -> float:
    """Seconds since the epoch, from the system."""
    return time.time()
