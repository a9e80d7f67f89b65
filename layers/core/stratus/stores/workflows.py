"""WorkflowStore: workflow records and their steps (items under the workflow's key), and the step cache."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from boto3.dynamodb.conditions import Attr
from botocore.exceptions import ClientError

from stratus.errors import IllegalTransitionError, InvalidInputError
from stratus.models.workflows import WORKFLOW_TRANSITIONS, StepRecord, WorkflowRecord, WorkflowStatus
from stratus.stores.base import (
    REFUSED_RECORD,
    Item,
    StatusRecordStore,
    document_path,
    from_item,
    record_key,
    to_item,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from boto3.dynamodb.conditions import ConditionBase

    from stratus.models.workflows import StepStatus

STEP_PREFIX = "step#"
# BatchWriteItem takes at most 25 items a call.
MAX_BATCH_WRITE = 25


def step_key(workflow_id: str, step_id: str) -> Item:
    """Primary key of one step: under the workflow's partition, so one Query reads them all."""
    return {"pk": record_key("workflow", workflow_id)["pk"], "sk": f"{STEP_PREFIX}{step_id}"}


def cache_key(tenant: str, digest: str) -> Item:
    """Primary key of a step cache entry: a tenant's own, never shared."""
    return {"pk": f"stepcache#{tenant}#{digest}", "sk": "stepcache"}


class WorkflowStore(StatusRecordStore[WorkflowRecord]):
    """Workflow records: status changes are conditional writes along WORKFLOW_TRANSITIONS; steps are
    items of their own (a 1,000-step workflow would not fit DynamoDB's 400 KB item)."""

    kind = "workflow"
    id_field = "workflow_id"
    model = WorkflowRecord
    transitions = WORKFLOW_TRANSITIONS

    def create_with_steps(self, record: WorkflowRecord, steps: list[StepRecord]) -> None:
        """Store the steps, then the workflow: it exists (is listed and readable) only once every step
        does; steps of a create that failed half-way are never read and expire with it.

        Raises AlreadyExistsError, InvalidInputError (an item over DynamoDB's limits).
        """
        try:
            with self._table.batch_writer() as batch:
                for step in steps:
                    batch.put_item(Item=self._step_item(step))
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ValidationException":
                raise InvalidInputError(REFUSED_RECORD) from exc
            raise
        self.create(record)

    def steps(self, workflow_id: str) -> list[StepRecord]:
        """The workflow's steps in definition order (one strongly consistent Query, paged)."""
        items = self._query_items(record_key(self.kind, workflow_id)["pk"], STEP_PREFIX)
        return sorted((StepRecord.model_validate(i) for i in items), key=lambda s: s.index)

    def update_step(
        self,
        step: StepRecord,
        values: Mapping[str, Any],
        allowed: Iterable[StepStatus] | None = None,
        remove: Iterable[str] = (),
    ) -> StepRecord:
        """Set ``values`` on a step whose status is in ``allowed``.

        Raises NotFoundError, IllegalTransitionError.
        """
        item = self._update_guarded(
            step_key(step.workflow_id, step.step_id),
            f"step {step.step_id}",
            {"updated_at": self._clock(), **values},
            allowed_statuses=None if allowed is None else [s.value for s in allowed],
            remove=remove,
        )
        return StepRecord.model_validate(item)

    def start_step(self, step: StepRecord, values: Mapping[str, Any], run: str) -> None:
        """Set ``values`` (None removes) on a PENDING step, in one transaction with the check that
        ``run`` still drives the RUNNING workflow: a pause or cancel that came first wins, and no step
        starts after it. Raises IllegalTransitionError."""
        names: dict[str, str] = {}
        given = {path: value for path, value in values.items() if value is not None}
        sets = [f"{document_path(path, f'#set{i}', names)} = :set{i}" for i, path in enumerate(given)]
        removes = [document_path(p, f"#remove{i}", names) for i, p in enumerate(values) if values[p] is None]
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        update = {
            "Update": {
                "Key": step_key(step.workflow_id, step.step_id),
                "UpdateExpression": expression,
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": to_item({f":set{i}": v for i, v in enumerate(given.values())}),
                "Condition": Attr("status").eq(step.status.value),
            }
        }
        driving = (
            Attr("status").eq(WorkflowStatus.RUNNING.value)
            & Attr("runner").eq(run)
            & Attr("runner_active").eq(True)
        )
        check = {"ConditionCheck": {"Key": self.key(step.workflow_id), "Condition": driving}}
        if self.transact([update, check]) is not None:
            raise IllegalTransitionError(
                f"step {step.step_id} did not start: it changed, or the workflow was paused or cancelled"
            )

    def update(
        self,
        workflow_id: str,
        values: Mapping[str, Any],
        allowed: Iterable[WorkflowStatus] | None = None,
        condition: ConditionBase | None = None,
    ) -> WorkflowRecord:
        """Set ``values`` while the status is in ``allowed`` (and ``condition`` holds).

        Raises NotFoundError, IllegalTransitionError."""
        return self._update(
            workflow_id,
            {"updated_at": self._clock(), **values},
            allowed_statuses=None if allowed is None else [s.value for s in allowed],
            condition=condition,
        )

    def runner_is(self, run: str) -> ConditionBase:
        """The condition that ``run`` is the workflow's current runner."""
        return Attr("runner").eq(run)

    def remove(self, workflow_id: str, tenant: str) -> WorkflowRecord:
        """Delete the workflow, then its steps. Raises NotFoundError."""
        record = self.delete(workflow_id, tenant)
        with self._table.batch_writer() as batch:
            for step in self.steps(workflow_id):
                batch.delete_item(Key=step_key(workflow_id, step.step_id))
        return record

    def _step_item(self, step: StepRecord) -> Item:
        return to_item({**step_key(step.workflow_id, step.step_id), **step.model_dump(mode="json")})

    # --- the step cache -------------------------------------------------------------------------------

    def cached(self, tenant: str, digest: str) -> dict[str, Any] | None:
        """A live cache entry: {result, source, expires_at}, or None."""
        item = self._table.get_item(Key=cache_key(tenant, digest), ConsistentRead=True).get("Item")
        if item is None or not self._is_live(item):
            return None
        return from_item(item)

    def remember(
        self, tenant: str, digest: str, result: dict[str, Any], source: str, expires_at: int
    ) -> None:
        """Store (or replace) a cache entry."""
        self._table.put_item(
            Item=to_item(
                {**cache_key(tenant, digest), "result": result, "source": source, "expires_at": expires_at}
            )
        )

    def forget(self, tenant: str, digest: str) -> None:
        """Drop a cache entry (its outputs are gone)."""
        self._table.delete_item(Key=cache_key(tenant, digest))
