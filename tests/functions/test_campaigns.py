"""The `campaigns` Lambda handler with the campaign state machine's task inputs (events/stepfunctions)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError
from stratus.models.campaigns import CampaignCreate
from stratus.services import campaigns
from stratus.stores import Stores

from tests.core.services.test_campaign_runs import (  # noqa: F401  # the fixtures, shared
    TENANT,
    branin_id,
    input_id,
    machines,
)


@pytest.fixture
def campaign_id(stores: Stores, machines: campaigns.Machines, branin_id: str, input_id: str) -> str:  # noqa: F811
    request = CampaignCreate.model_validate(
        {
            "algorithm_id": branin_id,
            "input_dataset_ids": [input_id],
            "kind": "grid",
            "search_space": {"x": {"values": [1.0, 2.0]}, "y": {"values": [3.0]}},
            "objectives": [{"name": "branin"}],
            "budget": 2,
            "batch_size": 2,
        }
    )
    return campaigns.create(request, TENANT, stores, machines).campaign_id


def test_handler_plans_a_round(
    function_handler: Callable[[str], Callable[..., Any]],
    load_event: Callable[..., dict[str, Any]],
    lambda_context: Any,
    machines: campaigns.Machines,  # noqa: F811
    campaign_id: str,
) -> None:
    event = load_event(
        "stepfunctions/plan_campaign_round",
        campaign_id=campaign_id,
        execution_machine=machines.execution._arn,  # noqa: SLF001  # the ARNs the ASL passes
        workflow_machine=machines.workflow._arn,  # noqa: SLF001
        training_machine=machines.training._arn,  # noqa: SLF001
    )

    result = function_handler("campaigns")(event, lambda_context)

    assert result["next"] == "run" and result["status"] == "RUNNING"
    assert [t["number"] for t in result["trials"]] == [1, 2]


def test_handler_marks_the_campaign_failed(
    function_handler: Callable[[str], Callable[..., Any]],
    load_event: Callable[..., dict[str, Any]],
    lambda_context: Any,
    stores: Stores,
    campaign_id: str,
) -> None:
    result = function_handler("campaigns")(
        load_event("stepfunctions/mark_campaign_failed", campaign_id=campaign_id), lambda_context
    )

    assert result["next"] == "end" and result["status"] == "FAILED"
    assert "out of memory" in stores.campaigns.get(campaign_id).errors[-1]


def test_handler_refuses_an_unknown_action(
    function_handler: Callable[[str], Callable[..., Any]], lambda_context: Any
) -> None:
    with pytest.raises(ValidationError):
        function_handler("campaigns")({"action": "plan_workflow_round"}, lambda_context)
