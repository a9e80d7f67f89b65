"""KPIs through the local stack, as a client sees them: the built-in `branin` reports its value, an
unmodified Compox-style package's numeric set_state entries become KPIs, and `stratus executions show`
prints them."""

from __future__ import annotations

import io
import math
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h5py
import httpx
import numpy as np
import pytest
from stratus.algorithms import package_from_folder
from stratus.local.process import LocalStackProcess

pytestmark = pytest.mark.e2e

KPI_PACKAGE = Path(__file__).resolve().parents[1] / "gpu_worker" / "packages" / "kpis"
TENANT = "e2e-kpis"
FINAL = {"COMPLETED", "FAILED", "STOPPED"}
TIMEOUT_S = 60
STRATUS = str(Path(sys.executable).with_name("stratus"))


def _branin(x: float, y: float) -> float:
    """Branin-Hoo, written out independently of the built-in."""
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (y - b * x**2 + c * x - 6) ** 2 + 10 * (1 - t) * math.cos(x) + 10


@pytest.fixture(scope="module")
def client(local_stack: LocalStackProcess) -> Iterator[httpx.Client]:
    """A client of the stack's API as a tenant of this module's own."""
    with httpx.Client(base_url=local_stack.api_url, timeout=60, headers=local_stack.headers(TENANT)) as api:
        yield api


@pytest.fixture(scope="module")
def algorithm_ids(client: httpx.Client) -> dict[str, str]:
    """The built-ins and the KPI fixture package, by name."""
    deployed = client.post(
        "/api/v0/algorithms",
        content=package_from_folder(KPI_PACKAGE),
        headers={"content-type": "application/zip"},
    )
    assert deployed.status_code == 201, deployed.text
    return {a["algorithm_name"]: a["algorithm_id"] for a in client.get("/api/v0/algorithm/all").json()}


@pytest.fixture(scope="module")
def input_id(client: httpx.Client) -> str:
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as handle:
        handle.create_dataset("data", data=np.arange(4, dtype=np.float32))
    response = client.post(
        "/api/v0/files", content=buffer.getvalue(), headers={"content-type": "application/octet-stream"}
    )
    assert response.status_code == 200, response.text
    return str(response.json()["file_id"])


def _run(
    client: httpx.Client, algorithm_id: str, input_id: str, parameters: dict[str, Any]
) -> dict[str, Any]:
    body = {
        "algorithm_id": algorithm_id,
        "input_dataset_ids": [input_id],
        "additional_parameters": parameters,
    }
    started = client.post("/api/v0/execute-algorithm", json=body)
    assert started.status_code == 200, started.text
    execution_id = started.json()["execution_id"]
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        record: dict[str, Any] = client.get(f"/api/v0/executions/{execution_id}").json()
        if record["status"] in FINAL:
            return record
        time.sleep(0.2)
    raise AssertionError(f"execution {execution_id} did not end within {TIMEOUT_S} s")


def test_branin_run_completes_with_its_value_as_kpi(
    client: httpx.Client, algorithm_ids: dict[str, str], input_id: str
) -> None:
    record = _run(client, algorithm_ids["branin"], input_id, {"x": 1.5, "y": 4.0})

    assert record["status"] == "COMPLETED", record["log"]
    assert record["kpis"] == {
        "branin": {"name": "branin", "value": pytest.approx(_branin(1.5, 4.0)), "unit": None}
    }


def test_unmodified_package_set_state_numbers_are_kpis(
    client: httpx.Client, algorithm_ids: dict[str, str], input_id: str
) -> None:
    record = _run(client, algorithm_ids["kpi_fixture"], input_id, {"mode": "state"})

    assert record["status"] == "COMPLETED", record["log"]
    assert record["kpis"] == {
        "loss": {"name": "loss", "value": 0.25, "unit": None},
        "epoch": {"name": "epoch", "value": 3.0, "unit": None},
    }


def test_cli_show_prints_the_kpis(
    local_stack: LocalStackProcess,
    client: httpx.Client,
    algorithm_ids: dict[str, str],
    input_id: str,
    tmp_path: Path,
) -> None:
    record = _run(client, algorithm_ids["branin"], input_id, {"x": math.pi, "y": 2.275})
    env = {
        **os.environ,
        "STRATUS_URL": local_stack.api_url,
        "STRATUS_TOKEN": local_stack.token(TENANT),
        "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
    }

    shown = subprocess.run(
        [STRATUS, "executions", "show", record["execution_id"]],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert shown.returncode == 0, shown.stderr
    assert "KPIs" in shown.stdout
    assert re.search(r"branin\W+0\.397887\W", shown.stdout), shown.stdout
