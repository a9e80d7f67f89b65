"""Threshold or normalise intensities: the trivial built-in, used to measure the platform's overhead."""

from collections.abc import Callable

import numpy as np
from compox.algorithm_utils.BaseRunner import BaseRunner
from compox.algorithm_utils.io_schemas import GenericSchema

# About this many progress reports per run, spread over the inputs' blocks along their first axis: each is
# a round trip to the worker (which writes the record at most ~4 times a second), so a fast loop stays
# cheap, and a large array still shows progress while it is processed. numpy only: no compute core here.
PROGRESS_STEPS = 100


class Runner(BaseRunner):
    """One output file per input file, each with a `data` dataset."""

    def preprocess(self, input_data: dict, args: dict | None = None) -> list:
        return [item["data"] for item in self.fetch_data(input_data["input_dataset_ids"], GenericSchema)]

    def inference(self, data: list, args: dict | None = None) -> list:
        args = args or {}
        normalize = args.get("operation", "threshold") == "normalize"
        cut = float(args.get("threshold", 0.5))
        blocks = max(1, PROGRESS_STEPS // max(len(data), 1))
        results = []
        for index, array in enumerate(data):

            def report(fraction: float, index: int = index) -> None:
                self.set_progress((index + fraction) / len(data))

            array = np.asarray(array, dtype=np.float32)
            if normalize:
                results.append(_normalize(array, blocks, report))
            else:
                results.append(_blockwise(array, lambda block: block > cut, np.uint8, blocks, report))
        return results

    def postprocess(self, data: list, args: dict | None = None) -> list:
        return self.post_data([{"data": array} for array in data], GenericSchema)


def _normalize(array: np.ndarray, blocks: int, report: Callable[[float], None]) -> np.ndarray:
    """Rescale to [0, 1] by the array's minimum and maximum (all zeros when it is constant)."""
    low, high = float(array.min()), float(array.max())
    if high <= low:
        report(1.0)
        return np.zeros_like(array)
    return _blockwise(array, lambda block: (block - low) / (high - low), np.float32, blocks, report)


def _blockwise(
    array: np.ndarray,
    operation: Callable[[np.ndarray], np.ndarray],
    dtype: type,
    blocks: int,
    report: Callable[[float], None],
) -> np.ndarray:
    """``operation`` applied in up to ``blocks`` slabs along the first axis, reporting after each."""
    result = np.empty(array.shape, dtype=dtype)
    if array.ndim == 0 or len(array) == 0:
        result[...] = operation(array)
        report(1.0)
        return result
    bounds = np.linspace(0, len(array), min(blocks, len(array)) + 1).astype(int).tolist()
    for start, stop in zip(bounds[:-1], bounds[1:], strict=True):
        result[start:stop] = operation(array[start:stop])
        report(stop / len(array))
    return result
