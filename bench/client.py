"""Client figures against the local stack (issue 11 §6).

Starts `python -m stratus.local` and prints, each beside its target:
- uploading a 256 MiB HDF5 file with the SDK (`Client.upload`: presigned multipart, parts in parallel,
  streamed from disk): wall time, and the peak RSS of the uploading process (a child process that does
  only that, read from its own VmHWM), next to the same child's peak when it only imports the client;
- `stratus run threshold <1 MB file> --wait` end to end through the CLI (a subprocess, as a shell runs
  it: interpreter start, upload, run, wait), median and max of a few runs.

Usage: python bench/client.py [--size-mib N] [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np
from stratus.local.process import running_local_stack

TEMPLATE = Path(__file__).resolve().parents[1] / "template.yaml"
STRATUS = str(Path(sys.executable).with_name("stratus"))
MIB = 1024 * 1024
# Written in slices, so making the file never holds it whole either.
WRITE_SLICE = 16 * MIB // 4
# The child that measures: it uploads (or only imports the client) and reports its own peak RSS.
# Linux keeps getrusage's ru_maxrss across exec, so a child forked from this (large) process would
# report our peak; VmHWM in /proc/self/status is the child's own peak since exec (ru_maxrss elsewhere).
UPLOAD_PROBE = """
import json, re, resource, sys, time
from pathlib import Path
from stratus_client import Client

def peak_rss_mib():
    status = Path("/proc/self/status")
    if status.exists():
        return int(re.search(r"VmHWM:\\s+(\\d+) kB", status.read_text()).group(1)) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

url, token, path = sys.argv[1:4]
start = time.perf_counter()
if path != "-":
    with Client(url, token, timeout=300) as client:
        info = client.upload(path, timeout=600)
        assert info.status == "READY", info
wall = time.perf_counter() - start
print(json.dumps({"wall_s": wall, "max_rss_mib": peak_rss_mib()}))
"""


def write_volume(path: Path, size_mib: int) -> None:
    """An HDF5 file of ``size_mib`` MiB of float32 noise in one `data` dataset."""
    count = size_mib * MIB // 4
    rng = np.random.default_rng(0)
    with h5py.File(path, "w") as handle:
        dataset = handle.create_dataset("data", shape=(count,), dtype=np.float32)
        for start in range(0, count, WRITE_SLICE):
            stop = min(start + WRITE_SLICE, count)
            dataset[start:stop] = rng.random(stop - start, dtype=np.float32)


def probe(url: str, token: str, path: str) -> dict[str, float]:
    """Run the probe child; its wall time and peak RSS."""
    result = subprocess.run(
        [sys.executable, "-c", UPLOAD_PROBE, url, token, path],
        capture_output=True,
        text=True,
        check=True,
        timeout=900,
    )
    figures: dict[str, float] = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


def cli_run(url: str, token: str, folder: Path) -> float:
    """Seconds for `stratus run threshold volume.h5 --wait` to finish COMPLETED."""
    env = {**os.environ, "STRATUS_URL": url, "STRATUS_TOKEN": token, "XDG_CONFIG_HOME": str(folder)}
    start = time.perf_counter()
    result = subprocess.run(
        [STRATUS, "--quiet", "run", "threshold", "volume.h5", "-p", "threshold=0.5", "--wait", "--json"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    wall = time.perf_counter() - start
    if result.returncode != 0 or json.loads(result.stdout)["status"] != "COMPLETED":
        raise RuntimeError(f"stratus run failed: {result.stderr[-2000:]}")
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mib", type=int, default=256, help="size of the uploaded file")
    parser.add_argument("--runs", type=int, default=5, help="CLI runs to time")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch, running_local_stack(TEMPLATE) as stack:
        folder = Path(scratch)
        token = stack.token("bench-client")
        big = folder / "big.h5"
        write_volume(big, args.size_mib)
        write_volume(folder / "volume.h5", 1)
        size = big.stat().st_size / MIB

        baseline = probe(stack.api_url, token, "-")
        upload = probe(stack.api_url, token, str(big))
        walls = [cli_run(stack.api_url, token, folder) for _ in range(args.runs)]

    print()
    print(f"Client upload of a {args.size_mib} MiB HDF5 file (SDK, multipart, parts streamed in parallel)")
    print(f"  wall                 {upload['wall_s']:.1f} s ({size / upload['wall_s']:.0f} MiB/s)")
    print(
        f"  client peak RSS      {upload['max_rss_mib']:.0f} MiB"
        f" (importing the client alone: {baseline['max_rss_mib']:.0f} MiB)"
        f"    target: streamed, far below {args.size_mib} MiB"
    )
    print(f"`stratus run threshold <1 MiB file> --wait` end to end via the CLI, {args.runs} runs")
    print(
        f"  median {statistics.median(walls):.2f} s, max {max(walls):.2f} s"
        "    target: a second or two locally (interpreter start + upload + run + wait)"
    )


if __name__ == "__main__":
    main()
