"""Environments: the packages an algorithm declares (`[project].dependencies`), built once per dependency
set and worker interpreter, and shared by every version and tenant that declares the same set."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field

# pip's output can run to megabytes; its last lines say why it failed.
MAX_ERROR_CHARS = 2048


class EnvironmentStatus(StrEnum):
    """BUILDING → READY | FAILED; a FAILED (or abandoned) build goes back to BUILDING when a deploy of the
    same set retries it."""

    BUILDING = "BUILDING"
    READY = "READY"
    FAILED = "FAILED"


# The statuses each status may be changed from (one table, read by the store's guarded writes).
TRANSITIONS: dict[EnvironmentStatus, frozenset[EnvironmentStatus]] = {
    EnvironmentStatus.BUILDING: frozenset({EnvironmentStatus.FAILED, EnvironmentStatus.BUILDING}),
    EnvironmentStatus.READY: frozenset({EnvironmentStatus.BUILDING}),
    EnvironmentStatus.FAILED: frozenset({EnvironmentStatus.BUILDING}),
}


class EnvironmentRecord(BaseModel):
    """One environment (internal): what it holds, for which interpreter, and how its build went."""

    digest: str = Field(description="sha256 of the normalised requirements and the python tag")
    requirements: list[str]
    python_tag: str = Field(description="The worker interpreter it is built for, e.g. cp311-linux_x86_64")
    status: EnvironmentStatus
    error: str | None = Field(default=None, description="The tail of pip's output when the build FAILED")
    created_at: float
    # When the current build attempt started: a BUILDING record far older than the build's timeout was
    # abandoned (its job was killed), and the next deploy of the set starts another.
    build_started_at: float | None = None
    updated_at: float


def error_tail(output: str) -> str:
    """The end of a long message, at most MAX_ERROR_CHARS characters."""
    text = output.strip()
    return text if len(text) <= MAX_ERROR_CHARS else "…" + text[-(MAX_ERROR_CHARS - 1) :]
