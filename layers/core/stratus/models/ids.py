"""Record ids: one type per kind, used by request bodies, paths and queries alike, so a malformed id is a
422 wherever it is sent (never a lookup that answers 404)."""

from __future__ import annotations

from collections import Counter
from typing import Annotated

from pydantic import AfterValidator, Field

# Every record id we hand out is str(uuid.uuid4()): lowercase hex, version 4, RFC 4122 variant.
UUID4_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
_EXAMPLE = "3f2b1c9e-8a7d-4e6f-9b1a-2c3d4e5f6a7b"

FileId = Annotated[str, Field(pattern=UUID4_PATTERN, description="A file id (uuid4)", examples=[_EXAMPLE])]
ExecutionId = Annotated[
    str, Field(pattern=UUID4_PATTERN, description="An execution id (uuid4)", examples=[_EXAMPLE])
]
TrainingId = Annotated[
    str, Field(pattern=UUID4_PATTERN, description="A training id (uuid4)", examples=[_EXAMPLE])
]
SampleId = Annotated[
    str, Field(pattern=UUID4_PATTERN, description="A sample id (uuid4)", examples=[_EXAMPLE])
]
CheckpointId = Annotated[
    str, Field(pattern=UUID4_PATTERN, description="A checkpoint id (uuid4)", examples=[_EXAMPLE])
]
AlgorithmId = Annotated[
    str, Field(pattern=UUID4_PATTERN, description="An algorithm id (uuid4)", examples=[_EXAMPLE])
]
WorkflowId = Annotated[
    str, Field(pattern=UUID4_PATTERN, description="A workflow id (uuid4)", examples=[_EXAMPLE])
]
WorkspaceId = Annotated[
    str, Field(pattern=UUID4_PATTERN, description="A workspace id (uuid4)", examples=[_EXAMPLE])
]
ScenarioId = Annotated[
    str, Field(pattern=UUID4_PATTERN, description="A scenario id (uuid4)", examples=[_EXAMPLE])
]
CampaignId = Annotated[
    str, Field(pattern=UUID4_PATTERN, description="A campaign id (uuid4)", examples=[_EXAMPLE])
]

TokenId = Annotated[
    str, Field(pattern=UUID4_PATTERN, description="An API token's id (uuid4)", examples=[_EXAMPLE])
]


def _distinct(ids: list[str]) -> list[str]:
    repeated = [i for i, count in Counter(ids).items() if count > 1]
    if repeated:
        raise ValueError(f"each id may appear once; repeated: {', '.join(repeated)}")
    return ids


# A list of ids a request names: each at most once (a repeated id is a client's slip, not a wish).
Distinct = AfterValidator(_distinct)
