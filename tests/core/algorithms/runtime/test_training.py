"""Compox's training data: sample manifests, TrainingSample and TrainingDataset indexing, the temp store."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError
from stratus.algorithms.runtime import (
    GenericSchema,
    SampleManifest,
    TempStore,
    TrainingDataset,
    TrainingSample,
)

from ..conftest import MemoryContext


def manifest(
    sample_id: str = "s1", keys: tuple[str, ...] = ("input", "target"), **extra: Any
) -> dict[str, Any]:
    files = [
        {key: [f"{sample_id}-{key}-{index}" for index in range(size)] for key in keys} for size in (2, 1, 1)
    ]
    return {"sample_id": sample_id, "files": files, "time_created": "2025-09-02T11:42:00+00:00", **extra}


def sample(
    sample_id: str = "s1", keys: tuple[str, ...] = ("input", "target"), **extra: Any
) -> TrainingSample:
    return TrainingSample(sample_manifest=manifest(sample_id, keys, **extra))


def test_training_sample_index_returns_entries() -> None:
    training_sample = sample()

    first = training_sample[0]
    rest = training_sample[1:]
    last = training_sample[np.int64(-1)]

    assert first == {"input": ["s1-input-0", "s1-input-1"], "target": ["s1-target-0", "s1-target-1"]}
    assert [entry["input"] for entry in rest] == [["s1-input-0"], ["s1-input-0"]]
    assert last == training_sample.get_file_list()[2]
    assert len(training_sample) == 3


def test_training_sample_field_selection_flattens_file_ids() -> None:
    training_sample = TrainingSample(
        sample_manifest={
            "sample_id": "s1",
            "files": [{"input": ["a", "b"], "target": ["ay"]}, {"input": ["c"], "target": ["cy"]}],
            "time_created": "2025-09-02T11:42:00+00:00",
        }
    )

    assert training_sample[:, "input"] == ["a", "b", "c"]
    assert training_sample[1:, "input"] == ["c"]
    assert training_sample[0, "target"] == ["ay"]
    assert training_sample[:, :] == ["a", "b", "ay", "c", "cy"]
    assert training_sample.get_key_list() == ["input", "target"]


@pytest.mark.parametrize("key", ["input", (0, 0), (0, "input", 1), 1.5])
def test_training_sample_rejects_unsupported_key(key: Any) -> None:
    with pytest.raises(TypeError, match="Unsupported key"):
        sample()[key]


def test_training_sample_check_tags_matches_positive_and_negative() -> None:
    training_sample = sample(tags=["modality:CT", "author:jan"])

    assert training_sample.check_tags(["modality:ct"])
    assert training_sample.check_tags(query_negative_tags=["author:jana"])
    assert not training_sample.check_tags(["modality:mri"])
    assert not training_sample.check_tags(["modality:ct"], ["author:jan"])


def test_sample_manifest_normalises_tags_and_time() -> None:
    created = datetime(2025, 9, 2, 11, 42, tzinfo=UTC)

    parsed = SampleManifest.model_validate(
        manifest(tags=[" Train ", "train", "", "Author:Jan"], time_created=created, name="ignored")
    )

    assert parsed.tags == ["train", "author:jan"]
    assert parsed.time_created == created.isoformat()


def test_sample_manifest_rejects_entries_with_different_keys() -> None:
    raw = manifest()
    raw["files"][1] = {"input": ["x"]}

    with pytest.raises(ValidationError, match=r"files\[1\] has the keys"):
        SampleManifest.model_validate(raw)


def test_sample_manifest_rejects_empty_files() -> None:
    with pytest.raises(ValidationError, match="files"):
        SampleManifest.model_validate({**manifest(), "files": []})


def test_training_sample_requires_exactly_one_source() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        TrainingSample()
    with pytest.raises(ValueError, match="exactly one"):
        TrainingSample(sample_id="s1", sample_manifest=manifest())


def test_training_sample_loads_by_id_through_context(memory_context: MemoryContext) -> None:
    memory_context.training = True
    sample_id = memory_context.add_sample({"input": ["a"]}, tags=("CT",))

    loaded = TrainingSample(memory_context, sample_id=sample_id)

    assert loaded.sample_id == sample_id
    assert loaded.sample_manifest.tags == ["ct"]
    assert loaded[:, "input"] == ["a"]


def test_training_dataset_rejects_inconsistent_keys() -> None:
    with pytest.raises(ValueError, match="Inconsistent file keys"):
        TrainingDataset([sample("s1"), sample("s2", keys=("input", "label"))])


def test_training_dataset_index_and_field_selection() -> None:
    first, second = sample("s1"), sample("s2")
    dataset = TrainingDataset([first, second])

    assert dataset[0] is first
    assert dataset[np.int64(1)] is second
    assert dataset[1:] == [second]
    assert dataset[1, "target"] == second[:, "target"]
    assert dataset[:, "input"] == [first[:, "input"], second[:, "input"]]
    assert dataset[0, :] == first[:, :]
    assert dataset[:, 2] == [first[2], second[2]]
    with pytest.raises(TypeError, match="Unsupported key"):
        dataset["s1"]


def test_training_dataset_lookups_and_iteration() -> None:
    first, second = sample("s1"), sample("s2")
    dataset = TrainingDataset([first, second])

    assert dataset.get_sample_by_id("s2") is second
    assert dataset.get_sample_by_id("missing") is None
    assert dataset.get_sample_keys() == ["input", "target"]
    assert TrainingDataset([]).get_sample_keys() == []
    assert dataset.get_all_file_lists() == [first.get_file_list(), second.get_file_list()]
    assert list(dataset) == dataset.get_all_samples() == [first, second]
    assert len(dataset) == 2
    assert repr(dataset) == "TrainingDataset(num_samples=2, schema=['input', 'target'])"


def test_training_dataset_add_combines_datasets_and_samples() -> None:
    first, second, third = sample("s1"), sample("s2"), sample("s3")
    dataset = TrainingDataset([first])

    combined = dataset + TrainingDataset([second]) + third

    assert combined.get_all_samples() == [first, second, third]
    assert dataset.get_all_samples() == [first]


def test_training_dataset_add_rejects_other_keys_and_types() -> None:
    dataset = TrainingDataset([sample("s1")])
    other = sample("s2", keys=("image",))

    with pytest.raises(ValueError, match="Inconsistent file keys"):
        dataset + other
    with pytest.raises(ValueError, match="Inconsistent file keys"):
        dataset.add_sample(other)
    with pytest.raises(TypeError, match="TrainingDataset or TrainingSample"):
        dataset + ["s2"]  # type: ignore[operator]


def test_temp_store_round_trips_a_record(tmp_path: Path) -> None:
    store = TempStore(tmp_path / "store")
    folder = store.mkdir("a/b")

    path = store.save(folder, {"data": np.arange(4), "label": "x"}, GenericSchema)
    everything = store.load(path)
    selected = store.load(Path(path).relative_to(store.root.resolve()), ("data", "missing"))

    assert Path(path).parent == folder
    np.testing.assert_array_equal(everything["data"], np.arange(4))
    assert set(everything) == {"data"}
    assert selected["missing"] is None
    assert list(folder.iterdir()) == [Path(path)]


@pytest.mark.parametrize("path", ["../outside", "/etc"])
def test_temp_store_rejects_paths_outside_its_root(tmp_path: Path, path: str) -> None:
    store = TempStore(tmp_path / "store")

    with pytest.raises(ValueError, match="escapes temp root"):
        store.mkdir(path)
