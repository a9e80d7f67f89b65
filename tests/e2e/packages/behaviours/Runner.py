"""A Compox runner for end-to-end tests: its `behaviour` parameter picks what a run does."""

import os
import signal
import time

import numpy as np
from compox.algorithm_utils.BaseRunner import BaseRunner
from compox.algorithm_utils.io_schemas import GenericSchema

# A run that waits for a stop gives up after this long, so a broken stop cannot hang the tests.
MAX_RUN_S = 60


class Runner(BaseRunner):
    """Echo the input's `data`, after doing what `behaviour` asks."""

    def preprocess(self, input_data: dict, args: dict | None = None) -> np.ndarray:
        return self.fetch_data(input_data["input_dataset_ids"], GenericSchema)[0]["data"]

    def inference(self, data: np.ndarray, args: dict | None = None) -> np.ndarray:
        behaviour = args["behaviour"]
        if behaviour == "fail":
            raise ValueError("the algorithm failed on purpose")
        if behaviour == "die":
            os.kill(os.getpid(), signal.SIGKILL)  # as the kernel's OOM killer would
        if behaviour == "run_until_stopped":
            started = time.monotonic()
            while time.monotonic() - started < MAX_RUN_S:
                self.set_progress(min((time.monotonic() - started) / MAX_RUN_S, 0.99))  # raises on a stop
                time.sleep(0.05)
        if behaviour == "fail_first_in_session":
            try:
                runs = self.load_item_from_session("runs") + 1
            except KeyError:
                runs = 1
            self.save_item_to_session(runs, "runs")
            if runs == 1:
                raise ValueError("the first run in this session fails on purpose")
        if behaviour == "count_in_session":
            try:
                count = self.load_item_from_session("count") + 1
            except KeyError:
                count = 1
            self.save_item_to_session(count, "count")
            return np.array([count], dtype=np.int64)
        return data

    def postprocess(self, data: np.ndarray, args: dict | None = None) -> list[str]:
        return self.post_data([{"data": data}], GenericSchema)
