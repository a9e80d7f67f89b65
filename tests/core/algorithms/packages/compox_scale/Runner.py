"""A Compox algorithm written as Compox's tutorial shows: BaseRunner, a helpers sub-package, an asset."""

import helpers
import numpy as np
from compox.algorithm_utils.BaseRunner import BaseRunner
from compox.algorithm_utils.io_schemas import GenericSchema
from helpers.arithmetic import scale


class Runner(BaseRunner):
    """The runner class for the scale algorithm."""

    def load_assets(self):
        """Read the offset once; Compox locks it afterwards."""
        self.log_message("Loading the scale assets.")
        self.offset = float(self.fetch_asset("files/offset.txt").read().decode())

    def identity(self) -> str:
        """Which helpers package this runner sees."""
        return helpers.IDENTITY

    def preprocess(self, input_data: dict, args: dict | None = None) -> np.ndarray:
        """Fetch every input's `data` and stack them."""
        self.log_message("Preprocessing the scale input data.")
        items = self.fetch_data(input_data["input_dataset_ids"], GenericSchema)
        return np.stack([item["data"] for item in items])

    def inference(self, data: np.ndarray, args: dict | None = None) -> np.ndarray:
        """Scale, then add the offset."""
        if args.get("verbose"):
            self.log_message(f"Scaling by {args['factor']}.", logging_level="DEBUG")
        result = scale(data, args["factor"], args["iterations"], args["mode"]) + self.offset
        self.set_progress(0.5)
        if args.get("label") == "explode":
            raise RuntimeError("inference exploded on purpose")
        return result

    def postprocess(self, data: np.ndarray, args: dict | None = None) -> list[str]:
        """Post one output per input."""
        self.log_message("Postprocessing the scale output.")
        return self.post_data([{"data": item} for item in data], GenericSchema)
