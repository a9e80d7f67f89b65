"""Progress of a long loop as few, evenly spaced reports: what the built-ins hand to `set_progress`."""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

# Each report costs the algorithm's process a round trip to the worker (a stop poll), while the worker's
# JobContext writes the record at most ~4 times a second: a report per 1/STEPS of the work, plus one
# whenever INTERVAL_S passed with progress made (a slow 1 % still shows within a second).
STEPS = 100
INTERVAL_S = 0.5


class Progress:
    """Turns a loop's fraction done into calls of ``report``: when it reaches a new 1/``steps`` or
    ``interval_s`` passed since the last report, and always at the end. A loop of a million fast items
    reports about ``steps`` times; a slow one about every ``interval_s``."""

    def __init__(
        self,
        report: Callable[[float], None],
        steps: int = STEPS,
        interval_s: float = INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._report = report
        self._steps = steps
        self._interval_s = interval_s
        self._clock = clock
        self._last_step = -1
        self._last_fraction = -1.0
        self._last_time = -math.inf

    def update(self, fraction: float) -> None:
        """Report ``fraction`` (clipped to [0, 1]) when it reached a new step or is due by time."""
        fraction = min(max(float(fraction), 0.0), 1.0)
        if fraction <= self._last_fraction:
            return
        step, now = math.floor(fraction * self._steps), self._clock()
        if step > self._last_step or now - self._last_time >= self._interval_s:
            self._last_step, self._last_fraction, self._last_time = step, fraction, now
            self._report(fraction)

    def part(self, index: int, count: int) -> Callable[[float], None]:
        """A callback for item ``index`` of ``count`` equal items: its own fraction becomes the whole's."""

        def update(fraction: float) -> None:
            self.update((index + fraction) / count)

        return update
