"""The torch device a job runs on: its plan's decision, on the card when one is present."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from stratus.models.jobs import DevicePlan


def runtime_device(plan: DevicePlan) -> torch.device:
    """`cuda` (the planned card, if it exists) when the plan says cuda and a GPU is present; else `cpu`.

    The API decided cpu or cuda once (stratus.devices); a cuda job on a host without a card runs on the
    CPU rather than failing, as Compox does.
    """
    if plan.kind != "cuda" or not torch.cuda.is_available():
        return torch.device("cpu")
    if plan.index is not None and plan.index < torch.cuda.device_count():
        return torch.device("cuda", plan.index)
    return torch.device("cuda")
