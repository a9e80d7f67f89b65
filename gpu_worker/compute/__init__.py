"""Numerical compute core: the Gaussian filter, the U-Net with tiled inference and training, device choice."""

from __future__ import annotations

from gpu_worker.compute.device import runtime_device
from gpu_worker.compute.gaussian import gaussian_filter3d
from gpu_worker.compute.progress import Progress
from gpu_worker.compute.training import (
    Evaluation,
    Trainer,
    TrainingConfig,
    dice_scores,
    evaluate,
    reference_step_seconds,
    segmentation_loss,
    soft_dice_loss,
    stack_pairs,
    train_step,
)
from gpu_worker.compute.unet import UNet, load_unet, tiled_inference

__all__ = [
    "Evaluation",
    "Progress",
    "Trainer",
    "TrainingConfig",
    "UNet",
    "dice_scores",
    "evaluate",
    "gaussian_filter3d",
    "load_unet",
    "reference_step_seconds",
    "runtime_device",
    "segmentation_loss",
    "soft_dice_loss",
    "stack_pairs",
    "tiled_inference",
    "train_step",
]
