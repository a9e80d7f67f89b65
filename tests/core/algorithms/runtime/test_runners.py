"""BaseRunner's services and drivers (runs and trainings) against an in-memory context."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError
from stratus.algorithms.runtime import (
    BaseRunner,
    GenericSchema,
    Image2SegmentationRunner,
    ImageSchema,
    SegmentationSchema,
    StopRequested,
    VolumeSchema,
)
from stratus.errors import ConflictError

from ..conftest import MemoryContext


class EchoRunner(BaseRunner):
    def preprocess(self, input_data: dict[str, Any], args: dict[str, Any] | None = None) -> Any:
        return self.fetch_data(input_data["input_dataset_ids"], GenericSchema)

    def inference(self, data: Any, args: dict[str, Any] | None = None) -> Any:
        return data

    def postprocess(self, data: Any, args: dict[str, Any] | None = None) -> list[str]:
        return self.post_data(data, GenericSchema)


class ThresholdRunner(Image2SegmentationRunner):
    def inference(self, data: Any, args: dict[str, Any] | None = None) -> Any:
        return (data > 0.5).astype(np.uint8)


def attached(runner_class: type[BaseRunner], context: MemoryContext) -> BaseRunner:
    runner = runner_class.__new__(runner_class)
    runner.attach(context)
    runner.initialize("cpu")
    runner.load()
    return runner


def test_run_echoes_data_through_hdf5(memory_context: MemoryContext) -> None:
    file_id = memory_context.add_file(data=np.arange(6).reshape(2, 3), extra=np.zeros(1))
    runner = attached(EchoRunner, memory_context)

    (output_id,) = runner.run({"input_dataset_ids": [file_id]})

    np.testing.assert_array_equal(memory_context.read_output(output_id, "data"), np.arange(6).reshape(2, 3))


def test_fetch_data_with_keys_returns_only_those(memory_context: MemoryContext) -> None:
    file_id = memory_context.add_file(volume=np.zeros((2, 2, 2)), stats=np.bytes_(b"mean 0"))
    runner = attached(EchoRunner, memory_context)

    (record,) = runner.fetch_data([file_id], VolumeSchema, "volume", "stats", parallel=True)

    assert record["stats"] == "mean 0"
    assert record["mask"] is None


def test_typed_runner_stacks_images_and_posts_masks(memory_context: MemoryContext) -> None:
    ids = [memory_context.add_file(image=np.full((3, 3), v, dtype=np.float32)) for v in (0.2, 0.9)]
    runner = attached(ThresholdRunner, memory_context)

    outputs = runner.run({"input_dataset_ids": ids})

    assert [memory_context.read_output(i, "mask").max() for i in outputs] == [0, 1]


def test_set_progress_rejects_non_float_and_out_of_range(memory_context: MemoryContext) -> None:
    runner = attached(EchoRunner, memory_context)

    with pytest.raises(ValueError, match="float"):
        runner.set_progress(1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="between 0 and 1"):
        runner.set_progress(1.5)


def test_set_progress_raises_stop_requested(memory_context: MemoryContext) -> None:
    runner = attached(EchoRunner, memory_context)
    memory_context.stop_requested = True

    with pytest.raises(StopRequested):
        runner.set_progress(0.1)


def test_run_stops_before_first_hook_when_stop_requested(memory_context: MemoryContext) -> None:
    runner = attached(EchoRunner, memory_context)
    memory_context.stop_requested = True

    with pytest.raises(StopRequested):
        runner.run({"input_dataset_ids": []})


def test_log_message_rejects_unknown_level(memory_context: MemoryContext) -> None:
    runner = attached(EchoRunner, memory_context)

    with pytest.raises(ValueError, match="logging level"):
        runner.log_message("hi", "LOUD")


def test_session_methods_round_trip(memory_context: MemoryContext) -> None:
    runner = attached(EchoRunner, memory_context)

    runner.save_item_to_session({"a": 1}, "cache")
    loaded = runner.load_item_from_session("cache")
    runner.remove_item_from_session("cache")

    assert loaded == {"a": 1}
    with pytest.raises(KeyError):
        runner.load_item_from_session("cache")


def test_save_checkpoint_and_state_delegate_to_context(memory_context: MemoryContext) -> None:
    memory_context.training = True
    runner = attached(EchoRunner, memory_context)

    checkpoint_id = runner.save_checkpoint({"files/w.pt": b"w"}, {"loss": 0.1})
    runner.set_state({"epoch": 1})

    assert memory_context.checkpoints[checkpoint_id] == ({"files/w.pt": b"w"}, {"loss": 0.1})
    assert runner.get_state() == {"epoch": 1}


def test_train_and_benchmark_default_to_not_implemented(memory_context: MemoryContext) -> None:
    runner = attached(EchoRunner, memory_context)

    with pytest.raises(NotImplementedError):
        runner.run_training(["s1"])
    with pytest.raises(NotImplementedError):
        runner.run_benchmark()


class TrainerRunner(EchoRunner):
    """Trains as `args` say: how many checkpoints to save, and which steps to report."""

    def train(self, training_data: list[str], args: dict[str, Any] | None = None) -> Any:
        args = args or {}
        for step in args.get("steps", []):
            self.report_step(step, 3)
        for index in range(args.get("checkpoints", 1)):
            self.save_checkpoint({"files/w.pt": bytes([index])}, {"loss": 1.0 / (index + 1)})
        return {"files/w.pt": b"ignored"}


def training_context(memory_context: MemoryContext) -> MemoryContext:
    memory_context.training = True
    return memory_context


def image_sample(context: MemoryContext, *values: float) -> str:
    entries = [
        {
            "input": [context.add_file(image=np.full((2, 2), value, dtype=np.float32))],
            "target": [context.add_file(mask=np.full((2, 2), value > 0.5, dtype=np.uint8))],
        }
        for value in values
    ]
    return context.add_sample(*entries)


def test_run_training_fails_when_no_checkpoint_was_saved(memory_context: MemoryContext) -> None:
    runner = attached(TrainerRunner, training_context(memory_context))

    with pytest.raises(RuntimeError, match="at least one output checkpoint"):
        runner.run_training(["s1"], {"checkpoints": 0})

    assert memory_context.running


def test_run_training_completes_after_checkpoints_and_ignores_train_result(
    memory_context: MemoryContext,
) -> None:
    runner = attached(TrainerRunner, training_context(memory_context))

    result = runner.run_training(["s1"], {"checkpoints": 2})

    assert result is None
    assert [properties for _, properties in memory_context.checkpoints.values()] == [
        {"loss": 1.0},
        {"loss": 0.5},
    ]
    assert memory_context.logs[-1][1].startswith("Training completed in")


def test_run_training_counts_only_checkpoints_of_this_run(memory_context: MemoryContext) -> None:
    runner = attached(TrainerRunner, training_context(memory_context))
    runner.run_training(["s1"], {"checkpoints": 1})

    with pytest.raises(RuntimeError, match="checkpoint"):
        runner.run_training(["s1"], {"checkpoints": 0})


def test_report_step_records_steps(memory_context: MemoryContext) -> None:
    runner = attached(TrainerRunner, training_context(memory_context))

    runner.run_training(["s1"], {"steps": [0, np.int64(2), 3]})

    assert memory_context.steps == [(0, 3), (2, 3), (3, 3)]
    assert all(type(current) is int for current, _ in memory_context.steps)


def test_report_step_raises_stop_requested_after_recording(memory_context: MemoryContext) -> None:
    runner = attached(TrainerRunner, training_context(memory_context))
    memory_context.stop_requested = True

    with pytest.raises(StopRequested):
        runner.report_step(1, 3)

    assert memory_context.steps == [(1, 3)]
    assert memory_context.checkpoints == {}


@pytest.mark.parametrize(
    ("current", "total", "message"),
    [
        (1.0, 3, "integers"),
        (1, True, "integers"),
        (0, 0, "at least 1"),
        (4, 3, "between"),
        (-1, 3, "between"),
    ],
)
def test_report_step_rejects_invalid_steps(
    memory_context: MemoryContext, current: Any, total: Any, message: str
) -> None:
    runner = attached(TrainerRunner, memory_context)

    with pytest.raises(ValueError, match=message):
        runner.report_step(current, total)

    assert memory_context.steps == []


def test_get_training_dataset_returns_samples_in_order(memory_context: MemoryContext) -> None:
    context = training_context(memory_context)
    ids = [image_sample(context, 0.2), image_sample(context, 0.7, 0.9)]
    runner = attached(EchoRunner, context)

    dataset = runner.get_training_dataset(ids[::-1])

    assert [sample.sample_id for sample in dataset] == ids[::-1]
    assert len(dataset[0]) == 2
    assert memory_context.logs[-1] == ("INFO", "Fetched training dataset with 2 samples.")


def test_get_training_dataset_outside_training_raises_conflict(memory_context: MemoryContext) -> None:
    sample_id = image_sample(memory_context, 0.2)
    runner = attached(EchoRunner, memory_context)

    with pytest.raises(ConflictError, match="only be read by a training"):
        runner.get_training_dataset([sample_id])


def test_get_training_dataset_rejects_no_ids(memory_context: MemoryContext) -> None:
    runner = attached(EchoRunner, training_context(memory_context))

    with pytest.raises(ValueError, match="at least one"):
        runner.get_training_dataset([])


def test_get_validation_dataset_is_none_without_validation_samples(memory_context: MemoryContext) -> None:
    runner = attached(EchoRunner, training_context(memory_context))

    assert runner.get_validation_dataset() is None


def test_get_validation_dataset_returns_validation_samples(memory_context: MemoryContext) -> None:
    context = training_context(memory_context)
    context.validation_ids = [image_sample(context, 0.3)]
    runner = attached(EchoRunner, context)

    dataset = runner.get_validation_dataset()

    assert dataset is not None
    assert [sample.sample_id for sample in dataset] == context.validation_ids
    assert memory_context.logs[-1] == ("INFO", "Fetched validation dataset with 1 samples.")


def test_temp_store_round_trips_a_dataset(memory_context: MemoryContext) -> None:
    context = training_context(memory_context)
    sample_id = image_sample(context, 0.2, 0.8)
    runner = attached(ThresholdRunner, context)
    dataset = runner.get_training_dataset([sample_id])

    local = runner.download_dataset_to_temp_store(
        dataset, {"input": ImageSchema, "target": SegmentationSchema}
    )
    loaded = runner.load_dataset_from_temp_store(local)

    root = memory_context.scratch_dir().resolve() / "temp_store"
    assert Path(local[0][1]["target"][0]).parent == root / sample_id / "file_000001" / "target"
    assert [entry["target"][0]["mask"].max() for entry in loaded[0]] == [0, 1]
    np.testing.assert_array_equal(loaded[0][1]["input"][0]["image"], np.full((2, 2), 0.8, dtype=np.float32))


def test_download_dataset_requires_a_schema_per_key(memory_context: MemoryContext) -> None:
    context = training_context(memory_context)
    runner = attached(EchoRunner, context)
    dataset = runner.get_training_dataset([image_sample(context, 0.2)])

    with pytest.raises(ValueError, match=r"\['target'\]"):
        runner.download_dataset_to_temp_store(dataset, {"input": ImageSchema})

    assert not (memory_context.scratch_dir() / "temp_store").exists()


def test_download_files_to_temp_store_keeps_order_across_batches(memory_context: MemoryContext) -> None:
    ids = [memory_context.add_file(data=np.full(2, index)) for index in range(3)]
    runner = attached(EchoRunner, memory_context)

    paths = runner.download_files_to_temp_store("raw", ids, GenericSchema, 2)
    loaded = runner.load_files_from_temp_store(paths, False, "data")

    assert [record["data"][0] for record in loaded] == [0, 1, 2]


def test_save_training_files_to_temp_store_validates_by_schema(memory_context: MemoryContext) -> None:
    runner = attached(EchoRunner, memory_context)

    paths = runner.save_training_files_to_temp_store("prepared", [{"data": np.ones(3)}], GenericSchema)
    (record,) = runner.load_files_from_temp_store(paths)

    np.testing.assert_array_equal(record["data"], np.ones(3))
    with pytest.raises(ValidationError):
        runner.save_training_files_to_temp_store("prepared", [{"other": 1}], GenericSchema)
