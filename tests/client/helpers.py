"""HDF5 inputs for the client's tests."""

from __future__ import annotations

from typing import TYPE_CHECKING

import h5py
import numpy as np

if TYPE_CHECKING:
    from pathlib import Path


def write_volume(path: Path, shape: tuple[int, ...], seed: int = 0, key: str = "data") -> np.ndarray:
    """An HDF5 file with one float32 dataset of uniform noise; the array written."""
    return write_dataset(path, np.random.default_rng(seed).random(shape, dtype=np.float32), key)


def write_dataset(path: Path, data: np.ndarray, key: str = "data") -> np.ndarray:
    """An HDF5 file with ``data`` as dataset ``key``."""
    with h5py.File(path, "w") as handle:
        handle.create_dataset(key, data=data)
    return data


def read_dataset(path: Path, key: str = "data") -> np.ndarray:
    with h5py.File(path, "r") as handle:
        return np.asarray(handle[key])
