"""The built-in U-Net trains through the runner API alone: samples in, checkpoints with metrics out."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from stratus.algorithms import BaseRunner, load_runner, parse_pyproject, unload_runner, validate_parameters
from stratus.algorithms.runtime import StopRequested

from gpu_worker.builtins import BUILTINS
from gpu_worker.compute.make_unet_weights import weights_path
from gpu_worker.compute.synthetic import input_file, make_pairs, target_file
from gpu_worker.compute.training import TrainingConfig, evaluate, stack_pairs
from gpu_worker.compute.unet import UNet
from tests.core.algorithms.conftest import MemoryContext

PACKAGE = BUILTINS / "unet_segmentation"
WEIGHTS = "files/unet3d.pt"
# A small problem the defaults learn in a few seconds on 2 CPU cores: 4 volumes, 2 steps an epoch.
TRAINING = {"learning_rate": 0.003, "batch_size": 2, "num_epochs": 30}
QUICK = {"learning_rate": 0.003, "batch_size": 2, "num_epochs": 2}


@dataclass
class StoppingContext(MemoryContext):
    """A MemoryContext whose stop request arrives once `stop_at_step` steps were reported."""

    stop_at_step: int = 0

    def set_steps(self, current_step: int, total_steps: int) -> None:
        super().set_steps(current_step, total_steps)
        self.stop_requested = current_step >= self.stop_at_step


def _context(scratch: Path, weights: bytes | None = None, **fields: Any) -> MemoryContext:
    assets = {WEIGHTS: weights if weights is not None else weights_path(3).read_bytes()}
    return MemoryContext(training=True, assets=assets, scratch=scratch, **fields)


def _add_sample(context: MemoryContext, pairs: list[tuple[np.ndarray, np.ndarray]]) -> str:
    """One sample whose entries each pair an input file with its target file."""
    entries = []
    for volume, mask in pairs:
        input_id, target_id = context.write_data(input_file(volume)), context.write_data(target_file(mask))
        entries.append({"input": [input_id], "target": [target_id]})
    return context.add_sample(*entries)


def _train(context: MemoryContext, sample_ids: list[str], args: dict[str, Any]) -> BaseRunner:
    runner = load_runner(PACKAGE, context, "cpu")
    try:
        runner.run_training(sample_ids, args)
    finally:
        unload_runner(runner)
    return runner


def _unet(weights: bytes) -> UNet:
    model = UNet(dims=3)
    model.load_state_dict(torch.load(io.BytesIO(weights), map_location="cpu", weights_only=True))
    return model


def _last_checkpoint(context: MemoryContext) -> tuple[dict[str, bytes], dict[str, Any]]:
    return list(context.checkpoints.values())[-1]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> MemoryContext:
    """A context after one full training: two training samples of two volumes each, one validation sample."""
    context = _context(tmp_path_factory.mktemp("scratch"))
    pairs = make_pairs(4, seed=10)
    sample_ids = [_add_sample(context, pairs[:2]), _add_sample(context, pairs[2:])]
    context.validation_ids = [_add_sample(context, make_pairs(2, seed=11))]

    _train(context, sample_ids, TRAINING)

    return context


@pytest.fixture
def quick(tmp_path: Path) -> Iterator[tuple[MemoryContext, list[str]]]:
    """A context with one training sample of two small volumes, and its sample ids."""
    context = _context(tmp_path / "scratch")
    yield context, [_add_sample(context, make_pairs(2, size=16, seed=0))]


def test_unet_segmentation_train_saves_checkpoints_with_val_loss_and_dice(trained: MemoryContext) -> None:
    assets, properties = _last_checkpoint(trained)

    assert set(assets) == {WEIGHTS}
    assert properties["epoch"] == TRAINING["num_epochs"]
    assert isinstance(properties["val_loss"], float) and properties["val_loss"] > 0.0
    assert properties["dice"] >= 0.85


def test_unet_segmentation_train_checkpoint_segments_held_out_volumes(trained: MemoryContext) -> None:
    assets, _ = _last_checkpoint(trained)
    model = _unet(assets[WEIGHTS])

    result = evaluate(model, *stack_pairs(make_pairs(4, seed=12), model.multiple, "cpu"))

    assert result.dice >= 0.85


def test_unet_segmentation_train_reports_every_step(trained: MemoryContext) -> None:
    total = TRAINING["num_epochs"] * 2

    assert trained.steps == [(step, total) for step in range(1, total + 1)]


def test_unet_segmentation_train_publishes_the_last_epochs_metrics_as_state(trained: MemoryContext) -> None:
    _, properties = _last_checkpoint(trained)

    assert trained.state["epoch"] == TRAINING["num_epochs"]
    assert trained.state["dice"] == properties["dice"]


def test_unet_segmentation_train_checkpoints_evenly_and_at_the_last_epoch(trained: MemoryContext) -> None:
    epochs = [properties["epoch"] for _, properties in trained.checkpoints.values()]

    assert epochs == list(range(3, TRAINING["num_epochs"] + 1, 3))


def test_unet_segmentation_train_validates_on_the_validation_samples(trained: MemoryContext) -> None:
    messages = [message for _, message in trained.logs]

    assert any("Training on 4 volumes, validating on 2" in message for message in messages)


def test_unet_segmentation_train_without_validation_samples_evaluates_on_training_volumes(
    quick: tuple[MemoryContext, list[str]],
) -> None:
    context, sample_ids = quick

    _train(context, sample_ids, QUICK)

    assert ("WARNING", "No validation samples: evaluating on the training volumes.") in context.logs
    assert "dice" in _last_checkpoint(context)[1]


def test_unet_segmentation_train_starts_from_the_loaded_checkpoint(
    trained: MemoryContext, tmp_path: Path
) -> None:
    context = _context(tmp_path / "scratch", weights=_last_checkpoint(trained)[0][WEIGHTS])
    sample_ids = [_add_sample(context, make_pairs(4, seed=10))]

    _train(context, sample_ids, {"learning_rate": 0.00001, "batch_size": 2, "num_epochs": 1})

    assert _last_checkpoint(context)[1]["dice"] >= 0.85


def test_unet_segmentation_train_leaves_the_inference_model_unchanged(
    quick: tuple[MemoryContext, list[str]],
) -> None:
    context, sample_ids = quick
    runner = load_runner(PACKAGE, context, "cpu")
    before = {name: tensor.clone() for name, tensor in runner.model.state_dict().items()}

    try:
        runner.run_training(sample_ids, QUICK)
        outputs = runner.run(
            {"input_dataset_ids": [context.add_file(data=np.zeros((16, 16, 16), np.float32))]}
        )
    finally:
        unload_runner(runner)

    for name, tensor in runner.model.state_dict().items():
        torch.testing.assert_close(tensor, before[name], rtol=0, atol=0)
    assert context.read_output(outputs[0], "mask").shape == (16, 16, 16)


def test_unet_segmentation_train_stops_at_the_step_a_stop_arrives(tmp_path: Path) -> None:
    assets = {WEIGHTS: weights_path(3).read_bytes()}
    context = StoppingContext(training=True, assets=assets, scratch=tmp_path, stop_at_step=3)
    sample_ids = [_add_sample(context, make_pairs(2, size=16, seed=0))]

    with pytest.raises(StopRequested):
        _train(context, sample_ids, QUICK | {"batch_size": 1, "num_epochs": 5})

    assert context.steps[-1] == (3, 10)


def test_unet_segmentation_train_rejects_a_sample_with_unpaired_files(
    quick: tuple[MemoryContext, list[str]],
) -> None:
    context, _ = quick
    volume, mask = make_pairs(1, size=16)[0]
    inputs = [context.write_data(input_file(volume)) for _ in range(2)]
    sample_id = context.add_sample({"input": inputs, "target": [context.write_data(target_file(mask))]})

    with pytest.raises(ValueError, match="2 input files but 1 target files"):
        _train(context, [sample_id], QUICK)


def test_unet_segmentation_training_defaults_are_the_compute_cores() -> None:
    config = parse_pyproject((PACKAGE / "pyproject.toml").read_bytes()).tool.compox

    defaults = validate_parameters(config.training_parameters, {})

    default = TrainingConfig()
    assert defaults == {
        "learning_rate": default.learning_rate,
        "batch_size": default.batch_size,
        "num_epochs": default.num_epochs,
    }
