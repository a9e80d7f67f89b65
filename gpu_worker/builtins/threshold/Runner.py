"""Threshold or normalise intensities: the trivial built-in, used to measure the platform's overhead."""

import numpy as np
from compox.algorithm_utils.BaseRunner import BaseRunner
from compox.algorithm_utils.io_schemas import GenericSchema


class Runner(BaseRunner):
    """One output file per input file, each with a `data` dataset."""

    def preprocess(self, input_data: dict, args: dict | None = None) -> list:
        return [item["data"] for item in self.fetch_data(input_data["input_dataset_ids"], GenericSchema)]

    def inference(self, data: list, args: dict | None = None) -> list:
        args = args or {}
        results = []
        for index, array in enumerate(data):
            array = np.asarray(array, dtype=np.float32)
            if args.get("operation", "threshold") == "normalize":
                low, high = float(array.min()), float(array.max())
                results.append((array - low) / (high - low) if high > low else np.zeros_like(array))
            else:
                results.append((array > float(args.get("threshold", 0.5))).astype(np.uint8))
            self.set_progress((index + 1) / len(data))
        return results

    def postprocess(self, data: list, args: dict | None = None) -> list:
        return self.post_data([{"data": array} for array in data], GenericSchema)
