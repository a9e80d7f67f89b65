"""API latency and upload figures against the local stack (issue 2).

Starts `python -m stratus.local` (moto in its own process, the API app on uvicorn in another) and prints:
- p50/p95 of GET /api/v0/files/{id} for a small file, and of the poll-like GET /api/v0/files/{id}/status;
- upload p50 of a 1 MB file by direct POST, and of a 50 MB file through the presigned flow until READY;
- a 512 MiB presigned multipart upload while 4 clients poll: the API process' peak RSS growth and the
  pollers' p99.

Usage: python bench/api_latency.py [--quick]
"""

from __future__ import annotations

import argparse
import io
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import h5py
import httpx
import numpy as np
from stratus.local.process import LocalStackProcess, running_local_stack

TEMPLATE = Path(__file__).resolve().parents[1] / "template.yaml"
MiB = 1024 * 1024
OCTET = {"content-type": "application/octet-stream"}
# Each poller asks 20 times a second: a progress bar's pace. Polling as fast as possible would measure
# 2 cores saturated by the pollers themselves, not the upload's effect on them.
POLL_INTERVAL_S = 0.05


def hdf5_bytes(payload: int, seed: int = 0) -> bytes:
    """An HDF5 file of about ``payload`` bytes of float32 noise."""
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as handle:
        handle.create_dataset(
            "volume", data=np.random.default_rng(seed).random(payload // 4, dtype=np.float32)
        )
    return buffer.getvalue()


def hdf5_file_on_disk(path: Path, payload: int) -> int:
    """Write an HDF5 file of about ``payload`` bytes in 64 MiB slabs; returns its size."""
    chunk = 16 * MiB  # float32 elements per slab
    with h5py.File(path, "w") as handle:
        dataset = handle.create_dataset("volume", shape=(payload // 4,), dtype=np.float32)
        rng = np.random.default_rng(0)
        for start in range(0, payload // 4, chunk):
            stop = min(start + chunk, payload // 4)
            dataset[start:stop] = rng.random(stop - start, dtype=np.float32)
    return path.stat().st_size


def percentile(samples: list[float], q: float) -> float:
    """The q-th percentile in milliseconds."""
    return float(np.percentile(np.array(samples) * 1000, q))


def timed(call: Callable[[], object], repeat: int, warmup: int = 10) -> list[float]:
    """Wall-clock seconds of ``repeat`` calls after ``warmup`` untimed ones."""
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    return samples


def rss_bytes(pid: int) -> int:
    """Resident set size of ``pid`` (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise LookupError("no VmRSS")


def presigned_upload(api: httpx.Client, path: Path, size: int, part_size: int | None = None) -> str:
    """Upload a file through the presigned flow and wait until it is READY; returns its id."""
    request = {"size": size} if part_size is None else {"size": size, "part_size": part_size}
    upload = api.post("/api/v0/files/uploads", json=request).json()
    with httpx.Client(timeout=600) as s3, path.open("rb") as source:
        if upload["upload_url"]:
            s3.put(upload["upload_url"], content=source.read()).raise_for_status()
        else:
            parts = []
            for part in upload["parts"]:
                source.seek((part["part_number"] - 1) * upload["part_size"])
                response = s3.put(part["url"], content=source.read(upload["part_size"]))
                response.raise_for_status()
                parts.append({"part_number": part["part_number"], "etag": response.headers["etag"]})
            api.post(upload["complete_url"], json={"parts": parts}).raise_for_status()
    while (status := api.get(f"/api/v0/files/{upload['file_id']}/status").json()["status"]) == "PENDING":
        time.sleep(0.01)
    if status != "READY":
        raise RuntimeError(f"upload ended {status}")
    return str(upload["file_id"])


def report(name: str, samples: list[float], target: str = "") -> None:
    """One result line: p50 and p95 in ms."""
    p50, p95 = percentile(samples, 50), percentile(samples, 95)
    print(f"{name:<22} p50 {p50:6.2f} ms   p95 {p95:6.2f} ms   {target}")


def bench_reads(api: httpx.Client, repeat: int) -> None:
    file_id = api.post("/api/v0/files", content=hdf5_bytes(2048), headers=OCTET).json()["file_id"]
    download = timed(lambda: api.get(f"/api/v0/files/{file_id}").raise_for_status(), repeat)
    poll = timed(lambda: api.get(f"/api/v0/files/{file_id}/status").raise_for_status(), repeat)
    report("GET file (small)", download)
    report("GET status (poll)", poll, "target p50 <= 3 ms")


def bench_uploads(api: httpx.Client, repeat: int, workdir: Path) -> None:
    body = hdf5_bytes(MiB - 4096)
    direct = timed(lambda: api.post("/api/v0/files", content=body, headers=OCTET).raise_for_status(), repeat)
    report("POST 1 MB (direct)", direct, "target p50 <= 7 ms")
    path = workdir / "50mb.h5"
    size = hdf5_file_on_disk(path, 50 * 1000 * 1000)
    flow = timed(lambda: presigned_upload(api, path, size), max(3, repeat // 20), warmup=1)
    print(f"50 MB presigned → READY  p50 {percentile(flow, 50):8.1f} ms   ({size / MiB:.1f} MiB)")


def bench_big_upload(stack: LocalStackProcess, api: httpx.Client, workdir: Path) -> None:
    path = workdir / "512mib.h5"
    size = hdf5_file_on_disk(path, 512 * MiB)
    target = api.post("/api/v0/files", content=hdf5_bytes(2048), headers=OCTET).json()["file_id"]
    pid = stack.api_pid
    baseline, peak = rss_bytes(pid), rss_bytes(pid)
    latencies: list[float] = []
    done = threading.Event()

    def poller() -> None:
        with httpx.Client(base_url=stack.api_url) as client:
            while not done.is_set():
                start = time.perf_counter()
                client.get(f"/api/v0/files/{target}/status").raise_for_status()
                latencies.append(time.perf_counter() - start)
                time.sleep(POLL_INTERVAL_S)

    pollers = [threading.Thread(target=poller) for _ in range(4)]
    for thread in pollers:
        thread.start()
    uploader = threading.Thread(target=presigned_upload, args=(api, path, size))
    started = time.perf_counter()
    uploader.start()
    while uploader.is_alive():
        peak = max(peak, rss_bytes(pid))
        time.sleep(0.01)
    elapsed = time.perf_counter() - started
    done.set()
    for thread in pollers:
        thread.join()
    print(f"512 MiB multipart upload → READY in {elapsed:.1f} s ({size / MiB / elapsed:.0f} MiB/s)")
    growth, base = (peak - baseline) / MiB, baseline / MiB
    print(f"  API RSS growth {growth:6.1f} MiB (baseline {base:.0f} MiB)   target <= 50 MB")
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    rate = len(latencies) / elapsed
    print(f"  4 pollers ({rate:.0f} polls/s): p50 {p50:.2f} ms, p99 {p99:.2f} ms   target p99 <= 20 ms")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer samples, skip the 512 MiB upload")
    arguments = parser.parse_args()
    repeat = 50 if arguments.quick else 300
    with (
        running_local_stack(TEMPLATE) as stack,
        httpx.Client(base_url=stack.api_url, timeout=600) as api,
        tempfile.TemporaryDirectory() as workdir,
    ):
        bench_reads(api, repeat)
        bench_uploads(api, repeat // 3, Path(workdir))
        if not arguments.quick:
            bench_big_upload(stack, api, Path(workdir))


if __name__ == "__main__":
    main()
