"""The worker's device: the plan's cuda on a card when one is present, else cpu."""

from __future__ import annotations

import pytest
import torch
from stratus.models.jobs import DevicePlan

from gpu_worker.compute.device import runtime_device


@pytest.fixture
def cuda_present(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)


def test_runtime_device_falls_back_to_cpu_without_a_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)

    device = runtime_device(DevicePlan(kind="cuda"))

    assert device == torch.device("cpu")


def test_runtime_device_uses_the_planned_card(cuda_present: None) -> None:
    assert runtime_device(DevicePlan(kind="cuda", index=1)) == torch.device("cuda", 1)


def test_runtime_device_ignores_a_card_that_is_not_there(cuda_present: None) -> None:
    assert runtime_device(DevicePlan(kind="cuda", index=7)) == torch.device("cuda")


def test_runtime_device_keeps_cpu_plans_on_cpu(cuda_present: None) -> None:
    assert runtime_device(DevicePlan(kind="cpu")) == torch.device("cpu")
