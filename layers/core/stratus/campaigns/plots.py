"""render_plot: a campaign's progress as a PNG (matplotlib, imported only here)."""

from __future__ import annotations

import io
import itertools
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from stratus.campaigns.ranking import pareto_front, scored

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from stratus.campaigns.space import Objective, Observation, OptimizerSpec

# 800 × 500 pixels: readable in a browser, a few tens of KB.
FIGURE_SIZE = (8.0, 5.0)
DPI = 100
# Positive values spanning more than this ratio get a log axis, so early outliers do not flatten the
# best-so-far line that matters.
LOG_SCALE_RATIO = 100.0


def _label(objective: Objective) -> str:
    return f"{objective.name} ({objective.direction})"


def _plot_single(ax: Axes, spec: OptimizerSpec, own: list[Observation]) -> None:
    objective = spec.objectives[0]
    sign = 1.0 if objective.direction == "minimize" else -1.0
    # scored() turned every value into one to minimise; the axes show the values as reported.
    points = scored(spec, own)
    xs = [index + 1 for index, _ in points]
    values = [sign * minimised[0] for _, minimised in points]
    ax.plot(xs, values, "o", color="tab:blue", label="trial")
    best_so_far = [sign * value for value in itertools.accumulate((m[0] for _, m in points), min)]
    ax.step(xs, best_so_far, where="post", color="tab:orange", label="best so far")
    failed = [index + 1 for index, observation in enumerate(own) if observation.status == "FAILED"]
    if failed:
        # At the foot of the axes: a failed trial has no value to place it by.
        foot = [0.03] * len(failed)
        ax.plot(failed, foot, "x", color="tab:red", transform=ax.get_xaxis_transform(), label="failed")
    if min(values) > 0 and max(values) > LOG_SCALE_RATIO * min(values):
        ax.set_yscale("log")
    ax.set_xlabel("trial")
    ax.set_ylabel(objective.name)
    ax.set_title(f"{_label(objective)} per trial")
    ax.legend(loc="best")


def _plot_pair(ax: Axes, spec: OptimizerSpec, own: list[Observation], first: int, second: int) -> None:
    points = [(index, own[index].values or []) for index, _ in scored(spec, own)]
    front = set(pareto_front(scored(spec, own)))
    xs, ys = [v[first] for _, v in points], [v[second] for _, v in points]
    ax.plot(xs, ys, "o", color="tab:blue", label="trial")
    on_front = sorted((v[first], v[second]) for i, v in points if i in front)
    # Two objectives: the front is a line; of three, a pair's projection of it is only points.
    style = "D-" if len(spec.objectives) == 2 else "D"
    ax.plot(*zip(*on_front, strict=True), style, color="tab:orange", label="Pareto front")
    ax.set_xlabel(_label(spec.objectives[first]))
    ax.set_ylabel(_label(spec.objectives[second]))
    ax.legend(loc="best")


def render_plot(spec: OptimizerSpec, observations: list[Observation]) -> bytes | None:
    """The campaign's own trials as a PNG: one objective's value per trial with the best-so-far line
    (failed trials marked); for two objectives the trials with the Pareto front; for three, each pair.
    None while no trial has a value."""
    own = [observation for observation in observations if not observation.warm_start]
    if not scored(spec, own):
        return None
    # matplotlib caches fonts under MPLCONFIGDIR; a Lambda's home is read-only, /tmp is not (and a warm
    # container reuses the cache).
    os.environ.setdefault("MPLCONFIGDIR", str(Path(tempfile.gettempdir()) / "matplotlib"))
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    pairs = list(itertools.combinations(range(len(spec.objectives)), 2))
    figure = Figure(figsize=FIGURE_SIZE, dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)  # the figure draws on an Agg canvas: no display, no pyplot state
    if not pairs:
        _plot_single(figure.add_subplot(), spec, own)
    for position, (first, second) in enumerate(pairs, start=1):
        _plot_pair(figure.add_subplot(1, len(pairs), position), spec, own, first, second)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
