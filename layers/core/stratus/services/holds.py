"""Holds: a job holds the files it reads and the algorithm version it runs, and a sample the files it
references, so none expires or is deleted under them; the last holder out gives a file its own expiry
back."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from stratus.errors import AlgorithmInUseError, FileInUseError, NotFoundError
from stratus.models.algorithms import is_builtin
from stratus.models.files import describe_holders
from stratus.models.jobs import is_terminal
from stratus.stores.base import MAX_TRANSACTION_ITEMS
from stratus.stores.objects import HELD, PINNED, TEMPORARY

if TYPE_CHECKING:
    from collections.abc import Iterable

    from stratus.models.files import FileRecord
    from stratus.models.jobs import JobPlan, JobRecord
    from stratus.stores import Stores
    from stratus.stores.base import Write

# How long one job hold keeps an input at least, and all a lost release can cost. It must outlast the
# longest run: Batch tries a job up to 3 times for JobTimeoutSeconds (at most 12 h) plus time queued. The
# held lifecycle rule in template.yaml keeps held objects FileLifetimeDays' maximum plus this long.
HOLD_CEILING_SECONDS = 2 * 86_400
# A sample's files live as long as it does: the largest expiry an ISO 8601 date can show (9999-12-31).
PINNED_UNTIL = 253_402_300_799
SAMPLE = "sample"
# The step cache's holds (services.step_cache): they keep outputs alive while an entry points at them.
STEP_CACHE = "stepcache"


def holder_of(kind: str, record_id: str) -> str:
    """The name a holder is recorded under in a file's held_by."""
    return f"{kind}#{record_id}"


@dataclass(frozen=True)
class Hold:
    """One hold to take: which file, by whom, and the transaction write that takes it."""

    file_id: str
    holder: str
    write: Write


def hold_writes(files: Iterable[FileRecord], holder: str, now: float, stores: Stores) -> list[Hold]:
    """The holds that make ``holder`` hold each file (read just before)."""
    until = PINNED_UNTIL if holder.startswith(f"{SAMPLE}#") else int(now) + HOLD_CEILING_SECONDS
    return [Hold(r.file_id, holder, stores.files.hold_write(r, holder, until)) for r in files]


class TransactionFailed(Exception):
    """A transaction with holds was cancelled: why, for each of the caller's own writes, and whether a
    hold's guess was wrong (a file changed since it was read)."""

    def __init__(self, reasons: list[str], holds_failed: bool) -> None:
        super().__init__("the transaction was cancelled")
        self.reasons = reasons
        self.holds_failed = holds_failed


def transact_with_holds(writes: list[Write], holds: list[Hold], stores: Stores) -> None:
    """``writes`` and ``holds`` as one transaction. Raises TransactionFailed.

    DynamoDB takes 100 writes a transaction: holds beyond that go first, in transactions of their own,
    and are undone when a later one fails.
    """
    split = max(len(holds) - (MAX_TRANSACTION_ITEMS - len(writes)), 0)
    early, last = holds[:split], holds[split:]
    done: list[Hold] = []
    for start in range(0, len(early), MAX_TRANSACTION_ITEMS):
        chunk = early[start : start + MAX_TRANSACTION_ITEMS]
        if stores.files.transact([hold.write for hold in chunk]) is not None:
            _undo(done, stores)
            raise TransactionFailed(["None"] * len(writes), holds_failed=True)
        done.extend(chunk)
    reasons = stores.files.transact([*writes, *(hold.write for hold in last)])
    if reasons is not None:
        _undo(done, stores)
        own, of_holds = reasons[: len(writes)], reasons[len(writes) :]
        raise TransactionFailed(own, holds_failed=any(r not in ("None", "") for r in of_holds))


def _undo(done: list[Hold], stores: Stores) -> None:
    for hold in done:
        release(hold.holder, [hold.file_id], stores)


def tag_held(holder: str, files: Iterable[FileRecord], stores: Stores) -> None:
    """Tag the held files' objects so the bucket's lifecycle keeps them (after the holds: a hold whose
    tagging failed is still released and retagged at the end). A file a sample pins stays pinned: a
    job's held tag would let the lifecycle delete the sample's bytes."""
    for record in files:
        with contextlib.suppress(NotFoundError):  # deleted since: nothing to tag
            stores.objects.tag_lifetime(
                record.s3_key, lifetime_of({holder, *record.held_by}), record.version_id
            )


def release(holder: str, file_ids: Iterable[str], stores: Stores) -> None:
    """Drop ``holder``'s holds; a file nobody holds any more gets its own expiry back, and its object the
    lifetime tag its remaining holders need. Idempotent: files not held by ``holder`` are left alone."""
    for file_id in dict.fromkeys(file_ids):
        record = stores.files.release(file_id, holder)
        if record is None:
            continue
        with contextlib.suppress(NotFoundError):  # deleted (or expired) since: nothing to retag
            stores.objects.tag_lifetime(record.s3_key, lifetime_of(record.held_by), record.version_id)
            # A hold that landed after our release may have tagged the object before we did: put it back.
            current = stores.files.get(file_id)
            if lifetime_of(current.held_by) != lifetime_of(record.held_by):
                stores.objects.tag_lifetime(record.s3_key, lifetime_of(current.held_by), record.version_id)


def lifetime_of(holders: Iterable[str]) -> str:
    """The object lifetime tag for a file with these holders."""
    holders = list(holders)
    if any(h.startswith(f"{SAMPLE}#") for h in holders):
        return PINNED
    return HELD if holders else TEMPORARY


def release_ended_holders(file_id: str, tenant: str, stores: Stores) -> None:
    """Drop holds whose jobs have ended or whose samples are gone (their release was lost).

    Raises FileInUseError naming the jobs and samples that still hold the file, NotFoundError.
    """
    live = []
    for holder in sorted(stores.files.get(file_id, tenant).held_by):
        if has_ended(holder, stores):
            release(holder, [file_id], stores)
        else:
            live.append(holder)
    if live:
        raise FileInUseError(
            f"file {file_id} is held by {describe_holders(live)}; delete it once those jobs have ended "
            "and those samples are deleted"
        )


def has_ended(holder: str, stores: Stores) -> bool:
    """Whether a holder (`execution#id`, `training#id`, `sample#id`) is gone or its job has ended."""
    kind, _, record_id = holder.rpartition("#")
    if kind == STEP_CACHE:
        return True  # a cache entry never keeps its owner from deleting a file (the entry then misses)
    try:
        if kind == SAMPLE:
            stores.samples.get(record_id)
            return False
        job_store = stores.trainings if kind == "training" else stores.executions
        return is_terminal(job_store.get(record_id).status)
    except NotFoundError:
        return True


# --- A job holds its algorithm version -------------------------------------------------------------


def version_hold_write(plan: JobPlan, holder: str, stores: Stores) -> Write | None:
    """The write (for the job's accept transaction) that makes ``holder`` hold the plan's pinned version;
    it fails the transaction when that version has been deleted. None for a built-in: nobody deletes one,
    and every tenant's jobs writing to its one version item would make it a hot key."""
    if is_builtin(plan.algorithm_owner):
        return None
    return stores.algorithms.hold_write(plan.algorithm_id, plan.algorithm_minor, holder)


def release_job(holder: str, record: JobRecord, input_ids: Iterable[str], stores: Stores) -> None:
    """Drop every hold of a job that has ended: on its algorithm version, its inputs and its place in its
    tenant's job limits. Idempotent."""
    plan = record.plan
    if not is_builtin(plan.algorithm_owner):
        stores.algorithms.release(plan.algorithm_id, plan.algorithm_minor, holder)
    release(holder, input_ids, stores)
    stores.quotas.release(record.tenant, [holder])


def release_ended_version_holders(algorithm_id: str, minors: Iterable[int], stores: Stores) -> None:
    """Drop the holds on these minor versions whose jobs have ended (their release was lost).

    Raises AlgorithmInUseError naming the jobs that still hold one.
    """
    wanted = set(minors)
    live: list[str] = []
    for minor, holders in sorted(stores.algorithms.holders(algorithm_id).items()):
        if minor not in wanted:
            continue
        for holder in sorted(holders):
            if has_ended(holder, stores):
                stores.algorithms.release(algorithm_id, minor, holder)
            else:
                live.append(f"minor version {minor} by {describe_holders([holder])}")
    if live:
        raise AlgorithmInUseError(
            f"algorithm {algorithm_id} is in use: {', '.join(live)}; delete it once those jobs have ended"
        )
