"""Shared fixtures: moto-backed AWS, the template's resources, settings, a movable clock, events, and the
one local stack (subprocesses) that the end-to-end tests of every folder share."""

from __future__ import annotations

import importlib.util
import io
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
from fastapi.testclient import TestClient
from moto import mock_aws
from stratus import aws as aws_clients
from stratus.api import create_app
from stratus.local.bootstrap import LocalStack, bootstrap
from stratus.local.gateway import LocalGateway
from stratus.local.process import LocalStackProcess, running_local_stack
from stratus.local.server import MOTO_CONFIG
from stratus.local.shim import apply_patches
from stratus.models.algorithms import BUILTIN_OWNER
from stratus.models.jobs import DevicePlan, JobPlan
from stratus.models.tokens import TokenCreate
from stratus.services.tokens import issue
from stratus.settings import Settings, get_settings
from stratus.stores import Stores, build_stores

from tests.gpu_worker.wheels import make_wheel

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"
EVENTS = ROOT / "events"
# A fixed "now" for tests that move time; in the future, so handlers on the real clock see records as live.
START = 4_102_444_800.0


class MovableClock:
    """A clock tests move by hand instead of sleeping."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class FakeLambdaContext:
    """The attributes Lambda's context object carries that our handlers and Powertools read."""

    function_name: str = "stratus-test"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:stratus-test"
    aws_request_id: str = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"

    def get_remaining_time_in_millis(self) -> int:
        return 29_000


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto in decorator mode with fake credentials, and fresh boto3 clients."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    aws_clients.clear_caches()
    apply_patches()  # as in the local stack's moto server: tests see the same moto
    with mock_aws(config=MOTO_CONFIG):
        yield
    aws_clients.clear_caches()


@pytest.fixture
def stack(aws: None) -> LocalStack:
    """The template's table and bucket, made by the local stack's own bootstrap."""
    return bootstrap(TEMPLATE, data_only=True)


@pytest.fixture
def settings(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Settings pointing at the bootstrapped resources, also visible to handlers via the environment."""
    monkeypatch.setenv("TABLE_NAME", stack.table_name)
    monkeypatch.setenv("DATA_BUCKET", stack.data_bucket)
    monkeypatch.setenv("CURSOR_SECRET", stack.secrets["CursorSecret"])
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
def stores(settings: Settings, clock: MovableClock) -> Stores:
    return build_stores(settings, clock)


TENANT = "local"


@pytest.fixture
def authenticate(
    stores: Stores, function_handler: Callable[[str], Callable[..., Any]]
) -> Callable[..., TestClient]:
    """``authenticate(app, tenant="local", **client_options)``: a TestClient of ``app`` behind the local
    stand-in for API Gateway (the real authorizer handler, in this process, with no decision cache so a
    revoked token is refused at once) that sends an API token of ``tenant``; ``tenant=None`` sends none."""
    authorizer = function_handler("authorizer")

    def make(app: Any, tenant: str | None = TENANT, **options: Any) -> TestClient:
        gateway = LocalGateway(app, lambda event: authorizer(event, FakeLambdaContext()), 0)
        if tenant is None:
            return TestClient(gateway, **options)
        token = issue(TokenCreate(name="tests"), tenant, stores.tokens, stores.clock()).token
        return TestClient(gateway, headers={"Authorization": f"Bearer {token}"}, **options)

    return make


@pytest.fixture
def gateway_app(settings: Settings, stores: Stores) -> Any:
    """The API app the ``client`` fixtures talk to."""
    return create_app(settings, stores)


@pytest.fixture
def client_for(gateway_app: Any, authenticate: Callable[..., TestClient]) -> Callable[[str], TestClient]:
    """``client_for("acme")``: a TestClient that sends an API token of tenant ``acme``."""
    return lambda tenant: authenticate(gateway_app, tenant)


@pytest.fixture
def client(client_for: Callable[[str], TestClient]) -> TestClient:
    """A TestClient of tenant ``local``, authenticated as every API caller must be."""
    return client_for(TENANT)


@pytest.fixture
def anonymous_client(gateway_app: Any, authenticate: Callable[..., TestClient]) -> TestClient:
    """A TestClient that sends no credential."""
    return authenticate(gateway_app, None)


@pytest.fixture
def function_handler(settings: Settings) -> Callable[[str], Callable[..., Any]]:
    """``function_handler("ingest")``: functions/ingest/app.py's handler, imported fresh for this test
    so its module scope (the api function's app) is built against this test's moto."""

    def load(name: str) -> Callable[..., Any]:
        path = ROOT / "functions" / name / "app.py"
        spec = importlib.util.spec_from_file_location(f"stratus_test_{name}_function", path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        handler: Callable[..., Any] = module.handler
        return handler

    return load


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


@pytest.fixture
def load_event() -> Callable[..., dict[str, Any]]:
    """Read events/<name>.json, filling ``{{placeholders}}`` from keyword arguments."""

    def load(name: str, **values: str) -> dict[str, Any]:
        text = (EVENTS / f"{name}.json").read_text()
        for key, value in values.items():
            text = text.replace("{{" + key + "}}", value)
        event: dict[str, Any] = json.loads(text)
        return event

    return load


def make_hdf5(payload_bytes: int = 4096, seed: int = 0) -> bytes:
    """A real HDF5 file holding about ``payload_bytes`` of random float32 data."""
    data = np.random.default_rng(seed).random(max(1, payload_bytes // 4), dtype=np.float32)
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as handle:
        handle.create_dataset("volume", data=data)
        handle.create_group("meta").attrs["source"] = "stratus-tests"
    return buffer.getvalue()


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.05) -> None:
    """Poll ``predicate`` until it holds; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout} s")
        time.sleep(interval)


@pytest.fixture
def hdf5_file() -> Callable[..., bytes]:
    """Factory: ``hdf5_file(payload_bytes, seed)`` → bytes of a real HDF5 file."""
    return make_hdf5


@pytest.fixture
def poll() -> Callable[..., None]:
    """``poll(predicate, timeout)``: the one way integration tests wait."""
    return wait_until


def job_plan(**overrides: Any) -> JobPlan:
    """A job plan for store tests that need a record but run nothing."""
    values: dict[str, Any] = {
        "algorithm_id": "algorithm-1",
        # A built-in's: no job holds it, so records of this plan need no algorithm in the registry.
        "algorithm_owner": BUILTIN_OWNER,
        "algorithm_name": "algorithm",
        "algorithm_major": 1,
        "algorithm_minor": 1,
        "code_key": "algorithms/algorithm/1/code-0.zip",
        "assets": {},
        "parameters": {},
        "device": DevicePlan(kind="cpu"),
    }
    return JobPlan.model_validate({**values, **overrides})


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStackProcess]:
    """The local stack the end-to-end tests share (each keeps to a tenant of its own where it counts).
    Its dependency builds install from a folder with the test wheel, as PIP_* tell pip: no network."""
    wheels = make_wheel(tmp_path_factory.mktemp("wheels")).parent
    environment = {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheels)}
    with running_local_stack(TEMPLATE, environment=environment) as stack:
        yield stack
