"""The algorithms Stratus ships, as Compox packages: deployed by the operator (and the local stack) straight
into the registry as built-ins, shared by every tenant and read-only."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

from stratus.algorithms import PackageLimits, build_zip, package_from_folder, read_package
from stratus.models.algorithms import BUILTIN_OWNER
from stratus.services import algorithms

if TYPE_CHECKING:
    from stratus.models.algorithms import AlgorithmVersionRecord
    from stratus.settings import Settings
    from stratus.stores import Stores

BUILTINS = Path(__file__).resolve().parent
WEIGHTS = BUILTINS.parent / "compute" / "weights"
NAMES = ("threshold", "gaussian_denoise", "unet_segmentation", "branin")
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


def deploy_builtins(stores: Stores, settings: Settings) -> dict[str, AlgorithmVersionRecord]:
    """Deploy every built-in into the stack's registry (no tenant API: tenants cannot write built-ins);
    returns each one's current version, by name.

    Deploying an unchanged built-in again is a no-op: the registry keeps the current minor version.
    Raises InvalidInputError, PayloadTooLargeError, ConflictError.
    """
    zips = builtin_zips()
    return {name: algorithms.deploy(body, BUILTIN_OWNER, stores, settings) for name, body in zips.items()}
