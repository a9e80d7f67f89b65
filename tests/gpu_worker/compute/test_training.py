"""U-Net training: loss and Dice, the training step and epochs, evaluation, the plain-PyTorch reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gpu_worker.compute.make_unet_weights import initial_state_dict
from gpu_worker.compute.synthetic import make_pairs
from gpu_worker.compute.training import (
    Trainer,
    TrainingConfig,
    dice_scores,
    evaluate,
    reference_step_seconds,
    segmentation_loss,
    stack_pairs,
    train_step,
)
from gpu_worker.compute.unet import UNet


class StopTraining(Exception):
    """Raised by a step callback, as report_step raises on a stop request."""


def _model() -> UNet:
    model = UNet(dims=3)
    model.load_state_dict(initial_state_dict(3))
    return model


def _stacked(count: int, seed: int, size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    return stack_pairs(make_pairs(count, size, seed), multiple=4, device="cpu")


def test_segmentation_loss_is_lower_for_logits_that_match_the_mask() -> None:
    masks = (torch.rand(2, 1, 8, 8, 8, generator=torch.Generator().manual_seed(0)) > 0.7).float()

    matching = segmentation_loss(8.0 * (2.0 * masks - 1.0), masks)
    opposite = segmentation_loss(-8.0 * (2.0 * masks - 1.0), masks)

    assert float(matching) < 0.05 < 1.0 < float(opposite)


def test_dice_scores_is_one_for_a_perfect_prediction_and_zero_for_a_disjoint_one() -> None:
    masks = torch.zeros(2, 1, 4, 4, 4)
    masks[:, :, :2] = 1.0
    logits = torch.full_like(masks, -5.0)
    logits[0, :, :2] = 5.0
    logits[1, :, 2:] = 5.0

    scores = dice_scores(logits, masks)

    torch.testing.assert_close(scores, torch.tensor([1.0, 0.0]))


def test_dice_scores_counts_an_empty_prediction_of_an_empty_mask_as_one() -> None:
    masks = torch.zeros(1, 1, 4, 4, 4)

    scores = dice_scores(torch.full_like(masks, -5.0), masks)

    torch.testing.assert_close(scores, torch.tensor([1.0]))


def test_stack_pairs_pads_sides_up_to_the_multiple() -> None:
    pairs = [(np.ones((5, 8, 6), np.float32), np.ones((5, 8, 6), np.uint8))] * 3

    volumes, masks = stack_pairs(pairs, multiple=4, device="cpu")

    assert volumes.shape == masks.shape == (3, 1, 8, 8, 8)
    assert volumes.dtype == masks.dtype == torch.float32
    assert bool((masks == 1.0).all())


def test_stack_pairs_rejects_volumes_of_different_shapes() -> None:
    pairs = [
        (np.zeros((8, 8, 8), np.float32), np.zeros((8, 8, 8), np.uint8)),
        (np.zeros((8, 8, 12), np.float32), np.zeros((8, 8, 12), np.uint8)),
    ]

    with pytest.raises(ValueError, match="pair 1"):
        stack_pairs(pairs, multiple=4, device="cpu")


def test_training_config_rejects_a_non_positive_learning_rate() -> None:
    with pytest.raises(ValueError, match="learning_rate"):
        TrainingConfig(learning_rate=0.0)


def test_train_step_lowers_the_loss_on_its_batch() -> None:
    model = _model()
    volumes, masks = _stacked(2, seed=0)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = float(train_step(model, optimizer, volumes, masks))

    for _ in range(10):
        last = float(train_step(model, optimizer, volumes, masks))

    assert last < first


def test_trainer_reaches_a_high_dice_on_held_out_volumes() -> None:
    model = _model()
    volumes, masks = _stacked(4, seed=10)
    held_out = _stacked(4, seed=20)
    trainer = Trainer(model, volumes, masks, TrainingConfig(num_epochs=30))
    before = evaluate(model, *held_out)

    for _ in range(30):
        trainer.run_epoch()

    after = evaluate(model, *held_out)
    assert after.dice >= 0.85
    assert after.val_loss < before.val_loss


def test_trainer_reports_every_step_against_the_total() -> None:
    volumes, masks = _stacked(3, seed=0, size=16)
    trainer = Trainer(_model(), volumes, masks, TrainingConfig(batch_size=2, num_epochs=2))
    reported: list[tuple[int, int]] = []

    for _ in range(2):
        trainer.run_epoch(on_step=lambda step, total: reported.append((step, total)))

    assert reported == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_trainer_stops_at_the_step_whose_callback_raises() -> None:
    volumes, masks = _stacked(4, seed=0, size=16)
    trainer = Trainer(_model(), volumes, masks, TrainingConfig(batch_size=1))

    def stop_at_second(step: int, total: int) -> None:
        if step == 2:
            raise StopTraining

    with pytest.raises(StopTraining):
        trainer.run_epoch(on_step=stop_at_second)

    assert trainer.step == 2


def test_evaluate_leaves_the_model_in_its_mode() -> None:
    model = _model().train()

    evaluate(model, *_stacked(2, seed=0, size=16))

    assert model.training


def test_reference_step_seconds_runs_the_trainers_loop() -> None:
    pairs = make_pairs(4, 16, seed=3)
    config = TrainingConfig(batch_size=2)
    reference, trained = _model(), _model()
    volumes, masks = stack_pairs(pairs, trained.multiple, "cpu")
    trainer = Trainer(trained, volumes, masks, config)

    reference_step_seconds(reference, pairs, config, epochs=1)
    for _ in range(2):
        trainer.run_epoch()

    for name, tensor in trained.state_dict().items():
        torch.testing.assert_close(reference.state_dict()[name], tensor)
