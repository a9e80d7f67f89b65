"""WorkspaceStore: a tenant's workspaces with their name claims and count, and each workspace's scenarios
with their tag claims.

A tenant's workspaces live in one partition of their own (not the listing index): a Query of it is
strongly consistent, so the auto-created `main` is listed by the request that made it, and another
tenant's workspace id is simply absent. A workspace's scenarios live in the workspace's partition, as a
workflow's steps do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from boto3.dynamodb.conditions import Attr
from botocore.exceptions import ClientError

from stratus.errors import AlreadyExistsError, ConflictError, NotFoundError
from stratus.models.workspaces import MAX_SCENARIOS, ScenarioRecord, WorkspaceRecord
from stratus.stores.base import Item, RecordStore, Write, from_item, to_item

if TYPE_CHECKING:
    from boto3.dynamodb.conditions import ConditionBase

    from stratus.models.workspaces import ScenarioOutcome

WORKSPACE_PREFIX = "workspace#"
NAME_PREFIX = "name#"
SCENARIO_PREFIX = "scenario#"
TAG_PREFIX = "tag#"
HEAD_SK = "head"
CONDITION_FAILED = "ConditionalCheckFailed"
# A rename or delete that raced another change of the same workspace reads it again this often.
MAX_ATTEMPTS = 3


def tenant_partition(tenant: str) -> str:
    """The partition of a tenant's workspaces, their name claims and their count (the head)."""
    return f"workspaces#{tenant}"


def workspace_key(tenant: str, workspace_id: str) -> Item:
    """Primary key of a workspace."""
    return {"pk": tenant_partition(tenant), "sk": f"{WORKSPACE_PREFIX}{workspace_id}"}


def head_key(tenant: str) -> Item:
    """Primary key of the tenant's head: how many workspaces it has (at least one, once made)."""
    return {"pk": tenant_partition(tenant), "sk": HEAD_SK}


def name_key(tenant: str, display_name: str) -> Item:
    """Primary key of a display name's claim: at most one workspace of a tenant holds it."""
    return {"pk": tenant_partition(tenant), "sk": f"{NAME_PREFIX}{display_name}"}


def scenario_partition(workspace_id: str) -> str:
    """The partition of a workspace's scenarios and tag claims."""
    return f"workspace#{workspace_id}"


def scenario_key(workspace_id: str, scenario_id: str) -> Item:
    """Primary key of a scenario."""
    return {"pk": scenario_partition(workspace_id), "sk": f"{SCENARIO_PREFIX}{scenario_id}"}


def tag_key(workspace_id: str, tag: str) -> Item:
    """Primary key of a tag's claim: at most one scenario of a workspace holds it."""
    return {"pk": scenario_partition(workspace_id), "sk": f"{TAG_PREFIX}{tag}"}


class WorkspaceStore(RecordStore):
    """Workspaces and scenarios; every change that must land together is one transaction, so racing
    creates and renames cannot both take a name (or a tag), and a tenant never has no workspace."""

    # --- workspaces -----------------------------------------------------------------------------------

    def has_head(self, tenant: str) -> bool:
        """Whether the tenant's workspaces were ever set up (its head exists)."""
        return "Item" in self._table.get_item(Key=head_key(tenant), ConsistentRead=True)

    def set_up(self, record: WorkspaceRecord) -> bool:
        """Create the tenant's head with ``record`` as its first workspace; False when the head exists
        (another request set it up first: that one's workspace stands)."""
        head = {
            "Put": {"Item": {**head_key(record.tenant), "count": 1}, "Condition": Attr("pk").not_exists()}
        }
        reasons = self.transact([head, *self._workspace_puts(record)])
        if reasons is None:
            return True
        if reasons[0] == CONDITION_FAILED:
            return False
        raise ConflictError("the workspaces were being set up by another request; try again")

    def add(self, record: WorkspaceRecord) -> None:
        """Store a new workspace and claim its name. Raises AlreadyExistsError (the name is taken)."""
        count = {
            "Update": {
                "Key": head_key(record.tenant),
                "UpdateExpression": "ADD #count :one",
                "ExpressionAttributeNames": {"#count": "count"},
                "ExpressionAttributeValues": {":one": 1},
                "Condition": Attr("pk").exists(),
            }
        }
        reasons = self.transact([*self._workspace_puts(record), count])
        if reasons is None:
            return
        if reasons[1] == CONDITION_FAILED:
            raise AlreadyExistsError(f'a workspace named "{record.display_name}" already exists')
        raise ConflictError("the workspaces changed while this one was created; try again")

    def get(self, tenant: str, workspace_id: str) -> WorkspaceRecord:
        """One workspace of ``tenant``. Raises NotFoundError."""
        return WorkspaceRecord.model_validate(
            self._get_live(workspace_key(tenant, workspace_id), "workspace")
        )

    def list_all(self, tenant: str) -> list[WorkspaceRecord]:
        """Every workspace of ``tenant``, oldest first (strongly consistent)."""
        items = self._query_items(tenant_partition(tenant), WORKSPACE_PREFIX)
        return sorted((WorkspaceRecord.model_validate(i) for i in items), key=lambda r: r.created_at)

    def rename(self, tenant: str, workspace_id: str, display_name: str) -> WorkspaceRecord:
        """Give a workspace another name: the old claim goes, the new one is taken, in one transaction.

        Raises NotFoundError, AlreadyExistsError (another workspace has the name), ConflictError.
        """
        for _ in range(MAX_ATTEMPTS):
            record = self.get(tenant, workspace_id)
            if record.display_name == display_name:
                return record
            now = self._clock()
            update = {
                "Update": {
                    "Key": workspace_key(tenant, workspace_id),
                    "UpdateExpression": "SET display_name = :name, updated_at = :now",
                    "ExpressionAttributeValues": to_item({":name": display_name, ":now": now}),
                    "Condition": Attr("display_name").eq(record.display_name),
                }
            }
            reasons = self.transact(
                [update, self._release_name(record), self._claim_name(record, display_name)]
            )
            if reasons is None:
                return record.model_copy(update={"display_name": display_name, "updated_at": now})
            if reasons[2] == CONDITION_FAILED:
                raise AlreadyExistsError(f'a workspace named "{display_name}" already exists')
        raise ConflictError(f"workspace {workspace_id} kept changing while it was renamed; try again")

    def remove(self, record: WorkspaceRecord, replacement: WorkspaceRecord) -> WorkspaceRecord | None:
        """Delete a workspace (and its name claim), then its scenarios; when it is the tenant's last,
        ``replacement`` (a fresh `main`) takes its place in the same transaction. Returns the replacement
        when it was stored.

        Raises NotFoundError, ConflictError (the workspaces kept changing).
        """
        tenant = record.tenant
        gone = {
            "Delete": {"Key": workspace_key(tenant, record.workspace_id), "Condition": Attr("pk").exists()}
        }
        for _ in range(MAX_ATTEMPTS):
            fewer = self._count_change(tenant, -1, Attr("count").gt(1))
            reasons = self.transact([gone, self._release_name(record), fewer])
            if reasons is None:
                self._purge(record.workspace_id)
                return None
            if reasons[0] == CONDITION_FAILED:
                raise NotFoundError("workspace not found")
            if reasons[2] != CONDITION_FAILED:
                continue
            # The last one: it is replaced, never left missing (seed 004), while the count stays 1.
            last = {"ConditionCheck": {"Key": head_key(tenant), "Condition": Attr("count").eq(1)}}
            writes: list[Write] = [gone, last, self._workspace_put(replacement)]
            if record.display_name == replacement.display_name:
                writes.append(self._move_name(record, replacement))
            else:
                writes += [
                    self._release_name(record),
                    self._claim_name(replacement, replacement.display_name),
                ]
            reasons = self.transact(writes)
            if reasons is None:
                self._purge(record.workspace_id)
                return replacement
            if reasons[0] == CONDITION_FAILED:
                raise NotFoundError("workspace not found")
        raise ConflictError("the workspaces kept changing while this one was deleted; try again")

    def _workspace_put(self, record: WorkspaceRecord) -> Write:
        item = to_item(
            {**workspace_key(record.tenant, record.workspace_id), **record.model_dump(mode="json")}
        )
        return {"Put": {"Item": item, "Condition": Attr("pk").not_exists()}}

    def _workspace_puts(self, record: WorkspaceRecord) -> list[Write]:
        return [self._workspace_put(record), self._claim_name(record, record.display_name)]

    def _claim_name(self, record: WorkspaceRecord, display_name: str) -> Write:
        claim = {**name_key(record.tenant, display_name), "workspace_id": record.workspace_id}
        return {"Put": {"Item": claim, "Condition": Attr("pk").not_exists()}}

    def _release_name(self, record: WorkspaceRecord) -> Write:
        key = name_key(record.tenant, record.display_name)
        return {"Delete": {"Key": key, "Condition": Attr("workspace_id").eq(record.workspace_id)}}

    def _move_name(self, record: WorkspaceRecord, replacement: WorkspaceRecord) -> Write:
        # A transaction may touch an item once: the claim is handed over, not deleted and made again.
        return {
            "Update": {
                "Key": name_key(record.tenant, record.display_name),
                "UpdateExpression": "SET workspace_id = :id",
                "ExpressionAttributeValues": {":id": replacement.workspace_id},
                "Condition": Attr("workspace_id").eq(record.workspace_id),
            }
        }

    def _count_change(self, tenant: str, change: int, condition: ConditionBase) -> Write:
        return {
            "Update": {
                "Key": head_key(tenant),
                "UpdateExpression": "ADD #count :change",
                "ExpressionAttributeNames": {"#count": "count"},
                "ExpressionAttributeValues": {":change": change},
                "Condition": condition,
            }
        }

    # --- scenarios ------------------------------------------------------------------------------------

    def workspace_and_scenario(
        self, tenant: str, workspace_id: str, scenario_id: str
    ) -> tuple[WorkspaceRecord, ScenarioRecord]:
        """A workspace of ``tenant`` and one of its scenarios (one batched read). Raises NotFoundError."""
        wanted = workspace_key(tenant, workspace_id)
        items = {i["sk"]: i for i in self._get_many([wanted, scenario_key(workspace_id, scenario_id)])}
        if wanted["sk"] not in items:
            raise NotFoundError("workspace not found")
        scenario = items.get(f"{SCENARIO_PREFIX}{scenario_id}")
        if scenario is None:
            raise NotFoundError("scenario not found")
        return WorkspaceRecord.model_validate(items[wanted["sk"]]), ScenarioRecord.model_validate(scenario)

    def scenarios(self, workspace_id: str) -> list[ScenarioRecord]:
        """A workspace's scenarios in creation order (strongly consistent)."""
        items = self._query_items(scenario_partition(workspace_id), SCENARIO_PREFIX)
        return sorted((ScenarioRecord.model_validate(i) for i in items), key=lambda s: s.created_at)

    def add_scenario(self, workspace: WorkspaceRecord, record: ScenarioRecord) -> None:
        """Store a scenario, claim its tag and count it on its workspace, in one transaction.

        Raises NotFoundError (the workspace is gone), AlreadyExistsError (the tag is taken),
        ConflictError (the workspace is full).
        """
        count = {
            "Update": {
                "Key": workspace_key(workspace.tenant, workspace.workspace_id),
                "UpdateExpression": "ADD scenario_count :one",
                "ExpressionAttributeValues": {":one": 1},
                "Condition": Attr("pk").exists() & Attr("scenario_count").lt(MAX_SCENARIOS),
            }
        }
        reasons = self.transact([*self._scenario_puts(record), count])
        if reasons is None:
            return
        if reasons[1] == CONDITION_FAILED:
            raise AlreadyExistsError(f'a scenario tagged "{record.tag}" already exists in this workspace')
        if reasons[2] == CONDITION_FAILED:
            self.get(workspace.tenant, workspace.workspace_id)  # NotFoundError when it is gone
            raise ConflictError(f"a workspace holds at most {MAX_SCENARIOS} scenarios")
        raise ConflictError("the workspace changed while the scenario was created; try again")

    def put_copies(self, records: list[ScenarioRecord]) -> None:
        """Write scenarios (and their tag claims) of a workspace that does not exist yet: it is created
        after them, so nothing reads a half-copied workspace."""
        with self._table.batch_writer() as batch:
            for record in records:
                for write in self._scenario_puts(record):
                    batch.put_item(Item=write["Put"]["Item"])

    def remove_scenario(self, workspace: WorkspaceRecord, record: ScenarioRecord) -> None:
        """Delete a scenario and its tag claim, and uncount it. Raises NotFoundError."""
        key = scenario_key(record.workspace_id, record.scenario_id)
        tag = tag_key(record.workspace_id, record.tag)
        uncount = {
            "Update": {
                "Key": workspace_key(workspace.tenant, workspace.workspace_id),
                "UpdateExpression": "ADD scenario_count :minus",
                "ExpressionAttributeValues": {":minus": -1},
                "Condition": Attr("pk").exists(),
            }
        }
        writes: list[Write] = [
            {"Delete": {"Key": key, "Condition": Attr("pk").exists()}},
            {"Delete": {"Key": tag, "Condition": Attr("scenario_id").eq(record.scenario_id)}},
            uncount,
        ]
        if self.transact(writes) is not None:
            raise NotFoundError("scenario not found")

    def claim_run(self, record: ScenarioRecord, execution_id: str) -> ScenarioRecord | None:
        """CREATED → run by ``execution_id``: only while no run holds it and no other run counted since
        ``record`` was read, so of two racing runs one wins. None when the claim failed."""
        values = {
            ":execution": execution_id,
            ":next": record.run_count + 1,
            ":now": self._clock(),
            ":seen": record.run_count,
        }
        claimed = self._update_scenario(
            record,
            "SET execution_id = :execution, run_count = :next, updated_at = :now REMOVE outcome",
            values,
            "attribute_exists(pk) AND attribute_not_exists(execution_id) AND run_count = :seen",
        )
        return claimed

    def clear_run(self, record: ScenarioRecord) -> ScenarioRecord | None:
        """Back to CREATED: the run ``record`` shows is forgotten (its execution stays). None when the
        scenario changed (or went) since it was read."""
        return self._update_scenario(
            record,
            "SET updated_at = :now REMOVE execution_id, outcome",
            {":now": self._clock(), ":execution": record.execution_id},
            "attribute_exists(pk) AND execution_id = :execution",
        )

    def keep_outcome(self, record: ScenarioRecord, outcome: ScenarioOutcome) -> None:
        """Keep a final execution's end on the scenario (once; a scenario that moved on is left alone)."""
        self._update_scenario(
            record,
            "SET outcome = :outcome",
            {":outcome": outcome.model_dump(mode="json"), ":execution": record.execution_id},
            "execution_id = :execution AND attribute_not_exists(outcome)",
        )

    def _update_scenario(
        self, record: ScenarioRecord, expression: str, values: dict[str, Any], condition: str
    ) -> ScenarioRecord | None:
        try:
            response = self._table.update_item(
                Key=scenario_key(record.workspace_id, record.scenario_id),
                UpdateExpression=expression,
                ExpressionAttributeValues=to_item(values),
                ConditionExpression=condition,
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return None
            raise
        return ScenarioRecord.model_validate(from_item(response["Attributes"]))

    def _scenario_puts(self, record: ScenarioRecord) -> list[Write]:
        item = to_item(
            {**scenario_key(record.workspace_id, record.scenario_id), **record.model_dump(mode="json")}
        )
        claim = {**tag_key(record.workspace_id, record.tag), "scenario_id": record.scenario_id}
        new = Attr("pk").not_exists()
        return [{"Put": {"Item": item, "Condition": new}}, {"Put": {"Item": claim, "Condition": new}}]

    # --- shared ---------------------------------------------------------------------------------------

    def purge_copies(self, workspace_id: str) -> None:
        """Delete what put_copies wrote for a workspace that was then not created."""
        self._purge(workspace_id)

    def _purge(self, workspace_id: str) -> None:
        # After its workspace item is gone no scenario can be added (add_scenario's count needs it), so
        # one consistent pass deletes every scenario and tag claim there is.
        keys = [
            {"pk": i["pk"], "sk": i["sk"]} for i in self._query_items(scenario_partition(workspace_id), "")
        ]
        with self._table.batch_writer() as batch:
            for key in keys:
                batch.delete_item(Key=key)
