"""U-Net segmentation with Stratus' compute core; the weights are the package's asset (or a checkpoint's)."""

import numpy as np
import torch
from compox.algorithm_utils.BaseRunner import BaseRunner
from compox.algorithm_utils.io_schemas import GenericSchema, SegmentationSchema

from gpu_worker.compute import UNet, tiled_inference

WEIGHTS = "files/unet3d.pt"


class Runner(BaseRunner):
    """One mask per input volume."""

    def load_assets(self) -> None:
        model = UNet(dims=3)
        model.load_state_dict(torch.load(self.fetch_asset(WEIGHTS), map_location="cpu", weights_only=True))
        self.model = model.to(self.device).eval()

    def preprocess(self, input_data: dict, args: dict | None = None) -> list:
        return [item["data"] for item in self.fetch_data(input_data["input_dataset_ids"], GenericSchema)]

    def inference(self, data: list, args: dict | None = None) -> list:
        args = args or {}
        tile, overlap = int(args.get("tile_size", 64)), int(args.get("overlap", 8))
        masks = []
        for index, array in enumerate(data):
            volume = torch.from_numpy(np.asarray(array, dtype=np.float32)).to(self.device)
            if volume.ndim != 3:
                raise ValueError(f"expected a 3D `data` volume, got {volume.ndim} dimensions")
            probabilities = tiled_inference(self.model, volume, tile, min(overlap, tile - 1))
            masks.append((probabilities > float(args.get("threshold", 0.5))).to(torch.uint8).cpu().numpy())
            self.set_progress((index + 1) / len(data))
        return masks

    def postprocess(self, data: list, args: dict | None = None) -> list:
        return self.post_data([{"mask": mask} for mask in data], SegmentationSchema)
