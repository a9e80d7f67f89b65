"""Branin-Hoo: a test function of two parameters reported as a KPI, so sweeps and optimisers have a known
optimum to find. numpy only, and fast: a run costs the platform's overhead, not compute."""

import math
import time

import numpy as np
from compox.algorithm_utils.BaseRunner import BaseRunner
from compox.algorithm_utils.io_schemas import GenericSchema

# The usual constants (https://www.sfu.ca/~ssurjano/branin.html).
A, B, C = 1.0, 5.1 / (4 * math.pi**2), 5 / math.pi
R, S, T = 6.0, 10.0, 1 / (8 * math.pi)
# How often a delayed run reports progress (and so looks for a stop request).
POLL_S = 0.1


def branin(x: float, y: float) -> float:
    """The Branin-Hoo function; its global minimum is 0.397887."""
    return A * (y - B * x**2 + C * x - R) ** 2 + S * (1 - T) * math.cos(x) + S


class Runner(BaseRunner):
    """One output file with the value as `data`; KPI `branin`."""

    def preprocess(self, input_data: dict, args: dict | None = None) -> dict:
        args = args or {}
        return {"x": float(args.get("x", 0.0)), "y": float(args.get("y", 0.0))}

    def inference(self, data: dict, args: dict | None = None) -> float:
        self._wait(float((args or {}).get("delay_s", 0.0)))
        value = branin(data["x"], data["y"])
        self.report_kpi("branin", value)
        return value

    def postprocess(self, data: float, args: dict | None = None) -> list:
        return self.post_data([{"data": np.array([data], dtype=np.float64)}], GenericSchema)

    def _wait(self, seconds: float) -> None:
        """Sleep ``seconds``, reporting progress (which raises on a stop request) every POLL_S."""
        start = time.monotonic()
        while (elapsed := time.monotonic() - start) < seconds:
            self.set_progress(min(elapsed / seconds, 1.0))
            time.sleep(min(POLL_S, seconds - elapsed))
