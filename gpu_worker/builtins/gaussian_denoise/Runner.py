"""Gaussian denoising with Stratus' compute core: 2D images are filtered as one-plane volumes."""

import numpy as np
import torch
from compox.algorithm_utils.BaseRunner import BaseRunner
from compox.algorithm_utils.io_schemas import GenericSchema

from gpu_worker.compute import Progress, gaussian_filter3d


class Runner(BaseRunner):
    """One filtered output per input, on the resolved device."""

    def preprocess(self, input_data: dict, args: dict | None = None) -> list:
        return [item["data"] for item in self.fetch_data(input_data["input_dataset_ids"], GenericSchema)]

    def inference(self, data: list, args: dict | None = None) -> list:
        args = args or {}
        sigma, truncate = float(args.get("sigma", 1.0)), float(args.get("truncate", 4.0))
        # Reported slab by slab: one large volume is one long call.
        progress = Progress(self.set_progress)
        results = []
        for index, array in enumerate(data):
            array = np.asarray(array, dtype=np.float32)
            if array.ndim not in (2, 3):
                raise ValueError(f"expected a 2D or 3D `data` dataset, got {array.ndim} dimensions")
            volume = torch.from_numpy(array.reshape((1, *array.shape)) if array.ndim == 2 else array)
            # A 2D image is a one-plane volume: no smoothing across planes.
            sigmas = (0.0, sigma, sigma) if array.ndim == 2 else sigma
            filtered = gaussian_filter3d(
                volume.to(self.device), sigmas, truncate=truncate, on_progress=progress.part(index, len(data))
            )
            results.append(filtered.cpu().numpy().reshape(array.shape))
            progress.update((index + 1) / len(data))
        return results

    def postprocess(self, data: list, args: dict | None = None) -> list:
        return self.post_data([{"data": array} for array in data], GenericSchema)
