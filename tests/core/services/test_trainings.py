"""Training use cases: the chain's rounds, extending an ended chain, picking the best checkpoint."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError
from stratus.errors import InvalidInputError, NotFoundError
from stratus.models.algorithms import AlgorithmVersionRecord
from stratus.models.checkpoints import CheckpointRecord
from stratus.models.jobs import JobStatus
from stratus.models.trainings import Selection, Training, TrainingCreate, TrainingExtend
from stratus.services import trainings
from stratus.settings import Settings
from stratus.stores import Stores

from tests.gpu_worker.conftest import TENANT
from tests.gpu_worker.test_training_jobs import deploy_trainable, make_sample, new_training


class RecordingMachine:
    """A state machine store double that records the runs it was asked to start."""

    def __init__(self) -> None:
        self.started: list[str] = []

    def start(self, name: str, payload: dict[str, Any]) -> None:  # noqa: ARG002 (the store's signature)
        self.started.append(name)


@pytest.fixture
def trainable(stores: Stores, settings: Settings) -> AlgorithmVersionRecord:
    return deploy_trainable(stores, settings)


@pytest.mark.parametrize(
    ("count", "rounds", "round_size", "sizes"),
    [
        (5, 4, None, [2, 1, 1, 1]),
        (6, 3, None, [2, 2, 2]),
        (3, None, None, [3]),
        (5, None, 2, [2, 2, 1]),
        (4, 4, None, [1, 1, 1, 1]),
    ],
)
def test_split_rounds_makes_the_rounds_asked_for(
    count: int, rounds: int | None, round_size: int | None, sizes: list[int]
) -> None:
    sample_ids = [f"s{i}" for i in range(count)]

    split = trainings.split_rounds(sample_ids, rounds, round_size, first=3)

    assert [len(r.sample_ids) for r in split] == sizes
    assert [r.index for r in split] == list(range(3, 3 + len(sizes)))
    assert [s for r in split for s in r.sample_ids] == sample_ids


@pytest.mark.parametrize("fields", [{"rounds": 2, "round_size": 1}, {"rounds": 3}])
def test_extend_request_refuses_splits_that_cannot_work(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        TrainingExtend(training_data=["a", "b"], **fields)


@pytest.mark.parametrize("fields", [{"rounds": "2"}, {"round_size": "1"}, {"rounds": 2.0}, {"rounds": True}])
def test_chain_request_refuses_numbers_that_are_not_integers(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        TrainingExtend.model_validate({"training_data": ["a", "b"], **fields})


def test_training_parameter_errors_name_training_parameters(
    stores: Stores, settings: Settings, trainable: AlgorithmVersionRecord
) -> None:
    sample_id = make_sample(stores, settings)

    with pytest.raises(InvalidInputError, match="unknown training parameter 'tile_size'"):
        new_training(stores, trainable.algorithm_id, [sample_id], additional_parameters={"tile_size": 8})


def _checkpoint(stores: Stores, training_id: str, algorithm_id: str, **properties: Any) -> str:
    record = CheckpointRecord(
        checkpoint_id=f"c-{len(stores.trainings.get(training_id).output_checkpoint_ids)}",
        tenant=TENANT,
        training_id=training_id,
        parent_algorithm_id=algorithm_id,
        algorithm_minor_version="0",
        properties=properties,
        assets={},
        created_at=stores.clock(),
    )
    stores.trainings.add_checkpoint(stores.checkpoints, record, 0)
    return record.checkpoint_id


@pytest.mark.parametrize(("mode", "best"), [("max", 1), ("min", 0)])
def test_select_best_picks_by_the_selection_metric(
    stores: Stores, settings: Settings, trainable: AlgorithmVersionRecord, mode: str, best: int
) -> None:
    training = new_training(
        stores,
        trainable.algorithm_id,
        [make_sample(stores, settings)],
        selection=Selection(metric="dice", mode=mode),
    )
    saved = [_checkpoint(stores, training.training_id, training.algorithm_id, dice=d) for d in (0.2, 0.9)]
    _checkpoint(stores, training.training_id, training.algorithm_id, loss=0.1)  # lacks the metric

    step = trainings.select_best(training.training_id, 0, stores)

    assert step.done
    assert stores.trainings.get(training.training_id).best_checkpoint_id == saved[best]


def test_extend_continues_a_stopped_chain_from_its_newest_checkpoint(
    stores: Stores, settings: Settings, trainable: AlgorithmVersionRecord
) -> None:
    training = new_training(stores, trainable.algorithm_id, [make_sample(stores, settings)], tags=["t"])
    newest = [_checkpoint(stores, training.training_id, training.algorithm_id) for _ in range(2)][-1]
    stores.trainings.stop(training.training_id, "stopped in the middle of its round")
    machine = RecordingMachine()
    request = TrainingExtend(
        training_data=[make_sample(stores, settings), make_sample(stores, settings)], rounds=2
    )

    extension_id = trainings.extend(training.training_id, request, TENANT, stores, machine)  # type: ignore[arg-type]

    extension = stores.trainings.get(extension_id)
    assert machine.started == [extension_id]
    assert extension.status is JobStatus.PENDING and extension.extends_training_id == training.training_id
    assert extension.checkpoint_id == newest and extension.best_checkpoint_id == newest
    assert extension.tags == ["t"] and [r.index for r in extension.rounds] == [1, 2]
    assert Training.from_record(extension, stores.clock()).current_round == 1


def test_training_names_its_algorithm_by_name_and_major(
    stores: Stores, settings: Settings, trainable: AlgorithmVersionRecord
) -> None:
    request = TrainingCreate(
        algorithm_name=trainable.name,
        algorithm_major_version=trainable.major,
        training_data=[make_sample(stores, settings)],
    )

    record, _ = trainings._prepare(request, TENANT, stores)

    assert record.algorithm_id == trainable.algorithm_id


def test_training_by_an_unknown_major_is_not_found(
    stores: Stores, settings: Settings, trainable: AlgorithmVersionRecord
) -> None:
    request = TrainingCreate(
        algorithm_name=trainable.name,
        algorithm_major_version=trainable.major + 1,
        training_data=[make_sample(stores, settings)],
    )

    with pytest.raises(NotFoundError, match=f"algorithm {trainable.name} {trainable.major + 1} not found"):
        trainings._prepare(request, TENANT, stores)
