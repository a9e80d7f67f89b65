"""Holds: jobs and samples hold files in transactions (chunked past DynamoDB's 100 writes, undone when a
later part fails); releases give files their own expiry back and retag their objects for the holders that
remain; deletes drop the holds of ended jobs and gone samples."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from stratus.errors import FileInUseError, NotFoundError
from stratus.local.template import load_template
from stratus.models import FileRecord, FileStatus
from stratus.models.executions import ExecutionRecord
from stratus.models.files import describe_holders
from stratus.models.jobs import JobError
from stratus.models.samples import SampleRecord
from stratus.models.trainings import Round, TrainingRecord
from stratus.services import files, holds
from stratus.settings import Settings
from stratus.stores import Stores
from stratus.stores.base import MAX_TRANSACTION_ITEMS, Write, record_key

from tests.conftest import TEMPLATE, MovableClock, job_plan

TENANT = "t1"


def _tags(settings: Settings, key: str) -> dict[str, str]:
    tag_set = boto3.client("s3").get_object_tagging(Bucket=settings.data_bucket, Key=key)["TagSet"]
    return {t["Key"]: t["Value"] for t in tag_set}


def _lifetime(settings: Settings, record: FileRecord) -> str:
    return _tags(settings, record.s3_key)["stratus-lifetime"]


def _hold(holder: str, file_ids: list[str], stores: Stores) -> None:
    """Hold files as the services do: read them, write the holds in one transaction, tag the objects."""
    inputs = files.get_ready_many(file_ids, TENANT, stores)
    holds.transact_with_holds([], holds.hold_writes(inputs, holder, stores.clock(), stores), stores)
    holds.tag_held(holder, inputs, stores)


def _execution(stores: Stores, input_ids: list[str] | None = None) -> ExecutionRecord:
    """A PENDING execution record (not stored)."""
    now = stores.clock()
    return ExecutionRecord(
        execution_id=str(uuid.uuid4()),
        tenant=TENANT,
        algorithm_id="algorithm-1",
        input_dataset_ids=input_ids or [],
        created_at=now,
        expires_at=int(now) + 86_400,
        plan=job_plan(),
    )


def _training(stores: Stores) -> TrainingRecord:
    """A PENDING training record (stored)."""
    now = stores.clock()
    record = TrainingRecord(
        training_id=str(uuid.uuid4()),
        tenant=TENANT,
        algorithm_id="algorithm-1",
        training_data=["sample-1"],
        samples={},
        rounds=[Round(index=0, sample_ids=["sample-1"])],
        created_at=now,
        expires_at=int(now) + 86_400,
        plan=job_plan(),
    )
    stores.trainings.create(record)
    return record


def _sample(stores: Stores, file_ids: list[str]) -> SampleRecord:
    """A sample record (stored; its holds are up to the test)."""
    record = SampleRecord(
        sample_id=str(uuid.uuid4()), tenant=TENANT, files=[{"input": file_ids}], created_at=stores.clock()
    )
    stores.samples.create(record)
    return record


def _records(stores: Stores, count: int) -> list[FileRecord]:
    """``count`` READY file records without bytes (retagging their objects finds nothing, harmlessly)."""
    now = stores.clock()
    records = []
    for _ in range(count):
        file_id = str(uuid.uuid4())
        record = FileRecord(
            file_id=file_id,
            tenant=TENANT,
            status=FileStatus.READY,
            s3_key=f"files/{file_id}",
            created_at=now,
            expires_at=int(now) + 86_400,
            size=1,
        )
        stores.files.create(record)
        records.append(record)
    return records


@pytest.fixture
def ready(stores: Stores, settings: Settings, hdf5_file: Callable[..., bytes]) -> Callable[[], FileRecord]:
    """``ready()`` → a new READY file of the tenant, its bytes tagged temporary."""
    seeds = iter(range(1000))
    return lambda: files.store_ready(hdf5_file(seed=next(seeds)), TENANT, stores, settings)


@pytest.fixture
def transactions(stores: Stores, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of each transaction the file store runs from now on."""
    sizes: list[int] = []
    transact = stores.files.transact

    def counted(writes: list[Write]) -> list[str] | None:
        sizes.append(len(writes))
        return transact(writes)

    monkeypatch.setattr(stores.files, "transact", counted)
    return sizes


def test_holder_of_names_the_kind_and_the_id() -> None:
    assert holds.holder_of("execution", "e1") == "execution#e1"
    assert holds.holder_of(holds.SAMPLE, "s1") == "sample#s1"


@pytest.mark.parametrize("kind", ["execution", "training"])
def test_job_hold_keeps_file_to_the_ceiling_and_tags_it_held(
    stores: Stores, settings: Settings, clock: MovableClock, ready: Callable[[], FileRecord], kind: str
) -> None:
    record = ready()
    holder = holds.holder_of(kind, "j1")

    _hold(holder, [record.file_id, record.file_id], stores)

    held = stores.files.get(record.file_id)
    assert (held.held_by, held.expires_at, held.own_expires_at) == (
        {holder},
        int(clock()) + holds.HOLD_CEILING_SECONDS,
        record.expires_at,
    )
    assert _tags(settings, record.s3_key) == {"stratus-lifetime": "held"}


def test_sample_hold_pins_file_and_tags_it_pinned(
    stores: Stores, settings: Settings, clock: MovableClock, ready: Callable[[], FileRecord]
) -> None:
    record = ready()

    _hold("sample#s1", [record.file_id], stores)
    clock.advance(100 * 365 * 86_400)

    held = stores.files.get(record.file_id)
    assert (held.held_by, held.expires_at, held.own_expires_at) == (
        {"sample#s1"},
        holds.PINNED_UNTIL,
        record.expires_at,
    )
    assert _tags(settings, record.s3_key) == {"stratus-lifetime": "pinned"}


def test_job_hold_of_a_pinned_file_keeps_it_pinned(
    stores: Stores, settings: Settings, ready: Callable[[], FileRecord]
) -> None:
    record = ready()
    _hold("sample#s1", [record.file_id], stores)

    _hold("execution#e1", [record.file_id], stores)

    held = stores.files.get(record.file_id)
    assert (held.held_by, held.expires_at) == ({"sample#s1", "execution#e1"}, holds.PINNED_UNTIL)
    # A held tag would let the lifecycle delete the sample's bytes while the sample still exists.
    assert _lifetime(settings, record) == "pinned"


def test_sample_hold_of_a_job_input_pins_it_and_keeps_own_expiry(
    stores: Stores, settings: Settings, ready: Callable[[], FileRecord]
) -> None:
    record = ready()
    _hold("execution#e1", [record.file_id], stores)

    _hold("sample#s1", [record.file_id], stores)

    held = stores.files.get(record.file_id)
    assert (held.expires_at, held.own_expires_at) == (holds.PINNED_UNTIL, record.expires_at)
    assert _lifetime(settings, record) == "pinned"


def test_holds_land_with_the_callers_writes(stores: Stores, ready: Callable[[], FileRecord]) -> None:
    inputs = [ready(), ready()]
    execution = _execution(stores, [f.file_id for f in inputs])
    holder = holds.holder_of("execution", execution.execution_id)

    holds.transact_with_holds(
        [stores.executions.create_write(execution)],
        holds.hold_writes(inputs, holder, stores.clock(), stores),
        stores,
    )

    assert stores.executions.get(execution.execution_id) == execution
    assert [stores.files.get(f.file_id).held_by for f in inputs] == [{holder}, {holder}]


def test_failed_own_write_cancels_the_holds(stores: Stores, ready: Callable[[], FileRecord]) -> None:
    record = ready()
    execution = _execution(stores, [record.file_id])
    stores.executions.create(execution)  # its id is taken: the create write fails

    with pytest.raises(holds.TransactionFailed) as failed:
        holds.transact_with_holds(
            [stores.executions.create_write(execution)],
            holds.hold_writes([record], "execution#e1", stores.clock(), stores),
            stores,
        )

    assert (failed.value.reasons, failed.value.holds_failed) == (["ConditionalCheckFailed"], False)
    assert stores.files.get(record.file_id) == record


@pytest.mark.parametrize("change", ["deleted", "held-longer"])
def test_hold_on_a_file_changed_since_it_was_read_fails_the_transaction(
    stores: Stores, ready: Callable[[], FileRecord], change: str
) -> None:
    untouched, changed = ready(), ready()
    writes = holds.hold_writes([untouched, changed], "execution#e1", stores.clock(), stores)
    if change == "deleted":
        files.delete_file(changed.file_id, TENANT, stores)
    else:
        _hold("sample#s1", [changed.file_id], stores)  # moves the expiry past the hold's guess
    execution = _execution(stores)

    with pytest.raises(holds.TransactionFailed) as failed:
        holds.transact_with_holds([stores.executions.create_write(execution)], writes, stores)

    assert (failed.value.reasons, failed.value.holds_failed) == (["None"], True)
    assert stores.files.get(untouched.file_id) == untouched
    with pytest.raises(NotFoundError):
        stores.executions.get(execution.execution_id)


def test_more_holds_than_one_transaction_takes_go_first_in_chunks(
    stores: Stores, transactions: list[int]
) -> None:
    inputs = _records(stores, 150)
    execution = _execution(stores)
    holder = holds.holder_of("execution", execution.execution_id)

    holds.transact_with_holds(
        [stores.executions.create_write(execution)],
        holds.hold_writes(inputs, holder, stores.clock(), stores),
        stores,
    )

    # The caller's write and as many holds as fit go last; the rest before, in transactions of their own.
    assert transactions == [150 + 1 - MAX_TRANSACTION_ITEMS, MAX_TRANSACTION_ITEMS]
    assert stores.executions.get(execution.execution_id) == execution
    held = stores.files.get_many([f.file_id for f in inputs], TENANT)
    assert {f.file_id: f.held_by for f in held.values()} == {f.file_id: {holder} for f in inputs}


def test_failed_last_transaction_undoes_the_holds_before_it(stores: Stores, transactions: list[int]) -> None:
    inputs = _records(stores, 150)
    execution = _execution(stores)
    stores.executions.create(execution)  # its id is taken: the last transaction fails

    with pytest.raises(holds.TransactionFailed) as failed:
        holds.transact_with_holds(
            [stores.executions.create_write(execution)],
            holds.hold_writes(inputs, "execution#e1", stores.clock(), stores),
            stores,
        )

    assert (failed.value.reasons, failed.value.holds_failed) == (["ConditionalCheckFailed"], False)
    assert transactions == [51, 100]
    assert stores.files.get_many([f.file_id for f in inputs], TENANT) == {f.file_id: f for f in inputs}


def test_failed_early_chunk_undoes_the_chunks_before_it_and_runs_no_more(
    stores: Stores, transactions: list[int]
) -> None:
    inputs = _records(stores, 250)
    writes = holds.hold_writes(inputs, "execution#e1", stores.clock(), stores)
    # 250 holds and one write: chunks of 100 and 51 holds, then the write with 99 holds.
    stores.files.delete(inputs[120].file_id, TENANT)  # in the second chunk
    execution = _execution(stores)

    with pytest.raises(holds.TransactionFailed) as failed:
        holds.transact_with_holds([stores.executions.create_write(execution)], writes, stores)

    assert (failed.value.reasons, failed.value.holds_failed) == (["None"], True)
    assert transactions == [100, 51]
    remaining = [f for i, f in enumerate(inputs) if i != 120]
    assert stores.files.get_many([f.file_id for f in inputs], TENANT) == {f.file_id: f for f in remaining}
    with pytest.raises(NotFoundError):
        stores.executions.get(execution.execution_id)


def test_release_by_last_holder_gives_back_own_expiry_and_temporary_tag(
    stores: Stores, settings: Settings, ready: Callable[[], FileRecord]
) -> None:
    record = ready()
    _hold("execution#e1", [record.file_id], stores)

    holds.release("execution#e1", [record.file_id, record.file_id], stores)

    assert stores.files.get(record.file_id) == record
    assert _tags(settings, record.s3_key) == {"stratus-lifetime": "temporary"}


@pytest.mark.parametrize(
    ("holders", "left"),
    [
        (["execution#e1", "execution#e2"], "held"),
        (["execution#e1", "training#t1"], "held"),
        (["sample#s1", "execution#e1"], "held"),
        (["execution#e1", "sample#s1"], "pinned"),
        (["sample#s1", "sample#s2"], "pinned"),
    ],
)
def test_release_retags_by_the_remaining_holders(
    stores: Stores, settings: Settings, ready: Callable[[], FileRecord], holders: list[str], left: str
) -> None:
    record = ready()
    released, remaining = holders
    for holder in holders:
        _hold(holder, [record.file_id], stores)

    holds.release(released, [record.file_id], stores)

    assert stores.files.get(record.file_id).held_by == {remaining}
    assert _lifetime(settings, record) == left


def test_release_twice_is_harmless(
    stores: Stores, settings: Settings, ready: Callable[[], FileRecord]
) -> None:
    record = ready()
    _hold("execution#e1", [record.file_id], stores)
    holds.release("execution#e1", [record.file_id], stores)

    holds.release("execution#e1", [record.file_id], stores)

    assert stores.files.get(record.file_id) == record
    assert _lifetime(settings, record) == "temporary"


def test_release_leaves_files_the_holder_does_not_hold_alone(
    stores: Stores, settings: Settings, ready: Callable[[], FileRecord]
) -> None:
    record = ready()
    _hold("sample#s1", [record.file_id], stores)
    held = stores.files.get(record.file_id)

    holds.release("execution#e1", [record.file_id], stores)

    assert stores.files.get(record.file_id) == held
    assert _lifetime(settings, record) == "pinned"


@pytest.mark.parametrize(("holder", "lifetime"), [("execution#e2", "held"), ("sample#s1", "pinned")])
def test_release_retags_a_file_held_again_meanwhile(
    stores: Stores,
    settings: Settings,
    ready: Callable[[], FileRecord],
    monkeypatch: pytest.MonkeyPatch,
    holder: str,
    lifetime: str,
) -> None:
    record = ready()
    _hold("execution#e1", [record.file_id], stores)
    release = stores.files.release

    def release_then_hold(file_id: str, released: str) -> Any:
        result = release(file_id, released)
        _hold(holder, [file_id], stores)  # lands between e1's release and its retag
        return result

    monkeypatch.setattr(stores.files, "release", release_then_hold)

    holds.release("execution#e1", [record.file_id], stores)

    assert stores.files.get(record.file_id).held_by == {holder}
    assert _lifetime(settings, record) == lifetime


def test_release_ignores_file_deleted_meanwhile(
    stores: Stores, settings: Settings, clock: MovableClock, ready: Callable[[], FileRecord]
) -> None:
    record = ready()
    _hold("execution#e1", [record.file_id], stores)
    # The hold ran out and DynamoDB's TTL sweep and the lifecycle rule took the file.
    clock.advance(holds.HOLD_CEILING_SECONDS)
    table = boto3.resource("dynamodb").Table(settings.table_name)
    table.delete_item(Key=record_key("file", record.file_id))
    stores.objects.delete(record.s3_key)

    holds.release("execution#e1", [record.file_id], stores)

    assert "Item" not in table.get_item(Key=record_key("file", record.file_id))


def test_release_ended_holders_drops_ended_ones_and_names_live_ones(
    stores: Stores, settings: Settings, ready: Callable[[], FileRecord]
) -> None:
    record = ready()
    running, failed = _execution(stores), _execution(stores)
    live_training, stopped_training = _training(stores), _training(stores)
    kept, deleted = _sample(stores, [record.file_id]), _sample(stores, [record.file_id])
    for execution in (running, failed):
        stores.executions.create(execution)
    stores.executions.fail(failed.execution_id, JobError(type="RuntimeError", message="lost"))
    stores.trainings.stop(stopped_training.training_id, "stopped")
    stores.samples.delete(deleted.sample_id, TENANT)  # its release was lost
    live = sorted(
        [
            holds.holder_of("execution", running.execution_id),
            holds.holder_of("training", live_training.training_id),
            holds.holder_of(holds.SAMPLE, kept.sample_id),
        ]
    )
    ended = [
        holds.holder_of("execution", failed.execution_id),
        holds.holder_of("execution", str(uuid.uuid4())),  # expired and swept away
        holds.holder_of("training", stopped_training.training_id),
        holds.holder_of(holds.SAMPLE, deleted.sample_id),
    ]
    for holder in live + ended:
        _hold(holder, [record.file_id], stores)

    with pytest.raises(FileInUseError) as in_use:
        holds.release_ended_holders(record.file_id, TENANT, stores)

    assert f"file {record.file_id} is held by {describe_holders(live)};" in in_use.value.detail
    assert all(holder.partition("#")[2] not in in_use.value.detail for holder in ended)
    assert stores.files.get(record.file_id).held_by == set(live)
    assert _lifetime(settings, record) == "pinned"


def test_release_ended_holders_frees_a_file_only_ended_jobs_hold(
    stores: Stores, settings: Settings, ready: Callable[[], FileRecord]
) -> None:
    record = ready()
    execution = _execution(stores)
    stores.executions.create(execution)
    stores.executions.fail(execution.execution_id, JobError(type="RuntimeError", message="lost"))
    _hold(holds.holder_of("execution", execution.execution_id), [record.file_id], stores)

    holds.release_ended_holders(record.file_id, TENANT, stores)

    assert stores.files.get(record.file_id) == record
    assert _lifetime(settings, record) == "temporary"


def test_release_ended_holders_hides_other_tenants_file(
    stores: Stores, ready: Callable[[], FileRecord]
) -> None:
    record = ready()
    _hold("execution#e1", [record.file_id], stores)

    with pytest.raises(NotFoundError):
        holds.release_ended_holders(record.file_id, "someone-else", stores)
    assert stores.files.get(record.file_id).held_by == {"execution#e1"}


def test_held_lifecycle_rule_outlasts_file_life_plus_hold() -> None:
    template = load_template(TEMPLATE)
    parameters = template["Parameters"]
    rules = template["Resources"]["DataBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    hold_days = holds.HOLD_CEILING_SECONDS / 86_400

    held = next(r for r in rules if r.get("TagFilters") == [{"Key": "stratus-lifetime", "Value": "held"}])

    assert held["ExpirationInDays"] == {"Ref": "HeldFileLifetimeDays"}
    for bound in ("Default", "MaxValue"):
        assert parameters["HeldFileLifetimeDays"][bound] >= parameters["FileLifetimeDays"][bound] + hold_days


def test_no_lifecycle_rule_expires_pinned_files() -> None:
    template = load_template(TEMPLATE)
    rules = template["Resources"]["DataBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]

    expiring = [r for r in rules if "ExpirationInDays" in r or "ExpirationDate" in r]

    # Every expiring rule is scoped to a lifetime tag, and none to the pinned one.
    assert expiring
    assert all(
        [f["Key"] for f in r.get("TagFilters", [])] == ["stratus-lifetime"]
        and r["TagFilters"][0]["Value"] != "pinned"
        for r in expiring
    )


def test_longest_job_fits_in_the_hold() -> None:
    template = load_template(TEMPLATE)
    attempts = max(
        resource["Properties"]["RetryStrategy"]["Attempts"]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Batch::JobDefinition"
    )

    assert attempts * template["Parameters"]["JobTimeoutSeconds"]["MaxValue"] < holds.HOLD_CEILING_SECONDS
