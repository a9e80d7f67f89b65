"""The moto server, with our shim, in its own process: `python -m stratus.local.server --port N`."""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

DEFAULT_HOST = "127.0.0.1"
DEFAULT_REGION = "us-east-1"
# Batch "runs" jobs without Docker; Step Functions really interprets the ASL.
MOTO_CONFIG = {"batch": {"use_docker": False}, "stepfunctions": {"execute_state_machine": True}}
# Importing moto and the shim takes seconds, and much longer on a busy machine (tests start stacks in
# parallel): a slow start is not a failed one.
_READY_TIMEOUT_S = 60.0
WORKER_THREADS = 64
BODY_BUFFER_BYTES = 1024**3  # S3 parts up to 1 GiB stay in memory
SOCKET_CHUNK_BYTES = 256 * 1024
_STOP_TIMEOUT_S = 5.0


def aws_environment(
    endpoint_url: str, s3_endpoint_url: str | None = None, region: str = DEFAULT_REGION
) -> dict[str, str]:
    """Variables that point boto3 at the local endpoints, with fake credentials moto accepts."""
    s3 = {"AWS_ENDPOINT_URL_S3": s3_endpoint_url} if s3_endpoint_url else {}
    return {
        **s3,
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
    }


def free_port(host: str = DEFAULT_HOST) -> int:
    """A port nothing listens on right now (for tests; the tiny race with other processes is acceptable)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


@dataclass
class MotoServerProcess:
    """A running moto server subprocess."""

    process: subprocess.Popen[bytes]
    endpoint_url: str

    def stop(self) -> None:
        """Ask the server to stop, and kill it if it does not within a few seconds."""
        stop_process(self.process)


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM ``process``, then SIGKILL it if it is still alive after a grace period."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=_STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def die_with_parent() -> None:
    """Make this (child) process receive SIGTERM when its parent dies, so nothing is orphaned (Linux)."""
    if sys.platform != "linux":
        return
    import ctypes  # Linux-only; imported here so other platforms never load libc

    pr_set_pdeathsig = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def start_server(
    port: int,
    host: str = DEFAULT_HOST,
    environment: Mapping[str, str] | None = None,
    lambda_endpoint: str | None = None,
) -> MotoServerProcess:
    """Start the moto server process on ``host:port`` and wait until it answers, configured.

    ``lambda_endpoint`` makes this server hand its S3 notifications to the functions of the moto
    server there (the local stack runs S3 in a process of its own).
    """
    endpoint_url = f"http://{host}:{port}"
    forwarding = ["--lambda-endpoint", lambda_endpoint] if lambda_endpoint else []
    process = subprocess.Popen(  # noqa: S603  # our own module, with the current interpreter
        [sys.executable, "-m", "stratus.local.server", "--host", host, "--port", str(port), *forwarding],
        env={**os.environ, **aws_environment(endpoint_url), **(environment or {})},
        preexec_fn=die_with_parent,  # noqa: PLW1509  # the launcher is single-threaded when it spawns
    )
    try:
        _wait_until_configured(endpoint_url, process)
    except BaseException:
        stop_process(process)
        raise
    return MotoServerProcess(process, endpoint_url)


@contextmanager
def running_server(port: int | None = None, host: str = DEFAULT_HOST) -> Iterator[MotoServerProcess]:
    """Run the moto server process for the duration of the block (on a free port unless given)."""
    server = start_server(port or free_port(host), host)
    try:
        yield server
    finally:
        server.stop()


def _wait_until_configured(endpoint_url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + _READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the moto server exited with status {process.returncode} while starting")
        # GET /moto-api/config shows only batch and lambda; one POST set batch and stepfunctions together.
        if _read_config(endpoint_url).get("batch") == MOTO_CONFIG["batch"]:
            return
        time.sleep(0.05)
    raise TimeoutError(f"the moto server at {endpoint_url} did not come up within {_READY_TIMEOUT_S:.0f} s")


def _read_config(endpoint_url: str) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(f"{endpoint_url}/moto-api/config", timeout=1) as response:  # noqa: S310
            return json.loads(response.read())  # type: ignore[no-any-return]
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return {}


def _post_config(endpoint_url: str) -> None:
    request = urllib.request.Request(  # noqa: S310  # our own local endpoint
        f"{endpoint_url}/moto-api/config",
        data=json.dumps(MOTO_CONFIG).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5):  # noqa: S310
        pass


def serve(host: str, port: int, lambda_endpoint: str | None = None) -> None:
    """Serve moto with our shim until SIGINT or SIGTERM (runs inside the server process)."""
    # Importing moto is a few hundred ms; only the server process pays it.
    import waitress
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    from stratus.local.shim import apply_patches

    # Step Functions and Lambda inside moto call back into "the server" at MOTO_PORT (default 5000).
    os.environ["MOTO_PORT"] = str(port)
    apply_patches(restore_environment=False, lambda_endpoint=lambda_endpoint)
    stopping = threading.Event()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signal_number, lambda *_: stopping.set())
    # moto's own ThreadedMotoServer is werkzeug's dev server, which closes the connection after every
    # response: a new TCP connection and thread per AWS call. waitress keeps connections alive and reuses
    # a thread pool, and buffers bodies in memory rather than spooling them to disk.
    server = waitress.create_server(
        DomainDispatcherApplication(create_backend_app),
        host=host,
        port=port,
        threads=WORKER_THREADS,
        inbuf_overflow=BODY_BUFFER_BYTES,
        outbuf_overflow=BODY_BUFFER_BYTES,
        recv_bytes=SOCKET_CHUNK_BYTES,
        send_bytes=SOCKET_CHUNK_BYTES,
        connection_limit=1000,
        channel_timeout=600,
    )
    threading.Thread(target=server.run, name="moto-server", daemon=True).start()
    if lambda_endpoint is None:
        # This server runs the Batch jobs (an S3-only one forwards to it): start their fork server now.
        from stratus.local.workers import warm_up

        threading.Thread(target=warm_up, name="warm-workers", daemon=True).start()
        # ... and the SQS event source mappings (the webhook queue): Lambda's pollers, not SendMessage.
        from stratus.local.queues import QueuePoller

        QueuePoller().start()
    try:
        _post_config(f"http://{host}:{port}")
        stopping.wait()
    finally:
        server.close()


def main(argv: list[str] | None = None) -> None:
    """Command line entry point of the server process."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--lambda-endpoint", help="moto server whose functions S3 notifications invoke")
    arguments = parser.parse_args(argv)
    serve(arguments.host, arguments.port, arguments.lambda_endpoint)


if __name__ == "__main__":
    main()
