"""Numerical compute core: the Gaussian filter, the U-Net with tiled inference, device choice."""

from __future__ import annotations

from gpu_worker.compute.device import resolve_device
from gpu_worker.compute.gaussian import gaussian_filter3d
from gpu_worker.compute.unet import UNet, load_unet, tiled_inference

__all__ = ["UNet", "gaussian_filter3d", "load_unet", "resolve_device", "tiled_inference"]
