"""Load figures: 50 pollers and 10 uploaders at once against a running stack (issue 9).

Pollers read execution records (GET /api/v0/executions/{id}, and every fifth request a page of
GET /api/v0/executions) about once a second, as a client showing progress does; uploaders send a small
HDF5 file by direct POST about once a second and read its status back. All share one pooled httpx
client on one asyncio loop. Prints, per operation, the requests, errors and p50/p99, beside the target:
0 errors. Exits 1 if any request failed.

The stack: STRATUS_URL (default http://127.0.0.1:8000) with the token in STRATUS_TOKEN, sent as
`Authorization: Bearer $STRATUS_TOKEN`. Without STRATUS_TOKEN the script starts a local stack of its own
(`python -m stratus.local`, about as long to start as the run itself) and asks it for a token of tenant
`local`, so it is not part of `make bench`. Against `make dev` (running in another shell):

    STRATUS_TOKEN=$(.venv/bin/python -m stratus.local token) .venv/bin/python bench/load.py

Usage: python bench/load.py [--seconds S] [--pollers N] [--uploaders N] [--poll-interval S]
       [--upload-interval S]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import random
import sys
import time
from collections import defaultdict
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import httpx
import numpy as np

TEMPLATE = Path(__file__).resolve().parents[1] / "template.yaml"
DEFAULT_URL = "http://127.0.0.1:8000"
OCTET = {"content-type": "application/octet-stream"}
# Clients watching progress and feeding inputs, each about once a second (jittered, so they don't march in
# step). As fast as possible would measure 2 cores saturated by the load generator itself.
POLL_INTERVAL_S = 1.0
UPLOAD_INTERVAL_S = 1.0
# Idle connections are dropped before uvicorn's 5 s keep-alive timeout would close them under a request.
KEEPALIVE_EXPIRY_S = 2.0
LIST_EVERY = 5
SEED_EXECUTIONS = 5
UPLOAD_SHAPE = (64, 64)  # 16 KiB of float32
BODIES = 8
ERRORS_SHOWN = 5


@dataclass
class Results:
    """Latencies and errors per operation."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    async def call(
        self, operation: str, request: Awaitable[httpx.Response], expected: int = 200
    ) -> httpx.Response | None:
        """Await ``request``; record its latency, or an error if it raised or answered unexpectedly."""
        start = time.perf_counter()
        try:
            response = await request
        except httpx.HTTPError as error:
            self.errors[operation].append(f"{type(error).__name__}: {error}")
            return None
        self.latencies[operation].append(time.perf_counter() - start)
        if response.status_code != expected:
            self.errors[operation].append(f"{response.status_code} {response.text[:200]}")
            return None
        return response


def hdf5_data(shape: tuple[int, ...], seed: int) -> bytes:
    """An HDF5 file with one float32 `data` dataset of ``shape`` (uniform noise in [0, 1))."""
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as handle:
        handle.create_dataset("data", data=np.random.default_rng(seed).random(shape, dtype=np.float32))
    return buffer.getvalue()


def percentile(samples: list[float], q: float) -> float:
    """The q-th percentile in milliseconds (NaN when there are none)."""
    return float(np.percentile(np.array(samples) * 1000, q)) if samples else float("nan")


async def seed_executions(api: httpx.AsyncClient) -> list[str]:
    """Start a few `threshold` executions on a tiny file: the records the pollers read."""
    algorithms = (await api.get("/api/v0/algorithm/all")).raise_for_status().json()
    (threshold,) = [a["algorithm_id"] for a in algorithms if a["algorithm_name"] == "threshold"]
    upload = await api.post("/api/v0/files", content=hdf5_data((16, 16), 0), headers=OCTET)
    file_id = upload.raise_for_status().json()["file_id"]
    body = {"algorithm_id": threshold, "input_dataset_ids": [file_id], "additional_parameters": {}}
    ids = []
    for _ in range(SEED_EXECUTIONS):
        response = await api.post("/api/v0/execute-algorithm", json=body)
        ids.append(str(response.raise_for_status().json()["execution_id"]))
    return ids


async def poller(
    api: httpx.AsyncClient, ids: list[str], deadline: float, interval: float, results: Results
) -> None:
    rng = random.Random()
    count = 0
    while time.monotonic() < deadline:
        if count % LIST_EVERY == LIST_EVERY - 1:
            await results.call("GET /executions", api.get("/api/v0/executions", params={"limit": 20}))
        else:
            execution_id = rng.choice(ids)
            await results.call("GET /executions/{id}", api.get(f"/api/v0/executions/{execution_id}"))
        count += 1
        await asyncio.sleep(interval * rng.uniform(0.5, 1.5))


async def uploader(
    api: httpx.AsyncClient, bodies: list[bytes], deadline: float, interval: float, results: Results
) -> None:
    rng = random.Random()
    while time.monotonic() < deadline:
        request = api.post("/api/v0/files", content=rng.choice(bodies), headers=OCTET)
        uploaded = await results.call("POST /files (16 KiB)", request)
        if uploaded is not None:
            status = api.get(f"/api/v0/files/{uploaded.json()['file_id']}/status")
            checked = await results.call("GET /files/{id}/status", status)
            if checked is not None and checked.json()["status"] != "READY":
                results.errors["GET /files/{id}/status"].append(f"file is {checked.json()['status']}")
        await asyncio.sleep(interval * rng.uniform(0.5, 1.5))


async def run_load(url: str, token: str, arguments: argparse.Namespace) -> Results:
    clients = arguments.pollers + arguments.uploaders
    limits = httpx.Limits(
        max_connections=clients, max_keepalive_connections=clients, keepalive_expiry=KEEPALIVE_EXPIRY_S
    )
    headers = {"Authorization": f"Bearer {token}"}
    bodies = [hdf5_data(UPLOAD_SHAPE, seed) for seed in range(BODIES)]
    results = Results()
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=30) as api:
        ids = await seed_executions(api)
        deadline = time.monotonic() + arguments.seconds
        started = time.perf_counter()
        await asyncio.gather(
            *(poller(api, ids, deadline, arguments.poll_interval, results) for _ in range(arguments.pollers)),
            *(
                uploader(api, bodies, deadline, arguments.upload_interval, results)
                for _ in range(arguments.uploaders)
            ),
        )
        elapsed = time.perf_counter() - started
    print(f"{arguments.pollers} pollers + {arguments.uploaders} uploaders for {elapsed:.1f} s against {url}:")
    report(results, elapsed)
    return results


def report(results: Results, elapsed: float) -> None:
    """One line per operation, then the totals beside the target."""
    for operation in sorted(results.latencies.keys() | results.errors.keys()):
        samples, errors = results.latencies[operation], results.errors[operation]
        p50, p99 = percentile(samples, 50), percentile(samples, 99)
        print(
            f"  {operation:<24} {len(samples):6d} answered  {len(errors):3d} errors"
            f"   p50 {p50:7.2f} ms   p99 {p99:7.2f} ms"
        )
    answered = sum(len(samples) for samples in results.latencies.values())
    errors = [error for listed in results.errors.values() for error in listed]
    print(f"  {answered} requests ({answered / elapsed:.0f}/s), {len(errors)} errors   target 0 errors")
    for error in errors[:ERRORS_SHOWN]:
        print(f"    {error}")


@contextlib.contextmanager
def stack_and_token() -> Iterator[tuple[str, str]]:
    """STRATUS_URL and STRATUS_TOKEN, or a local stack of our own and a token of tenant `local`."""
    token = os.environ.get("STRATUS_TOKEN")
    if token:
        yield os.environ.get("STRATUS_URL", DEFAULT_URL), token
        return
    from stratus.local.process import running_local_stack

    with running_local_stack(TEMPLATE) as stack:
        yield stack.api_url, stack.token(tenant="local")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=30.0, help="how long the load runs")
    parser.add_argument("--pollers", type=int, default=50)
    parser.add_argument("--uploaders", type=int, default=10)
    parser.add_argument("--poll-interval", type=float, default=POLL_INTERVAL_S, help="seconds, on average")
    parser.add_argument(
        "--upload-interval", type=float, default=UPLOAD_INTERVAL_S, help="seconds, on average"
    )
    arguments = parser.parse_args()
    with stack_and_token() as (url, token):
        results = asyncio.run(run_load(url, token, arguments))
    if any(results.errors.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
