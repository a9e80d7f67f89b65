"""The shim's Step Functions patches: nested executions, unnamed executions, JSONata and Assign, JSONPath
after a Parallel, and the execution's start time in the context object."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn import (
    StateTaskServiceSfn,
)
from moto.stepfunctions.parser.asl.jsonata import jsonata as asl_jsonata
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.asl.utils import boto_client, json_path
from moto.stepfunctions.parser.backend.execution import Execution
from moto.stepfunctions.parser.models import StepFunctionsParserBackend
from stratus.local.shim import apply_patches
from stratus.local.stepfunctions import PATCHED_MARK

ROLE_ARN = "arn:aws:iam::123456789012:role/sfn"
TIMEOUT_S = 30
# The form AWS gives $$.Execution.StartTime in: "2019-03-26T20:14:13.192Z".
AWS_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def _pass(**fields: Any) -> dict[str, Any]:
    return {"Type": "Pass", "End": True, **fields}


def _create_machine(asl: dict[str, Any]) -> str:
    response = boto3.client("stepfunctions").create_state_machine(
        name=f"machine-{uuid.uuid4().hex[:8]}", definition=json.dumps(asl), roleArn=ROLE_ARN
    )
    return str(response["stateMachineArn"])


def _run(asl: dict[str, Any], poll: Callable[..., None], payload: Any = None) -> dict[str, Any]:
    """Start an execution of ``asl`` and return its description once it has ended."""
    sfn = boto3.client("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=_create_machine(asl), input=json.dumps(payload or {}))[
        "executionArn"
    ]
    poll(lambda: sfn.describe_execution(executionArn=arn)["status"] != "RUNNING", TIMEOUT_S)
    description: dict[str, Any] = sfn.describe_execution(executionArn=arn)
    assert description["status"] == "SUCCEEDED", sfn.get_execution_history(executionArn=arn)["events"][-1]
    return description


def _output(asl: dict[str, Any], poll: Callable[..., None], payload: Any = None) -> Any:
    return json.loads(_run(asl, poll, payload)["output"])


def test_apply_patches_patches_stepfunctions() -> None:
    apply_patches()

    assert getattr(StateTaskServiceSfn._normalise_parameters, PATCHED_MARK, False)
    assert getattr(StepFunctionsParserBackend.start_execution, PATCHED_MARK, False)
    assert getattr(asl_jsonata._eval_jsonata, PATCHED_MARK, False)
    assert getattr(json_path.extract_json, PATCHED_MARK, False)
    assert getattr(Execution.get_start_execution_details, PATCHED_MARK, False)
    assert getattr(AmazonStateLanguageParser.parse, PATCHED_MARK, False)
    assert getattr(boto_client.boto_client_for, PATCHED_MARK, False)


def test_start_execution_sync2_returns_the_child_output(aws: None, poll: Callable[..., None]) -> None:
    child = _create_machine(
        {"StartAt": "Echo", "States": {"Echo": _pass(Parameters={"received.$": "$.value"})}}
    )
    parent = {
        "StartAt": "RunChild",
        "States": {
            "RunChild": {
                "Type": "Task",
                "Resource": "arn:aws:states:::states:startExecution.sync:2",
                "Parameters": {"StateMachineArn": child, "Input": {"value.$": "$.value"}},
                "OutputPath": "$.Output",
                "End": True,
            }
        },
    }

    output = _output(parent, poll, {"value": 21})

    assert output == {"received": 21}


def test_start_execution_without_a_name_gets_a_unique_arn(aws: None) -> None:
    sfn = boto3.client("stepfunctions")
    machine = _create_machine({"StartAt": "Done", "States": {"Done": _pass()}})

    first = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    second = sfn.start_execution(stateMachineArn=machine)["executionArn"]

    assert first != second
    assert not first.endswith(":None")


def test_jsonata_output_expressions_evaluate(aws: None, poll: Callable[..., None]) -> None:
    asl = {
        "QueryLanguage": "JSONata",
        "StartAt": "Shape",
        "States": {
            "Shape": _pass(Output={"total": "{% $sum([1, 2, 3]) %}", "next": "{% $states.input.count + 1 %}"})
        },
    }

    output = _output(asl, poll, {"count": 41})

    assert output == {"total": 6, "next": 42}


def test_assigned_variable_is_read_by_a_later_state(aws: None, poll: Callable[..., None]) -> None:
    asl = {
        "StartAt": "Remember",
        "States": {
            "Remember": {"Type": "Pass", "Assign": {"kept.$": "$.value"}, "Next": "Recall"},
            "Recall": _pass(Parameters={"kept.$": "$kept"}),
        },
    }

    output = _output(asl, poll, {"value": "hello"})

    assert output == {"kept": "hello"}


def test_index_path_after_parallel_selects_the_value(aws: None, poll: Callable[..., None]) -> None:
    branches = [{"StartAt": "Give", "States": {"Give": _pass(Result={"x": x})}} for x in (1, 2)]
    asl = {
        "StartAt": "Fork",
        "States": {
            "Fork": {"Type": "Parallel", "Branches": branches, "Next": "Pick"},
            "Pick": _pass(Parameters={"first.$": "$[0].x", "second.$": "$[1].x"}),
        },
    }

    output = _output(asl, poll)

    assert output == {"first": 1, "second": 2}


def test_execution_start_time_is_an_aws_timestamp(aws: None, poll: Callable[..., None]) -> None:
    asl = {"StartAt": "Stamp", "States": {"Stamp": _pass(Parameters={"started.$": "$$.Execution.StartTime"})}}

    output = _output(asl, poll)

    assert AWS_TIMESTAMP.fullmatch(output["started"]), output


@pytest.mark.parametrize(
    ("path", "expected"),
    [("$.items[*].x", [1]), ("$.items[?(@.x == 1)].x", [1]), ("$.items[0]", {"x": 1}), ("$.items[0].x", 1)],
)
def test_extract_json_unwraps_only_definite_paths(path: str, expected: Any) -> None:
    apply_patches()

    value = json_path.extract_json(path, {"items": [{"x": 1}]})

    assert value == expected


def test_runs_of_one_definition_share_its_parse(aws: None, poll: Callable[..., None]) -> None:
    asl = {"StartAt": "Echo", "States": {"Echo": _pass(Parameters={"got.$": "$.value"})}}
    arn = _create_machine(asl)
    sfn = boto3.client("stepfunctions")
    parses = AmazonStateLanguageParser.parse.cache_info()  # type: ignore[attr-defined]

    arns = [
        sfn.start_execution(stateMachineArn=arn, input=json.dumps({"value": value}))["executionArn"]
        for value in (1, 2)
    ]

    for value, execution in zip((1, 2), arns, strict=True):
        poll(lambda e=execution: sfn.describe_execution(executionArn=e)["status"] != "RUNNING", TIMEOUT_S)
        assert json.loads(sfn.describe_execution(executionArn=execution)["output"]) == {"got": value}
    after = AmazonStateLanguageParser.parse.cache_info()  # type: ignore[attr-defined]
    # Parsed when the machine was created; both runs used that parse.
    assert (after.misses, after.hits) == (parses.misses, parses.hits + 2)


def test_service_integrations_reuse_their_clients(aws: None) -> None:
    apply_patches()

    first = boto_client.boto_client_for(region="us-east-1", service="lambda")

    assert boto_client.boto_client_for(region="us-east-1", service="lambda") is first
    assert boto_client.boto_client_for(region="eu-west-1", service="lambda") is not first
    # As Lambda tasks call it: moto signs with fixed keys whatever the state's credentials.
    assert boto_client.boto_client_for("us-east-1", "lambda", state_credentials=object()) is first
