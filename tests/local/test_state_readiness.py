"""The local stack's API process serves nothing, not even /health, until the launcher says it is ready."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator

import httpx
import pytest
from stratus.local.gateway import AUTHORIZER_FUNCTION_VARIABLE
from stratus.local.readiness import APP_FACTORY, WAITING_MESSAGE, release
from stratus.local.server import DEFAULT_HOST, aws_environment, free_port, stop_process

from tests.conftest import wait_until

START_TIMEOUT_S = 60


@pytest.fixture
def gated_api() -> Iterator[tuple[subprocess.Popen[bytes], str, threading.Event]]:
    """uvicorn on the launcher's factory (no AWS behind it: /health needs none), and an event set once
    the app is built and waits."""
    port = free_port()
    environment = {
        **os.environ,
        **aws_environment(f"http://{DEFAULT_HOST}:{free_port()}"),
        "TABLE_NAME": "table",
        "DATA_BUCKET": "bucket",
        "CURSOR_SECRET": "cursor-secret",
        AUTHORIZER_FUNCTION_VARIABLE: "authorizer",
    }
    command = [sys.executable, "-m", "uvicorn", APP_FACTORY, "--factory", "--host", DEFAULT_HOST]
    process = subprocess.Popen(  # noqa: S603
        [*command, "--port", str(port)], env=environment, stdin=subprocess.PIPE, stderr=subprocess.PIPE
    )
    waiting = threading.Event()

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            if WAITING_MESSAGE.encode() in line:
                waiting.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        yield process, f"http://{DEFAULT_HOST}:{port}", waiting
    finally:
        stop_process(process)


def _health(url: str) -> int | None:
    try:
        return httpx.get(f"{url}/health", timeout=5).status_code
    except httpx.TransportError:
        return None


def test_gated_api_answers_nothing_until_released(
    gated_api: tuple[subprocess.Popen[bytes], str, threading.Event],
) -> None:
    process, url, waiting = gated_api
    wait_until(lambda: waiting.is_set() or process.poll() is not None, START_TIMEOUT_S)
    assert process.poll() is None, "the API process exited while building its app"

    before = _health(url)
    release(process)
    wait_until(lambda: _health(url) is not None, START_TIMEOUT_S)

    assert (waiting.is_set(), before, _health(url)) == (True, None, 200)
