"""KPIs as `mode` asks; the output echoes the input's `data`.

- state: only Compox's set_state (what an unmodified package does): numeric entries become KPIs.
- report: report_kpi with units.
- both: set_state and report_kpi name `accuracy`; the reported value must win.
- loop: 500 reports of `step` in a tight loop; the last one must be stored.
- fail: report_kpi, then raise.
"""

import numpy as np
from compox.algorithm_utils.BaseRunner import BaseRunner
from compox.algorithm_utils.io_schemas import GenericSchema

LOOP_REPORTS = 500


class Runner(BaseRunner):
    """Echo the input's `data`, reporting KPIs as `mode` asks."""

    def preprocess(self, input_data: dict, args: dict | None = None) -> np.ndarray:
        return self.fetch_data(input_data["input_dataset_ids"], GenericSchema)[0]["data"]

    def inference(self, data: np.ndarray, args: dict | None = None) -> np.ndarray:
        mode = args["mode"]
        if mode in ("state", "both"):
            # Only the numpy numbers are KPIs: not a bool, a string, a nested dict, nor a name no KPI has.
            state = {"loss": np.float32(0.25), "epoch": np.int64(3), "done": True, "phase": "eval"}
            self.set_state({**state, "nested": {"x": 1}, "val loss": 0.5})
        if mode == "both":
            self.report_kpi("accuracy", 0.875, "ratio")
            self.set_state({"accuracy": 0.5, "loss": 0.125})
        if mode in ("report", "fail"):
            self.report_kpi("throughput", 42.0, "items/s")
            self.report_kpi("latency", 0.5, "s")
            self.report_kpi("latency", 0.25, "s")
        if mode == "loop":
            for step in range(LOOP_REPORTS):
                self.report_kpi("step", step)
        if mode == "fail":
            raise ValueError("failed after reporting KPIs, on purpose")
        return data

    def postprocess(self, data: np.ndarray, args: dict | None = None) -> list[str]:
        return self.post_data([{"data": data}], GenericSchema)
