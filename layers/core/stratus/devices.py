"""Device decisions: the one rule that turns a requested device into a job's queue and card."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from stratus.errors import InvalidInputError
from stratus.models.jobs import DevicePlan

if TYPE_CHECKING:
    from collections.abc import Iterable

# Compox packages say "gpu"; torch says "cuda" or "cuda:N"; both mean an NVIDIA card here.
DEVICE_NAME = re.compile(r"^\s*(?P<kind>cpu|gpu|cuda|mps)(?::(?P<index>\d{1,2}))?\s*$", re.IGNORECASE)
# Apple's mps exists on a Mac running Compox, never on a Batch host: a job asking for it would fail later.
UNAVAILABLE = {"mps": "Apple's mps device is not available on this backend; use 'cpu' or 'cuda'"}


def parse_device(name: str) -> tuple[str, int | None]:
    """("cpu" | "cuda", index) for a device name. Raises InvalidInputError (unknown or unavailable)."""
    match = DEVICE_NAME.match(name)
    if match is None:
        raise InvalidInputError(f"unknown device {name!r}; use 'cpu', 'gpu', 'cuda' or 'cuda:N'")
    kind = match["kind"].lower()
    if kind in UNAVAILABLE:
        raise InvalidInputError(UNAVAILABLE[kind])
    index = int(match["index"]) if match["index"] is not None else None
    if kind == "cpu" and index is not None:
        raise InvalidInputError(f"unknown device {name!r}; 'cpu' takes no index")
    return ("cpu" if kind == "cpu" else "cuda"), index


def decide_device(supported: Iterable[str], default: str | None, override: str | None) -> DevicePlan:
    """The job's device: the override, else the algorithm's default, else the best it supports.

    Raises InvalidInputError (unknown name, mps, or a GPU the algorithm does not support).
    """
    allows_gpu = any(_kind_of(name) == "cuda" for name in supported)
    requested = override or default
    if not requested:
        return DevicePlan(kind="cuda" if allows_gpu else "cpu")
    kind, index = parse_device(requested)
    if kind == "cuda" and not allows_gpu:
        if override is None:
            return DevicePlan(kind="cpu")  # the package's own default names a card it does not list
        listed = ", ".join(supported) or "cpu"
        raise InvalidInputError(f"the algorithm does not support device {override!r}; it supports {listed}")
    return DevicePlan(kind="cuda", index=index) if kind == "cuda" else DevicePlan(kind="cpu")


def _kind_of(name: str) -> str | None:
    match = DEVICE_NAME.match(name)
    kind = match["kind"].lower() if match else None
    return {"cpu": "cpu", "gpu": "cuda", "cuda": "cuda"}.get(kind or "")
