"""The built-in algorithms deploy as ordinary Compox packages and run through the worker on the CPU."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from scipy import ndimage
from stratus.models.algorithms import BUILTIN_OWNER
from stratus.models.executions import ExecutionStatus
from stratus.services import algorithms
from stratus.settings import Settings
from stratus.stores import Stores

from gpu_worker.builtins import NAMES, builtin_zip, deploy_builtins
from gpu_worker.builtins.__main__ import main
from gpu_worker.jobs import run_execution
from tests.gpu_worker.conftest import new_execution, read_dataset


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
