"""The torch Gaussian filter against scipy.ndimage.gaussian_filter(mode="reflect")."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from gpu_worker.compute.gaussian import gaussian_filter3d

TOLERANCE = 1e-4


def _volume(shape: tuple[int, int, int], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random(shape, dtype=np.float32)


@pytest.mark.parametrize(
    "shape",
    [(1, 1, 1), (2, 3, 5), (7, 1, 9), (3, 17, 4), (20, 33, 65), (40, 8, 100)],
    ids=lambda shape: "x".join(map(str, shape)),
)
@pytest.mark.parametrize("sigma", [0.5, 2.0, 3.3])
def test_gaussian_filter3d_matches_scipy(shape: tuple[int, int, int], sigma: float) -> None:
    volume = _volume(shape)

    result = gaussian_filter3d(torch.from_numpy(volume), sigma)

    expected = ndimage.gaussian_filter(volume, sigma, mode="reflect", truncate=4.0)
    assert np.abs(result.numpy() - expected).max() <= TOLERANCE


@pytest.mark.parametrize("sigma", [(0.0, 1.5, 2.5), (4.0, 0.0, 0.7), (1.0, 2.0, 3.0)])
def test_gaussian_filter3d_matches_scipy_with_per_axis_sigma(sigma: tuple[float, float, float]) -> None:
    volume = _volume((19, 24, 31))

    result = gaussian_filter3d(torch.from_numpy(volume), sigma)

    expected = ndimage.gaussian_filter(volume, sigma, mode="reflect", truncate=4.0)
    assert np.abs(result.numpy() - expected).max() <= TOLERANCE


def test_gaussian_filter3d_matches_scipy_with_other_truncate() -> None:
    volume = _volume((12, 30, 28))

    result = gaussian_filter3d(torch.from_numpy(volume), 1.7, truncate=2.5)

    expected = ndimage.gaussian_filter(volume, 1.7, mode="reflect", truncate=2.5)
    assert np.abs(result.numpy() - expected).max() <= TOLERANCE


@pytest.mark.parametrize("slab", [1, 3, 16])
def test_gaussian_filter3d_slabs_give_the_untiled_result(slab: int) -> None:
    volume = torch.from_numpy(_volume((37, 21, 26)))
    untiled = gaussian_filter3d(volume, 2.0, slab=len(volume))

    tiled = gaussian_filter3d(volume, 2.0, slab=slab)

    torch.testing.assert_close(tiled, untiled, rtol=0, atol=1e-6)


def test_gaussian_filter3d_writes_into_out() -> None:
    volume = torch.from_numpy(_volume((5, 6, 7)))
    out = torch.empty_like(volume)

    result = gaussian_filter3d(volume, 1.0, out=out)

    assert result is out
    torch.testing.assert_close(out, gaussian_filter3d(volume, 1.0))


def test_gaussian_filter3d_keeps_nan_within_the_kernel_footprint() -> None:
    volume = _volume((10, 40, 40))
    volume[5, 20, 20] = np.nan

    result = gaussian_filter3d(torch.from_numpy(volume), 1.0).numpy()

    expected = ndimage.gaussian_filter(volume, 1.0, mode="reflect", truncate=4.0)
    np.testing.assert_array_equal(np.isnan(result), np.isnan(expected))
    assert np.nanmax(np.abs(result - expected)) <= TOLERANCE


def test_gaussian_filter3d_keeps_float64() -> None:
    volume = _volume((6, 9, 11)).astype(np.float64)

    result = gaussian_filter3d(torch.from_numpy(volume), 1.2)

    assert result.dtype == torch.float64
    np.testing.assert_allclose(
        result.numpy(), ndimage.gaussian_filter(volume, 1.2, mode="reflect"), atol=1e-12
    )


@pytest.mark.parametrize("sigma", [(1.0, 2.0), -1.0])
def test_gaussian_filter3d_rejects_bad_sigma(sigma: float | tuple[float, ...]) -> None:
    with pytest.raises(ValueError, match="sigma"):
        gaussian_filter3d(torch.zeros(4, 4, 4), sigma)


def test_gaussian_filter3d_rejects_non_3d_input() -> None:
    with pytest.raises(ValueError, match="3D"):
        gaussian_filter3d(torch.zeros(4, 4), 1.0)


def test_gaussian_filter3d_reports_progress_slab_by_slab() -> None:
    reported: list[float] = []

    gaussian_filter3d(torch.from_numpy(_volume((40, 8, 8))), 1.0, slab=8, on_progress=reported.append)

    assert reported == [0.2, 0.4, 0.6, 0.8, 1.0]


def test_gaussian_filter3d_reports_progress_across_both_passes_of_non_finite_input() -> None:
    volume = _volume((16, 8, 8))
    volume[3, 3, 3] = np.nan
    reported: list[float] = []

    gaussian_filter3d(torch.from_numpy(volume), 1.0, slab=8, on_progress=reported.append)

    assert reported == [0.25, 0.5, 0.75, 1.0]
