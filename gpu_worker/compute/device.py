"""Choice of the torch device a job runs on."""

from __future__ import annotations

import re

import torch

# Compox packages say "gpu"; torch says "cuda" or "cuda:N". Both mean the same card here.
DEVICE_NAME = re.compile(r"^\s*(?P<kind>cpu|gpu|cuda)(?::(?P<index>\d+))?\s*$", re.IGNORECASE)


def resolve_device(supported: list[str], requested: str | None) -> torch.device:
    """`cuda` when a GPU is present, the algorithm supports it and the request allows it; otherwise `cpu`.

    `supported` is the algorithm's `supported_devices`; `requested` is the execution's device override
    (or the algorithm's default device), where None means "the best allowed". Raises ValueError for a
    name other than cpu, gpu, cuda or cuda:N.
    """
    is_allowed = any(_parse(name)[0] == "cuda" for name in supported)
    kind, index = _parse(requested) if requested else ("cuda", None)
    if not (kind == "cuda" and is_allowed and torch.cuda.is_available()):
        return torch.device("cpu")
    if index is not None and index < torch.cuda.device_count():
        return torch.device("cuda", index)
    return torch.device("cuda")


def _parse(name: str) -> tuple[str, int | None]:
    match = DEVICE_NAME.match(name)
    if match is None:
        raise ValueError(f"unknown device {name!r}; use 'cpu', 'gpu', 'cuda' or 'cuda:N'")
    kind = match["kind"].lower()
    if kind == "cpu" and match["index"] is not None:
        raise ValueError(f"unknown device {name!r}; 'cpu' takes no index")
    return ("cpu" if kind == "cpu" else "cuda"), (int(match["index"]) if match["index"] else None)
