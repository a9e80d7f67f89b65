"""The built-in algorithms deploy as ordinary Compox packages and run through the worker on the CPU."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py
import hdf5plugin
import numpy as np
import pytest
from scipy import ndimage
from stratus.algorithms import load_runner, unload_runner
from stratus.models.algorithms import BUILTIN_OWNER
from stratus.models.executions import Execution, ExecutionStatus
from stratus.services import algorithms, files
from stratus.settings import Settings
from stratus.stores import Stores

from gpu_worker.builtins import BUILTINS, NAMES, builtin_zip, deploy_builtins
from gpu_worker.builtins.__main__ import main
from gpu_worker.compute.make_unet_weights import weights_path
from gpu_worker.context import ExecutionContext
from gpu_worker.jobs import run_execution
from tests.core.algorithms.conftest import MemoryContext
from tests.gpu_worker.conftest import TENANT, deploy_folder, new_execution, read_dataset


def _run(name: str, data: np.ndarray, stores: Stores, settings: Settings, upload, **parameters: object):
    version = algorithms.deploy(builtin_zip(name), BUILTIN_OWNER, stores, settings)
    execution = new_execution(
        stores, version.algorithm_id, [upload(data=data)], additional_parameters=parameters
    )

    finished = run_execution(execution.execution_id, stores, settings)

    assert finished.status is ExecutionStatus.COMPLETED, finished.log
    assert finished.resolved_execution_device == "cpu"
    (output_id,) = finished.output_dataset_ids
    return stores.objects.get(stores.files.get(output_id).s3_key)


@pytest.mark.parametrize("name", NAMES)
def test_builtin_deploys_as_a_compox_package(name: str, stores: Stores, settings: Settings) -> None:
    version = algorithms.deploy(builtin_zip(name), BUILTIN_OWNER, stores, settings)

    assert (version.name, version.major, version.minor) == (name, 1, 0)


def test_deploy_builtins_registers_every_builtin_as_shared(stores: Stores, settings: Settings) -> None:
    deployed = deploy_builtins(stores, settings)

    assert set(deployed) == set(NAMES)
    assert {v.owner for v in deployed.values()} == {BUILTIN_OWNER}
    assert [r.name for r in stores.algorithms.list_visible("any-tenant")] == sorted(NAMES)


def test_deploy_builtins_again_keeps_the_versions(stores: Stores, settings: Settings) -> None:
    first = deploy_builtins(stores, settings)

    again = deploy_builtins(stores, settings)

    assert again == first


def test_main_deploys_to_the_stack_the_environment_names(
    stores: Stores, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    main([])

    printed = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in printed] == list(NAMES)
    assert all(line.endswith(" v1.0") for line in printed)
    assert {r.owner for r in stores.algorithms.list_visible("any-tenant")} == {BUILTIN_OWNER}


def test_threshold_marks_voxels_above_the_cut(
    stores: Stores, settings: Settings, upload: Callable[..., str]
) -> None:
    data = np.array([[0.1, 0.6], [0.5, 0.9]], dtype=np.float32)

    output = _run("threshold", data, stores, settings, upload, threshold=0.5)

    np.testing.assert_array_equal(read_dataset(output, "data"), [[0, 1], [0, 1]])


def test_gaussian_denoise_matches_scipy(
    stores: Stores, settings: Settings, upload: Callable[..., str]
) -> None:
    data = np.random.default_rng(0).random((12, 20, 24), dtype=np.float32)

    output = _run("gaussian_denoise", data, stores, settings, upload, sigma=1.5)

    expected = ndimage.gaussian_filter(data, 1.5, mode="reflect", truncate=4.0)
    np.testing.assert_allclose(read_dataset(output, "data"), expected, atol=1e-4)


def test_gaussian_denoise_filters_2d_images_in_plane(
    stores: Stores, settings: Settings, upload: Callable[..., str]
) -> None:
    data = np.random.default_rng(1).random((20, 24), dtype=np.float32)

    output = _run("gaussian_denoise", data, stores, settings, upload, sigma=2.0)

    np.testing.assert_allclose(read_dataset(output, "data"), ndimage.gaussian_filter(data, 2.0), atol=1e-4)


def test_unet_segmentation_outputs_a_mask_of_the_input_shape(
    stores: Stores, settings: Settings, upload: Callable[..., str]
) -> None:
    data = np.random.default_rng(2).random((16, 24, 20), dtype=np.float32)

    output = _run("unet_segmentation", data, stores, settings, upload, tile_size=16, overlap=4)

    mask = read_dataset(output, "mask")
    assert mask.shape == data.shape
    assert mask.dtype == np.uint8 and set(np.unique(mask)) <= {0, 1}


def _compressed(**options: Any) -> bytes:
    """An input as scientists write one: a chunked `data` dataset through one of hdf5plugin's filters."""
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as handle:
        data = np.linspace(0.0, 1.0, 8 * 16 * 16, dtype=np.float32).reshape(8, 16, 16)
        handle.create_dataset("data", data=data, chunks=(2, 16, 16), **options)
    return buffer.getvalue()


def _deploy_and_run(
    name: str, input_ids: list[str], stores: Stores, settings: Settings, **parameters: object
) -> Any:
    version = algorithms.deploy(builtin_zip(name), BUILTIN_OWNER, stores, settings)
    execution = new_execution(stores, version.algorithm_id, input_ids, additional_parameters=parameters)
    return run_execution(execution.execution_id, stores, settings)


@pytest.mark.parametrize(
    "options",
    [hdf5plugin.Zstd(), hdf5plugin.Blosc(cname="zstd"), hdf5plugin.Bitshuffle()],
    ids=["zstd", "blosc", "bitshuffle"],
)
def test_threshold_reads_a_compressed_input_in_the_sandbox(
    stores: Stores, settings: Settings, options: Any
) -> None:
    input_id = files.store_upload(_compressed(**options), TENANT, stores, settings).file_id

    finished = _deploy_and_run("threshold", [input_id], stores, settings, threshold=0.5)

    assert finished.status is ExecutionStatus.COMPLETED, finished.log
    output = stores.objects.get(stores.files.get(finished.output_dataset_ids[0]).s3_key)
    expected = np.linspace(0.0, 1.0, 8 * 16 * 16, dtype=np.float32).reshape(8, 16, 16) > 0.5
    np.testing.assert_array_equal(read_dataset(output, "data"), expected)


ASSET_RUNNER = """\
import h5py
import numpy as np
from compox.algorithm_utils.BaseRunner import BaseRunner
from compox.algorithm_utils.io_schemas import GenericSchema


class Runner(BaseRunner):
    def load_assets(self):
        # The package opens its own (compressed) file with h5py, before the runtime has opened any.
        with h5py.File(self.fetch_asset("files/offsets.h5"), "r") as handle:
            self.offset = float(handle["offset"][0])

    def preprocess(self, input_data, args=None):
        return [item["data"] for item in self.fetch_data(input_data["input_dataset_ids"], GenericSchema)]

    def inference(self, data, args=None):
        return [np.asarray(array) + self.offset for array in data]

    def postprocess(self, data, args=None):
        return self.post_data([{"data": array} for array in data], GenericSchema)
"""
ASSET_PYPROJECT = """\
[project]
name = "compressed_asset"
version = "1.0.0"

[tool.compox]
algorithm_type = "Generic"
supported_devices = ["cpu"]
default_device = "cpu"
"""


def test_a_package_opening_its_own_compressed_file_with_h5py_reads_it(
    stores: Stores, settings: Settings, upload: Callable[..., str], tmp_path: Path
) -> None:
    # The sandboxed process registers hdf5plugin's filters before the package runs, not only the runtime.
    (tmp_path / "files").mkdir()
    (tmp_path / "Runner.py").write_text(ASSET_RUNNER)
    (tmp_path / "pyproject.toml").write_text(ASSET_PYPROJECT)
    with h5py.File(tmp_path / "files" / "offsets.h5", "w") as handle:
        handle.create_dataset("offset", data=np.full(64, 2.5, np.float32), chunks=(64,), **hdf5plugin.Zstd())
    version = deploy_folder(tmp_path, stores, settings)
    execution = new_execution(stores, version.algorithm_id, [upload(data=np.ones(4, np.float32))])

    finished = run_execution(execution.execution_id, stores, settings)

    assert finished.status is ExecutionStatus.COMPLETED, finished.log
    output = stores.objects.get(stores.files.get(finished.output_dataset_ids[0]).s3_key)
    np.testing.assert_array_equal(read_dataset(output, "data"), np.full(4, 3.5, np.float32))


def test_threshold_on_an_input_without_data_fails_naming_the_key_and_what_the_file_holds(
    stores: Stores, settings: Settings, upload: Callable[..., str]
) -> None:
    input_id = upload(volume=np.zeros((4, 4), np.float32), mask=np.zeros((4, 4), np.uint8))

    finished = _deploy_and_run("threshold", [input_id], stores, settings)

    assert finished.status is ExecutionStatus.FAILED
    error = Execution.from_record(finished).error
    assert error is not None
    assert (error.type, error.message) == (
        "InputDataError",
        f"input file {input_id!r} has no dataset 'data' "
        "(it holds: /mask uint8 (4, 4), /volume float32 (4, 4))",
    )


def test_threshold_progress_reaches_the_worker_in_steps(
    stores: Stores, settings: Settings, upload: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # What the algorithm's process reports, as the worker receives it (the record keeps at most ~4 a second).
    received: list[float] = []
    original = ExecutionContext.set_progress

    def spy(context: ExecutionContext, progress: float) -> None:
        received.append(progress)
        original(context, progress)

    monkeypatch.setattr(ExecutionContext, "set_progress", spy)

    finished = _deploy_and_run("threshold", [upload(data=np.zeros((64, 4), np.float32))], stores, settings)

    assert finished.status is ExecutionStatus.COMPLETED, finished.log
    assert len(set(received)) >= 10
    assert received == sorted(received)
    assert received[-1] == 1.0


def _progress_of(name: str, context: MemoryContext, **parameters: object) -> list[float]:
    """Run a built-in's hooks in this process on ``context``'s files; the progress values it reported."""
    runner = load_runner(BUILTINS / name, context, "cpu")
    try:
        runner.run({"input_dataset_ids": list(context.files)}, parameters)
    finally:
        unload_runner(runner)
    return context.progress


@pytest.mark.parametrize(
    ("name", "shape", "parameters"),
    [
        ("threshold", (200, 8), {}),
        ("threshold", (200, 8), {"operation": "normalize"}),
        ("gaussian_denoise", (160, 8, 8), {"sigma": 1.0}),
        ("unet_segmentation", (24, 24, 24), {"tile_size": 8, "overlap": 0}),
    ],
    ids=["threshold", "normalize", "gaussian_denoise", "unet_segmentation"],
)
def test_builtin_reports_intermediate_progress(
    name: str, shape: tuple[int, ...], parameters: dict[str, object], tmp_path: Path
) -> None:
    assets = {"files/unet3d.pt": weights_path(3).read_bytes()} if name == "unet_segmentation" else {}
    context = MemoryContext(assets=assets, scratch=tmp_path)
    context.add_file(data=np.random.default_rng(0).random(shape, dtype=np.float32))

    reported = _progress_of(name, context, **parameters)

    intermediate = {value for value in reported if 0.0 < value < 1.0}
    assert len(intermediate) >= 5, reported
    assert reported == sorted(reported)
    assert reported[-1] == 1.0
