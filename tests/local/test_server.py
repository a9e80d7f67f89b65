"""The moto server process: configured as the local stack needs, running our handlers, stopped cleanly."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from stratus.local.bootstrap import bootstrap
from stratus.local.server import MotoServerProcess, free_port, running_server, start_server

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server() -> Iterator[MotoServerProcess]:
    with running_server() as started:
        yield started


def test_running_server_applies_moto_config(server: MotoServerProcess) -> None:
    with urllib.request.urlopen(f"{server.endpoint_url}/moto-api/config", timeout=5) as response:
        config = json.loads(response.read())

    assert config["batch"] == {"use_docker": False}


def test_running_server_runs_our_handler_for_invoke(
    server: MotoServerProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    stack = bootstrap(
        TEMPLATE, stack_name="server-test", endpoint_url=server.endpoint_url, region="us-east-1"
    )
    client = boto3.client("lambda", endpoint_url=server.endpoint_url, region_name="us-east-1")

    response = client.invoke(FunctionName=stack.functions["IngestFunction"], Payload=b'{"Records": []}')

    assert "FunctionError" not in response
    assert json.loads(response["Payload"].read()) == {"files": {}}


def test_running_server_stops_its_process() -> None:
    with running_server() as started:
        process = started.process

    assert process.poll() is not None


def test_s3_only_server_sends_notifications_to_main_servers_functions(
    server: MotoServerProcess, monkeypatch: pytest.MonkeyPatch, poll
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    s3_server = start_server(free_port(), lambda_endpoint=server.endpoint_url)
    try:
        stack = bootstrap(
            TEMPLATE,
            stack_name="forwarding-test",
            endpoint_url=server.endpoint_url,
            s3_endpoint_url=s3_server.endpoint_url,
            region="us-east-1",
        )
        s3 = boto3.client("s3", endpoint_url=s3_server.endpoint_url, region_name="us-east-1")
        key = "uploads/00000000-0000-4000-8000-000000000000"

        s3.put_object(Bucket=stack.data_bucket, Key=key, Body=b"no file record asked for this")

        # The real ingest handler runs in the main server and deletes an upload nobody asked for.
        poll(lambda: s3.list_objects_v2(Bucket=stack.data_bucket, Prefix="uploads/")["KeyCount"] == 0, 30)
    finally:
        s3_server.stop()
