"""Training the U-Net on (volume, mask) pairs: loss, Dice, the one training step, epochs, evaluation.

`Trainer.run_epoch` is the loop the built-in runner trains with, and `reference_step_seconds` times that
same loop with nothing around it, so a benchmark can put Stratus' per-step overhead against plain PyTorch.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F

from gpu_worker.compute.unet import _channels_last

if TYPE_CHECKING:
    import numpy.typing as npt

    from gpu_worker.compute.unet import UNet

# Defaults measured on 2 shared CPU cores: on 8 synthetic 32³ volumes (gpu_worker.compute.synthetic) the
# 160 steps take 6-10 s and reach Dice 0.94-0.97 on held-out volumes; Dice passes 0.9 by epoch 8-12.
LEARNING_RATE = 3e-3
BATCH_SIZE = 2
NUM_EPOCHS = 40
# Soft Dice beside BCE: BCE alone is slow to leave "all background" when foreground is a few % of voxels.
DICE_WEIGHT = 1.0
THRESHOLD = 0.5
# Keeps soft Dice defined, and near 1, for a volume with no foreground that the model predicts empty.
SMOOTH = 1.0

StepCallback = Callable[[int, int], None]
Pair = tuple["npt.NDArray[Any]", "npt.NDArray[Any]"]


@dataclass(frozen=True)
class TrainingConfig:
    """Hyperparameters of one training."""

    learning_rate: float = LEARNING_RATE
    batch_size: int = BATCH_SIZE
    num_epochs: int = NUM_EPOCHS
    dice_weight: float = DICE_WEIGHT
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate}")
        if self.batch_size < 1 or self.num_epochs < 1:
            raise ValueError(
                f"batch_size and num_epochs must be >= 1, got {self.batch_size}, {self.num_epochs}"
            )


@dataclass(frozen=True)
class Evaluation:
    """Mean loss and mean per-volume Dice of thresholded predictions."""

    val_loss: float
    dice: float


def stack_pairs(
    pairs: Sequence[Pair], multiple: int, device: torch.device | str
) -> tuple[torch.Tensor, torch.Tensor]:
    """Volumes and masks as float32 (N, 1, *spatial) channels-last tensors on `device`, sides padded up to
    `multiple`.

    Raises ValueError when there are no pairs, or when volumes differ in shape or from their masks.
    """
    if not pairs:
        raise ValueError("no (volume, mask) pairs to train or evaluate on")
    shape = np.shape(pairs[0][0])
    for index, (volume, mask) in enumerate(pairs):
        if np.shape(volume) != shape or np.shape(mask) != shape:
            raise ValueError(
                f"pair {index}: volume {np.shape(volume)} and mask {np.shape(mask)} must both have the "
                f"shape of the first volume, {shape}"
            )
    volumes = torch.from_numpy(np.stack([np.asarray(v, dtype=np.float32) for v, _ in pairs]))[:, None]
    masks = torch.from_numpy(np.stack([np.asarray(m) > 0 for _, m in pairs]).astype(np.float32))[:, None]
    padding: list[int] = []
    for side in reversed(shape):
        padding += [0, -side % multiple]
    if any(padding):
        # Replicate both, as UNet.predict pads: the padded margin continues the edge voxels and their labels.
        volumes, masks = F.pad(volumes, padding, mode="replicate"), F.pad(masks, padding, mode="replicate")
    memory_format = _channels_last(len(shape))
    return (
        volumes.to(device).contiguous(memory_format=memory_format),
        masks.to(device).contiguous(memory_format=memory_format),
    )


def soft_dice_loss(logits: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """1 - soft Dice of sigmoid(logits) against binary masks, averaged over the batch."""
    probabilities = torch.sigmoid(logits).flatten(1)
    targets = masks.flatten(1)
    overlap = (probabilities * targets).sum(dim=1)
    total = probabilities.sum(dim=1) + targets.sum(dim=1)
    return 1.0 - ((2.0 * overlap + SMOOTH) / (total + SMOOTH)).mean()


def segmentation_loss(
    logits: torch.Tensor, masks: torch.Tensor, dice_weight: float = DICE_WEIGHT
) -> torch.Tensor:
    """BCE with logits, plus `dice_weight` times the soft Dice loss."""
    loss = F.binary_cross_entropy_with_logits(logits, masks)
    return loss + dice_weight * soft_dice_loss(logits, masks) if dice_weight else loss


def dice_scores(logits: torch.Tensor, masks: torch.Tensor, threshold: float = THRESHOLD) -> torch.Tensor:
    """Per-volume Dice of `sigmoid(logits) > threshold` against binary masks; 1 where both are empty."""
    predicted = (torch.sigmoid(logits) > threshold).flatten(1).float()
    targets = masks.flatten(1)
    overlap = (predicted * targets).sum(dim=1)
    total = predicted.sum(dim=1) + targets.sum(dim=1)
    return torch.where(total > 0, 2.0 * overlap / total.clamp(min=1.0), torch.ones_like(total))


def train_step(
    model: UNet,
    optimizer: torch.optim.Optimizer,
    volumes: torch.Tensor,
    masks: torch.Tensor,
    dice_weight: float = DICE_WEIGHT,
) -> torch.Tensor:
    """One forward, backward and optimizer step on a batch; returns the loss, detached, on the device
    (reading it with `.item()` would wait for the GPU, so callers read it once per epoch)."""
    optimizer.zero_grad(set_to_none=True)
    loss = segmentation_loss(model(volumes), masks, dice_weight)
    loss.backward()  # type: ignore[no-untyped-call]
    optimizer.step()
    return loss.detach()


class Trainer:
    """Trains `model` in place on stacked volumes and masks (see `stack_pairs`) with Adam."""

    def __init__(
        self, model: UNet, volumes: torch.Tensor, masks: torch.Tensor, config: TrainingConfig
    ) -> None:
        self.model, self.volumes, self.masks, self.config = model, volumes, masks, config
        # Channels-last, like the data: oneDNN trains the 3D convolutions about 1.3x faster (2 CPU cores).
        model.to(memory_format=_channels_last(model.dims))  # type: ignore[call-overload]
        if volumes.device.type == "cuda":
            # Every batch has one shape, so cuDNN's autotuner pays for itself after the first step. The flag
            # is process-wide; a worker process runs one job, and inference's tiles repeat shapes too.
            torch.backends.cudnn.benchmark = True
        self.optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
        self.generator = torch.Generator().manual_seed(config.seed)
        self.step = 0

    @property
    def steps_per_epoch(self) -> int:
        """Batches per epoch; the last batch of an epoch may be smaller."""
        return -(-len(self.volumes) // self.config.batch_size)

    @property
    def total_steps(self) -> int:
        """Steps over all `num_epochs` epochs."""
        return self.steps_per_epoch * self.config.num_epochs

    def run_epoch(self, on_step: StepCallback | None = None) -> float:
        """One pass over the data in a seeded random order; `on_step(step, total_steps)` after each step
        (it may raise to stop training). Returns the mean training loss of the epoch."""
        self.model.train()
        order = torch.randperm(len(self.volumes), generator=self.generator).to(self.volumes.device)
        loss_sum = torch.zeros((), device=self.volumes.device)
        for first in range(0, len(order), self.config.batch_size):
            batch = order[first : first + self.config.batch_size]
            loss = train_step(
                self.model, self.optimizer, self.volumes[batch], self.masks[batch], self.config.dice_weight
            )
            loss_sum += loss * len(batch)
            self.step += 1
            if on_step is not None:
                on_step(self.step, self.total_steps)
        return float(loss_sum) / len(order)


def evaluate(
    model: UNet,
    volumes: torch.Tensor,
    masks: torch.Tensor,
    batch_size: int = BATCH_SIZE,
    dice_weight: float = DICE_WEIGHT,
) -> Evaluation:
    """Mean loss and Dice on stacked volumes and masks (see `stack_pairs`); the model's mode is kept."""
    was_training = model.training
    model.eval()
    loss_sum = torch.zeros((), device=volumes.device)
    scores = []
    try:
        with torch.inference_mode():
            for first in range(0, len(volumes), batch_size):
                logits = model(volumes[first : first + batch_size])
                batch_masks = masks[first : first + batch_size]
                loss_sum += segmentation_loss(logits, batch_masks, dice_weight) * len(batch_masks)
                scores.append(dice_scores(logits, batch_masks))
    finally:
        model.train(was_training)
    return Evaluation(val_loss=float(loss_sum) / len(volumes), dice=float(torch.cat(scores).mean()))


def reference_step_seconds(
    model: UNet, pairs: Sequence[Pair], config: TrainingConfig, epochs: int = 1
) -> float:
    """Mean seconds per `train_step` of `Trainer.run_epoch` in plain PyTorch, after one warm-up epoch.

    Trains `model` in place on its own device (pass a copy to keep the original): the baseline the
    runner's per-step time, the same loop plus Stratus' progress and stop checks, is measured against.
    """
    device = next(model.parameters()).device
    volumes, masks = stack_pairs(pairs, model.multiple, device)
    trainer = Trainer(model, volumes, masks, config)
    # Warm-up: cuDNN autotuning, the caching allocator and oneDNN's primitive cache fill on the first steps.
    trainer.run_epoch()
    _synchronize(device)
    start = time.perf_counter()
    for _ in range(epochs):
        trainer.run_epoch()
    _synchronize(device)
    return (time.perf_counter() - start) / (epochs * trainer.steps_per_epoch)


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
