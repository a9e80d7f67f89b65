"""Environment use cases: ensure one exists (or is being built) for a deploy's dependency set, and tell
whether a version's environment can run a job."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stratus.algorithms.requirements import environment_digest
from stratus.errors import AlreadyExistsError, EnvironmentFailedError, IllegalTransitionError, NotReadyError
from stratus.models.environments import EnvironmentRecord, EnvironmentStatus
from stratus.stores.layout import environment_key

if TYPE_CHECKING:
    from stratus.stores import Stores
    from stratus.stores.environments import BuildQueue

# A build job runs at most this long (template.yaml EnvironmentBuildJobDefinition's attempt timeout, with
# room for queueing); a record BUILDING for longer was abandoned (its job killed), and a deploy of the same
# set starts another build.
ABANDONED_BUILD_SECONDS = 2 * 3600


def ensure(
    requirements: list[str], python_tag: str, tenant: str, stores: Stores, builds: BuildQueue | None
) -> str | None:
    """The digest of the environment holding ``requirements`` for the worker interpreter ``python_tag``
    (None when there are none), its build started if nobody built or is building it: once per digest,
    however many deploys race (a conditional create, or a conditional restart of a failed build).

    Raises RuntimeError when a build is needed and no build queue is configured (a deployment error).
    """
    if not requirements:
        return None
    digest = environment_digest(requirements, python_tag)
    current = stores.environments.find(digest)
    if current is None:
        _create(digest, requirements, python_tag, tenant, stores, builds)
    elif current.status is EnvironmentStatus.FAILED or _is_abandoned(current, stores.clock()):
        queue = _queue(builds)
        try:
            stores.environments.restart(current)
        except IllegalTransitionError:
            return digest  # another deploy restarted it, and started its build
        _submit(digest, tenant, queue, stores)
    return digest


def _create(
    digest: str,
    requirements: list[str],
    python_tag: str,
    tenant: str,
    stores: Stores,
    builds: BuildQueue | None,
) -> None:
    now = stores.clock()
    # The object is immutable once written: a record lost or never written (an operator's copy) is READY.
    built = stores.objects.exists(environment_key(digest))
    queue = None if built else _queue(builds)  # before any write: a misconfigured stack stores nothing
    record = EnvironmentRecord(
        digest=digest,
        requirements=requirements,
        python_tag=python_tag,
        status=EnvironmentStatus.READY if built else EnvironmentStatus.BUILDING,
        created_at=now,
        build_started_at=None if built else now,
        updated_at=now,
    )
    try:
        stores.environments.create(record)
    except AlreadyExistsError:
        return  # another deploy of the same set created it first, and started its build
    if queue is not None:
        _submit(digest, tenant, queue, stores)


def _queue(builds: BuildQueue | None) -> BuildQueue:
    if builds is None:
        # A deployment error, not the client's: answered as a 500 and logged.
        raise RuntimeError("ENVIRONMENT_BUILD_JOB_QUEUE and ENVIRONMENT_BUILD_JOB_DEFINITION are not set")
    return builds


def _submit(digest: str, tenant: str, queue: BuildQueue, stores: Stores) -> None:
    try:
        queue.submit(digest, tenant)
    except Exception as exc:
        # Not left BUILDING with no build behind it: FAILED, so the next deploy of the set retries at once.
        stores.environments.mark_failed(
            digest, f"the build job could not be submitted ({type(exc).__name__})"
        )
        raise


def _is_abandoned(record: EnvironmentRecord, now: float) -> bool:
    started = record.build_started_at or record.created_at
    return record.status is EnvironmentStatus.BUILDING and now - started > ABANDONED_BUILD_SECONDS


def require_ready(digest: str, stores: Stores) -> None:
    """Refuse a job whose version's environment cannot run it yet or at all.

    Raises NotReadyError (BUILDING), EnvironmentFailedError (FAILED: pip's message).
    """
    record = stores.environments.find(digest)
    if record is None or record.status is EnvironmentStatus.BUILDING:
        raise NotReadyError(
            "environment building: the algorithm version's declared dependencies are still being "
            "installed; try again once the algorithm reads READY"
        )
    if record.status is EnvironmentStatus.FAILED:
        raise EnvironmentFailedError(
            f"the algorithm version's declared dependencies could not be installed; fix them and deploy "
            f"again. pip said: {record.error or 'nothing'}"
        )


def statuses(digests: list[str | None], stores: Stores) -> dict[str, EnvironmentRecord]:
    """The environments of these versions (None: a version without dependencies), by digest: one
    batched read."""
    wanted = [digest for digest in digests if digest]
    return stores.environments.find_many(wanted) if wanted else {}
