"""BaseRunner's services and drivers against an in-memory context."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from stratus.algorithms.runtime import (
    BaseRunner,
    GenericSchema,
    Image2SegmentationRunner,
    StopRequested,
    VolumeSchema,
)

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
