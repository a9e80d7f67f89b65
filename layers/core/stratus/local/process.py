"""The whole local stack as one subprocess (`python -m stratus.local`), for e2e tests and benchmarks."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from stratus.local.server import DEFAULT_HOST, aws_environment, free_port, stop_process

# The first words of the launcher's banner (stratus.local.__main__).
BANNER = "Stratus local stack"

# About 20 s on an idle 2-core machine; several times that while other stacks start beside it.
_READY_TIMEOUT_S = 240.0
BATCH_STATUSES = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED")
_STOP_TIMEOUT_S = 15.0


@dataclass
class LocalStackProcess:
    """A running local stack: the launcher process, its URLs, and its two children."""

    process: subprocess.Popen[bytes]
    api_url: str
    aws_url: str
    s3_url: str

    @property
    def aws_environment(self) -> dict[str, str]:
        """Variables that point boto3 (or a worker subprocess) at this stack's emulated AWS."""
        return aws_environment(self.aws_url, self.s3_url)

    def client(self, service: str) -> Any:
        """A boto3 client of this stack's emulated ``service`` (S3 included)."""
        environment = self.aws_environment
        return boto3.client(  # type: ignore[call-overload]  # any service name
            service,
            endpoint_url=environment["AWS_ENDPOINT_URL_S3" if service == "s3" else "AWS_ENDPOINT_URL"],
            region_name=environment["AWS_DEFAULT_REGION"],
            aws_access_key_id=environment["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=environment["AWS_SECRET_ACCESS_KEY"],
        )

    def child_pid(self, marker: str) -> int:
        """Pid of the launcher's child whose command line contains ``marker`` (Linux /proc)."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        for pid in children:
            if marker in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"):
                return int(pid)
        raise LookupError(f"no child process running {marker}")

    def token(self, tenant: str = "local") -> str:
        """A bearer token (an ID token of the stack's user pool) for ``tenant``, as
        `python -m stratus.local token --tenant` prints it."""
        from stratus.local.bootstrap import DEFAULT_STACK_NAME
        from stratus.local.identity import sign_in

        return sign_in(self.client("cognito-idp"), DEFAULT_STACK_NAME, tenant)

    def headers(self, tenant: str = "local") -> dict[str, str]:
        """Request headers that authenticate as ``tenant``."""
        return {"Authorization": f"Bearer {self.token(tenant)}"}

    @property
    def api_pid(self) -> int:
        """The uvicorn process serving the API app."""
        return self.child_pid("uvicorn")

    @property
    def aws_pid(self) -> int:
        """The moto server process (emulated AWS)."""
        return self.child_pid("stratus.local.server")


def batch_job(batch: Any, name: str) -> dict[str, Any]:
    """The description of the Batch job named ``name`` (an execution's job is named after it).

    Raises LookupError.
    """
    for queue in batch.describe_job_queues()["jobQueues"]:
        for status in BATCH_STATUSES:  # ListJobs filters by one status at a time
            for job in batch.list_jobs(jobQueue=queue["jobQueueArn"], jobStatus=status)["jobSummaryList"]:
                if job["jobName"] == name:
                    description: dict[str, Any] = batch.describe_jobs(jobs=[job["jobId"]])["jobs"][0]
                    return description
    raise LookupError(f"no Batch job named {name}")


@contextmanager
def running_local_stack(
    template: Path,
    api_port: int | None = None,
    aws_port: int | None = None,
    parameters: Mapping[str, str] | None = None,
    s3_port: int | None = None,
    environment: Mapping[str, str] | None = None,
    state_dir: Path | None = None,
    fresh: bool = False,
) -> Iterator[LocalStackProcess]:
    """Start the local stack (on free ports unless given, with these template ``parameters``, and these
    variables added to its ``environment``: its workers and environment builds see them), wait until the
    API answers, stop it on exit.

    Without ``state_dir`` it keeps nothing (`--in-memory`: tests start many stacks, each empty); with it,
    it restores and saves the state there (`--fresh`: starts empty).
    """
    api_port = api_port or free_port()
    aws_port = aws_port or free_port()
    s3_port = s3_port or free_port()
    command = [
        sys.executable, "-m", "stratus.local", "--template", str(template),
        "--api-port", str(api_port), "--aws-port", str(aws_port), "--s3-port", str(s3_port),
    ]  # fmt: skip
    command += [f"--parameter={name}={value}" for name, value in (parameters or {}).items()]
    command += ["--in-memory"] if state_dir is None else ["--state-dir", str(state_dir)]
    command += ["--fresh"] if fresh else []
    # The banner on stdout says the stack is up, built-in algorithms deployed; the rest is passed on.
    process = subprocess.Popen(  # noqa: S603
        command, cwd=template.parent, stdout=subprocess.PIPE, env={**os.environ, **(environment or {})}
    )
    url = f"http://{DEFAULT_HOST}:{{}}".format
    stack = LocalStackProcess(process, url(api_port), url(aws_port), url(s3_port))
    try:
        _wait_healthy(stack)
        yield stack
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)  # the launcher stops its children on the way out
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(_STOP_TIMEOUT_S)
        stop_process(process)


def _wait_healthy(stack: LocalStackProcess) -> None:
    """Wait for the launcher's banner: it prints it once the API answered the built-ins' deploys."""
    output = stack.process.stdout
    assert output is not None  # noqa: S101  # stdout=PIPE
    ready = threading.Event()

    def pass_on() -> None:
        for line in output:
            sys.stdout.buffer.write(line)
            sys.stdout.flush()
            if BANNER.encode() in line:
                ready.set()

    threading.Thread(target=pass_on, name="local-stack-output", daemon=True).start()
    deadline = time.monotonic() + _READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if stack.process.poll() is not None:
            raise RuntimeError(
                f"the local stack exited with status {stack.process.returncode} while starting"
            )
        if ready.wait(0.1):
            return
    raise TimeoutError(f"the local stack did not come up within {_READY_TIMEOUT_S:.0f} s")
