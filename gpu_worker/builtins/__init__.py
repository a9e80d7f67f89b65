"""The algorithms Stratus ships, as Compox packages: deployed by the local stack and by `deploy`."""

from __future__ import annotations

import dataclasses
import json
import urllib.request
from pathlib import Path

from stratus.algorithms import PackageLimits, build_zip, package_from_folder, read_package

BUILTINS = Path(__file__).resolve().parent
WEIGHTS = BUILTINS.parent / "compute" / "weights"
NAMES = ("threshold", "gaussian_denoise", "unet_segmentation")
# Assets made by scripts in the repo rather than kept twice: (package, asset path) → file.
GENERATED_ASSETS = {("unet_segmentation", "files/unet3d.pt"): WEIGHTS / "unet3d.pt"}


def builtin_zip(name: str) -> bytes:
    """The package zip of one built-in, with its generated assets added."""
    package = read_package(package_from_folder(BUILTINS / name), PackageLimits())
    extra = {asset: path.read_bytes() for (owner, asset), path in GENERATED_ASSETS.items() if owner == name}
    if not extra:
        return build_zip(package)
    return build_zip(dataclasses.replace(package, assets={**package.assets, **extra}))


def builtin_zips() -> dict[str, bytes]:
    """Every built-in's package zip, by name."""
    return {name: builtin_zip(name) for name in NAMES}


def deploy_builtins(api_url: str, timeout: float = 60.0) -> dict[str, dict[str, str]]:
    """Deploy every built-in through a Stratus API (local or on AWS); returns each deploy's answer.

    Deploying an unchanged built-in again is a no-op: the registry keeps the current minor version.
    """
    deployed = {}
    for name, body in builtin_zips().items():
        request = urllib.request.Request(  # noqa: S310  # the operator's own API URL
            f"{api_url.rstrip('/')}/api/v0/algorithms",
            data=body,
            headers={"Content-Type": "application/zip"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            deployed[name] = json.loads(response.read())
    return deployed
