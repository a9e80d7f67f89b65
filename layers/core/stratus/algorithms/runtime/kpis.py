"""KPIs of a running job: checking a reported one, and the book that merges reported and set_state KPIs."""

from __future__ import annotations

import numbers
import re
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from stratus.models.jobs import KPI_NAME_PATTERN, MAX_KPI_UNIT_LENGTH, MAX_KPIS, Kpi

if TYPE_CHECKING:
    from collections.abc import Mapping

_NAME = re.compile(KPI_NAME_PATTERN)


def make_kpi(name: Any, value: Any, unit: Any = None) -> Kpi:
    """A KPI from what a runner reported. Raises ValueError naming the KPI and what is wrong with it."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(
            f"KPI name {name!r} is not valid: 1 to 64 letters, digits, '_', '.', '/' or '-' "
            "(not starting with '.', '/' or '-')"
        )
    # bool is an Integral; numpy's numbers are Reals, numpy's bool is not.
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"KPI {name!r}: the value must be a number, got {type(value).__name__}")
    if unit is not None and (not isinstance(unit, str) or len(unit) > MAX_KPI_UNIT_LENGTH):
        raise ValueError(f"KPI {name!r}: the unit must be a string of at most {MAX_KPI_UNIT_LENGTH} chars")
    try:
        return Kpi(name=name, value=float(value), unit=unit)
    except OverflowError:  # an int too large for a float
        raise ValueError(f"KPI {name!r}: the value is too large for a float") from None
    except ValidationError as exc:
        reason = exc.errors()[0]["msg"]
        raise ValueError(f"KPI {name!r}: the value {value!r} is not allowed ({reason})") from None


def state_kpis(state: Mapping[str, Any]) -> tuple[dict[str, Kpi], dict[str, str]]:
    """The KPIs a set_state call reports (its numeric top-level entries, no unit), and why each other
    numeric entry makes no KPI, by its name: an unmodified package is not failed for those."""
    kpis: dict[str, Kpi] = {}
    unusable: dict[str, str] = {}
    for name, value in state.items():
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            continue
        try:
            kpis[name] = make_kpi(name, value)
        except ValueError as exc:
            unusable[str(name)] = str(exc)
    return kpis, unusable


class KpiBook:
    """One job's KPIs: the reported ones win over set_state's, which win over those the record had when
    the job (or a training's round) began; a later value of a name replaces the earlier. At most
    MAX_KPIS names: reports beyond are refused, set_state entries beyond are left out. Not thread-safe:
    the job context locks around it."""

    def __init__(self, initial: Mapping[str, Kpi] | None = None) -> None:
        self._initial = dict(initial or {})
        self._from_state: dict[str, Kpi] = {}
        self._reported: dict[str, Kpi] = {}
        # Bumped by every change, so a writer knows whether what it wrote is still the latest.
        self.generation = 0

    def report(self, kpi: Kpi) -> None:
        """Record a reported KPI. Raises ValueError when it would be a KPI over MAX_KPIS."""
        if kpi.name not in self._reported and len(self._reported) >= MAX_KPIS:
            raise ValueError(f"KPI {kpi.name!r}: a job reports at most {MAX_KPIS} KPIs")
        self._reported[kpi.name] = kpi
        self.generation += 1

    def note_state(self, kpis: Mapping[str, Kpi]) -> None:
        """Record the KPIs of a set_state call (names it no longer has keep their last value)."""
        if kpis:
            self._from_state.update(kpis)
            self.generation += 1

    def merged(self) -> dict[str, Kpi]:
        """Every KPI by name, the reported first, at most MAX_KPIS."""
        merged = dict(self._reported)
        for layer in (self._from_state, self._initial):
            for name, kpi in layer.items():
                if name not in merged and len(merged) < MAX_KPIS:
                    merged[name] = kpi
        return merged
