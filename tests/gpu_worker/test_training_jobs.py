"""run_training in-process against moto: rounds of the trainable fixture package on samples, from the
stored training record and its plan to checkpoints, and the chain's end through select_best/finalize."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from stratus.algorithms import package_from_folder
from stratus.errors import IllegalTransitionError, NotFoundError
from stratus.models.algorithms import AlgorithmVersionRecord
from stratus.models.jobs import JobStatus
from stratus.models.samples import SampleCreate
from stratus.models.trainings import RoundStatus, Selection, TrainingCreate, TrainingRecord
from stratus.services import algorithms, files, samples, trainings
from stratus.settings import Settings
from stratus.stores import Stores
from stratus.stores.layout import asset_key

from gpu_worker.__main__ import EXIT_COMPLETED, EXIT_FAILED, EXIT_STOPPED, main
from gpu_worker.jobs import run_training

from .conftest import TENANT, hdf5_bytes

TRAINABLE = Path(__file__).resolve().parents[1] / "e2e" / "packages" / "trainable_threshold"
THRESHOLD_ASSET = "files/threshold.txt"
# Background pixels are 0.2 and foreground 0.6: training moves the threshold (0.9 in the package) halfway
# towards 0.4 each epoch, so 3 epochs give 0.4625.
BACKGROUND, FOREGROUND = 0.2, 0.6
TAGS = ["experiment:42", "unit"]


def deploy_trainable(stores: Stores, settings: Settings, folder: Path = TRAINABLE) -> AlgorithmVersionRecord:
    """Deploy a trainable package folder as the API does."""
    return algorithms.deploy(package_from_folder(folder), TENANT, stores, settings)


def make_sample(stores: Stores, settings: Settings, tags: list[str] | None = None) -> str:
    """A sample of one image (left half background, right half foreground) and its mask."""
    image = np.full((4, 4), BACKGROUND, dtype=np.float32)
    image[:, 2:] = FOREGROUND
    mask = (image > 0.4).astype(np.uint8)
    image_id = files.store_upload(hdf5_bytes(image=image), TENANT, stores, settings).file_id
    mask_id = files.store_upload(hdf5_bytes(mask=mask), TENANT, stores, settings).file_id
    request = SampleCreate(files=[{"input": [image_id], "target": [mask_id]}], tags=tags or [])
    return samples.create(request, TENANT, stores).sample_id


def new_training(stores: Stores, algorithm_id: str, sample_ids: list[str], **fields: Any) -> TrainingRecord:
    """Store a PENDING training record planned as the API plans it, and return it."""
    request = TrainingCreate(algorithm_id=algorithm_id, training_data=sample_ids, **fields)
    record, _ = trainings._prepare(request, TENANT, stores)
    stores.trainings.create(record)
    return record


def asset_text(stores: Stores, checkpoint_id: str, path: str = THRESHOLD_ASSET) -> str:
    """One asset of a checkpoint, as stored."""
    return stores.objects.get(asset_key(stores.checkpoints.get(checkpoint_id, TENANT).assets[path])).decode()


@pytest.fixture
def trainable(stores: Stores, settings: Settings) -> AlgorithmVersionRecord:
    return deploy_trainable(stores, settings)


@pytest.fixture
def sample_ids(stores: Stores, settings: Settings) -> list[str]:
    return [make_sample(stores, settings, ["modality:ct"]) for _ in range(2)]


@pytest.fixture
def training(stores: Stores, trainable: AlgorithmVersionRecord, sample_ids: list[str]) -> TrainingRecord:
    """One round on both samples, three epochs, tagged."""
    return new_training(
        stores, trainable.algorithm_id, sample_ids, tags=TAGS, additional_parameters={"num_epochs": 3}
    )


def test_run_training_completes_the_round_with_a_checkpoint(
    stores: Stores, settings: Settings, training: TrainingRecord
) -> None:
    after = run_training(training.training_id, 0, stores, settings)

    # The round is done; the chain (select_best, finalize) ends the training.
    assert after.status is JobStatus.RUNNING, after.log
    assert after.rounds[0].status is RoundStatus.COMPLETED
    assert after.resolved_device == "cpu"
    assert after.progress == 1.0
    assert after.state == {"epoch": 3, "threshold": pytest.approx(0.4625), "accuracy": 1.0}
    (checkpoint_id,) = after.output_checkpoint_ids
    assert after.rounds[0].checkpoint_ids == [checkpoint_id]
    assert f"Saved checkpoint {checkpoint_id}." in after.log


def test_run_training_saves_a_checkpoint_record_of_the_training(
    stores: Stores, settings: Settings, training: TrainingRecord, trainable: AlgorithmVersionRecord
) -> None:
    after = run_training(training.training_id, 0, stores, settings)

    (checkpoint_id,) = after.output_checkpoint_ids
    checkpoint = stores.checkpoints.get(checkpoint_id, TENANT)
    assert checkpoint.training_id == training.training_id
    assert checkpoint.parent_algorithm_id == trainable.algorithm_id
    assert checkpoint.algorithm_minor_version == str(trainable.minor)
    assert checkpoint.tags == TAGS
    assert checkpoint.parent_checkpoint_id is None  # the training started from the algorithm's assets
    assert checkpoint.round == 0
    assert checkpoint.properties == {"accuracy": 1.0, "threshold": pytest.approx(0.4625), "epochs": 3}
    assert set(checkpoint.assets) == set(trainable.assets)
    assert checkpoint.assets[THRESHOLD_ASSET] != trainable.assets[THRESHOLD_ASSET]
    assert float(asset_text(stores, checkpoint_id)) == pytest.approx(0.4625)


def test_select_best_and_finalize_complete_the_training(
    stores: Stores, settings: Settings, training: TrainingRecord
) -> None:
    after = run_training(training.training_id, 0, stores, settings)

    step = trainings.select_best(training.training_id, 0, stores)
    final = trainings.finalize(training.training_id, stores)

    assert step.done
    assert final.done and final.status is JobStatus.COMPLETED
    record = stores.trainings.get(training.training_id)
    assert record.status is JobStatus.COMPLETED
    assert record.best_checkpoint_id == after.output_checkpoint_ids[0]


def test_chain_round_starts_from_the_best_checkpoint_so_far(
    stores: Stores, settings: Settings, trainable: AlgorithmVersionRecord, sample_ids: list[str]
) -> None:
    training = new_training(
        stores,
        trainable.algorithm_id,
        sample_ids,
        tags=TAGS,
        rounds=2,
        additional_parameters={"num_epochs": 1},
        selection=Selection(metric="accuracy", mode="max"),
    )

    run_training(training.training_id, 0, stores, settings)
    first = trainings.select_best(training.training_id, 0, stores)
    after = run_training(training.training_id, 1, stores, settings)
    last = trainings.select_best(training.training_id, 1, stores)
    final = trainings.finalize(training.training_id, stores)

    assert not first.done and first.round == 1
    assert last.done
    best_of_first = after.rounds[0].checkpoint_ids[0]
    assert after.rounds[1].start_checkpoint_id == best_of_first
    (second,) = after.rounds[1].checkpoint_ids
    checkpoint = stores.checkpoints.get(second, TENANT)
    assert (checkpoint.parent_checkpoint_id, checkpoint.round, checkpoint.tags) == (best_of_first, 1, TAGS)
    # One epoch halfway to 0.4 in each round: 0.9 → 0.65 → 0.525.
    assert float(asset_text(stores, best_of_first)) == pytest.approx(0.65)
    assert float(asset_text(stores, second)) == pytest.approx(0.525)
    assert after.output_checkpoint_ids == [best_of_first, second]
    assert final.status is JobStatus.COMPLETED
    record = stores.trainings.get(training.training_id)
    assert record.status is JobStatus.COMPLETED and record.best_checkpoint_id in (best_of_first, second)


def test_training_from_a_checkpoint_saves_checkpoints_with_that_parent(
    stores: Stores, settings: Settings, training: TrainingRecord, trainable: AlgorithmVersionRecord
) -> None:
    (start,) = run_training(training.training_id, 0, stores, settings).output_checkpoint_ids
    follow_up = new_training(
        stores,
        trainable.algorithm_id,
        training.training_data,
        checkpoint_id=start,
        tags=["follow-up"],
        additional_parameters={"num_epochs": 1},
    )

    after = run_training(follow_up.training_id, 0, stores, settings)

    assert after.rounds[0].status is RoundStatus.COMPLETED, after.log
    assert after.rounds[0].start_checkpoint_id == start
    (saved,) = after.output_checkpoint_ids
    checkpoint = stores.checkpoints.get(saved, TENANT)
    assert (checkpoint.parent_checkpoint_id, checkpoint.tags) == (start, ["follow-up"])
    # It trained on from the checkpoint's threshold (0.4625), not the package's (0.9).
    assert float(asset_text(stores, saved)) == pytest.approx((0.4625 + 0.4) / 2, abs=1e-6)


def test_run_training_stops_when_a_stop_was_requested_before_the_round(
    stores: Stores, settings: Settings, training: TrainingRecord
) -> None:
    stores.trainings.request_stop(training.training_id)

    final = run_training(training.training_id, 0, stores, settings)

    assert final.status is JobStatus.STOPPED
    assert final.output_checkpoint_ids == []
    assert final.rounds[0].status is RoundStatus.PENDING
    assert "Training stopped." in final.log
    assert stores.trainings.get(training.training_id).status is JobStatus.STOPPED


def test_run_training_stops_between_rounds_keeping_the_saved_checkpoints(
    stores: Stores, settings: Settings, trainable: AlgorithmVersionRecord, sample_ids: list[str]
) -> None:
    training = new_training(
        stores, trainable.algorithm_id, sample_ids, rounds=2, additional_parameters={"num_epochs": 1}
    )
    (saved,) = run_training(training.training_id, 0, stores, settings).output_checkpoint_ids
    trainings.select_best(training.training_id, 0, stores)
    stores.trainings.request_stop(training.training_id)

    final = run_training(training.training_id, 1, stores, settings)

    assert final.status is JobStatus.STOPPED
    assert [r.status for r in final.rounds] == [RoundStatus.COMPLETED, RoundStatus.PENDING]
    assert final.output_checkpoint_ids == [saved]


def test_run_training_fails_when_a_checkpoint_names_an_asset_the_algorithm_lacks(
    stores: Stores, settings: Settings, sample_ids: list[str], tmp_path: Path
) -> None:
    folder = tmp_path / "trainable_unknown_asset"
    shutil.copytree(TRAINABLE, folder)
    runner = folder / "Runner.py"
    saved = 'checkpoint = {THRESHOLD_ASSET: f"{threshold}\\n".encode()}'
    assert saved in runner.read_text()
    runner.write_text(runner.read_text().replace(saved, 'checkpoint = {"files/weights.pt": b"0"}'))
    pyproject = folder / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"trainable_threshold"', '"trainable_unknown_asset"'))
    version = deploy_trainable(stores, settings, folder)
    training = new_training(stores, version.algorithm_id, sample_ids, additional_parameters={"num_epochs": 1})

    final = run_training(training.training_id, 0, stores, settings)

    assert final.status is JobStatus.FAILED
    assert final.error is not None and final.error.type == "InvalidInputError"
    assert final.error.message.endswith("unknown: files/weights.pt")
    assert "Traceback (most recent call last)" in final.log
    assert final.output_checkpoint_ids == []


def test_run_training_returns_an_ended_training_unchanged(
    stores: Stores, settings: Settings, training: TrainingRecord
) -> None:
    stopped = stores.trainings.stop(training.training_id, "Training stopped.")

    assert run_training(training.training_id, 0, stores, settings) == stopped


def test_run_training_rejects_unknown_id(stores: Stores, settings: Settings) -> None:
    with pytest.raises(NotFoundError, match="training not found"):
        run_training("no-such-training", 0, stores, settings)


def test_main_exits_zero_after_a_round_with_the_training_still_running(
    stores: Stores, training: TrainingRecord
) -> None:
    assert main(["run-training", training.training_id, "0"]) == EXIT_COMPLETED

    record = stores.trainings.get(training.training_id)
    assert record.status is JobStatus.RUNNING and record.rounds[0].status is RoundStatus.COMPLETED


def test_main_exits_with_stop_code_for_a_stopped_training(stores: Stores, training: TrainingRecord) -> None:
    stores.trainings.request_stop(training.training_id)

    assert main(["run-training", training.training_id, "0"]) == EXIT_STOPPED


def test_main_exits_non_zero_for_unknown_training(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run-training", "no-such-training", "0"]) == EXIT_FAILED
    assert "training not found" in capsys.readouterr().err


def test_run_training_returns_a_completed_round_unchanged(
    stores: Stores, settings: Settings, training: TrainingRecord
) -> None:
    done = run_training(training.training_id, 0, stores, settings)

    again = run_training(training.training_id, 0, stores, settings)  # a retried job

    assert again == done and len(again.output_checkpoint_ids) == 1


def test_run_training_refuses_a_round_running_elsewhere(
    stores: Stores, settings: Settings, training: TrainingRecord
) -> None:
    stores.trainings.mark_started(training.training_id)
    stores.trainings.mark_running(training.training_id, {"resolved_device": "cpu"})
    stores.trainings.set_round(training.training_id, 0, RoundStatus.RUNNING)

    with pytest.raises(IllegalTransitionError):
        run_training(training.training_id, 0, stores, settings)
