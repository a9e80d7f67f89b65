"""Pinned moto patches for Step Functions' ASL interpreter: `states:startExecution.sync`, unnamed
executions, JSONata and `Assign`, `$[0].x` after a Parallel, `$$.Execution.StartTime`, and two costs
taken off every execution (parsing the definition, making SDK clients)."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache, wraps
from typing import Any

import jsonata
from jsonpath_ng.ext.parser import parse
from moto.core.models import botocore_stubber
from moto.moto_api._internal import mock_random
from moto.settings import moto_server_port
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
    StateTaskService,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn import (
    StateTaskServiceSfn,
)
from moto.stepfunctions.parser.asl.eval.evaluation_details import ExecutionDetails
from moto.stepfunctions.parser.asl.jsonata import jsonata as asl_jsonata
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.asl.utils import boto_client, json_path
from moto.stepfunctions.parser.backend.execution import Execution
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

from stratus.local import batch
from stratus.local.batch import PATCHED_MARK

# The interpreter's modules import extract_json by name; each of those names is rebound (patch 12).
INTERPRETER_PACKAGE = "moto.stepfunctions.parser."
# A JSONPath with any of these can select several nodes (Jayway's "indefinite" paths).
INDEFINITE_PATH = re.compile(r"\*|\.\.|\?|:|,|\(")
# Parsed definitions kept (patch 15): a few state machines, each parsed once.
PARSED_DEFINITIONS = 32


def apply_stepfunctions_patches() -> None:
    """Patch moto's Step Functions interpreter and backend; safe to call twice."""
    if not getattr(StateTaskServiceSfn._normalise_parameters, PATCHED_MARK, False):
        StateTaskServiceSfn._normalise_parameters = _normalising_parameters(  # type: ignore[method-assign]
            StateTaskServiceSfn._normalise_parameters
        )
        StateTaskServiceSfn._normalise_response = _normalise_dated_response  # type: ignore[method-assign]
    if not getattr(StepFunctionsParserBackend.start_execution, PATCHED_MARK, False):
        StepFunctionsParserBackend.start_execution = _named(  # type: ignore[method-assign]
            StepFunctionsParserBackend.start_execution
        )
    if not getattr(asl_jsonata._eval_jsonata, PATCHED_MARK, False):
        asl_jsonata._eval_jsonata = _evaluate_jsonata
    if not getattr(json_path.extract_json, PATCHED_MARK, False):
        _rebind(json_path.extract_json, _definite_paths_unwrapped(json_path.extract_json))
    if not getattr(Execution.get_start_execution_details, PATCHED_MARK, False):
        Execution.get_start_execution_details = _start_time_as_text(  # type: ignore[method-assign]
            Execution.get_start_execution_details
        )
    if not getattr(AmazonStateLanguageParser.parse, PATCHED_MARK, False):
        AmazonStateLanguageParser.parse = staticmethod(_parsed_once(AmazonStateLanguageParser.parse))  # type: ignore[method-assign,assignment]
    if not getattr(boto_client.boto_client_for, PATCHED_MARK, False):
        _rebind(boto_client.boto_client_for, _clients_reused(boto_client.boto_client_for))
        boto_client.boto_client_for = _clients_reused(boto_client.boto_client_for)


# --- patch 9: states:startExecution(.sync, .sync:2) parameters and responses in the API's casing -------
# The same gap as patch 6 (https://github.com/getmoto/moto/issues/10076): StartExecution gets ASL's
# StateMachineArn instead of stateMachineArn (KeyError 'StateMachineArn'), and .sync reads the answer back
# as ExecutionArn. moto's own override only turns Input into a JSON string, then calls the empty base.
# Responses also carry StartDate/StopDate as datetimes, which no JSON output can hold: the integration
# gives them as epoch milliseconds, as the Batch API's own dates are.


def _normalising_parameters(original: Callable[..., None]) -> Callable[..., None]:
    @wraps(original)
    def normalise_parameters(
        self: StateTaskServiceSfn,
        parameters: dict[str, Any],
        boto_service_name: str | None = None,
        service_action_name: str | None = None,
    ) -> None:
        original(self, parameters, boto_service_name, service_action_name)
        batch.normalise_parameters(self, parameters, boto_service_name, service_action_name)

    setattr(normalise_parameters, PATCHED_MARK, True)
    return normalise_parameters


def _normalise_dated_response(
    self: StateTaskService,
    response: Any,
    boto_service_name: str | None = None,
    service_action_name: str | None = None,
) -> None:
    batch.normalise_response(self, response, boto_service_name, service_action_name)
    if isinstance(response, dict):
        for key, value in response.items():
            if isinstance(value, datetime):
                response[key] = round(value.timestamp() * 1000)


# --- patch 10: an execution started without a name gets a uuid4 name --------------------------------
# The interpreter's backend builds the ARN from the name as given, so every unnamed execution of a
# machine is `...:None`, and the second one is taken for a retry of the first. AWS (and moto's
# non-executing backend) names it with a uuid4.


def _named(original: Callable[..., Execution]) -> Callable[..., Execution]:
    @wraps(original)
    def start_execution(
        self: StepFunctionsParserBackend,
        state_machine_arn: str,
        name: str | None = None,
        execution_input: str | None = None,
        trace_header: str | None = None,
    ) -> Execution:
        return original(
            self, state_machine_arn, name or str(mock_random.uuid4()), execution_input, trace_header
        )

    setattr(start_execution, PATCHED_MARK, True)
    return start_execution


# --- patch 11: JSONata expressions evaluate -----------------------------------------------------------
# LocalStack evaluates JSONata in a JVM; moto left its hook (_eval_jsonata) as None, so every JSONata
# expression, and every JSONPath `Assign` variable read (`$x`, evaluated as JSONata too), fails with
# "'NoneType' object is not callable". The expression arrives with its variables already declared in it.


def _evaluate_jsonata(expression: str) -> Any:
    try:
        result = jsonata.Jsonata(expression).evaluate(None)
    except jsonata.JException as exc:
        raise asl_jsonata.JSONataException("UNKNOWN", str(exc)) from exc
    # Plain JSON values, as the JVM bridge returns (jsonata-python hands back its own list type).
    return json.loads(json.dumps(result))


setattr(_evaluate_jsonata, PATCHED_MARK, True)


# --- patch 12: a definite JSONPath selects a value, not a list -----------------------------------------
# extract_json wraps the match in a list whenever its parent was reached through an array index (moto's
# fix for filters, https://github.com/getmoto/moto/issues/7825), so `$[0].x` after a Parallel gives [x].
# A path without wildcards, slices, filters, unions or descent selects at most one node: its value.


def _definite_paths_unwrapped(original: Callable[[str, Any], Any]) -> Callable[[str, Any], Any]:
    @wraps(original)
    def extract_json(path: str, data: Any) -> Any:
        if INDEFINITE_PATH.search(path):
            return original(path, data)
        matches = parse(path).find(data)
        if not matches:
            raise json_path.NoSuchJsonPathError(json_path=path, data=data)
        return matches[0].value

    setattr(extract_json, PATCHED_MARK, True)
    return extract_json


def _rebind(original: object, replacement: object) -> None:
    """Point every already imported interpreter module's name for ``original`` at ``replacement``."""
    for module_name, module in list(sys.modules.items()):
        if not module_name.startswith(INTERPRETER_PACKAGE):
            continue
        for attribute, value in list(vars(module).items()):
            if value is original:
                setattr(module, attribute, replacement)


# --- patch 13: $$.Execution.StartTime is an ISO 8601 string -------------------------------------------
# The context object gets the execution's start datetime itself, so a state that passes it on puts a
# datetime into the output and DescribeExecution fails to serialise it. AWS gives "...T20:14:13.192Z".


def _start_time_as_text(original: Callable[..., ExecutionDetails]) -> Callable[..., ExecutionDetails]:
    @wraps(original)
    def get_start_execution_details(self: Execution) -> ExecutionDetails:
        details = original(self)
        return ExecutionDetails(
            arn=details.arn,
            name=details.name,
            role_arn=details.role_arn,
            inpt=details.inpt,
            start_time=_timestamp_text(self.start_date),
        )

    setattr(get_start_execution_details, PATCHED_MARK, True)
    return get_start_execution_details


def _timestamp_text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --- patch 15: a definition is parsed once ------------------------------------------------------------
# Every StartExecution parses the definition twice with the ANTLR parser (once to validate it, once to
# run it): ~17 ms of the server's CPU each, a fifth of its busy time when 20 executions start at once.
# The parsed program is a tree of evaluation components that keep no state of their own (every run's
# state lives in its Environment), so runs of one definition share it.


def _parsed_once(original: Callable[[str], Any]) -> Callable[[str], Any]:
    @lru_cache(maxsize=PARSED_DEFINITIONS)
    @wraps(original)
    def parse(definition: str) -> Any:
        return original(definition)

    setattr(parse, PATCHED_MARK, True)
    return parse


# --- patch 16: service integrations reuse their SDK clients -----------------------------------------
# boto_client_for makes a new boto3 client for every Lambda task, Batch submission and .sync wait
# (10-40 ms each: a third of the server's busy time when 20 executions run at once). Clients are
# thread-safe; one per service, region and endpoint does. (moto signs every call with the same fixed
# keys whatever the state's credentials, so they are no part of the key.)


def _clients_reused(original: Callable[..., Any]) -> Callable[..., Any]:
    @lru_cache(maxsize=64)
    def cached(region: str, service: str, is_stubbed: bool, port: int) -> Any:  # noqa: ARG001 (cache key)
        return original(region=region, service=service)

    @wraps(original)
    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:  # noqa: ARG001
        return cached(region, service, botocore_stubber.enabled, moto_server_port())

    setattr(boto_client_for, PATCHED_MARK, True)
    return boto_client_for
