"""WorkspaceStore against moto's DynamoDB: set-up once, name and tag claims, the last workspace replaced,
and the scenario writes that decide races."""

from __future__ import annotations

import uuid

import pytest
from stratus.errors import AlreadyExistsError, NotFoundError
from stratus.models.jobs import JobStatus
from stratus.models.workspaces import DatasetRef, ScenarioOutcome, ScenarioRecord, WorkspaceRecord
from stratus.stores import Stores

from tests.conftest import START

TENANT = "acme"


def _workspace(name: str, tenant: str = TENANT) -> WorkspaceRecord:
    return WorkspaceRecord(
        workspace_id=str(uuid.uuid4()), tenant=tenant, display_name=name, created_at=START, updated_at=START
    )


def _scenario(workspace: WorkspaceRecord, tag: str = "t") -> ScenarioRecord:
    return ScenarioRecord(
        workspace_id=workspace.workspace_id,
        scenario_id=str(uuid.uuid4()),
        tenant=workspace.tenant,
        tag=tag,
        algorithm_id=str(uuid.uuid4()),
        datasets=[DatasetRef(kind="file", id=str(uuid.uuid4()))],
        created_at=START,
        updated_at=START,
    )


@pytest.fixture
def main(stores: Stores) -> WorkspaceRecord:
    record = _workspace("main")
    assert stores.workspaces.set_up(record)
    return record


def test_set_up_twice_keeps_the_first_workspace(stores: Stores, main: WorkspaceRecord) -> None:
    second = stores.workspaces.set_up(_workspace("main"))

    assert second is False
    assert [w.workspace_id for w in stores.workspaces.list_all(TENANT)] == [main.workspace_id]


def test_add_refuses_a_taken_name(stores: Stores, main: WorkspaceRecord) -> None:
    with pytest.raises(AlreadyExistsError):
        stores.workspaces.add(_workspace("main"))

    assert len(stores.workspaces.list_all(TENANT)) == 1


def test_get_answers_not_found_for_another_tenants_workspace(stores: Stores, main: WorkspaceRecord) -> None:
    with pytest.raises(NotFoundError):
        stores.workspaces.get("other", main.workspace_id)


def test_remove_last_hands_the_main_name_to_its_replacement(stores: Stores, main: WorkspaceRecord) -> None:
    replacement = _workspace("main")

    stored = stores.workspaces.remove(main, replacement)

    assert stored == replacement
    assert [w.workspace_id for w in stores.workspaces.list_all(TENANT)] == [replacement.workspace_id]
    with pytest.raises(AlreadyExistsError):
        stores.workspaces.add(_workspace("main"))


def test_remove_last_of_another_name_claims_main_and_frees_its_name(
    stores: Stores, main: WorkspaceRecord
) -> None:
    stores.workspaces.rename(TENANT, main.workspace_id, "renamed")
    renamed = stores.workspaces.get(TENANT, main.workspace_id)

    stores.workspaces.remove(renamed, _workspace("main"))

    assert [w.display_name for w in stores.workspaces.list_all(TENANT)] == ["main"]
    stores.workspaces.add(_workspace("renamed"))  # the old name is free


def test_remove_one_of_two_stores_no_replacement(stores: Stores, main: WorkspaceRecord) -> None:
    other = _workspace("other")
    stores.workspaces.add(other)

    stored = stores.workspaces.remove(other, _workspace("main"))

    assert stored is None
    assert [w.workspace_id for w in stores.workspaces.list_all(TENANT)] == [main.workspace_id]


def test_add_scenario_counts_it_and_refuses_a_taken_tag(stores: Stores, main: WorkspaceRecord) -> None:
    stores.workspaces.add_scenario(main, _scenario(main))

    with pytest.raises(AlreadyExistsError):
        stores.workspaces.add_scenario(main, _scenario(main))

    assert stores.workspaces.get(TENANT, main.workspace_id).scenario_count == 1


def test_add_scenario_to_a_deleted_workspace_is_not_found(stores: Stores, main: WorkspaceRecord) -> None:
    other = _workspace("other")
    stores.workspaces.add(other)
    stores.workspaces.remove(other, _workspace("main"))

    with pytest.raises(NotFoundError):
        stores.workspaces.add_scenario(other, _scenario(other))

    assert stores.workspaces.scenarios(other.workspace_id) == []


def test_claim_run_lets_one_of_two_readers_win(stores: Stores, main: WorkspaceRecord) -> None:
    record = _scenario(main)
    stores.workspaces.add_scenario(main, record)

    first = stores.workspaces.claim_run(record, "e1")
    second = stores.workspaces.claim_run(record, "e2")

    assert first is not None and (first.execution_id, first.run_count) == ("e1", 1)
    assert second is None


def test_claim_run_refuses_a_reader_from_before_a_reset(stores: Stores, main: WorkspaceRecord) -> None:
    record = _scenario(main)
    stores.workspaces.add_scenario(main, record)
    claimed = stores.workspaces.claim_run(record, "e1")
    assert claimed is not None
    stores.workspaces.clear_run(claimed)

    stale = stores.workspaces.claim_run(record, "e1")

    assert stale is None


def test_keep_outcome_keeps_the_first_and_clear_run_drops_it(stores: Stores, main: WorkspaceRecord) -> None:
    record = _scenario(main)
    stores.workspaces.add_scenario(main, record)
    claimed = stores.workspaces.claim_run(record, "e1")
    assert claimed is not None
    stores.workspaces.keep_outcome(claimed, ScenarioOutcome(status=JobStatus.COMPLETED, progress=1.0))
    stores.workspaces.keep_outcome(claimed, ScenarioOutcome(status=JobStatus.FAILED, progress=0.0))

    _, kept = stores.workspaces.workspace_and_scenario(TENANT, main.workspace_id, record.scenario_id)
    cleared = stores.workspaces.clear_run(kept)

    assert kept.outcome is not None and kept.outcome.status is JobStatus.COMPLETED
    assert cleared is not None and (cleared.execution_id, cleared.outcome) == (None, None)
