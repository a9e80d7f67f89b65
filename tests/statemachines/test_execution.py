"""statemachines/*.asl.json pass our own checks; the execution state machine runs in moto's ASL
interpreter with the real steps handler and the real worker subprocess."""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest
from stratus import aws as aws_clients
from stratus import errors
from stratus.algorithms import package_from_folder
from stratus.local.bootstrap import LocalStack, bootstrap
from stratus.local.process import batch_job
from stratus.local.server import aws_environment, running_server
from stratus.local.template import load_template
from stratus.models.algorithms import BUILTIN_OWNER
from stratus.models.executions import ExecutionStatus
from stratus.services import algorithms, files
from stratus.settings import Settings, get_settings
from stratus.stores import Stores, build_stores

from gpu_worker.builtins import builtin_zip
from tests.gpu_worker.conftest import TENANT, hdf5_bytes, new_execution

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
ASL_FILES = sorted((ROOT / "statemachines").glob("*.asl.json"))
SUBSTITUTION = re.compile(r"\$\{([^}]+)\}")
# Error names an integration raises (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html).
INTEGRATION_PREFIXES = ("States.", "Batch.", "Lambda.")
OUR_ERRORS = {
    name
    for name, value in inspect.getmembers(errors, inspect.isclass)
    if issubclass(value, errors.StratusError)
}
RUN_TIMEOUT_S = 30
BEHAVIOURS = ROOT / "tests" / "e2e" / "packages" / "behaviours"


def _states(node: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """Every state of ``node``'s state list and of nested ones (Parallel branches, Map processors)."""
    for name, state in node["States"].items():
        yield name, state, node
        for branch in state.get("Branches", []):
            yield from _states(branch)
        for key in ("Iterator", "ItemProcessor"):
            if key in state:
                yield from _states(state[key])


def _substitutions(asl: Path) -> set[str]:
    resources = load_template(TEMPLATE)["Resources"]
    for resource in resources.values():
        properties = resource.get("Properties", {})
        if properties.get("DefinitionUri") == f"statemachines/{asl.name}":
            return set(properties.get("DefinitionSubstitutions", {}))
    pytest.fail(f"no state machine in template.yaml uses {asl.name}")


@pytest.mark.parametrize("asl", ASL_FILES, ids=lambda path: path.name)
def test_asl_targets_exist(asl: Path) -> None:
    definition = json.loads(asl.read_text())

    missing = [
        (name, target)
        for name, state, siblings in _states(definition)
        for target in [state.get("Next"), state.get("Default")]
        + [choice.get("Next") for choice in state.get("Choices", [])]
        + [catch.get("Next") for catch in state.get("Catch", [])]
        if target is not None and target not in siblings["States"]
    ]

    assert definition["StartAt"] in definition["States"]
    assert not missing


@pytest.mark.parametrize("asl", ASL_FILES, ids=lambda path: path.name)
def test_asl_substitutions_are_defined_in_template(asl: Path) -> None:
    used = set(SUBSTITUTION.findall(asl.read_text()))

    assert used <= _substitutions(asl)


@pytest.mark.parametrize("asl", ASL_FILES, ids=lambda path: path.name)
def test_asl_resources_are_substitutions(asl: Path) -> None:
    definition = json.loads(asl.read_text())

    literal = [
        state["Resource"]
        for _, state, _ in _states(definition)
        if "Resource" in state and not state["Resource"].startswith(("${", "arn:${Partition}:states:::"))
    ]

    assert not literal


@pytest.mark.parametrize("asl", ASL_FILES, ids=lambda path: path.name)
def test_asl_error_names_are_known(asl: Path) -> None:
    definition = json.loads(asl.read_text())

    unknown = {
        error
        for _, state, _ in _states(definition)
        for rule in state.get("Retry", []) + state.get("Catch", [])
        for error in rule["ErrorEquals"]
        if not error.startswith(INTEGRATION_PREFIXES) and error not in OUR_ERRORS
    }

    assert not unknown


# --- the execution state machine in moto's interpreter, with the real worker ------------------------


@dataclass(frozen=True)
class Deployed:
    """The template deployed into a moto server, with stores that reach it."""

    stack: LocalStack
    stores: Stores
    settings: Settings
    sfn: Any


@pytest.fixture(scope="module")
def deployed() -> Iterator[Deployed]:
    with running_server() as server, pytest.MonkeyPatch.context() as patch:
        for name, value in aws_environment(server.endpoint_url).items():
            patch.setenv(name, value)
        aws_clients.clear_caches()
        get_settings.cache_clear()
        stack = bootstrap(TEMPLATE, stack_name="execution-test", endpoint_url=server.endpoint_url)
        settings = Settings(table_name=stack.table_name, data_bucket=stack.data_bucket)
        sfn = boto3.client("stepfunctions", endpoint_url=server.endpoint_url, region_name=stack.region)
        yield Deployed(stack, build_stores(settings), settings, sfn)
    aws_clients.clear_caches()
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def threshold_id(deployed: Deployed) -> str:
    version = algorithms.deploy(builtin_zip("threshold"), BUILTIN_OWNER, deployed.stores, deployed.settings)
    return version.algorithm_id


@pytest.fixture(scope="module")
def behaviours_id(deployed: Deployed) -> str:
    package = package_from_folder(BEHAVIOURS)
    return algorithms.deploy(package, TENANT, deployed.stores, deployed.settings).algorithm_id


def _running(deployed: Deployed, behaviours_id: str, poll: Callable[..., None]) -> tuple[str, str]:
    """An execution of the behaviours package that runs until stopped, RUNNING; its id and run ARN."""
    input_id = files.store_upload(
        hdf5_bytes(data=np.zeros(2, dtype=np.float32)), TENANT, deployed.stores, deployed.settings
    ).file_id
    parameters = {"behaviour": "run_until_stopped"}
    execution = new_execution(deployed.stores, behaviours_id, [input_id], additional_parameters=parameters)
    arn = _start(deployed, execution.execution_id)
    status = lambda: deployed.stores.executions.get(execution.execution_id).status  # noqa: E731
    poll(lambda: status() is ExecutionStatus.RUNNING, RUN_TIMEOUT_S)
    return execution.execution_id, arn


def _job(deployed: Deployed, execution_id: str) -> dict[str, Any]:
    return batch_job(boto3.client("batch", region_name=deployed.stack.region), execution_id)


def _start(deployed: Deployed, execution_id: str, device: str = "cpu") -> str:
    response = deployed.sfn.start_execution(
        stateMachineArn=deployed.stack.state_machines["ExecutionStateMachine"],
        name=execution_id,
        input=json.dumps({"execution_id": execution_id, "device": device}),
    )
    return str(response["executionArn"])


def _ended(deployed: Deployed, arn: str) -> Callable[[], bool]:
    return lambda: deployed.sfn.describe_execution(executionArn=arn)["status"] != "RUNNING"


@pytest.mark.e2e
@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_execution_state_machine_completes_a_threshold_run(
    deployed: Deployed, threshold_id: str, poll: Callable[..., None], device: str
) -> None:
    data = np.array([[0.1, 0.6], [0.5, 0.9]], dtype=np.float32)
    input_id = files.store_upload(hdf5_bytes(data=data), TENANT, deployed.stores, deployed.settings).file_id
    execution = new_execution(deployed.stores, threshold_id, [input_id])

    arn = _start(deployed, execution.execution_id, device)

    poll(_ended(deployed, arn), RUN_TIMEOUT_S)
    description = deployed.sfn.describe_execution(executionArn=arn)
    record = deployed.stores.executions.get(execution.execution_id)
    assert description["status"] == "SUCCEEDED", description
    assert record.status is ExecutionStatus.COMPLETED, record.log
    assert json.loads(description["output"]) == {
        "execution_id": execution.execution_id,
        "status": "COMPLETED",
        "scheduling": {"share": TENANT, "priority": 5000},
    }


@pytest.mark.e2e
def test_execution_state_machine_fails_on_an_algorithm_error(
    deployed: Deployed, threshold_id: str, poll: Callable[..., None]
) -> None:
    # The runner's fetch_data raises for an input file that does not exist.
    execution = new_execution(deployed.stores, threshold_id, ["00000000-0000-4000-8000-000000000000"])

    arn = _start(deployed, execution.execution_id)

    poll(_ended(deployed, arn), RUN_TIMEOUT_S)
    description = deployed.sfn.describe_execution(executionArn=arn)
    record = deployed.stores.executions.get(execution.execution_id)
    assert description["status"] == "FAILED", description
    assert record.status is ExecutionStatus.FAILED
    # The worker's own account of the failure stands; MarkFailed found the record final already.
    assert record.error is not None and record.error.type == "NotFoundError"


@pytest.mark.e2e
def test_stopping_a_run_terminates_its_batch_job(
    deployed: Deployed, behaviours_id: str, poll: Callable[..., None]
) -> None:
    execution_id, arn = _running(deployed, behaviours_id, poll)

    deployed.sfn.stop_execution(executionArn=arn)

    poll(lambda: _job(deployed, execution_id)["status"] == "FAILED", RUN_TIMEOUT_S)
    job = _job(deployed, execution_id)
    assert job["statusReason"] == "The Step Functions execution was stopped."
    assert job["attempts"][-1]["container"]["exitCode"] == 143  # SIGTERM, as Docker reports it
    poll(_ended(deployed, arn), RUN_TIMEOUT_S)
    assert deployed.sfn.describe_execution(executionArn=arn)["status"] == "ABORTED"


@pytest.mark.e2e
def test_run_ends_execution_stopped_when_the_worker_honours_a_stop(
    deployed: Deployed, behaviours_id: str, poll: Callable[..., None]
) -> None:
    execution_id, arn = _running(deployed, behaviours_id, poll)

    deployed.stores.executions.request_stop(execution_id)

    poll(_ended(deployed, arn), RUN_TIMEOUT_S)
    description = deployed.sfn.describe_execution(executionArn=arn)
    assert (description["status"], description["error"]) == ("FAILED", "ExecutionStopped")
    assert deployed.stores.executions.get(execution_id).status is ExecutionStatus.STOPPED
    assert _job(deployed, execution_id)["attempts"][-1]["container"]["exitCode"] == 3


@pytest.mark.e2e
def test_run_waits_queued_while_its_tenant_runs_its_cap(
    deployed: Deployed, threshold_id: str, poll: Callable[..., None]
) -> None:
    stores = deployed.stores
    data = np.array([[0.1, 0.6]], dtype=np.float32)
    input_id = files.store_upload(hdf5_bytes(data=data), TENANT, stores, deployed.settings).file_id
    # Runs this module stopped through Step Functions alone (no API stop) never released their places.
    stores.quotas.release(TENANT, set().union(*stores.quotas.members(TENANT)))
    running = [f"execution#{new_execution(stores, threshold_id, [input_id]).execution_id}" for _ in range(10)]
    for member in running:  # the tenant runs its cap (the template's TenantMaxRunningJobs)
        assert stores.quotas.start_running(TENANT, member)
    execution = new_execution(stores, threshold_id, [input_id])
    try:
        arn = _start(deployed, execution.execution_id)
        poll(lambda: _retried(deployed, arn), RUN_TIMEOUT_S)
        waiting = stores.executions.get(execution.execution_id).status

        stores.quotas.release(TENANT, running[:1])

        poll(_ended(deployed, arn), RUN_TIMEOUT_S)
    finally:
        stores.quotas.release(TENANT, running)
    assert waiting is ExecutionStatus.PENDING
    assert deployed.sfn.describe_execution(executionArn=arn)["status"] == "SUCCEEDED"
    assert stores.executions.get(execution.execution_id).status is ExecutionStatus.COMPLETED


def _retried(deployed: Deployed, arn: str) -> bool:
    """Whether the run's MarkStarted failed at least once because the tenant's running slots were full."""
    events = deployed.sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    return any(
        e.get("lambdaFunctionFailedEventDetails", {}).get("error") == "RunSlotsBusyError"
        or e.get("taskFailedEventDetails", {}).get("error") == "RunSlotsBusyError"
        for e in events
    )
