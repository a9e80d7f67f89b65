"""Compox's training data: sample manifests, TrainingSample, TrainingDataset and the task's temp store."""

from __future__ import annotations

import operator
import uuid
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from stratus.algorithms.runtime.datasets import read_record, write_record
from stratus.algorithms.runtime.io_schemas import DataSchema

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from stratus.algorithms.runtime.context import RunnerContext

INCONSISTENT_KEYS = "Inconsistent file keys across samples in the dataset"
# Compox writes each file under its final name only once it is complete (write, then rename).
PARTIAL_SUFFIX = ".tmp"


class SampleManifest(BaseModel):
    """One training sample: entries of key → file ids (the same keys in every entry), tags, creation time."""

    model_config = ConfigDict(extra="ignore")

    sample_id: str
    files: list[dict[str, list[str]]] = Field(min_length=1)
    tags: list[str] = Field(default_factory=list)
    time_created: str

    @field_validator("tags", mode="before")
    @classmethod
    def _normalise_tags(cls, tags: Any) -> list[str]:
        # As Compox: stripped, lower-cased, empties dropped, duplicates dropped in order.
        if tags is None:
            return []
        if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
            raise ValueError("tags must be a list of strings")
        cleaned = (tag.strip().lower() for tag in tags)
        return list(dict.fromkeys(tag for tag in cleaned if tag))

    @field_validator("time_created", mode="before")
    @classmethod
    def _format_time(cls, value: Any) -> Any:
        return value.isoformat() if isinstance(value, datetime) else value

    @model_validator(mode="after")
    def _check_entry_keys(self) -> Self:
        expected = set(self.files[0])
        for index, entry in enumerate(self.files[1:], start=1):
            if set(entry) != expected:
                raise ValueError(
                    f"files[{index}] has the keys {sorted(entry)}, but files[0] has {sorted(expected)}"
                )
        return self


def _as_index(value: Any) -> int | None:
    """An int (or numpy integer) index, else None."""
    if isinstance(value, str):
        return None
    try:
        return operator.index(value)
    except TypeError:
        return None


class TrainingSample:
    """One sample of a training, indexed as Compox's: `sample[i]`, `sample[i:j]`, `sample[:, "input"]`,
    `sample[i, "input"]` and `sample[:, :]` (every file id)."""

    def __init__(
        self,
        database_connection: RunnerContext | None = None,
        sample_id: str | None = None,
        sample_manifest: Mapping[str, Any] | SampleManifest | None = None,
    ) -> None:
        """From a manifest, or by id through a task's context (Compox's `database_connection`).
        Raises ValueError unless exactly one of the two is given."""
        if (sample_id is None) == (sample_manifest is None):
            raise ValueError("Provide exactly one of 'sample_id' or 'sample_manifest'.")
        if sample_manifest is None:
            if database_connection is None:
                raise ValueError("A sample can only be loaded by id through a task context.")
            (sample_manifest,) = database_connection.read_samples([str(sample_id)])
        self.sample_manifest = SampleManifest.model_validate(sample_manifest)

    @property
    def sample_id(self) -> str:
        """The sample's id."""
        return self.sample_manifest.sample_id

    def __getitem__(self, key: Any) -> Any:
        files = self.sample_manifest.files
        if isinstance(key, tuple) and len(key) == 2:
            return self._select(*key)
        if isinstance(key, slice):
            return files[key]
        index = _as_index(key)
        if index is None:
            raise TypeError(f"Unsupported key: {key!r}")
        return files[index]

    def _select(self, entries: Any, field: Any) -> Any:
        files = self.sample_manifest.files
        if isinstance(entries, slice):
            if isinstance(field, str):
                return [file_id for entry in files[entries] for file_id in entry.get(field, [])]
            if field == slice(None):
                return [file_id for entry in files[entries] for ids in entry.values() for file_id in ids]
        index = _as_index(entries)
        if index is not None and isinstance(field, str):
            return files[index][field]
        raise TypeError(f"Unsupported key: {(entries, field)!r}")

    def __len__(self) -> int:
        return len(self.sample_manifest.files)

    def __iter__(self) -> Iterator[dict[str, list[str]]]:
        return iter(self.sample_manifest.files)

    def __repr__(self) -> str:
        return f"TrainingSample({self.sample_manifest})"

    def get_file_list(self) -> list[dict[str, list[str]]]:
        """The sample's entries (key → file ids)."""
        return self.sample_manifest.files

    def get_key_list(self) -> list[str]:
        """The keys of the sample's entries (`input`, `target`, …)."""
        return list(self.sample_manifest.files[0])

    def check_tags(
        self, query_positive_tags: list[str] | None = None, query_negative_tags: list[str] | None = None
    ) -> bool:
        """Whether the sample has every positive tag and none of the negative ones."""
        tags = set(self.sample_manifest.tags)
        return tags.issuperset(query_positive_tags or []) and tags.isdisjoint(query_negative_tags or [])


def _file_keys(sample: TrainingSample) -> set[str]:
    return {key for entry in sample.sample_manifest.files for key in entry}


class TrainingDataset:
    """The samples of a training, all with the same keys; `dataset[i]`, `dataset[i:j]`,
    `dataset[i, "input"]` (that sample's file ids) and `dataset[:, "input"]` (one list per sample)."""

    def __init__(self, samples: list[TrainingSample]) -> None:
        """Raises ValueError when the samples' keys differ."""
        if samples and any(_file_keys(sample) != _file_keys(samples[0]) for sample in samples[1:]):
            raise ValueError(INCONSISTENT_KEYS)
        self.samples = samples

    def _check_fits(self, sample: TrainingSample) -> None:
        if self.samples and _file_keys(sample) != _file_keys(self.samples[0]):
            raise ValueError(INCONSISTENT_KEYS)

    def add_sample(self, sample: TrainingSample) -> None:
        """Append a sample. Raises ValueError when its keys differ from the dataset's."""
        self._check_fits(sample)
        self.samples.append(sample)

    def get_all_samples(self) -> list[TrainingSample]:
        """Every sample, in order."""
        return self.samples

    def get_sample_by_id(self, sample_id: str) -> TrainingSample | None:
        """The sample with this id, or None."""
        return next((sample for sample in self.samples if sample.sample_id == str(sample_id)), None)

    def get_sample_keys(self) -> list[str]:
        """The samples' keys (empty for an empty dataset)."""
        return self.samples[0].get_key_list() if self.samples else []

    def get_all_file_lists(self) -> list[list[dict[str, list[str]]]]:
        """Each sample's entries."""
        return [sample.get_file_list() for sample in self.samples]

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, slice):
            return self.samples[key]
        if isinstance(key, tuple) and len(key) == 2:
            return self._select(*key)
        index = _as_index(key)
        if index is None:
            raise TypeError(f"Unsupported key: {key!r}")
        return self.samples[index]

    def _select(self, samples: Any, field: Any) -> Any:
        # A field name or `:` reads every entry of the sample; anything else is the sample's own key.
        inner = (slice(None), field) if isinstance(field, str) or field == slice(None) else field
        if isinstance(samples, slice):
            return [sample[inner] for sample in self.samples[samples]]
        index = _as_index(samples)
        if index is None:
            raise TypeError(f"Unsupported key: {(samples, field)!r}")
        return self.samples[index][inner]

    def __len__(self) -> int:
        return len(self.samples)

    def __iter__(self) -> Iterator[TrainingSample]:
        return iter(self.samples)

    def __repr__(self) -> str:
        return f"TrainingDataset(num_samples={len(self.samples)}, schema={self.get_sample_keys()})"

    def __add__(self, other: TrainingDataset | TrainingSample) -> TrainingDataset:
        """A new dataset with the other's samples appended. Raises TypeError or ValueError."""
        if isinstance(other, TrainingSample):
            added = [other]
        elif isinstance(other, TrainingDataset):
            added = other.samples
        else:
            raise TypeError("Can only add TrainingDataset or TrainingSample instances")
        for sample in added:
            self._check_fits(sample)
        return TrainingDataset([*self.samples, *added])


class _AnyRecord(DataSchema):
    """Every dataset of a file, as stored (the temp store reads files without a schema, as Compox)."""

    model_config = ConfigDict(extra="allow", arbitrary_types_allowed=True)


class TempStore:
    """HDF5 files of one task under a root folder (Compox's TempStore); no path may leave the root."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def resolve(self, path: str | Path) -> Path:
        """The absolute path of `path` (relative to the root, or absolute). Raises ValueError outside it."""
        root = self.root.resolve()
        resolved = (root / path).resolve()
        if not resolved.is_relative_to(root):
            raise ValueError(f"Path escapes temp root: {path}")
        return resolved

    def mkdir(self, path: str | Path) -> Path:
        """Create a folder under the root (and its parents); returns its absolute path."""
        folder = self.resolve(path)
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def save(self, folder: Path, record: Mapping[str, Any], schema: type[DataSchema]) -> str:
        """Validate one record by the schema, write it as a new HDF5 file in `folder`; returns its path."""
        target = self.resolve(folder) / str(uuid.uuid4())
        partial = target.with_name(target.name + PARTIAL_SUFFIX)
        partial.write_bytes(write_record(record, schema))
        partial.replace(target)
        return str(target)

    def load(self, path: str | Path, keys: tuple[str, ...] = ()) -> dict[str, Any]:
        """Every dataset of one file; with `keys`, only those (missing ones None)."""
        return read_record(self.resolve(path), _AnyRecord, keys)
