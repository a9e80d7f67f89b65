"""A Compox runner that imports its declared dependency, stratus_testdep (test fixture)."""

import numpy as np
import stratus_testdep
from compox.algorithm_utils.BaseRunner import BaseRunner
from compox.algorithm_utils.io_schemas import GenericSchema


class Runner(BaseRunner):
    """Ignore the input's data; answer with stratus_testdep.VALUE's bytes, and log where it came from."""

    def preprocess(self, input_data: dict, args: dict | None = None) -> np.ndarray:
        return self.fetch_data(input_data["input_dataset_ids"], GenericSchema)[0]["data"]

    def inference(self, data: np.ndarray, args: dict | None = None) -> np.ndarray:
        self.log_message(f"stratus_testdep from {stratus_testdep.__file__}")
        return np.frombuffer(stratus_testdep.VALUE.encode(), dtype=np.uint8)

    def postprocess(self, data: np.ndarray, args: dict | None = None) -> list[str]:
        return self.post_data([{"data": data}], GenericSchema)
