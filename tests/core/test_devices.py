"""The one device rule: requested name → cpu or cuda plan, or a 422 before anything is stored."""

from __future__ import annotations

import pytest
from stratus.devices import decide_device
from stratus.errors import InvalidInputError
from stratus.models.jobs import DevicePlan


@pytest.mark.parametrize(
    ("supported", "default", "override", "expected"),
    [
        (["cpu", "gpu"], None, None, DevicePlan(kind="cuda")),
        (["cpu"], None, None, DevicePlan(kind="cpu")),
        (["cpu", "gpu"], "gpu", "cpu", DevicePlan(kind="cpu")),
        (["cpu", "gpu"], "cpu", "cuda:1", DevicePlan(kind="cuda", index=1)),
        (["cpu", "cuda"], None, "GPU", DevicePlan(kind="cuda")),
        (["cpu"], "gpu", None, DevicePlan(kind="cpu")),
    ],
)
def test_decide_device_resolves_names(
    supported: list[str], default: str | None, override: str | None, expected: DevicePlan
) -> None:
    assert decide_device(supported, default, override) == expected


@pytest.mark.parametrize("override", ["mps", "mps:0", "tpu", "cpu:1", ""])
def test_decide_device_refuses_devices_no_job_can_run_on(override: str) -> None:
    with pytest.raises(InvalidInputError):
        decide_device(["cpu", "gpu", "mps"], None, override or " ")


def test_decide_device_refuses_a_gpu_the_algorithm_does_not_support() -> None:
    with pytest.raises(InvalidInputError, match="supports cpu"):
        decide_device(["cpu"], None, "cuda")
