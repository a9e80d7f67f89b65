"""Record ids: every kind is a uuid4 string, and a request names each id of a list once."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError
from stratus.models.executions import ExecutionCreate
from stratus.models.ids import AlgorithmId, CheckpointId, ExecutionId, FileId, SampleId, TrainingId
from stratus.models.samples import SampleCreate
from stratus.models.trainings import TrainingCreate, TrainingExtend

ID_TYPES = [FileId, ExecutionId, TrainingId, SampleId, CheckpointId, AlgorithmId]
A, B = str(uuid.uuid4()), str(uuid.uuid4())


@pytest.mark.parametrize("id_type", ID_TYPES)
def test_id_types_take_a_uuid4(id_type: Any) -> None:
    assert TypeAdapter(id_type).validate_python(A) == A


@pytest.mark.parametrize("id_type", ID_TYPES)
@pytest.mark.parametrize(
    "value",
    ["", "x", A.upper(), f" {A}", f"{A}\n", str(uuid.uuid1()), "00000000-0000-0000-0000-000000000000", A * 2],
)
def test_id_types_refuse_anything_else(id_type: Any, value: str) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(id_type).validate_python(value)


@pytest.mark.parametrize("inputs", [[], [A, A], [A, B, A]], ids=["empty", "twice", "twice-apart"])
def test_execute_request_refuses_empty_or_repeated_inputs(inputs: list[str]) -> None:
    with pytest.raises(ValidationError, match="input_dataset_ids"):
        ExecutionCreate(algorithm_id=B, input_dataset_ids=inputs)


def test_repeated_ids_are_named_in_the_message() -> None:
    with pytest.raises(ValidationError, match=f"each id may appear once; repeated: {A}"):
        ExecutionCreate(algorithm_id=B, input_dataset_ids=[A, B, A])


@pytest.mark.parametrize(
    "fields",
    [
        {"training_data": []},
        {"training_data": [A, A]},
        {"training_data": [A], "validation_data": [B, B]},
    ],
    ids=["no-samples", "repeated-sample", "repeated-validation-sample"],
)
def test_training_request_refuses_empty_or_repeated_samples(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        TrainingCreate(algorithm_id=B, **fields)


def test_extension_refuses_repeated_samples() -> None:
    with pytest.raises(ValidationError, match="repeated"):
        TrainingExtend(training_data=[A, A])


def test_sample_request_refuses_a_file_repeated_in_a_role() -> None:
    with pytest.raises(ValidationError, match="repeated"):
        SampleCreate(files=[{"input": [A, A]}])
