"""An unmodified Compox trainable package (tests/e2e/packages/trainable_threshold) loaded and trained."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from stratus.algorithms import (
    AlgorithmPackage,
    PackageLimits,
    load_runner,
    package_from_folder,
    read_package,
    unload_runner,
    validate_parameters,
)
from stratus.algorithms.runtime import SampleManifest, TrainingDataset, TrainingSample
from stratus.errors import ConflictError

from ..conftest import MemoryContext

TRAINABLE_DIR = Path(__file__).resolve().parents[3] / "e2e" / "packages" / "trainable_threshold"
THRESHOLD_ASSET = "files/threshold.txt"
# Background pixels are 0.2 and foreground 0.6: the best threshold is 0.4, and training starts at 0.9.
BACKGROUND, FOREGROUND = 0.2, 0.6


@pytest.fixture(scope="module")
def trainable_package() -> AlgorithmPackage:
    return read_package(package_from_folder(TRAINABLE_DIR), PackageLimits())


@pytest.fixture
def trainable_context(memory_context: MemoryContext, trainable_package: AlgorithmPackage) -> MemoryContext:
    memory_context.assets = dict(trainable_package.assets)
    memory_context.training = True
    return memory_context


def half_image(context: MemoryContext) -> dict[str, list[str]]:
    image = np.full((4, 4), BACKGROUND, dtype=np.float32)
    image[:, 2:] = FOREGROUND
    return {
        "input": [context.add_file(image=image)],
        "target": [context.add_file(mask=(image > 0.4).astype(np.uint8))],
    }


def test_trainable_package_trains_and_saves_a_checkpoint(
    trainable_context: MemoryContext, trainable_package: AlgorithmPackage
) -> None:
    sample_ids = [trainable_context.add_sample(half_image(trainable_context)) for _ in range(2)]
    args = validate_parameters(trainable_package.config.training_parameters, {"num_epochs": 3})
    runner = load_runner(TRAINABLE_DIR, trainable_context, "cpu")

    runner.run_training(sample_ids, args)
    unload_runner(runner)

    ((assets, properties),) = trainable_context.checkpoints.values()
    # Each epoch moves halfway to 0.4: 0.9 → 0.65 → 0.525 → 0.4625.
    assert float(assets[THRESHOLD_ASSET]) == pytest.approx(0.4625)
    assert properties == {"accuracy": 1.0, "threshold": pytest.approx(0.4625), "epochs": 3}
    assert trainable_context.state == {"epoch": 3, "threshold": pytest.approx(0.4625), "accuracy": 1.0}
    assert trainable_context.progress == pytest.approx([1 / 3, 2 / 3, 1.0])
    messages = [message for _, message in trainable_context.logs]
    assert "Fetched training dataset with 2 samples." in messages
    assert "Training on 2 samples with keys ['input', 'target']." in messages
    assert messages[-1].startswith("Training completed in")


def test_trainable_package_checkpoint_segments_with_the_learned_threshold(
    trainable_context: MemoryContext, trainable_package: AlgorithmPackage
) -> None:
    entry = half_image(trainable_context)
    trainable_context.assets = {**trainable_package.assets, THRESHOLD_ASSET: b"0.4625\n"}
    runner = load_runner(TRAINABLE_DIR, trainable_context, "cpu")

    (mask_id,) = runner.run({"input_dataset_ids": entry["input"]})
    unload_runner(runner)

    expected = trainable_context.read_output(entry["target"][0], "mask")
    np.testing.assert_array_equal(trainable_context.read_output(mask_id, "mask"), expected)


def test_trainable_package_fails_outside_a_training(
    trainable_context: MemoryContext, trainable_package: AlgorithmPackage
) -> None:
    sample_id = trainable_context.add_sample(half_image(trainable_context))
    trainable_context.training = False
    runner = load_runner(TRAINABLE_DIR, trainable_context, "cpu")

    with pytest.raises(ConflictError, match="only be read by a training"):
        runner.run_training([sample_id], {})
    unload_runner(runner)

    assert trainable_context.checkpoints == {}


def test_load_runner_serves_compox_training_modules(tmp_path: Path, memory_context: MemoryContext) -> None:
    (tmp_path / "Runner.py").write_text(
        "import compox.training.SampleManifest\n"
        "from compox.algorithm_utils.BaseRunner import BaseRunner\n"
        "from compox.training.TrainingDataset import TrainingDataset\n"
        "from compox.training.TrainingSample import TrainingSample\n"
        "class Runner(BaseRunner):\n"
        "    def preprocess(self, input_data, args=None): ...\n"
        "    def inference(self, data, args=None): ...\n"
        "    def postprocess(self, data, args=None): ...\n"
        "    def classes(self):\n"
        "        return TrainingDataset, TrainingSample, compox.training.SampleManifest.SampleManifest\n"
    )
    runner = load_runner(tmp_path, memory_context, "cpu")

    classes = runner.classes()  # type: ignore[attr-defined]
    unload_runner(runner)

    assert classes == (TrainingDataset, TrainingSample, SampleManifest)
