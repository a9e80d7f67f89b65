"""`python -m stratus.local` (make dev): moto server + the template's resources + the API on uvicorn."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

import boto3
from botocore.exceptions import EndpointConnectionError

from gpu_worker.builtins import deploy_builtins
from stratus.local import identity, readiness
from stratus.local.bootstrap import DEFAULT_STACK_NAME, LocalStack, bootstrap
from stratus.local.gateway import AUTHORIZER_CACHE_VARIABLE, AUTHORIZER_FUNCTION_VARIABLE
from stratus.local.persistence import open_state
from stratus.local.process import BANNER
from stratus.local.server import (
    DEFAULT_HOST,
    MotoServerProcess,
    aws_environment,
    die_with_parent,
    start_server,
    stop_process,
)
from stratus.local.state import DEFAULT_STATE_DIR, StateError, StateFolder
from stratus.settings import Settings
from stratus.stores import Stores, build_stores

# The API behind the stand-in for API Gateway, which authorizes every request as the HttpApi does; it
# serves once the launcher says the stack is ready (restored, built-ins deployed).
APP_FACTORY = readiness.APP_FACTORY
DEFAULT_AWS_PORT = 4566
DEFAULT_S3_PORT = 4567
DEFAULT_API_PORT = 8000
_API_START_TIMEOUT_S = 30.0
LOCAL_TENANT = "local"


class _Stop(Exception):
    """SIGINT or SIGTERM arrived."""


def _raise_stop(_signal_number: int, _frame: FrameType | None) -> None:
    raise _Stop


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m stratus.local", description=__doc__)
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument(
        "--aws-port", type=int, default=int(os.environ.get("STRATUS_LOCAL_AWS_PORT", DEFAULT_AWS_PORT))
    )
    parser.add_argument(
        "--api-port", type=int, default=int(os.environ.get("STRATUS_LOCAL_API_PORT", DEFAULT_API_PORT))
    )
    parser.add_argument(
        "--s3-port", type=int, default=int(os.environ.get("STRATUS_LOCAL_S3_PORT", DEFAULT_S3_PORT))
    )
    parser.add_argument("--template", type=Path, default=Path("template.yaml"))
    parser.add_argument("--stack-name", default=DEFAULT_STACK_NAME)
    parser.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a template parameter, as `sam deploy --parameter-overrides` sets it (e.g. "
        "TenantMaxRunningJobs=50); repeatable",
    )
    parser.add_argument(
        "command",
        nargs="?",
        choices=["token"],
        help="token: print a bearer token (a signed ID token) for --tenant of the running stack",
    )
    parser.add_argument("--tenant", default=LOCAL_TENANT, help="the tenant whose token `token` prints")
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=Path(os.environ.get("STRATUS_LOCAL_STATE_DIR") or DEFAULT_STATE_DIR),
        help="where files, records and algorithms are kept across restarts (or STRATUS_LOCAL_STATE_DIR)",
    )
    parser.add_argument("--fresh", action="store_true", help="start empty: forget the saved state")
    parser.add_argument(
        "--in-memory", action="store_true", help="keep nothing: no state folder is read or written (tests)"
    )
    return parser.parse_args(argv)


def _print_token(arguments: argparse.Namespace) -> int:
    endpoint_url = f"http://{arguments.host}:{arguments.aws_port}"
    os.environ.update(aws_environment(endpoint_url))
    cognito = boto3.client("cognito-idp", endpoint_url=endpoint_url)
    try:
        print(identity.sign_in(cognito, arguments.stack_name, arguments.tenant))  # noqa: T201  # the output
    except (LookupError, EndpointConnectionError) as exc:
        print(f"no local stack answers at {endpoint_url} ({exc}); start it with `make dev`", file=sys.stderr)  # noqa: T201
        return 1
    return 0


def _start_api(stack: LocalStack, host: str, port: int) -> subprocess.Popen[bytes]:
    # Its own process, so the API's memory and CPU are measurable apart from moto's.
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        APP_FACTORY,
        "--factory",
        "--host",
        host,
        "--port",
        str(port),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
    ]
    return subprocess.Popen(  # noqa: S603  # the current interpreter running uvicorn
        command,
        env={
            **os.environ,
            **stack.environment,
            # ApiFunction's own variables in template.yaml; the stack's environment holds the Globals only.
            "EXECUTION_STATE_MACHINE_ARN": stack.state_machines["ExecutionStateMachine"],
            "TRAINING_STATE_MACHINE_ARN": stack.state_machines["TrainingStateMachine"],
            "WORKFLOW_STATE_MACHINE_ARN": stack.state_machines["WorkflowStateMachine"],
            "CAMPAIGN_STATE_MACHINE_ARN": stack.state_machines["CampaignStateMachine"],
            "CURSOR_SECRET": stack.secrets["CursorSecret"],
            "WEBHOOK_QUEUE_URL": stack.queues["WebhookQueue"],
            "ENVIRONMENT_BUILD_JOB_QUEUE": stack.batch["CpuJobQueue"],
            "ENVIRONMENT_BUILD_JOB_DEFINITION": stack.batch["EnvironmentBuildJobDefinition"],
            "WORKER_PYTHON_TAG": stack.parameters["WorkerPythonTag"],
            AUTHORIZER_FUNCTION_VARIABLE: stack.functions["AuthorizerFunction"],
            AUTHORIZER_CACHE_VARIABLE: stack.parameters["AuthorizerCacheSeconds"],
        },
        # readiness.release writes here once the stack is ready; the app is built meanwhile.
        stdin=subprocess.PIPE,
        preexec_fn=die_with_parent,  # noqa: PLW1509  # spawned before any thread exists
    )


def _wait_for_api(process: subprocess.Popen[bytes], host: str, port: int) -> None:
    deadline = time.monotonic() + _API_START_TIMEOUT_S
    while process.poll() is None and time.monotonic() < deadline:
        try:
            socket.create_connection((host, port), timeout=0.5).close()
        except OSError:
            time.sleep(0.1)
        else:
            return
    raise RuntimeError(f"the API did not start on {host}:{port}")


def _stores(stack: LocalStack) -> tuple[Stores, Settings]:
    """The stack's stores, as its functions see them."""
    variables = {
        **stack.environment,
        "CURSOR_SECRET": stack.secrets["CursorSecret"],
        # Jobs a restore ends FAILED send their webhooks, as their state machine's end would.
        "WEBHOOK_QUEUE_URL": stack.queues["WebhookQueue"],
    }
    settings = Settings.model_validate({name.lower(): value for name, value in variables.items()})
    return build_stores(settings), settings


def _parameters(pairs: list[str]) -> dict[str, str]:
    """NAME=VALUE pairs as a mapping; a pair without `=` stops the launcher with a usage error."""
    malformed = [pair for pair in pairs if "=" not in pair]
    if malformed:
        raise SystemExit(f"--parameter takes NAME=VALUE, not {', '.join(malformed)}")
    return dict(pair.split("=", 1) for pair in pairs)


def _banner(stack: LocalStack, api_url: str, s3_endpoint_url: str, builtins: list[str], state: str) -> str:
    """What the launcher prints once the stack serves (before the `export` line)."""
    return (
        f"{BANNER} '{stack.stack_name}' is up (Ctrl-C stops it)\n"
        f"  API       {api_url}\n  API docs  {api_url}/docs\n"
        f"  AWS       {stack.endpoint_url} (S3 at {s3_endpoint_url})\n"
        f"  table {stack.table_name}  bucket {stack.data_bucket}\n"
        f"  built-in algorithms: {', '.join(builtins)}\n"
        f"  state: {state}\n"
        f"  tenant '{LOCAL_TENANT}' (a new ID token, valid 1 h; `python -m stratus.local token` prints "
        "another):"
    )


def main(argv: list[str] | None = None) -> int:
    """Run the local stack until Ctrl-C or SIGTERM; returns the exit status."""
    arguments = _arguments(argv)
    if arguments.command == "token":
        return _print_token(arguments)
    # Turn both signals into one exception so every child is stopped on the way out.
    signal.signal(signal.SIGINT, _raise_stop)
    signal.signal(signal.SIGTERM, _raise_stop)
    endpoint_url = f"http://{arguments.host}:{arguments.aws_port}"
    s3_endpoint_url = f"http://{arguments.host}:{arguments.s3_port}"
    # This process is the one whose environment is being set up: boto3 here and in the children.
    os.environ.update(aws_environment(endpoint_url, s3_endpoint_url))
    servers: list[MotoServerProcess] = []
    api = None
    # Set once restored (or emptied): a launcher stopped before then must not save a half-restored stack.
    state: StateFolder | None = None
    try:
        servers.append(start_server(arguments.aws_port, arguments.host))
        # S3 gets a moto process of its own, as it is its own service on AWS: big uploads there must not
        # stall the DynamoDB calls behind every poll. Its notifications go to the main server's functions.
        servers.append(start_server(arguments.s3_port, arguments.host, lambda_endpoint=endpoint_url))
        stack = bootstrap(
            arguments.template,
            stack_name=arguments.stack_name,
            endpoint_url=endpoint_url,
            s3_endpoint_url=s3_endpoint_url,
            parameters=_parameters(arguments.parameter),
        )
        api = _start_api(stack, arguments.host, arguments.api_port)
        stores, settings = _stores(stack)
        state_dir = None if arguments.in_memory else arguments.state_dir
        state, state_line = open_state(state_dir, arguments.fresh, stack, stores)
        # As an operator deploys them: straight into the registry, shared by every tenant, read-only
        # (a restored registry keeps their versions: an unchanged built-in deploys as a no-op).
        builtins = deploy_builtins(stores, settings)
        readiness.release(api)
        _wait_for_api(api, arguments.host, arguments.api_port)
        api_url = f"http://{arguments.host}:{arguments.api_port}"
        token = identity.sign_in(boto3.client("cognito-idp"), stack.stack_name, LOCAL_TENANT)
        banner = _banner(stack, api_url, s3_endpoint_url, list(builtins), state_line)
        print(f"{banner}\nexport STRATUS_URL={api_url} STRATUS_TOKEN={token}", flush=True)  # noqa: T201
        with state.saving() if state else contextlib.nullcontext():
            while api.poll() is None and all(server.process.poll() is None for server in servers):
                time.sleep(0.2)
        return 1
    except _Stop:
        return 0
    except StateError as exc:
        print(exc, file=sys.stderr)  # noqa: T201  # why it could not start
        return 2
    finally:
        # Nothing more to interrupt: ignore repeated Ctrl-C while the children stop.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if api is not None:
            stop_process(api)
        try:
            if state is not None:
                state.save()  # after the API stopped: no request changes what is being saved
        finally:
            for server in servers:
                server.stop()


if __name__ == "__main__":
    sys.exit(main())
