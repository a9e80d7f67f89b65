"""An in-memory RunnerContext and the fixture packages, for the algorithm tests."""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
from stratus.algorithms import AlgorithmPackage, PackageLimits, package_from_folder, read_package
from stratus.algorithms.runtime import LogLevel, StopRequested
from stratus.errors import ConflictError, NotFoundError

PACKAGES = Path(__file__).parent / "packages"


@dataclass
class MemoryContext:
    """Files, assets, records and the session of one task, kept in dicts; every call is recorded."""

    files: dict[str, bytes] = field(default_factory=dict)
    assets: dict[str, bytes] = field(default_factory=dict)
    progress: list[float] = field(default_factory=list)
    logs: list[tuple[LogLevel, str]] = field(default_factory=list)
    running: bool = False
    stop_requested: bool = False
    training: bool = False
    state: dict[str, Any] = field(default_factory=dict)
    checkpoints: dict[str, tuple[dict[str, bytes], dict[str, Any]]] = field(default_factory=dict)
    session: dict[str, Any] = field(default_factory=dict)
    outputs: list[str] = field(default_factory=list)
    samples: dict[str, dict[str, Any]] = field(default_factory=dict)
    validation_ids: list[str] = field(default_factory=list)
    steps: list[tuple[int, int]] = field(default_factory=list)
    kpis: dict[str, tuple[float, str | None]] = field(default_factory=dict)
    scratch: Path | None = None

    def read_data(self, file_id: str) -> bytes:
        try:
            return self.files[file_id]
        except KeyError:
            raise NotFoundError(f"file {file_id} not found") from None

    def write_data(self, data: bytes) -> str:
        file_id = str(uuid.uuid4())
        self.files[file_id] = data
        self.outputs.append(file_id)
        return file_id

    def read_asset(self, path: str) -> bytes:
        try:
            return self.assets[path]
        except KeyError:
            raise NotFoundError(f"asset {path!r} not found") from None

    def mark_running(self) -> None:
        self.running = True

    def set_progress(self, progress: float) -> None:
        self.progress.append(progress)

    def log(self, level: LogLevel, message: str) -> None:
        self.logs.append((level, message))

    def raise_if_stop_requested(self) -> None:
        if self.stop_requested:
            raise StopRequested("stop requested")

    def set_state(self, state: dict[str, Any]) -> None:
        self.state = state

    def get_state(self) -> dict[str, Any]:
        return self.state

    def report_kpi(self, name: str, value: float, unit: str | None) -> None:
        self.kpis[name] = (value, unit)

    def save_checkpoint(self, assets: dict[str, bytes], properties: dict[str, Any]) -> str:
        if not self.training:
            raise ConflictError("checkpoints can only be saved by a training")
        checkpoint_id = str(uuid.uuid4())
        self.checkpoints[checkpoint_id] = (assets, properties)
        return checkpoint_id

    def read_samples(self, sample_ids: list[str]) -> list[dict[str, Any]]:
        if not self.training:
            raise ConflictError("samples can only be read by a training")
        missing = [sample_id for sample_id in sample_ids if sample_id not in self.samples]
        if missing:
            raise NotFoundError(f"samples {missing} not found")
        return [self.samples[sample_id] for sample_id in sample_ids]

    def validation_sample_ids(self) -> list[str]:
        return list(self.validation_ids) if self.training else []

    def set_steps(self, current_step: int, total_steps: int) -> None:
        self.steps.append((current_step, total_steps))

    def scratch_dir(self) -> Path:
        if self.scratch is None:
            raise RuntimeError("this MemoryContext was made without a scratch folder")
        self.scratch.mkdir(parents=True, exist_ok=True)
        return self.scratch

    def session_get(self, key: str) -> Any:
        return self.session[key]

    def session_put(self, key: str, value: Any) -> None:
        self.session[key] = value

    def session_delete(self, key: str) -> None:
        del self.session[key]

    def add_file(self, **datasets: Any) -> str:
        """Store an HDF5 file with one top-level dataset per keyword; returns its id."""
        buffer = io.BytesIO()
        with h5py.File(buffer, "w") as handle:
            for name, value in datasets.items():
                handle.create_dataset(name, data=value)
        file_id = str(uuid.uuid4())
        self.files[file_id] = buffer.getvalue()
        return file_id

    def add_sample(self, *entries: dict[str, list[str]], tags: tuple[str, ...] = ()) -> str:
        """Store a sample manifest with these entries (key → file ids); returns its id."""
        sample_id = str(uuid.uuid4())
        self.samples[sample_id] = {
            "sample_id": sample_id,
            "files": list(entries),
            "tags": list(tags),
            "time_created": "2025-09-02T11:42:00+00:00",
        }
        return sample_id

    def read_output(self, file_id: str, name: str) -> np.ndarray:
        with h5py.File(io.BytesIO(self.files[file_id]), "r") as handle:
            return np.asarray(handle[name][()])


@pytest.fixture
def memory_context(tmp_path: Path) -> MemoryContext:
    return MemoryContext(scratch=tmp_path / "scratch")


@pytest.fixture
def scale_dir() -> Path:
    return PACKAGES / "compox_scale"


@pytest.fixture
def other_dir() -> Path:
    return PACKAGES / "compox_other"


@pytest.fixture
def scale_package(scale_dir: Path) -> AlgorithmPackage:
    return read_package(package_from_folder(scale_dir), PackageLimits())
