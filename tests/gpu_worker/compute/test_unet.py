"""The U-Net's tiled inference and its deterministic shipped weights."""

from __future__ import annotations

import pytest
import torch

from gpu_worker.compute.make_unet_weights import initial_state_dict, weights_path
from gpu_worker.compute.unet import UNet, load_unet, tiled_inference


def _smooth(shape: tuple[int, ...]) -> torch.Tensor:
    axes = torch.meshgrid(*(torch.linspace(0.0, 1.0, side) for side in shape), indexing="ij")
    return sum(
        (torch.sin((3.0 + index) * axis) for index, axis in enumerate(axes)), torch.zeros(shape)
    ) / len(shape)


def _untiled(model: UNet, volume: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        return model.predict(volume[None, None])[0, 0]


def _sharpened(dims: int) -> UNet:
    # The initial weights give a nearly constant output; doubling them makes tile-edge effects visible.
    model = load_unet(weights_path(dims), dims)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.mul_(2.0)
    return model


@pytest.mark.parametrize(("dims", "shape"), [(2, (45, 38)), (3, (13, 22, 17))])
def test_tiled_inference_equals_untiled_when_one_tile_covers_the_volume(
    dims: int, shape: tuple[int, ...]
) -> None:
    model = load_unet(weights_path(dims), dims)
    volume = _smooth(shape)

    result = tiled_inference(model, volume, tile=max(shape), overlap=4)

    torch.testing.assert_close(result, _untiled(model, volume), rtol=0, atol=1e-6)


@pytest.mark.parametrize(("dims", "shape"), [(2, (50, 37)), (3, (21, 18, 27)), (3, (5, 40, 9))])
def test_tiled_inference_returns_probabilities_of_the_input_shape(dims: int, shape: tuple[int, ...]) -> None:
    model = load_unet(weights_path(dims), dims)

    result = tiled_inference(model, torch.rand(shape), tile=16, overlap=4)

    assert result.shape == shape
    assert bool(((result >= 0) & (result <= 1)).all())


def test_tiled_inference_keeps_a_channel_axis() -> None:
    model = load_unet(weights_path(2), 2)

    result = tiled_inference(model, torch.rand(1, 30, 20), tile=16, overlap=4)

    assert result.shape == (1, 30, 20)


def test_tiled_inference_blends_seams() -> None:
    model = _sharpened(2)
    volume = _smooth((60, 60))
    reference = _untiled(model, volume)

    blended = tiled_inference(model, volume, tile=24, overlap=8)
    butted = tiled_inference(model, volume, tile=24, overlap=0)

    blended_error = (blended - reference).abs().max()
    assert blended_error < 0.5 * (butted - reference).abs().max()
    for axis in (0, 1):
        assert blended.diff(dim=axis).abs().max() <= 1.1 * reference.diff(dim=axis).abs().max()


def test_tiled_inference_rejects_overlap_not_below_tile() -> None:
    model = load_unet(weights_path(2), 2)

    with pytest.raises(ValueError, match="overlap"):
        tiled_inference(model, torch.rand(20, 20), tile=8, overlap=8)


def test_initial_state_dict_is_deterministic() -> None:
    first, second = initial_state_dict(3), initial_state_dict(3)

    assert first.keys() == second.keys()
    assert all(torch.equal(first[name], second[name]) for name in first)


@pytest.mark.parametrize("dims", [2, 3])
def test_shipped_weights_are_what_the_script_makes(dims: int) -> None:
    shipped = torch.load(weights_path(dims), weights_only=True)

    expected = initial_state_dict(dims)

    assert shipped.keys() == expected.keys()
    assert all(torch.equal(shipped[name], expected[name]) for name in expected)
    assert weights_path(dims).stat().st_size < 1_000_000


def test_tiled_inference_reports_the_fraction_of_tiles_done_per_batch() -> None:
    model = load_unet(weights_path(3), 3)
    reported: list[float] = []

    # 3 x 2 x 2 = 12 tiles of 8 (stride 6 over 20, 14, 14), in batches of 4.
    tiled_inference(model, torch.rand(20, 14, 14), 8, 2, tile_batch=4, on_progress=reported.append)

    assert reported == [4 / 12, 8 / 12, 12 / 12]
