"""Device resolution: cuda only when present, supported and not refused; otherwise cpu."""

from __future__ import annotations

import pytest
import torch

from gpu_worker.compute.device import resolve_device


@pytest.fixture
def cuda_present(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)


@pytest.mark.parametrize("requested", [None, "cpu", "gpu", "cuda", "cuda:0"])
def test_resolve_device_picks_cpu_without_a_gpu(
    monkeypatch: pytest.MonkeyPatch, requested: str | None
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)

    device = resolve_device(["cpu", "gpu"], requested)

    assert device == torch.device("cpu")


@pytest.mark.parametrize(
    ("requested", "expected"),
    [
        (None, torch.device("cuda")),
        ("gpu", torch.device("cuda")),
        ("CUDA", torch.device("cuda")),
        ("cuda:1", torch.device("cuda", 1)),
        ("cuda:7", torch.device("cuda")),
    ],
)
def test_resolve_device_honours_a_gpu_request(
    cuda_present: None, requested: str | None, expected: torch.device
) -> None:
    device = resolve_device(["cpu", "gpu"], requested)

    assert device == expected


def test_resolve_device_honours_a_cpu_request(cuda_present: None) -> None:
    device = resolve_device(["cpu", "cuda"], "cpu")

    assert device == torch.device("cpu")


def test_resolve_device_keeps_cpu_only_algorithms_on_cpu(cuda_present: None) -> None:
    device = resolve_device(["cpu"], "gpu")

    assert device == torch.device("cpu")


@pytest.mark.parametrize(
    ("supported", "requested"), [(["cpu"], "tpu"), (["cpu", "mps"], None), (["gpu"], "cuda:x")]
)
def test_resolve_device_rejects_unknown_names(supported: list[str], requested: str | None) -> None:
    with pytest.raises(ValueError, match="device"):
        resolve_device(supported, requested)
