"""The job, in the algorithm's process once it is confined: ask the worker for the job, load the
package's Runner, run it, and tell the worker how it ended."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stratus.algorithms import StopRequested, load_runner

from gpu_worker.sandbox.remote import Client, RemoteContext
from gpu_worker.sandbox.tracebacks import package_traceback

if TYPE_CHECKING:
    from gpu_worker.sandbox.protocol import Channel


def serve_job(channel: Channel, notes: list[str], preload: list[str]) -> int:
    """Run the job the worker hands over and report its outcome; returns the exit status."""
    client = Client(channel)
    job = client.request("start", notes=notes)
    # While the worker stages the package, import what the algorithm will most likely import too; and
    # hdf5plugin always, so a package that opens files with h5py itself reads every filter ours read.
    for module in ["hdf5plugin", *preload]:
        _import_quietly(module)
    spec: dict[str, Any] = job.result()
    os.chdir(spec["work_dir"])
    outcome = run_job(spec, RemoteContext(client, Path(spec["scratch_dir"]), Path(spec["outbox_dir"])))
    client.call("finish", **outcome)
    return 0


def run_job(spec: dict[str, Any], context: RemoteContext) -> dict[str, Any]:
    """Load the Runner and run the execution or the training round; returns the outcome the worker
    records (COMPLETED with outputs, STOPPED, or FAILED with the error and the package's traceback)."""
    package_dir = Path(spec["package_dir"])
    if spec.get("environment_dir"):
        # First, so the package's declared versions win over anything else of the same name not imported
        # yet; what the runtime imported already (numpy, h5py, stratus) stays as it is.
        sys.path.insert(0, str(spec["environment_dir"]))
        importlib.invalidate_caches()
    try:
        runner = load_runner(package_dir, context, spec["device"])
        if spec["kind"] == "training":
            runner.run_training(list(spec["sample_ids"]), spec["parameters"])
            return {"outcome": "completed", "output_ids": []}
        output_ids = runner.run({"input_dataset_ids": list(spec["input_ids"])}, spec["parameters"])
        return {"outcome": "completed", "output_ids": output_ids}
    except StopRequested:
        return {"outcome": "stopped"}
    except BaseException as exc:  # noqa: BLE001  # MemoryError and SystemExit too: the job's own failure
        return {
            "outcome": "failed",
            "error": {"type": type(exc).__name__, "message": str(exc) or type(exc).__name__},
            "traceback": package_traceback(exc, package_dir),
        }


def _import_quietly(module: str) -> None:
    # Only a head start: the algorithm imports it again, and then the error is its own to see.
    try:
        importlib.import_module(module)
    except ImportError:
        sys.modules.pop(module, None)
