"""Deterministic initial U-Net weights; `python -m gpu_worker.compute.make_unet_weights` remakes them."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from gpu_worker.compute.unet import UNet

SEED = 20240603
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


def initial_state_dict(dims: int, seed: int = SEED) -> dict[str, torch.Tensor]:
    """The default-configuration U-Net's weights after torch's own initialisation under a fixed seed."""
    generator_state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        return {name: tensor.detach().clone() for name, tensor in UNet(dims=dims).state_dict().items()}
    finally:
        # Leave the caller's random stream as it was; seeding is this function's private business.
        torch.random.set_rng_state(generator_state)


def weights_path(dims: int) -> Path:
    """Where the shipped weights for the 2D or 3D model live."""
    return WEIGHTS_DIR / f"unet{dims}d.pt"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out-dir", type=Path, default=WEIGHTS_DIR)
    args = parser.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for dims in (2, 3):
        path = args.out_dir / weights_path(dims).name
        torch.save(initial_state_dict(dims), path)
        print(f"wrote {path} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
