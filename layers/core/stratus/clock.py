"""The time source every store takes, so tests can move time instead of sleeping."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], float]


def system_clock() -> float:
    """Seconds since the epoch, from the system."""
    return time.time()


def utc_iso(timestamp: float, timespec: str = "auto") -> str:
    """A timestamp as ISO 8601 in UTC with `Z`: the one format of every time the API answers or logs."""
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec=timespec).replace("+00:00", "Z")
