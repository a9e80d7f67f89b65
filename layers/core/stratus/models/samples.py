"""Samples: tagged groups of files a training reads (Compox's sample-store)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from stratus.models.ids import Distinct, FileId
from stratus.models.jobs import iso
from stratus.models.records import TenantRecord

MAX_TAGS = 64


def file_ids_of(files: list[dict[str, list[str]]]) -> list[str]:
    """Every file id in a sample's files (role → ids, per item), each once, in order."""
    return list(dict.fromkeys(i for item in files for ids in item.values() for i in ids))


class SampleCreate(BaseModel):
    """Compox's IncomingSampleRequest: files (role → file ids, one dict per item) and tags."""

    model_config = ConfigDict(extra="forbid")

    files: list[dict[str, Annotated[list[FileId], Distinct]]] = Field(min_length=1, max_length=1000)
    tags: list[str] = Field(default_factory=list, max_length=MAX_TAGS)

    @field_validator("files")
    @classmethod
    def _same_roles(cls, value: list[dict[str, list[str]]]) -> list[dict[str, list[str]]]:
        # Compox answers 500 for these; a training on such a sample can only fail (TrainingDataset's check).
        for item in value:
            if not item:
                raise ValueError("every item of files maps at least one role (e.g. input) to file ids")
            if any(not ids for ids in item.values()):
                raise ValueError("every role lists at least one file id")
        roles = set(value[0])
        if any(set(item) != roles for item in value):
            raise ValueError(f"every item of files has the same roles ({', '.join(sorted(roles))})")
        return value

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str]) -> list[str]:
        if any(not 0 < len(tag) <= 256 for tag in value):
            raise ValueError("tags are 1 to 256 characters")
        return list(dict.fromkeys(value))

    def file_ids(self) -> list[str]:
        """Every file id the sample references, each once."""
        return file_ids_of(self.files)


class SampleRecord(TenantRecord):
    """A sample as stored (internal)."""

    sample_id: str
    files: list[dict[str, list[str]]]
    tags: list[str] = Field(default_factory=list)

    def file_ids(self) -> list[str]:
        """Every file id the sample references, each once."""
        return file_ids_of(self.files)


class SampleCreated(BaseModel):
    """Compox's SampleResponse."""

    sample_id: str


class Sample(BaseModel):
    """Compox's SampleRecord."""

    sample_id: str
    files: list[dict[str, list[str]]]
    tags: list[str]
    time_created: str

    @classmethod
    def from_record(cls, record: SampleRecord) -> Sample:
        """Shape a stored record for clients."""
        created = iso(record.created_at)
        return cls(sample_id=record.sample_id, files=record.files, tags=record.tags, time_created=created)


class SamplePage(BaseModel):
    """One page of samples, newest first."""

    items: list[Sample]
    next_cursor: str | None
