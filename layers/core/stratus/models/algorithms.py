"""Algorithms: Compox packages deployed by name and major version, each deploy adding a minor version."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, model_validator

from stratus.models.environments import EnvironmentStatus
from stratus.models.ids import AlgorithmId

ALGORITHM_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"
# The owner of the built-in algorithms, which the operator deploys: shared by every tenant, read-only. A
# tenant's name starts with a letter or digit (stratus.auth.TENANT_PATTERN), so none can be this one.
BUILTIN_OWNER = "_builtin"


def is_builtin(owner: str) -> bool:
    """Whether an algorithm of ``owner`` is a built-in."""
    return owner == BUILTIN_OWNER


def is_visible_to(owner: str, tenant: str) -> bool:
    """Whether ``tenant`` may see (and run) an algorithm of ``owner``: a built-in, or its own."""
    return owner in (tenant, BUILTIN_OWNER)


class AlgorithmRef(BaseModel):
    """How a request names the algorithm it runs: by `algorithm_id`, or by `algorithm_name` and
    `algorithm_major_version` as Compox's routes do (the caller's own of that name, else the built-in)."""

    algorithm_id: AlgorithmId | None = None
    algorithm_name: str | None = Field(
        default=None, pattern=ALGORITHM_NAME_PATTERN, description="With the major version, instead of the id"
    )
    algorithm_major_version: int | None = Field(default=None, ge=0, le=99_999_999)

    @model_validator(mode="after")
    def _named_once(self) -> AlgorithmRef:
        self.check_named()
        return self

    def check_named(self) -> None:
        """Raise ValueError unless the algorithm is named exactly one way."""
        by_name = self.algorithm_name is not None or self.algorithm_major_version is not None
        if self.algorithm_id is not None and by_name:
            raise ValueError("name the algorithm by algorithm_id or by algorithm_name + major, not both")
        named = self.algorithm_name is not None and self.algorithm_major_version is not None
        if self.algorithm_id is None and not named:
            raise ValueError("give algorithm_id, or algorithm_name with algorithm_major_version")


class AlgorithmRecord(BaseModel):
    """One algorithm (name + major version) as stored: what it advertises is its newest minor's."""

    algorithm_id: str
    owner: str = Field(description="The tenant that deployed it, or BUILTIN_OWNER")
    name: str
    major: int
    latest_minor: int
    minors: list[int]
    metadata: dict[str, Any] = Field(description="The newest minor's [tool.compox] settings")
    environment: str | None = Field(default=None, description="The newest minor's environment digest")
    created_at: float
    updated_at: float


class AlgorithmVersionRecord(BaseModel):
    """One deployed minor version: where its code lives and which assets (by content hash) it has."""

    algorithm_id: str
    owner: str = Field(description="The tenant that deployed it, or BUILTIN_OWNER")
    name: str
    major: int
    minor: int
    code_key: str = Field(description="S3 key of the package's code files (a zip without assets)")
    assets: dict[str, str] = Field(description="Asset path (files/...) → sha256 of its content")
    metadata: dict[str, Any]
    trainable: bool = Field(default=False, description="Whether the Runner defines train()")
    requirements: list[str] = Field(default_factory=list, description="Its normalised [project].dependencies")
    environment: str | None = Field(
        default=None, description="Digest of the environment holding its requirements; None: it declares none"
    )
    created_at: float


class AlgorithmDeployed(BaseModel):
    """Compox's answer to a deploy."""

    algorithm_id: str
    algorithm_name: str
    algorithm_major_version: str
    algorithm_minor_version: str
    status: EnvironmentStatus = Field(
        default=EnvironmentStatus.READY,
        description="BUILDING while its declared dependencies are installed; jobs wait for READY",
    )


class AlgorithmRegistered(BaseModel):
    """An algorithm as Compox lists it (AlgorithmRegisteredResponse), plus the parameter schema."""

    algorithm_id: str
    algorithm_name: str
    algorithm_version: str
    algorithm_minor_versions: list[str]
    latest_algorithm_minor_version: str
    algorithm_minor_version: str = Field(description="Deprecated alias of latest_algorithm_minor_version")
    algorithm_type: str
    algorithm_tags: list[str]
    algorithm_description: str
    supported_devices: list[str]
    default_device: str
    additional_parameters: list[dict[str, Any]]
    training_parameters: list[dict[str, Any]] = Field(default_factory=list)
    removable: bool
    exportable: bool
    builtin: bool = Field(
        description="Shipped with Stratus: shared by every tenant and read-only; else the caller's own"
    )
    parameter_schema: dict[str, Any] = Field(
        default_factory=dict, description="JSON schema of additional_parameters, for validating clients"
    )
    requirements: list[str] = Field(
        default_factory=list, description="The newest minor version's declared [project].dependencies"
    )
    status: EnvironmentStatus = Field(
        default=EnvironmentStatus.READY,
        description="The newest minor version's: READY, BUILDING (its dependencies are being installed) or "
        "FAILED (they could not be; `error` has pip's message)",
    )
    error: str | None = Field(default=None, description="Why the newest minor version is FAILED")
