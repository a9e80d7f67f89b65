"""U-Net segmentation with Stratus' compute core; the weights are the package's asset (or a checkpoint's)."""

from __future__ import annotations

import copy
import io
import math
import time
from typing import Any

import numpy as np
import torch
from compox.algorithm_utils.BaseRunner import BaseRunner
from compox.algorithm_utils.io_schemas import GenericSchema, SegmentationSchema

from gpu_worker.compute import Progress, UNet, tiled_inference
from gpu_worker.compute.training import Evaluation, Trainer, TrainingConfig, evaluate, stack_pairs

WEIGHTS = "files/unet3d.pt"
# Checkpoints per training, evenly spaced and always including the last epoch: enough to pick the best
# from, few enough that a long training does not write its weights to S3 hundreds of times.
CHECKPOINTS = 10


class Runner(BaseRunner):
    """One mask per input volume; trains on samples whose entries pair `input` with `target` files."""

    def load_assets(self) -> None:
        model = UNet(dims=3)
        model.load_state_dict(torch.load(self.fetch_asset(WEIGHTS), map_location="cpu", weights_only=True))
        self.model = model.to(self.device).eval()

    def preprocess(self, input_data: dict, args: dict | None = None) -> list:
        return [item["data"] for item in self.fetch_data(input_data["input_dataset_ids"], GenericSchema)]

    def inference(self, data: list, args: dict | None = None) -> list:
        args = args or {}
        tile, overlap = int(args.get("tile_size", 64)), int(args.get("overlap", 8))
        # Reported batch of tiles by batch: a volume's tiles take seconds to minutes.
        progress = Progress(self.set_progress)
        masks = []
        for index, array in enumerate(data):
            volume = torch.from_numpy(np.asarray(array, dtype=np.float32)).to(self.device)
            if volume.ndim != 3:
                raise ValueError(f"expected a 3D `data` volume, got {volume.ndim} dimensions")
            probabilities = tiled_inference(
                self.model, volume, tile, min(overlap, tile - 1), on_progress=progress.part(index, len(data))
            )
            masks.append((probabilities > float(args.get("threshold", 0.5))).to(torch.uint8).cpu().numpy())
            progress.update((index + 1) / len(data))
        return masks

    def postprocess(self, data: list, args: dict | None = None) -> list:
        return self.post_data([{"mask": mask} for mask in data], SegmentationSchema)

    def train(self, training_data: list[str], args: dict | None = None) -> None:
        """Fine-tune a copy of the loaded weights; the loaded model keeps serving inference unchanged."""
        args = args or {}
        config = TrainingConfig(
            learning_rate=float(args.get("learning_rate", TrainingConfig.learning_rate)),
            batch_size=int(args.get("batch_size", TrainingConfig.batch_size)),
            num_epochs=int(args.get("num_epochs", TrainingConfig.num_epochs)),
        )
        model = copy.deepcopy(self.model).to(self.device)
        volumes, masks = stack_pairs(
            self._read_pairs(self.get_training_dataset(training_data)), model.multiple, self.device
        )
        validation = self.get_validation_dataset()
        if validation is None:
            self.log_message("No validation samples: evaluating on the training volumes.", "WARNING")
            val_volumes, val_masks = volumes, masks
        else:
            val_volumes, val_masks = stack_pairs(self._read_pairs(validation), model.multiple, self.device)
        trainer = Trainer(model, volumes, masks, config)
        self.log_message(
            f"Training on {len(volumes)} volumes, validating on {len(val_volumes)}: {config.num_epochs} "
            f"epochs of {trainer.steps_per_epoch} steps (learning rate {config.learning_rate}, batch size "
            f"{config.batch_size}) on {self.device}."
        )
        every = math.ceil(config.num_epochs / CHECKPOINTS)
        epoch_seconds: list[float] = []
        for epoch in range(1, config.num_epochs + 1):
            started = time.perf_counter()
            train_loss = trainer.run_epoch(on_step=self.report_step)
            epoch_seconds.append(time.perf_counter() - started)
            state: dict[str, Any] = {
                "epoch": epoch,
                "num_epochs": config.num_epochs,
                "train_loss": train_loss,
            }
            if epoch % every == 0 or epoch == config.num_epochs:
                metrics = evaluate(model, val_volumes, val_masks, config.batch_size, config.dice_weight)
                state |= {"val_loss": metrics.val_loss, "dice": metrics.dice}
                self._save(model, epoch, metrics)
            self.set_state(state)
            self.log_message(", ".join(f"{key} {_shown(value)}" for key, value in state.items()))
        # What bench/training.py puts against plain PyTorch: the training loop alone (progress and stop
        # checks included; evaluation and checkpoints not), and the first epoch apart, as it warms caches.
        self.log_message(
            f"Trained {trainer.step} steps in {sum(epoch_seconds):.3f} s, {epoch_seconds[0]:.3f} s of them "
            f"in epoch 1 ({trainer.steps_per_epoch} steps), with {torch.get_num_threads()} torch threads."
        )

    def _read_pairs(self, dataset: Any) -> list[tuple[np.ndarray, np.ndarray]]:
        """(volume, mask) arrays of every sample's entries, the n-th `input` file with the n-th `target`."""
        input_ids: list[str] = []
        target_ids: list[str] = []
        for sample in dataset:
            inputs, targets = sample[:, "input"], sample[:, "target"]
            if len(inputs) != len(targets):
                raise ValueError(
                    f"sample {sample.sample_id} has {len(inputs)} input files but {len(targets)} target files"
                )
            input_ids += inputs
            target_ids += targets
        volumes = [item["data"] for item in self.fetch_data(input_ids, GenericSchema, parallel=True)]
        masks = [item["mask"] for item in self.fetch_data(target_ids, SegmentationSchema, parallel=True)]
        return list(zip(volumes, masks, strict=True))

    def _save(self, model: UNet, epoch: int, metrics: Evaluation) -> None:
        buffer = io.BytesIO()
        # Plain contiguous CPU tensors, so load_assets reads a checkpoint exactly as the shipped weights.
        torch.save(
            {name: tensor.detach().cpu().contiguous() for name, tensor in model.state_dict().items()}, buffer
        )
        properties = {"epoch": epoch, "val_loss": metrics.val_loss, "dice": metrics.dice}
        self.save_checkpoint({WEIGHTS: buffer.getvalue()}, properties)


def _shown(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)
