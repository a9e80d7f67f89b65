"""Webhooks through the local stack: a real receiver gets signed events of a `threshold` execution, a
receiver that fails is retried by the queue while the job goes on, every attempt is listed, and resend
sends the event again."""

from __future__ import annotations

import io
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import h5py
import httpx
import numpy as np
import pytest
from standardwebhooks import Webhook
from stratus.local.process import LocalStackProcess

pytestmark = pytest.mark.e2e

TIMEOUT_S = 60
OCTET = {"content-type": "application/octet-stream"}


class Receiver:
    """A webhook receiver on loopback: answers 500 to the first ``failures`` attempts of each webhook-id,
    then 200, and keeps every request."""

    def __init__(self, failures: int = 0) -> None:
        self.requests: list[tuple[bytes, dict[str, str]]] = []
        self._attempts: Counter[str] = Counter()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802  # http.server's name
                body = self.rfile.read(int(self.headers["content-length"]))
                with receiver._lock:
                    # urllib sends header names capitalized (Webhook-id): keep them as one case.
                    receiver.requests.append((body, {k.lower(): v for k, v in self.headers.items()}))
                    receiver._attempts[self.headers["webhook-id"]] += 1
                    refused = receiver._attempts[self.headers["webhook-id"]] <= failures
                self.send_response(500 if refused else 200)
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def types(self) -> list[str]:
        """The event type of each request, in order."""
        with self._lock:
            return [httpx.Response(200, content=body).json()["type"] for body, _ in self.requests]


@pytest.fixture
def receiver(request: pytest.FixtureRequest) -> Iterator[Receiver]:
    running = Receiver(getattr(request, "param", 0))
    threading.Thread(target=running.server.serve_forever, daemon=True).start()
    yield running
    running.server.shutdown()
    running.server.server_close()


@pytest.fixture(scope="module")
def threshold_id(local_stack: LocalStackProcess, auth_headers: dict[str, str]) -> str:
    with httpx.Client(base_url=local_stack.api_url, timeout=60, headers=auth_headers) as api:
        listed = api.get("/api/v0/algorithm/all").json()
    return next(a["algorithm_id"] for a in listed if a["algorithm_name"] == "threshold")


@pytest.fixture
def input_id(api: httpx.Client) -> str:
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as handle:
        handle.create_dataset("data", data=np.array([[0.2, 0.7], [0.9, 0.1]], dtype=np.float32))
    response = api.post("/api/v0/files", content=buffer.getvalue(), headers=OCTET)
    assert response.status_code == 200, response.text
    return str(response.json()["file_id"])


def _execute(api: httpx.Client, threshold_id: str, input_id: str, url: str, events: list[str]) -> str:
    body = {
        "algorithm_id": threshold_id,
        "input_dataset_ids": [input_id],
        "additional_parameters": {"threshold": 0.5},
        "webhook_url": url,
        "webhook_events": events,
    }
    response = api.post("/api/v0/execute-algorithm", json=body)
    assert response.status_code == 200, response.text
    return str(response.json()["execution_id"])


def _status(api: httpx.Client, execution_id: str) -> str:
    return str(api.get(f"/api/v0/executions/{execution_id}").json()["status"])


def _attempts(api: httpx.Client, execution_id: str) -> list[list[int | None]]:
    items = api.get(f"/api/v0/executions/{execution_id}/webhook-deliveries").json()["items"]
    return [[a["status_code"] for a in item["attempts"]] for item in items]


def test_receiver_gets_signed_start_and_completed(
    api: httpx.Client, threshold_id: str, input_id: str, receiver: Receiver, poll: Callable[..., None]
) -> None:
    secret = api.get("/api/v0/webhooks/secret").json()["secret"]

    execution_id = _execute(api, threshold_id, input_id, receiver.url, ["start", "completed"])

    poll(lambda: "execution.completed" in receiver.types(), TIMEOUT_S)
    verified = [Webhook(secret).verify(body, headers) for body, headers in receiver.requests]
    assert {event["type"] for event in verified} == {"execution.start", "execution.completed"}
    completed = next(event for event in verified if event["type"] == "execution.completed")
    assert completed["data"]["id"] == execution_id
    assert completed["data"]["status"] == "COMPLETED"
    assert len(completed["data"]["outputs"]) == 1


@pytest.mark.parametrize("receiver", [2], indirect=True)
def test_failing_receiver_gets_the_event_on_the_third_attempt_and_resend_sends_it_again(
    api: httpx.Client, threshold_id: str, input_id: str, receiver: Receiver, poll: Callable[..., None]
) -> None:
    execution_id = _execute(api, threshold_id, input_id, receiver.url, ["completed"])

    poll(lambda: _status(api, execution_id) == "COMPLETED", TIMEOUT_S)
    poll(lambda: _attempts(api, execution_id) == [[500, 500, 200]], TIMEOUT_S)
    (delivery,) = api.get(f"/api/v0/executions/{execution_id}/webhook-deliveries").json()["items"]
    assert {headers["webhook-id"] for _, headers in receiver.requests} == {delivery["delivery_id"]}

    resent = api.post(
        f"/api/v0/executions/{execution_id}/webhook-deliveries/{delivery['delivery_id']}/resend"
    )

    assert resent.status_code == 202
    poll(lambda: _attempts(api, execution_id) == [[500, 500, 200, 200]], TIMEOUT_S)
    assert len(receiver.requests) == 4


def test_another_tenant_cannot_see_deliveries(
    api: httpx.Client,
    local_stack: LocalStackProcess,
    threshold_id: str,
    input_id: str,
    receiver: Receiver,
) -> None:
    execution_id = _execute(api, threshold_id, input_id, receiver.url, ["completed"])

    response = httpx.get(
        f"{local_stack.api_url}/api/v0/executions/{execution_id}/webhook-deliveries",
        headers=local_stack.headers("globex"),
        timeout=60,
    )

    assert response.status_code == 404
