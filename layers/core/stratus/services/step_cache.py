"""Step memoization: a cached step whose algorithm version, checkpoint, parameters and inputs' content
equal an earlier successful step of the same tenant reuses that step's outputs instead of running."""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from stratus.errors import NotFoundError
from stratus.models.trainings import TrainingCreate
from stratus.models.workflows import TaskType
from stratus.services import holds, jobs
from stratus.services.holds import HOLD_CEILING_SECONDS

if TYPE_CHECKING:
    from stratus.models.executions import ExecutionCreate
    from stratus.models.files import FileRecord
    from stratus.models.workflows import StepRecord
    from stratus.stores import Stores

# An entry (and the hold that keeps its outputs) lasts as long as a job's hold may: the bucket's held
# lifecycle rule keeps held objects that long. A hit renews it.
CACHE_LIFETIME_SECONDS = HOLD_CEILING_SECONDS


def digest(kind: TaskType, request: ExecutionCreate | TrainingCreate, tenant: str, stores: Stores) -> str:
    """The step's cache key: what runs (the pinned version, checkpoint assets, parameters with defaults)
    and on what (each input's content hash, in order). Raises what planning the job raises."""
    training = isinstance(request, TrainingCreate)
    plan, _ = jobs.plan_job(
        jobs.algorithm_id_of(request, tenant, stores),
        request.algorithm_minor_version,
        request.checkpoint_id,
        request.additional_parameters or {},
        request.execution_device_override,
        tenant,
        stores,
        schema="training_parameters" if training else "additional_parameters",
    )
    if isinstance(request, TrainingCreate):
        samples = stores.samples.get_all(request.training_data + request.validation_data, tenant)
        file_ids = [f for s in samples for f in s.file_ids()]
        shape: dict[str, Any] = request.model_dump(
            mode="json", include={"training_data", "validation_data", "rounds", "round_size", "selection"}
        )
    else:
        file_ids = list(request.input_dataset_ids)
        shape = {}
    files = stores.files.get_all(file_ids, tenant)
    key = {
        "kind": kind.value,
        "algorithm": [plan.algorithm_id, plan.algorithm_minor],
        "assets": plan.assets,
        "parameters": plan.parameters,
        "inputs": [_content(f) for f in files],
        **shape,
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _content(record: FileRecord) -> str:
    # Files stored before content hashes were kept are named by their immutable S3 version instead.
    return record.content_hash or f"version:{record.s3_key}@{record.version_id}"


def lookup(tenant: str, key: str, stores: Stores) -> dict[str, Any] | None:
    """A live entry whose outputs all still exist ({result, source}), renewed; None on a miss."""
    entry = stores.workflows.cached(tenant, key)
    if entry is None:
        return None
    result: dict[str, Any] = entry["result"]
    try:
        files = stores.files.get_all(result.get("output_dataset_ids", []), tenant)
        for checkpoint_id in result.get("output_checkpoint_ids", []):
            stores.checkpoints.get(checkpoint_id, tenant)
    except NotFoundError:
        stores.workflows.forget(tenant, key)  # an output was deleted or expired: run the step again
        return None
    if int(entry["expires_at"]) - stores.clock() < CACHE_LIFETIME_SECONDS / 2:
        _keep(tenant, key, result, entry["source"], files, stores)  # renewed at most every day
    return entry


def remember(step: StepRecord, result: dict[str, Any], stores: Stores) -> None:
    """Record a completed cached step's outputs under its key, and hold its output files as long."""
    assert step.cache_digest is not None
    files = stores.files.get_many(result.get("output_dataset_ids", []), step.tenant).values()
    _keep(step.tenant, step.cache_digest, result, f"{step.workflow_id}/{step.step_id}", list(files), stores)


def _keep(
    tenant: str, key: str, result: dict[str, Any], source: str, files: list[FileRecord], stores: Stores
) -> None:
    until = int(stores.clock()) + CACHE_LIFETIME_SECONDS
    holder = holds.holder_of(holds.STEP_CACHE, key)
    writes = [stores.files.hold_write(f, holder, until) for f in files]
    # Best effort: a file that changed since it was read (another hold) keeps its own expiry, and the
    # entry is dropped on the first hit after that file is gone.
    for start in range(0, len(writes), 100):
        stores.files.transact(writes[start : start + 100])
    holds.tag_held(holder, files, stores)  # and the bucket's lifecycle keeps their objects
    stores.workflows.remember(tenant, key, result, source, until)
