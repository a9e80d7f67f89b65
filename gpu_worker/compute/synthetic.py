"""Seeded synthetic blob volumes with their masks, as arrays or as Compox input/target HDF5 files.

`python -m gpu_worker.compute.synthetic OUT_DIR --count N --size S --seed K` writes N pairs
`input_0000.h5` (dataset `data`, float32) and `target_0000.h5` (dataset `mask`, uint8).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import numpy.typing as npt
from stratus.algorithms.runtime.datasets import write_record
from stratus.algorithms.runtime.io_schemas import GenericSchema, SegmentationSchema

SIZE = 32
SEED = 0
MIN_BLOBS, MAX_BLOBS = 2, 5
# Semi-axes as fractions of the side: big enough to survive the U-Net's two poolings, small enough to fit.
MIN_RADIUS, MAX_RADIUS = 0.08, 0.22
# Blob brightness over a zero background, and the noise on top; a contrast-to-noise ratio of about 3-4
# that a plain threshold gets visibly wrong and a small U-Net learns in a few hundred steps.
MIN_BRIGHTNESS, MAX_BRIGHTNESS = 0.6, 1.0
NOISE_SIGMA = 0.2

Volume = npt.NDArray[np.float32]
Mask = npt.NDArray[np.uint8]


def make_pair(seed: int, index: int, size: int = SIZE) -> tuple[Volume, Mask]:
    """The `index`-th volume of the `seed` stream and its mask; the same arguments give the same arrays."""
    if size < 8:
        raise ValueError(f"size must be at least 8, got {size}")
    # Seeded by (seed, index), so a pair does not depend on how many were asked for around it.
    rng = np.random.default_rng([seed, index])
    grid = np.stack(np.meshgrid(*(np.arange(size, dtype=np.float32),) * 3, indexing="ij"))
    volume = np.zeros((size,) * 3, dtype=np.float32)
    mask = np.zeros((size,) * 3, dtype=bool)
    for _ in range(int(rng.integers(MIN_BLOBS, MAX_BLOBS + 1))):
        radii = rng.uniform(MIN_RADIUS, MAX_RADIUS, size=3) * size
        centre = rng.uniform(radii, size - 1 - radii)
        inside = (((grid - centre[:, None, None, None]) / radii[:, None, None, None]) ** 2).sum(axis=0) <= 1.0
        volume[inside] = rng.uniform(MIN_BRIGHTNESS, MAX_BRIGHTNESS)
        mask |= inside
    volume += rng.normal(0.0, NOISE_SIGMA, size=volume.shape).astype(np.float32)
    return volume, mask.astype(np.uint8)


def make_pairs(count: int, size: int = SIZE, seed: int = SEED) -> list[tuple[Volume, Mask]]:
    """`count` (volume, mask) pairs of the `seed` stream."""
    return [make_pair(seed, index, size) for index in range(count)]


def input_file(volume: Volume) -> bytes:
    """An input HDF5 file: the volume under `data` (GenericSchema)."""
    return write_record({"data": volume}, GenericSchema)


def target_file(mask: Mask) -> bytes:
    """A target HDF5 file: the mask under `mask` (SegmentationSchema)."""
    return write_record({"mask": mask}, SegmentationSchema)


def write_pairs(out_dir: Path, count: int, size: int = SIZE, seed: int = SEED) -> list[tuple[Path, Path]]:
    """Write `count` input/target file pairs into `out_dir` (made if missing); returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, (volume, mask) in enumerate(make_pairs(count, size, seed)):
        input_path, target_path = out_dir / f"input_{index:04d}.h5", out_dir / f"target_{index:04d}.h5"
        input_path.write_bytes(input_file(volume))
        target_path.write_bytes(target_file(mask))
        paths.append((input_path, target_path))
    return paths


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--count", type=int, default=8)
    parser.add_argument("--size", type=int, default=SIZE)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    paths = write_pairs(args.out_dir, args.count, args.size, args.seed)
    print(f"wrote {len(paths)} input/target pairs to {args.out_dir}")


if __name__ == "__main__":
    main()
