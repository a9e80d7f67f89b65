"""EnvironmentStore: one record per environment (`env#<digest>`), whose status every version that
declares its dependency set reads; BuildQueue: the Batch job that builds one."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Attr

from stratus.models.environments import TRANSITIONS, EnvironmentRecord, EnvironmentStatus, error_tail
from stratus.models.jobs import share_identifier
from stratus.stores.base import Item, RecordStore, from_item

KIND = "env"
# The build command the worker image's entrypoint (`python -m gpu_worker`) runs.
BUILD_COMMAND = "build-environment"


def environment_key(digest: str) -> Item:
    """Primary key of an environment: its content address (shared by every tenant, so no tenant in it;
    the build job's role is limited to keys starting `env#`)."""
    return {"pk": f"{KIND}#{digest}", "sk": KIND}


class EnvironmentStore(RecordStore):
    """Environments never expire; every status change is one conditional write (models TRANSITIONS)."""

    def find(self, digest: str) -> EnvironmentRecord | None:
        """The environment, or None."""
        item = self._table.get_item(Key=environment_key(digest), ConsistentRead=True).get("Item")
        return EnvironmentRecord.model_validate(from_item(item)) if item else None

    def find_many(self, digests: list[str]) -> dict[str, EnvironmentRecord]:
        """The environments among ``digests`` that exist, by digest (one batched read)."""
        unique = list(dict.fromkeys(digests))
        records = [
            EnvironmentRecord.model_validate(i) for i in self._get_many([environment_key(d) for d in unique])
        ]
        return {record.digest: record for record in records}

    def create(self, record: EnvironmentRecord) -> None:
        """Store a new environment record. Raises AlreadyExistsError (another deploy created it first:
        that deploy starts the build)."""
        self._put_new({**environment_key(record.digest), **record.model_dump(mode="json")}, KIND)

    def restart(self, current: EnvironmentRecord) -> EnvironmentRecord:
        """Move a FAILED or abandoned BUILDING environment (as read just before) back to BUILDING for a new
        build attempt. Raises IllegalTransitionError when another deploy restarted it, or it changed."""
        now = self._clock()
        # Conditional on what was read: of two deploys retrying the same set, one starts the build.
        unchanged = Attr("updated_at").eq(Decimal(repr(current.updated_at)))  # numbers go as Decimals
        item = self._update_guarded(
            environment_key(current.digest),
            KIND,
            {"status": EnvironmentStatus.BUILDING.value, "build_started_at": now, "updated_at": now},
            allowed_statuses=[s.value for s in TRANSITIONS[EnvironmentStatus.BUILDING]],
            condition=unchanged,
            remove=["error"],
        )
        return EnvironmentRecord.model_validate(item)

    def mark_ready(self, digest: str) -> EnvironmentRecord:
        """The build uploaded the environment. Raises NotFoundError, IllegalTransitionError."""
        return self._finish(digest, EnvironmentStatus.READY, None)

    def mark_failed(self, digest: str, error: str) -> EnvironmentRecord:
        """The build could not make the environment; ``error`` (pip's output) is kept, its tail only.
        Raises NotFoundError, IllegalTransitionError."""
        return self._finish(digest, EnvironmentStatus.FAILED, error_tail(error))

    def _finish(self, digest: str, status: EnvironmentStatus, error: str | None) -> EnvironmentRecord:
        values: dict[str, Any] = {"status": status.value, "updated_at": self._clock()}
        if error is not None:
            values["error"] = error
        item = self._update_guarded(
            environment_key(digest),
            KIND,
            values,
            allowed_statuses=[s.value for s in TRANSITIONS[status]],
            remove=[] if error is not None else ["error"],
        )
        return EnvironmentRecord.model_validate(item)


class BuildQueue:
    """Submits environment builds to one Batch job queue and job definition."""

    def __init__(self, client: Any, job_queue: str, job_definition: str) -> None:
        self._client = client
        self._job_queue = job_queue
        self._job_definition = job_definition

    def submit(self, digest: str, tenant: str) -> str:
        """Start the build of environment ``digest`` for ``tenant``'s deploy; returns the Batch job id."""
        response = self._client.submit_job(
            jobName=f"environment-{digest[:32]}",
            jobQueue=self._job_queue,
            jobDefinition=self._job_definition,
            # The queue schedules by fair share (template.yaml): a build counts against its deployer's.
            shareIdentifier=share_identifier(tenant),
            containerOverrides={"command": [BUILD_COMMAND, digest]},
        )
        return str(response["jobId"])
